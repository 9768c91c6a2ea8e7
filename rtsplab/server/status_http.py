"""The status page's driver: a small read-only HTTP server beside the RTSP port.

- ``/`` a page that shows the class live (it asks ``/api/status`` every second and redraws;
  no reload, nothing loaded from elsewhere);
- ``/api/status`` the whole snapshot as JSON, ``/api/sessions`` the sessions alone;
- ``/metrics`` the same figures in Prometheus's text format.

The standard library's ThreadingHTTPServer is enough for a page a handful of people watch:
a thread a connection, bounded here (MAX_CONNECTIONS at once, a timeout on every socket), and
only GET and HEAD. With an `Authenticator` every request needs the same credentials as RTSP
(HTTP and RTSP share Digest, RFC 7616): 401 with the same challenges otherwise.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from socket import socket

from rtsplab.server.auth import Authenticator
from rtsplab.server.status import ServerStatus, prometheus_text

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 32
SOCKET_TIMEOUT = 10.0  # s: a client that stops sending or reading is let go
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _page() -> bytes:
    return resources.files("rtsplab.server").joinpath("status_page.html").read_bytes()


class StatusServer(ThreadingHTTPServer):
    """Serves `snapshot()` until `close()`; `port` is the one bound (0 picks a free one)."""

    daemon_threads = True

    def __init__(
        self,
        host: str,
        port: int,
        snapshot: Callable[[], ServerStatus],
        guard: Authenticator | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.snapshot = snapshot
        self.guard = guard
        self.clock = clock
        self.page = _page()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__((host, port), _Handler)
        self.port = self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, name="status-http",
                                        daemon=True)  # fmt: skip

    def start(self) -> None:
        self._thread.start()
        log.info("status page on http://%s:%d/ (metrics at /metrics)",
                 self.server_address[0] or "0.0.0.0", self.port)  # fmt: skip

    def close(self) -> None:
        self.shutdown()
        self.server_close()

    def process_request(self, request: socket, client_address: object) -> None:  # type: ignore[override]
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # full: closed at once, the others go on
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: socket, client_address: object) -> None:  # type: ignore[override]
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class _Handler(BaseHTTPRequestHandler):
    server: StatusServer
    timeout = SOCKET_TIMEOUT
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        if not self._authorized():
            return
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(200, "text/html; charset=utf-8", self.server.page, send_body)
        elif path in ("/api/status", "/api/sessions"):
            status = self.server.snapshot().as_json()
            data = status if path == "/api/status" else status["sessions"]
            body = json.dumps(data).encode()
            self._send(200, "application/json", body, send_body)
        elif path == "/metrics":
            body = prometheus_text(self.server.snapshot()).encode()
            self._send(200, PROMETHEUS_TYPE, body, send_body)
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found\n", send_body)

    def _authorized(self) -> bool:
        guard = self.server.guard
        if guard is None:
            return True
        now = self.server.clock()
        address = self.client_address[0]
        verdict = guard.check(self.command, self.path, self.headers.get("Authorization"),
                              address, now)  # fmt: skip
        if verdict.user is not None:
            return True
        log.info("status page: %s from %s: %s", verdict.status, self.client_address[0],
                 verdict.reason)  # fmt: skip
        self.send_response(verdict.status)
        if verdict.status == 401:
            for challenge in guard.challenges(now, verdict.stale, address=address):
                self.send_header("WWW-Authenticate", challenge)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def _send(self, code: int, kind: str, body: bytes, send_body: bool) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("status page: %s: " + format, self.client_address[0], *args)
