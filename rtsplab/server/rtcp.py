"""The server's RTCP driver: one engine (`rtsplab.rtcp.session.SenderRtcp`), its owner.

`ServerRtcp` serves a unicast session (`ServerWorker`) and a multicast stream
(`rtsplab.server.multicast`) alike. The RTCP loop (`rtsplab.server.rtcp_loop`, one thread for
every session) runs its timer and its socket: at each turn it sends the reports the engine
says are due (`turn`), and it reads the RTCP socket when a datagram waits (`read`). Other
threads reach the engine only through its methods, each under the driver's lock: the RTSP
thread hands over interleaved RTCP (`receive`) and ends the session (`stop`, which says BYE),
the pacing loop says BYE at the end of the file (`say_bye`). Nothing escapes a turn, and
nothing ends the driver but `stop` or its socket closed: a fault in a turn or in one
datagram is logged (the first with its traceback) and the next turn comes all the same.

What the engine returns is all that is sent, by `send` (UDP, the impaired link, or the
interleaved channel: the caller's choice). `accept(source)` screens datagrams before the
engine sees them (a multicast stream's members).

What the server's RTCP says of itself is worked out here once, for a unicast session and a
multicast stream alike: its CNAME (`server_cname`) and the session bandwidth the §6.2
interval is a share of (`session_bandwidth`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from rtsplab.rtcp.endpoint import Address, send_each
from rtsplab.rtcp.reports import PeerReport
from rtsplab.rtcp.session import SenderRtcp
from rtsplab.server.rtcp_loop import RTCP_LOOP, RtcpLoop
from VideoStream import VideoStream

log = logging.getLogger(__name__)

# Seconds to the next turn when the engine names no time ahead (its BYE said, its reports
# let go while quiet), or after a turn that failed.
RTCP_RETRY = 0.1
MAX_RTCP_DATAGRAM = 2048  # compound reports are a few hundred bytes at most
RTCP_BATCH = 64  # datagrams read per wake-up: a flood cannot starve the timer


def server_cname(host: str) -> str:
    """The server's CNAME (RFC 3550 §6.5.1: user@host), the same in every session."""
    return f"server@{host}"


def session_bandwidth(media: VideoStream, fps: float) -> float:
    """The stream's bandwidth in bytes/s (RFC 3550 §6.2: RTCP gets 5% of it): its file's
    average frame at the frame rate. Read from the open file, which cannot vanish under
    it."""
    return os.fstat(media.fileno()).st_size / max(1, media.frame_count) * fps


class ServerRtcp:
    """One session's (or one multicast stream's) RTCP: the engine and a lock, driven by the
    RTCP loop."""

    def __init__(
        self, rtcp: SenderRtcp, name: str, sock: socket.socket | None,
        send: Callable[[bytes], object] | None, *,
        accept: Callable[[Address], bool] | None = None,
        quiet: Callable[[], bool] | None = None,
        on_report: Callable[[SenderRtcp], None] | None = None,
        on_peer_report: Callable[[PeerReport], None] | None = None,
        on_nacks: Callable[[list[list[int]], float | None], None] | None = None,
        loop: RtcpLoop = RTCP_LOOP,
    ) -> None:  # fmt: skip
        """`sock`: where the peers' RTCP arrives by UDP (None: only `receive`). `send`: how a
        compound reaches the peer(s), None when it cannot. `quiet()`: our source has said BYE
        and waits, so due reports are let go. `on_report(rtcp)` after each report sent,
        `on_peer_report(report)` after each report about our stream, and `on_nacks(lost
        lists, round trip in seconds or None)` after NACKs about our stream, under the lock."""
        self.rtcp = rtcp
        self.name = name
        self.sock = sock
        self._send = send
        self._accept = accept
        self._quiet = quiet
        self._on_report = on_report
        self._on_peer_report = on_peer_report
        self._on_nacks = on_nacks
        self._lock = threading.Lock()
        self._loop = loop
        self._next_turn = 0.0  # when the loop turns it next, as the last turn said
        self.stopped = False
        self.faults = 0  # turns and datagrams that raised (the first logged in full)

    def start(self) -> None:
        """Hand it to the loop; raises RuntimeError when no thread can be had for that."""
        self._loop.add(self)

    @property
    def running(self) -> bool:
        """The loop turns it: started, neither stopped nor its socket closed."""
        return self._loop.holds(self)

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
            nacks = self.rtcp.take_nacks()
            if nacks and self._on_nacks is not None:
                self._on_nacks(nacks, self.round_trip())
            self._sooner()

    def round_trip(self) -> float | None:
        """Seconds, from the peer's last report (LSR/DLSR, RFC 3550 §6.4.1); call locked."""
        peer = self.rtcp.peer
        return None if peer is None or peer.rtt_ms is None else peer.rtt_ms / 1000

    def say_bye(self, reason: str) -> None:
        """Our source is past its last frame: BYE, with why. The session goes on."""
        with self._lock:
            if not self.stopped:
                self._transmit([self.rtcp.bye(time.monotonic(), time.time(), reason)])
                self._sooner()

    def stop(self, reason: str) -> None:
        """The session ends: BYE, the driver let go by the loop, and the peer's last reports
        (its RR and BYE, sent just before TEARDOWN) read. Once; later calls do nothing."""
        with self._lock:
            if self.stopped:
                return
            self.stopped = True
            self._transmit([self.rtcp.bye(time.monotonic(), time.time(), reason)])
        self._loop.remove(self)
        self._drain(RTCP_BATCH)

    def _sooner(self) -> None:
        """The engine's next time moved before the loop's next turn: the loop hears of it.
        Under the lock."""
        tn = self.rtcp.group.tn
        if tn < self._next_turn:
            self._next_turn = tn
            self._loop.sooner(self, tn)

    # -- what the loop calls -------------------------------------------------------------

    def turn(self, now: float) -> float | None:
        """Send the reports due; when to turn next, None once the socket is closed. Never
        raises: a fault is counted, and the next turn comes all the same."""
        if self.sock is not None and self.sock.fileno() == -1:
            log.debug("%s: RTCP stopped: its socket is closed", self.name)
            return None
        after = now + RTCP_RETRY
        try:
            self._report(now)
            tn = self.rtcp.group.tn
            if tn > now:
                after = tn
        except Exception:
            self._fault("a report turn")
        self._next_turn = after
        return after

    def read(self) -> bool:
        """Read what waits on the socket; False once it is closed."""
        return self._drain(RTCP_BATCH)

    def _fault(self, what: str) -> None:
        """Something raised in `what`: logged with its traceback the first time, counted
        always; the turns go on."""
        self.faults += 1
        if self.faults == 1:
            log.exception("%s: RTCP fault in %s (going on; later ones at debug)", self.name, what)
        else:
            log.debug("%s: RTCP fault %d in %s", self.name, self.faults, what, exc_info=True)

    def _report(self, now: float) -> None:
        quiet = self._quiet is not None and self._quiet()
        with self._lock:
            if self.stopped:
                return
            sent = self.rtcp.tick(now, time.time(), quiet=quiet)
            self._transmit(sent)
            if sent and self._on_report is not None:
                self._on_report(self.rtcp)

    def _drain(self, limit: int) -> bool:
        """Read up to `limit` datagrams waiting on the socket, without blocking; False once
        the socket is closed. A datagram whose handling raises is logged and skipped."""
        sock = self.sock
        if sock is None:
            return True
        for _ in range(limit):
            try:
                datagram, source = sock.recvfrom(MAX_RTCP_DATAGRAM, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                # Closed, or an ICMP error queued on it: nothing more to read now.
                return sock.fileno() != -1
            try:
                self.receive(datagram, source)
            except Exception:
                self._fault(f"a datagram from {source}")
        return True

    def _transmit(self, datagrams: list[bytes]) -> None:
        """Send what an engine's call returned, under the lock; then our RTP may carry an SSRC
        they introduced (a collision's), at once rather than at the next report."""
        if self._send is not None:
            send_each(self._send, datagrams, self.name)
        self.rtcp.take_new_ssrc()
