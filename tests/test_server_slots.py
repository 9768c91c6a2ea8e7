"""Connection slots a client cannot hold for ever: a connection that sets up no session is
closed a fixed time after its first byte however it trickles, and one that keeps sending
malformed requests is closed after a few; an honest session is not."""

import socket
import time

import ServerWorker as worker_module
from conftest import ROOT, rtsp_connection, running_server
from test_server_limits import closed_by_server


def test_a_connection_trickling_bytes_without_a_session_is_closed(monkeypatch):
    monkeypatch.setattr(worker_module, "NO_SESSION_LIMIT", 1.0)
    monkeypatch.setattr(worker_module, "IDLE_CHECK", 0.1)
    with running_server(ROOT) as server, rtsp_connection(server.port) as rtsp:
        started = time.monotonic()
        closed = False
        for _ in range(40):  # a CRLF every 0.1 s: never quiet, never a request
            try:
                rtsp.sock.sendall(b"\r\n")
            except OSError:
                closed = True
                break
            if closed_by_server(rtsp.sock, 0.1):
                closed = True
                break
        assert closed and time.monotonic() - started < 3.0


def test_a_session_keeps_its_connection_past_the_limit(monkeypatch):
    monkeypatch.setattr(worker_module, "NO_SESSION_LIMIT", 0.5)
    with running_server(ROOT) as server, rtsp_connection(server.port) as rtsp:
        reply = rtsp.ask("SETUP rtsp://127.0.0.1/movie.Mjpeg/track1 RTSP/1.0\r\nCSeq: 1\r\n"
                         "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n")  # fmt: skip
        assert reply.status == 200
        assert not closed_by_server(rtsp.sock, 1.5)


def test_repeated_malformed_requests_close_the_connection():
    with running_server(ROOT) as server, rtsp_connection(server.port) as rtsp:
        replies = []
        for n in range(worker_module.MAX_BAD_REQUESTS):
            try:
                replies.append(rtsp.ask(f"BAD REQUEST LINE {n}\r\nCSeq: {n}\r\n\r\n").status)
            except (AssertionError, OSError):
                break
        assert replies and set(replies) == {400}
        assert closed_by_server(rtsp.sock, 3)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as other:
            other.sendall(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
            assert other.recv(65536).startswith(b"RTSP/1.0 200")  # the server goes on
