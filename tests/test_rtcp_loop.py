"""RtcpLoop: one thread turning every RTCP driver at the time it names, reading each one's
socket when a datagram waits, taking changes posted from other threads."""

import socket
import threading
import time

import pytest

from conftest import wait_until
from rtsplab.server.rtcp_loop import RtcpLoop


class Fake:
    """A driver that records its turns and reads, and asks to turn again `every` seconds
    later (None: it is done)."""

    def __init__(self, name, every=10.0, sock=None):
        self.name, self.every, self.sock = name, every, sock
        self.turns, self.reads = [], []

    def turn(self, now):
        self.turns.append(now)
        self.thread = threading.current_thread()
        return None if self.every is None else now + self.every

    def read(self):
        try:
            self.reads.append(self.sock.recv(100))
        except OSError:
            return False
        return True


@pytest.fixture
def pair():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    ours.setblocking(False)
    yield ours, theirs
    ours.close()
    theirs.close()


def test_each_driver_turns_at_once_then_when_it_says():
    loop = RtcpLoop()
    fast, slow = Fake("fast", every=0.05), Fake("slow", every=60.0)
    loop.add(fast)
    loop.add(slow)
    wait_until(lambda: len(fast.turns) >= 4, what="four turns of the fast one")
    assert len(slow.turns) == 1  # at once, and not again for a minute
    gaps = [b - a for a, b in zip(fast.turns, fast.turns[1:], strict=False)]
    assert all(gap >= 0.05 for gap in gaps)
    loop.remove(fast)
    count = len(fast.turns)
    time.sleep(0.2)  # the interval is the test: no turn after remove()
    assert len(fast.turns) == count and not loop.holds(fast) and loop.holds(slow)
    loop.remove(slow)


def test_sooner_brings_a_turn_forward_and_never_back():
    loop = RtcpLoop()
    driver = Fake("d", every=60.0)
    loop.add(driver)
    wait_until(lambda: len(driver.turns) == 1)
    asked = time.monotonic() + 0.1
    loop.sooner(driver, asked)
    loop.sooner(driver, asked + 30)  # later than what it has: changes nothing
    wait_until(lambda: len(driver.turns) == 2, timeout=2, what="the turn brought forward")
    assert driver.turns[1] >= asked
    loop.remove(driver)


def test_a_datagram_is_read_by_its_drivers_turn_and_a_closed_socket_lets_it_go(pair):
    ours, theirs = pair
    loop = RtcpLoop()
    reader, other = Fake("reader", sock=ours), Fake("other")
    loop.add(reader)
    loop.add(other)
    theirs.send(b"report")
    wait_until(lambda: reader.reads == [b"report"], what="the datagram read")
    reader.read = lambda: False  # as a read of a socket closed under it answers
    theirs.send(b"more")
    wait_until(lambda: not loop.holds(reader), what="the reader let go")
    assert loop.holds(other)  # the others go on
    loop.remove(other)


def test_a_driver_done_is_let_go_and_the_thread_ends_with_the_last():
    loop = RtcpLoop()
    once = Fake("once", every=None)
    loop.add(once)
    wait_until(lambda: once.turns, what="its one turn")
    once.thread.join(timeout=5)
    assert not once.thread.is_alive() and once.thread is not threading.current_thread()
    assert not loop.holds(once) and loop.thread is None


def test_changes_from_many_threads_at_once_are_all_taken():
    loop = RtcpLoop()
    drivers = [Fake(f"d{i}", every=0.02) for i in range(40)]

    def churn(mine):
        for driver in mine:
            loop.add(driver)
        for driver in mine:
            loop.remove(driver)

    workers = [threading.Thread(target=churn, args=(drivers[i::4],)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    assert not any(loop.holds(driver) for driver in drivers)
    assert all(driver.turns for driver in drivers)  # each was turned once at least, at add
