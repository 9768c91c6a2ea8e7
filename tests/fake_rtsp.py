"""A scripted RTSP server on loopback, for what real servers do wrong: a real TCP listener on
its own thread that reads requests (`RequestReader`) and answers each as a test says.

    def script(request, n):        # the n-th request (0-based) on the connection
        return ok(request)          # the usual 200 for it, or bytes, SILENT, CLOSE, RESET
    with FakeRtspServer(script) as server:
        ... server.port, server.requests (the methods, with the Transport of each SETUP)

`ok(request)` answers as a standard server would (OPTIONS, DESCRIBE with one JPEG stream,
SETUP naming server ports and an SSRC, PLAY, TEARDOWN), sending no media. Connections are
served one at a time; the thread ends at `stop()` or after `lifetime` seconds.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable

from rtsplab.rtsp.message import RtspRequest
from rtsplab.rtsp.reader import RequestReader

LOOPBACK = "127.0.0.1"
SILENT = b""  # read on, answer nothing
CLOSE = object()  # close the connection (FIN)
RESET = object()  # close it with a reset (RST)
POLL = 0.05  # seconds the thread waits before looking at its stop signal again
SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=fake\r\nt=0 0\r\na=control:*\r\n"
    "m=video 0 RTP/AVP 26\r\na=control:track1\r\n"
)
SERVER_PORTS = "6970-6971"  # named in the SETUP reply; nothing is ever sent from them
SSRC = "1234ABCD"

Script = Callable[[RtspRequest, int], object]


def reply(request: RtspRequest, status: str = "200 OK", *extra: str, body: str = "") -> bytes:
    """A reply to `request` with its CSeq, `extra` header lines and `body`."""
    lines = [f"RTSP/1.0 {status}", f"CSeq: {request.headers.get('CSeq')}", *extra]
    if body:
        lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def ok(request: RtspRequest) -> bytes:
    """What a standard server answers (no media ever follows)."""
    method = request.method
    if method == "OPTIONS":
        return reply(request, "200 OK", "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN")
    if method == "DESCRIBE":
        return reply(request, "200 OK", "Content-Type: application/sdp", body=SDP)
    if method == "SETUP":
        transport = request.headers.get("Transport") or ""
        if "TCP" in transport:
            answer = "RTP/AVP/TCP;unicast;interleaved=0-1"
        else:
            answer = f"{transport.split(';client_port')[0]};server_port={SERVER_PORTS};ssrc={SSRC}"
            answer += ";client_port=" + transport.split("client_port=")[-1]
        return reply(request, "200 OK", "Session: 12345678;timeout=60", f"Transport: {answer}")
    return reply(request, "200 OK", "Session: 12345678")


class FakeRtspServer:
    def __init__(self, script: Script, lifetime: float = 60.0) -> None:
        self.script = script
        self.lifetime = lifetime
        self.listener = socket.create_server((LOOPBACK, 0))
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.requests: list[str] = []  # "METHOD" or "SETUP <transport>", in order
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-rtsp", daemon=True)

    def __enter__(self) -> FakeRtspServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.listener.close()

    def _run(self) -> None:
        deadline = time.monotonic() + self.lifetime
        with selectors.DefaultSelector() as selector:
            selector.register(self.listener, selectors.EVENT_READ)
            while not self._stop.is_set() and time.monotonic() < deadline:
                if selector.select(POLL):
                    with contextlib.suppress(BlockingIOError):
                        conn, _ = self.listener.accept()
                        self._serve(conn, deadline)

    def _serve(self, conn: socket.socket, deadline: float) -> None:
        reader, count = RequestReader(), 0
        conn.settimeout(POLL)
        with conn:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                for request in reader.feed(data):
                    if not isinstance(request, RtspRequest):
                        continue
                    transport = request.headers.get("Transport")
                    self.requests.append(f"{request.method} {transport}" if transport
                                         else request.method)  # fmt: skip
                    answer = self.script(request, count)
                    count += 1
                    if answer is CLOSE:
                        return
                    if answer is RESET:
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))  # fmt: skip
                        return
                    if isinstance(answer, bytes) and answer:
                        with contextlib.suppress(OSError):
                            conn.sendall(answer)
