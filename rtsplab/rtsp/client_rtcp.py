"""The client's RTCP endpoint for one session: the pure `ReceiverRtcp`, shared by the thread
that receives and the one that tears down, and the way its packets reach the server: a UDP
socket to the server's RTCP port, or the RTSP connection's interleaved channel."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from rtsplab.rtcp.session import ReceiverRtcp

log = logging.getLogger(__name__)

Build = Callable[[ReceiverRtcp, float, float], bytes]  # (rtcp, now, wall) -> compound packet


class ClientRtcp:
    def __init__(self, session: ReceiverRtcp, send: Callable[[bytes], object] | None) -> None:
        """`send` carries a compound packet to the server; None when there is no way (the
        client's RTCP port was taken, or the server named no RTCP port)."""
        self.session = session
        self._send = send
        self._lock = threading.Lock()

    def send(self, build: Build) -> None:
        """Build a compound packet with `build(rtcp, now, wall)` and send it to the server."""
        with self._lock:
            if self._send is None:
                return
            datagram = build(self.session, time.monotonic(), time.time())
            try:
                self._send(datagram)
            except OSError as exc:
                log.debug("RTCP not sent: %s", exc)

    def report_if_due(self) -> None:
        if self.session.due(time.monotonic()):
            self.send(lambda rtcp, now, wall: rtcp.report(now, wall))

    def receive(self, datagram: bytes) -> None:
        with self._lock:
            self.session.receive(datagram, time.monotonic(), time.time())
