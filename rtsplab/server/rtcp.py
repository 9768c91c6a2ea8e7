"""The server's RTCP driver: one engine (`rtsplab.rtcp.session.SenderRtcp`), its owner.

`ServerRtcp` serves a unicast session (`ServerWorker`) and a multicast stream
(`rtsplab.server.multicast`) alike. Its thread owns the timer: it sends the reports the engine
says are due and reads the RTCP socket (with `selectors`, never `select.select`). Other
threads reach the engine only through its methods, each under the driver's lock: the RTSP
thread hands over interleaved RTCP (`receive`) and ends the session (`stop`, which says BYE),
the pacing loop says BYE at the end of the file (`say_bye`). Nothing escapes the thread: a
socket error ends it, anything else is logged.

What the engine returns is all that is sent, by `send` (UDP, the impaired link, or the
interleaved channel: the caller's choice). `accept(source)` screens datagrams before the
engine sees them (a multicast stream's members); `tick(now)` runs on the thread before each
look at the timer and may end it (a session unheard for its timeout).
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable

from rtsplab.rtcp.endpoint import Address, PeerReport, send_each
from rtsplab.rtcp.session import SenderRtcp

log = logging.getLogger(__name__)

RTCP_POLL = 0.1  # seconds: how often the thread looks up to notice the end
MAX_RTCP_DATAGRAM = 2048  # compound reports are a few hundred bytes at most
RTCP_BATCH = 64  # datagrams read per wake-up: a flood cannot starve the timer


class ServerRtcp:
    """One session's (or one multicast stream's) RTCP: the engine, a lock, a thread."""

    def __init__(
        self, rtcp: SenderRtcp, name: str, sock: socket.socket | None,
        send: Callable[[bytes], object] | None, *,
        accept: Callable[[Address], bool] | None = None,
        tick: Callable[[float], bool] | None = None,
        quiet: Callable[[], bool] | None = None,
        on_report: Callable[[SenderRtcp], None] | None = None,
        on_peer_report: Callable[[PeerReport], None] | None = None,
    ) -> None:  # fmt: skip
        """`sock`: where the peers' RTCP arrives by UDP (None: only `receive`). `send`: how a
        compound reaches the peer(s), None when it cannot. `quiet()`: our source has said BYE
        and waits, so due reports are let go. `on_report(rtcp)` after each report sent and
        `on_peer_report(report)` after each report about our stream, under the lock."""
        self.rtcp = rtcp
        self.name = name
        self._sock = sock
        self._send = send
        self._accept = accept
        self._tick = tick
        self._quiet = quiet
        self._on_report = on_report
        self._on_peer_report = on_peer_report
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rtcp-{name}", daemon=True)
        self.stopped = False

    def start(self) -> None:
        self._thread.start()

    # -- what other threads call ---------------------------------------------------------

    @property
    def peer(self) -> PeerReport | None:
        with self._lock:
            return self.rtcp.peer

    @property
    def peer_heard(self) -> float | None:
        """When RTCP about this session last came (`RtcpEndpoint.peer_heard`)."""
        with self._lock:
            return self.rtcp.peer_heard

    def receive(self, datagram: bytes, source: Address | None = None) -> None:
        """A datagram from the peer: `source` None for the interleaved channel, which the
        caller has checked is the session's RTCP channel."""
        if source is not None and self._accept is not None and not self._accept(source):
            return
        with self._lock:
            before = self.rtcp.peer
            now, wall = time.monotonic(), time.time()
            self._transmit(self.rtcp.receive(datagram, now, wall, source))
            peer = self.rtcp.peer
            if peer is not before and peer is not None and self._on_peer_report is not None:
                self._on_peer_report(peer)

    def say_bye(self, reason: str) -> None:
        """Our source is past its last frame: BYE, with why. The session goes on."""
        with self._lock:
            if not self.stopped:
                self._transmit([self.rtcp.bye(time.monotonic(), time.time(), reason)])

    def stop(self, reason: str) -> None:
        """The session ends: BYE, the thread joined, and the peer's last reports (its RR and
        BYE, sent just before TEARDOWN) read. Once; later calls do nothing."""
        with self._lock:
            if self.stopped:
                return
            self.stopped = True
            self._transmit([self.rtcp.bye(time.monotonic(), time.time(), reason)])
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        self._drain(RTCP_BATCH)

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        """Send reports when due and read the peers' until stopped. Never raises."""
        selector = selectors.DefaultSelector()
        try:
            if self._sock is not None:
                selector.register(self._sock, selectors.EVENT_READ)
            while not self._stop.is_set():
                now = time.monotonic()
                if self._tick is not None and not self._tick(now):
                    return
                self._report(now)
                wait = min(RTCP_POLL, max(0.0, self.rtcp.group.tn - time.monotonic()))
                if self._sock is None:
                    self._stop.wait(wait)
                elif selector.select(wait):
                    self._drain(RTCP_BATCH)
        except (OSError, ValueError) as exc:  # a socket closed under us: the session is over
            log.debug("%s: RTCP stopped: %s", self.name, exc)
        except Exception:
            log.exception("%s: RTCP failed", self.name)
        finally:
            selector.close()

    def _report(self, now: float) -> None:
        quiet = self._quiet is not None and self._quiet()
        with self._lock:
            if self.stopped:
                return
            sent = self.rtcp.tick(now, time.time(), quiet=quiet)
            self._transmit(sent)
            if sent and self._on_report is not None:
                self._on_report(self.rtcp)

    def _drain(self, limit: int) -> None:
        """Read up to `limit` datagrams waiting on the socket, without blocking."""
        if self._sock is None:
            return
        for _ in range(limit):
            try:
                datagram, source = self._sock.recvfrom(MAX_RTCP_DATAGRAM, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # closed, or an ICMP error queued on it: nothing more to read now
            self.receive(datagram, source)

    def _transmit(self, datagrams: list[bytes]) -> None:
        if self._send is not None:
            send_each(self._send, datagrams, self.name)
