"""The server's multicast streams: one per file, sent once to a group for every member.

A member is a standard session set up with ``RTP/AVP;multicast`` (`server_session`). The
group, its ports and the TTL are the server's (``--multicast`` and friends): each file played
this way gets the next port pair from ``--multicast-port`` on, and a SETUP is answered with
where the stream is, whatever the client asked for. The first member's PLAY starts the
stream; later members join it where it is; a member's PAUSE or TEARDOWN takes only that
member out, and the stream stops when the last one leaves, or at the end of the file, where
the group hears the BYE. A file's stream is closed once no member is set up on it.

RTCP is a group's (RFC 3550 §6.3): sender reports go to the group's RTCP port on the
schedule `RtcpGroup` computes from the members heard, every member's reports are read from
it (the member table; with ``-v`` each member's loss, jitter and RTT), and a report from a
member's address keeps that member's session alive.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import select
import socket
import threading
import time
from pathlib import Path

from rtsplab.payload.rfc2435.packetizer import jpeg_payload_parts
from rtsplab.rtcp.group import Collision, RtcpGroup
from rtsplab.rtcp.reports import SenderReport
from rtsplab.rtcp.session import PeerReport, SenderRtcp
from rtsplab.rtcp.timing import RTCP_BANDWIDTH_FRACTION
from rtsplab.rtp.pacer import Pacer
from rtsplab.rtp.ports import bind_multicast_socket
from rtsplab.rtp.sender import RtpSender
from rtsplab.rtsp.errors import RtspError
from rtsplab.server.session import MulticastConfig, StreamConfig
from rtsplab.server.stream import RtpStream, Streaming
from rtsplab.server.udp_out import UdpOut
from VideoStream import VideoStream

log = logging.getLogger(__name__)

MAX_STREAMS = 16  # files streamed to the group at once, each on its own port pair
RTCP_POLL = 0.1  # seconds: how often the RTCP thread looks up
MAX_RTCP_DATAGRAM = 2048


def sending_socket(config: MulticastConfig) -> socket.socket:
    """A socket that sends to the group with the server's TTL, from its interface."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, config.ttl)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(config.interface))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)  # members on this host
    return sock


class MulticastStream:
    """One file's stream to the group, shared by its members."""

    def __init__(
        self, path: Path, port: int, config: StreamConfig, streaming: Streaming, host: str
    ) -> None:
        multicast = config.multicast
        assert multicast is not None
        self.path, self.port, self.config, self.streaming = path, port, config, streaming
        self.group = multicast.group
        self.media = VideoStream(path)
        self.sender = RtpSender(config.fps, config.max_packet, payloader=jpeg_payload_parts)
        self.members: dict[str, str] = {}  # session id -> the member's IP: set up
        self.playing: set[str] = set()  # session ids playing
        self.heard: dict[str, float] = {}  # a member's IP -> when its RTCP last came
        self.joining = 0  # SETUPs that have joined and are not yet members (the lock's)
        self._lock = threading.Lock()
        self._stream: RtpStream | None = None
        self._rtp = sending_socket(multicast)
        self._rtcp_out = sending_socket(multicast)
        self._rtcp_out.bind((multicast.interface, 0))  # its port: how ours come back
        self._rtcp_in = bind_multicast_socket(multicast.group, port + 1, multicast.interface)
        self._out = UdpOut(self._rtp, (multicast.group, port), gso=streaming.gso)
        now = time.monotonic()
        bandwidth = path.stat().st_size / max(1, self.media.frame_count) * config.fps
        cname = f"server@{host}"
        self.rtcp = SenderRtcp(self.sender, cname, bandwidth, now)  # builds the packets
        self.rtcp_group = RtcpGroup(
            self.sender.ssrc, RTCP_BANDWIDTH_FRACTION * bandwidth, now, cname=cname,
            reduced_minimum=config.rtcp_reduced_minimum,
        )  # fmt: skip
        self.reports: dict[int, PeerReport] = {}  # a member's SSRC -> its last report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._rtcp_loop, name=f"rtcp-group-{port}",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    # -- members -------------------------------------------------------------------------

    def add(self, session_id: str, ip: str) -> None:
        """The SETUP that joined is answered: `session_id` from `ip` is a member."""
        with self._lock:
            self.joining = max(0, self.joining - 1)
            self.members[session_id] = ip

    def play(self, session_id: str) -> None:
        """The member plays: the stream starts if it is not running."""
        with self._lock:
            self.playing.add(session_id)
            stream = self._stream
            if stream is not None and stream.active and not stream.at_end:
                return
            if stream is not None:
                self.streaming.loop.remove(stream)
            if self.media.frameNbr() >= self.media.frame_count:
                self.media.seek(0)  # played to the end: the first PLAY after starts again
            pacer = Pacer(self.sender.fps, burst=self.config.burst)
            name = f"multicast {self.group}:{self.port}"
            stream = RtpStream(name, self.media, self.sender, pacer, self.streaming.cache,
                               self._out.send, self._said_end)  # fmt: skip
            self._stream = stream
            log.info("multicast stream of %s to %s:%d starts", self.path.name, self.group,
                     self.port)  # fmt: skip
            self.streaming.loop.add(stream, stream.start(time.monotonic()))

    def pause(self, session_id: str) -> None:
        """The member stops playing; the stream stops with the last one."""
        with self._lock:
            self.playing.discard(session_id)
            if not self.playing:
                self._stop_stream()

    def remove(self, session_id: str) -> bool:
        """The member is gone; True when it was the last one set up."""
        with self._lock:
            self.playing.discard(session_id)
            self.members.pop(session_id, None)
            if not self.playing:
                self._stop_stream()
            return not self.members and not self.joining

    def heard_since(self, ip: str) -> float | None:
        """When RTCP last came from `ip` to the group."""
        return self.heard.get(ip)

    def _stop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            self.streaming.loop.remove(stream)
            self.sender.pause()
            log.info("multicast stream of %s to %s:%d stops: no member plays", self.path.name,
                     self.group, self.port)  # fmt: skip

    def _said_end(self, reason: str) -> None:
        self._send_rtcp(self.rtcp.bye(time.monotonic(), time.time(), reason))

    # -- RTCP ----------------------------------------------------------------------------

    def _send_rtcp(self, datagram: bytes) -> None:
        try:
            self._rtcp_out.sendto(datagram, (self.group, self.port + 1))
        except OSError as exc:
            log.debug("group RTCP not sent: %s", exc)

    def _rtcp_loop(self) -> None:
        group = self.rtcp_group
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                group.expire(now)
                stream = self._stream
                if stream is not None and stream.active and group.due(now):
                    group.on_rtp_sent(now)
                    datagram = self.rtcp.report(now, time.time())
                    self._send_rtcp(datagram)
                    group.on_sent(len(datagram), now)
                wait = min(RTCP_POLL, max(0.0, group.tn - time.monotonic()))
                readable, _, _ = select.select([self._rtcp_in], [], [], wait)
                if readable:
                    with contextlib.suppress(BlockingIOError):  # the socket does not block
                        self._receive(*self._rtcp_in.recvfrom(MAX_RTCP_DATAGRAM))
        except OSError as exc:
            log.debug("group RTCP stopped: %s", exc)
        except Exception:
            log.exception("group RTCP of %s failed", self.path.name)

    def _receive(self, datagram: bytes, source: tuple[str, int]) -> None:
        now, wall = time.monotonic(), time.time()
        with self._lock:
            members = set(self.members.values())
        if source[0] not in members:
            return  # only the members' reports count (ours come back too: loopback)
        before = self.rtcp.peer
        packets = self.rtcp.receive(datagram, now, wall)
        if not packets:
            return  # malformed: counted by SenderRtcp
        first = packets[0]
        if (source[1] == self._rtcp_out.getsockname()[1] and isinstance(first, SenderReport)
                and first.ssrc == self.sender.ssrc):  # fmt: skip
            # Our own report, looped back to us: from where ours come (the route's source
            # address when the interface is any), so that it is never taken for a collision.
            self.rtcp_group.own_addresses |= {source}
            return
        self.heard[source[0]] = now
        collision = self.rtcp_group.on_rtcp(packets, len(datagram), source, now)
        if collision is not None:
            self._change_ssrc(collision, now, wall)
        peer = self.rtcp.peer
        if peer is not before and peer is not None and self.rtcp.peer_ssrc is not None:
            self.reports[self.rtcp.peer_ssrc] = peer
            # Only the members the group still counts: as bounded as its table is.
            self.reports = {s: r for s, r in self.reports.items() if self.rtcp_group.member(s)}
            if log.isEnabledFor(logging.DEBUG):
                log.debug("multicast %s:%d, %d members: %s", self.group, self.port,
                          self.rtcp_group.member_count, "; ".join(
                              f"{ssrc:08X} {report}" for ssrc, report in self.reports.items()
                          ))  # fmt: skip

    def _change_ssrc(self, collision: Collision, now: float, wall: float) -> None:
        """Another source took our SSRC (RFC 3550 §8.2): BYE for it, then a new one. The
        members take the new source after the BYE (A.1's probation, as ours do)."""
        self._send_rtcp(self.rtcp.bye(now, wall, "SSRC collision"))
        while True:
            new = secrets.randbits(32)
            try:
                self.rtcp_group.change_ssrc(new, now)
                break
            except ValueError:  # in use in the group: draw again
                continue
        log.warning("multicast %s:%d: our SSRC %08X is also %s's: now %08X", self.group,
                    self.port, collision.ssrc, collision.address[0], new)  # fmt: skip
        self.sender.ssrc = self.rtcp.ssrc = new  # the next frame and report carry it

    # -- the end ---------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._stop_stream()
        self._send_rtcp(self.rtcp.bye(time.monotonic(), time.time(), "no member left"))
        self._stop.set()
        self._thread.join(timeout=2)
        for sock in (self._rtp, self._rtcp_out, self._rtcp_in):
            sock.close()
        self.media.close()


class MulticastStreams:
    """Every file's multicast stream, made at its first member's SETUP, closed after its
    last member's TEARDOWN; each file keeps its port while the server runs."""

    def __init__(self, config: StreamConfig, streaming: Streaming, host: str) -> None:
        assert config.multicast is not None
        self.config, self.streaming, self.host = config, streaming, host
        self._ports: dict[Path, int] = {}
        self._streams: dict[Path, MulticastStream] = {}
        self._lock = threading.Lock()

    def _port(self, path: Path) -> int:
        multicast = self.config.multicast
        assert multicast is not None
        with self._lock:
            if path not in self._ports:
                if len(self._ports) >= MAX_STREAMS:
                    raise RtspError(453, f"already {MAX_STREAMS} files streamed to the group")
                self._ports[path] = multicast.port + 2 * len(self._ports)
            return self._ports[path]

    def join(self, path: Path) -> MulticastStream:
        port = self._port(path)
        with self._lock:
            stream = self._streams.get(path)
            if stream is None:
                stream = MulticastStream(path, port, self.config, self.streaming, self.host)
                self._streams[path] = stream
            stream.joining += 1  # not closed under the SETUP that joined it
            return stream

    def leave(self, stream: MulticastStream, session_id: str) -> None:
        """The member's session ended; the file's stream closes with its last member."""
        with self._lock:
            last = stream.remove(session_id)
            if last and self._streams.get(stream.path) is stream:
                del self._streams[stream.path]
            else:
                last = False
        if last:
            stream.close()

    def close(self) -> None:
        with self._lock:
            streams, self._streams = list(self._streams.values()), {}
        for stream in streams:
            stream.close()
