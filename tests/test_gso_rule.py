"""When bursts leave batched with UDP GSO: the rule (pure, the load passed in), the server's
`Gso` that the pacing loop feeds, and a `UdpOut` that follows it."""

import logging
import socket

import pytest

from conftest import wait_until
from rtsplab.rtp.sender import RtpSender
from rtsplab.server.pacing_loop import LOAD_WINDOW, PacingLoop
from rtsplab.server.udp_out import (
    BATCH_FROM_SESSIONS,
    BUSY_OFF,
    BUSY_ON,
    Gso,
    UdpOut,
    batching_pays,
    gso_available,
)

WAIT = 5.0
MANY = BATCH_FROM_SESSIONS


@pytest.mark.parametrize(
    ("mode", "playing", "busy", "before", "expected"),
    [
        ("on", 1, 0.0, False, True),  # forced
        ("on", 0, 0.0, True, True),
        ("off", 1000, 1.0, False, False),  # forced
        ("off", 1000, 1.0, True, False),
        ("auto", 1, 0.01, False, False),  # a lab session: each packet seen
        ("auto", MANY - 1, 0.1, False, False),  # a handful
        ("auto", MANY, 0.0, False, True),  # a class
        ("auto", 1000, 0.0, False, True),
        ("auto", 3, BUSY_ON, False, True),  # few sessions, but the loop is behind
        ("auto", 3, BUSY_ON - 0.01, False, False),
        ("auto", 3, BUSY_OFF, True, True),  # batching: it stays on down to BUSY_OFF
        ("auto", 3, BUSY_OFF - 0.01, True, False),
    ],
)
def test_the_rule(mode, playing, busy, before, expected):
    assert batching_pays(mode, playing, busy, before) is expected


def test_the_busy_thresholds_leave_a_gap():
    assert 0 < BUSY_OFF < BUSY_ON < 1


def test_auto_follows_the_load_with_a_gap(caplog):
    caplog.set_level(logging.INFO, logger="rtsplab.server.udp_out")
    gso = Gso("auto")
    assert gso.now is False  # until the loop says otherwise
    gso.update(1, 0.1)
    assert gso.now is False
    gso.update(1, 0.6)
    assert gso.now is True
    gso.update(1, 0.3)  # batching made the loop less busy: it stays on
    assert gso.now is True
    gso.update(1, 0.1)
    assert gso.now is False
    gso.update(MANY, 0.0)
    assert gso.now is True
    changes = [r.getMessage() for r in caplog.records if "RTP bursts leave" in r.getMessage()]
    assert len(changes) == 3 and "with UDP GSO" in changes[0] and "packet by" in changes[1]


def test_where_the_kernel_cannot_it_never_batches():
    gso = Gso("on", why_not="UDP GSO not available: test")
    assert gso.now is False
    gso.update(1000, 1.0)
    assert gso.now is False
    assert "not available" in gso.describe()


def test_a_mode_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match="one of on, off, auto"):
        Gso("sometimes")


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Busy:
    """A stream whose every step takes `cost` of the clock, due every `period`."""

    def __init__(self, clock, cost, period):
        self.name, self.active = "busy", True
        self.clock, self.cost, self.period = clock, cost, period
        self.steps = 0

    def step(self, now):
        self.steps += 1
        self.clock.now += self.cost
        return now + self.period

    def finish(self, now):
        self.active = False


def test_the_pacing_loop_reports_streams_playing_and_its_busy_share():
    clock, reports = Clock(), []
    loop = PacingLoop(clock, on_load=lambda playing, busy: reports.append((playing, busy)))
    streams = [Busy(clock, cost=0.03, period=0.1) for _ in range(3)]
    loop.start()
    try:
        for stream in streams:
            loop.add(stream, 0.0)
        # Each turn steps the three (0.09 of the clock) then waits for the next: the test
        # moves the clock on to it.
        for _ in range(100):
            if reports:
                break
            turns = sum(s.steps for s in streams)
            clock.now = max(clock.now, round(clock.now / 0.1 + 0.5) * 0.1)
            loop.add(Busy(clock, 0.0, 1e9), 1e9)  # wakes the loop at the new time
            wait_until(lambda t=turns: sum(s.steps for s in streams) > t, WAIT)
    finally:
        loop.close()
    assert reports, "no load reported"
    playing, busy = reports[0]
    assert playing >= 3
    assert 0.8 * 0.9 <= busy <= 1.0  # 0.09 of every 0.1 spent stepping
    assert clock.now >= LOAD_WINDOW


@pytest.mark.skipif(gso_available() is not None, reason=f"{gso_available()}")
def test_a_udp_out_follows_the_servers_rule():
    gso = Gso("auto")
    sender = RtpSender(20, 1400, ssrc=1, first_seq=0, timestamp_origin=0)
    packets = sender.packets(sender.cut(bytes(10 * sender.max_payload)))
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
    ):
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        receiver.bind(("127.0.0.1", 0))
        out = UdpOut(sock, receiver.getsockname(), gso=gso)
        out.send(packets)
        assert out.calls == len(packets)  # one session: a call each
        gso.update(MANY, 0.0)
        out.send(packets)
        assert out.calls == len(packets) + 1  # a class: the burst in one
        receiver.settimeout(1.0)
        got = [receiver.recv(2048) for _ in range(2 * len(packets))]
    assert [len(g) for g in got] == [len(b"".join(p)) for p in packets] * 2
