"""The client's driver: one thread owns the RTSP connection, the calls from other threads are
posted to it one at a time, and closing stops every thread the client started, in bounded
time. Real sockets on loopback and the project's own server."""

import contextlib
import logging
import selectors
import socket
import struct
import threading
import time

import pytest

from conftest import ROOT, free_port, running_server, wait_until
from rtsplab.client.channel import ClientChannel, ConnectionClosed
from rtsplab.client.connection import RtspClient
from rtsplab.client.owner import OwnerThread
from rtsplab.client.session import ClientError
from rtsplab.rtsp.state import State
from ServerWorker import ServerWorker

URL = "rtsp://127.0.0.1:{port}/movie.Mjpeg"
CLIENT_THREADS = {"rtsp-connection", "rtp-listen"}
NEVER_WAITS = 0.05  # seconds a call that reads, or posts without waiting, may take at most
POLL_BOUND = 0.2  # the owner's and the listener's poll: how late either sees its stop


def client_threads(before):
    return {t.name for t in set(threading.enumerate()) - before if t.is_alive()} & CLIENT_THREADS


@contextlib.contextmanager
def mute_server():
    """A TCP server on loopback that accepts one connection and never says a word."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        accepted = []
        thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]))
        thread.start()
        try:
            yield listener.getsockname()[1]
        finally:
            thread.join(timeout=5)
            for sock in accepted:
                sock.close()


# -- the owner thread ----------------------------------------------------------------------


@pytest.fixture
def owner():
    owner = OwnerThread("owner", lambda now: None, POLL_BOUND, lambda: None)
    owner.start()
    yield owner
    owner.stop()


def test_calls_posted_from_two_threads_run_on_the_owner_one_at_a_time(owner):
    running, overlaps, ran_on = [0], [], set()

    def call(value):
        running[0] += 1
        overlaps.append(running[0])
        ran_on.add(threading.current_thread().name)
        time.sleep(0.001)  # work that takes a while, so that an overlap would show
        running[0] -= 1
        return value

    results = {"a": [], "b": []}

    def post(name):
        for i in range(50):
            results[name].append(owner.call(lambda i=i: call((name, i))))

    threads = [threading.Thread(target=post, args=(name,)) for name in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == {name: [(name, i) for i in range(50)] for name in results}
    assert set(overlaps) == {1} and len(overlaps) == 100
    assert ran_on == {"owner"}


def test_an_error_reaches_the_caller_and_the_owner_goes_on(owner):
    def refused():
        raise ClientError("454 Session Not Found")

    with pytest.raises(ClientError, match="454"):
        owner.call(refused)
    with pytest.raises(ZeroDivisionError):
        owner.call(lambda: 1 / 0)
    assert owner.call(lambda: "still here") == "still here"


def test_the_owner_cannot_wait_on_itself_and_takes_nothing_once_stopped(owner):
    with pytest.raises(RuntimeError, match="cannot wait on itself"):
        owner.call(lambda: owner.call(lambda: None))
    owner.stop()
    with pytest.raises(ClientError, match="closed"):
        owner.call(lambda: None)


# -- the client ----------------------------------------------------------------------------


def test_requests_from_two_threads_share_one_connection_in_turn():
    """Two threads ask at once: each request gets its own reply (CSeq in turn), none lost."""
    with running_server(ROOT) as server:
        client = RtspClient("127.0.0.1", server.port, free_port(), URL.format(port=server.port))
        described, errors = [], []

        def ask():
            for _ in range(10):
                try:
                    described.append(client.describe())
                except ClientError as exc:
                    errors.append(exc)

        threads = [threading.Thread(target=ask) for _ in range(2)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=20)
        finally:
            client.close()
    assert errors == [] and len(described) == 20
    assert client.session.cseq == 40  # OPTIONS and DESCRIBE each time, one after the other


def test_closing_a_playing_client_stops_its_threads_within_a_bound():
    before = set(threading.enumerate())
    with running_server(ROOT) as server:
        frames = []
        client = RtspClient("127.0.0.1", server.port, free_port(), "movie.Mjpeg",
                            on_frame=lambda frame, ts: frames.append(ts))  # fmt: skip
        client.setup()
        client.play()
        wait_until(lambda: len(frames) >= 3, what="frames")
        assert client_threads(before) == CLIENT_THREADS
        started = time.monotonic()
        client.close()
        took = time.monotonic() - started
        assert client.state is State.INIT
    assert took < 1.0 + POLL_BOUND  # the TEARDOWN's reply, the listener's stop
    assert client_threads(before) == set()
    with pytest.raises(ClientError, match="closed"):
        client.setup()


def test_closing_while_a_request_hangs_is_bounded_by_its_reply_timeout():
    """A server that never answers: the SETUP in flight fails at its timeout, and close()
    returns right after it, every thread stopped."""
    before = set(threading.enumerate())
    with mute_server() as port:
        client = RtspClient("127.0.0.1", port, free_port(), "movie.Mjpeg", reply_timeout=0.5)
        outcome = []

        def set_up():
            try:
                client.setup()
            except ClientError as exc:
                outcome.append(str(exc))

        caller = threading.Thread(target=set_up)
        caller.start()
        wait_until(lambda: client.session.cseq == 1, what="the SETUP sent")
        started = time.monotonic()
        client.close(reply_timeout=0.5)
        took = time.monotonic() - started
        caller.join(timeout=5)
    assert outcome == ["no reply to SETUP within 0.5 s"]
    assert took < 0.5 + POLL_BOUND + 0.5
    assert client_threads(before) == set()


def test_the_fallback_to_tcp_runs_on_the_owner_while_other_threads_never_wait(monkeypatch, caplog):
    """UDP goes nowhere: the owner tears down and sets up again over TCP by itself. While it
    waits for the server (held here at the fallback's TEARDOWN), what the Tk thread calls
    returns at once."""
    held, release = threading.Event(), threading.Event()
    real = ServerWorker.processRtspRequest

    def holding(self, request):
        if request.method == "TEARDOWN" and not release.is_set():
            held.set()
            release.wait(10)
        real(self, request)

    monkeypatch.setattr(ServerWorker, "processRtspRequest", holding)
    caplog.set_level(logging.WARNING, logger="rtsplab.client.connection")
    with running_server(ROOT, fps=100) as server:
        frames = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as black_hole:
            black_hole.bind(("127.0.0.1", 0))
            client = RtspClient(
                "127.0.0.1", server.port, free_port(), URL.format(port=server.port),
                on_frame=lambda frame, ts: frames.append(frame),
                announce_port=black_hole.getsockname()[1], udp_fallback=0.5,
            )  # fmt: skip
            try:
                client.setup()
                client.play()
                assert held.wait(10), "no fallback"
                for call in (lambda: client.state, client.summary, client.connection_lost,
                             lambda: client.stream_over(time.monotonic())):  # fmt: skip
                    started = time.monotonic()
                    call()
                    assert time.monotonic() - started < NEVER_WAITS
                release.set()
                wait_until(lambda: len(frames) >= 10, timeout=10, what="frames over TCP")
            finally:
                release.set()
                client.close()
    assert client.session.tcp
    (fallback,) = [r for r in caplog.records if "trying TCP" in r.getMessage()]
    assert fallback.threadName == "rtsp-connection"


def test_the_channel_knows_the_servers_address_after_the_server_has_reset_it():
    """getpeername() fails on a reset connection; the media set up after a SETUP reply
    still needs the server's address, so it is read when connecting."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        channel = ClientChannel.connect("127.0.0.1", listener.getsockname()[1], 5.0,
                                        lambda frame: None)  # fmt: skip
        server, _ = listener.accept()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        server.close()  # a reset, not a FIN
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(channel.sock, selectors.EVENT_READ)
                assert selector.select(5.0), "the reset never came"
            with pytest.raises(ConnectionClosed, match="failed"):
                channel.read_available()
            with pytest.raises(OSError):
                channel.sock.getpeername()
            assert (channel.server_ip, channel.local_ip) == ("127.0.0.1", "127.0.0.1")
        finally:
            channel.close()
