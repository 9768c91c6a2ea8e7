"""The server's multicast streams: one per file, sent once to a group for every member.

A member is a standard session set up with ``RTP/AVP;multicast`` (`rtsplab.server.session`). The
group, its ports and the TTL are the server's (``--multicast`` and friends): each file played
this way gets the next port pair from ``--multicast-port`` on, and a SETUP is answered with
where the stream is, whatever the client asked for. A file with sound has it sent beside the
video on a port pair of its own (`rtsplab.server.multicast_sound`), started and stopped with
it; a member sets it up as its session's second track. The first member's PLAY starts the
stream; later members join it where it is; a member's PAUSE or TEARDOWN takes only that
member out, and the stream stops when the last one leaves, or at the end of the file, where
the group hears the BYE. A PLAY after the end starts it again from the first frame, for the
whole group (`rewind_if_played`, the rule of `rtsplab.server.position`, applied before the
PLAY's reply says where the stream is). A file's stream is closed once no member is set up
on it.

RTCP is a group's (RFC 3550 §6.3), through the one RTCP engine (`SenderRtcp` on an
`RtcpGroup`) and its driver (`rtsplab.server.rtcp.ServerRtcp`, the engine's one owner): sender
reports go to the group's RTCP port on the schedule the member table gives, every member's
reports are read from it (with ``-v`` a summary of the member table once per report
interval), a report from a member's address keeps that member's session alive, and a
collision with our SSRC (§8.2) is resolved once per third-party host: the stream goes on
under a new SSRC, introduced with our CNAME so that the members follow it.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path
from typing import TypeVar

from rtsplab.payload.rfc2435.packetizer import jpeg_payload_parts
from rtsplab.rtcp.group import Address, RtcpGroup
from rtsplab.rtcp.session import SenderRtcp
from rtsplab.rtcp.timing import RTCP_BANDWIDTH_FRACTION
from rtsplab.rtp.pacer import Pacer
from rtsplab.rtp.ports import (
    bind_multicast_socket,
    multicast_sending_socket,
    multicast_source_address,
)
from rtsplab.rtp.sender import RtpSender
from rtsplab.rtsp.errors import RtspError
from rtsplab.server.audio_setup import open_sound
from rtsplab.server.audio_source import AudioSource
from rtsplab.server.multicast_sound import GroupSound
from rtsplab.server.position import played_to_end, rewind_if_played
from rtsplab.server.rtcp import ServerRtcp, server_cname, session_bandwidth
from rtsplab.server.session import StreamConfig
from rtsplab.server.stream import RtpStream, Streaming
from rtsplab.server.udp_out import UdpOut
from VideoStream import VideoStream

log = logging.getLogger(__name__)

MAX_STREAMS = 16  # streams sent to the group at once (a file's video, its sound), each a port pair
VIDEO, SOUND = "video", "sound"  # a file's two streams, each on a port pair of its own
SUMMARY_MEMBERS = 8  # members whose last report the -v summary names; the rest are counted

_Opened = TypeVar("_Opened", socket.socket, VideoStream)


class MulticastStream:
    """One file's stream to the group, shared by its members."""

    def __init__(
        self, path: Path, port: int, config: StreamConfig, streaming: Streaming, host: str,
        sound: tuple[AudioSource, int] | None = None,
    ) -> None:  # fmt: skip
        """Opens the file and the group's sockets and starts RTCP; whatever was opened is
        closed again when a later step fails. `sound`: the file's sound and its port, to
        send beside the video (`rtsplab.server.multicast_sound`); it is the stream's now."""
        multicast = config.multicast
        assert multicast is not None
        self.path, self.port, self.config, self.streaming = path, port, config, streaming
        self.group = multicast.group
        self.sender = RtpSender(config.fps, config.max_packet, payloader=jpeg_payload_parts)
        self.members: dict[str, str] = {}  # session id -> the member's IP: set up
        self.playing: set[str] = set()  # session ids playing
        self.heard: dict[str, float] = {}  # a member's IP -> when its RTCP last came
        self.joining = 0  # SETUPs that have joined and are not yet members (under _lock)
        self._lock = threading.Lock()
        self._stream: RtpStream | None = None
        self._opened: list[socket.socket | VideoStream] = []
        self._own: Address = ("", 0)  # where our own RTCP comes back from (multicast loopback)
        self.source = multicast.interface  # where the group's datagrams leave from
        self.sound: GroupSound | None = None
        try:
            self.media = self._open(VideoStream(path))
            self._rtp = self._open(multicast_sending_socket(multicast.interface, multicast.ttl))
            self._rtcp_out = self._open(
                multicast_sending_socket(multicast.interface, multicast.ttl)
            )
            self._rtcp_out.bind((multicast.interface, 0))  # its port: how ours come back
            self._rtcp_in = self._open(
                bind_multicast_socket(multicast.group, port + 1, multicast.interface)
            )
            self._out = UdpOut(self._rtp, (multicast.group, port), gso=streaming.gso)
            self.rtcp = self._start_rtcp(host)
        except BaseException:
            for opened in reversed(self._opened):
                opened.close()
            if sound is not None:
                sound[0].close()
            raise
        if sound is not None:
            try:
                self.sound = GroupSound(*sound, config, streaming, server_cname(host),
                                        self.source, self._member_heard)  # fmt: skip
            except BaseException:
                self.close()
                raise

    def _open(self, opened: _Opened) -> _Opened:
        self._opened.append(opened)
        return opened

    def _start_rtcp(self, host: str) -> ServerRtcp:
        """The group's RTCP engine and its driver, started."""
        multicast, now = self.config.multicast, time.monotonic()
        assert multicast is not None
        bandwidth = session_bandwidth(self.media, self.config.fps)
        cname = server_cname(host)
        try:  # where our own RTCP comes back from (multicast loopback)
            source_ip = multicast_source_address(self.group, self.port + 1, multicast.interface)
        except OSError:
            source_ip = multicast.interface
        self.source = source_ip  # named in SETUP replies when not the RTSP connection's
        self._own = (source_ip, self._rtcp_out.getsockname()[1])
        group = RtcpGroup(
            self.sender.ssrc, RTCP_BANDWIDTH_FRACTION * bandwidth, now, cname=cname,
            reduced_minimum=self.config.rtcp_reduced_minimum,
        )  # fmt: skip
        engine = SenderRtcp(self.sender, cname, bandwidth, now, group=group)
        rtcp = ServerRtcp(engine, f"group-{self.port}", self._rtcp_in, self._send_rtcp,
                          accept=self._from_member, quiet=self._not_streaming,
                          on_report=self._summary)  # fmt: skip
        rtcp.start()
        return rtcp

    # -- members -------------------------------------------------------------------------

    def join(self) -> None:
        """A SETUP joins: the stream is not closed under it until it is a member."""
        with self._lock:
            self.joining += 1

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
            position = self.media.frameNbr() / self.sender.fps
            pacer = Pacer(self.sender.fps, burst=self.config.burst)
            name = f"multicast {self.group}:{self.port}"
            stream = RtpStream(name, self.media, self.sender, pacer, self.streaming.cache,
                               self._out.send, self._said_end)  # fmt: skip
            self._stream = stream
            log.info("multicast stream of %s to %s:%d starts", self.path.name, self.group,
                     self.port)  # fmt: skip
            now = time.monotonic()  # the first frame's, and the sound's first packet's
            self.streaming.loop.add(stream, stream.start(now))
            if self.sound is not None:
                self.sound.start(position, now)

    def rewind_if_played(self) -> None:
        """PLAY after the end: the stream, played to its end, starts again from the first
        frame for the whole group. Called before the PLAY's reply is built, so that its
        Range says where the stream starts; the stream that ended is stopped first, so that
        the media never moves under it."""
        with self._lock:
            if played_to_end(self.media):
                self._stop_stream()
                rewind_if_played(self.media)

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
        with self._lock:
            return self.heard.get(ip)

    def _stop_stream(self) -> None:
        if self.sound is not None:
            self.sound.stop()
        stream, self._stream = self._stream, None
        if stream is not None:
            self.streaming.loop.remove(stream)
            self.sender.pause()
            log.info("multicast stream of %s to %s:%d stops", self.path.name, self.group,
                     self.port)  # fmt: skip

    def _said_end(self, reason: str) -> None:
        self.rtcp.say_bye(reason)

    # -- RTCP (the driver's thread, or under its lock) ---------------------------------------

    def _send_rtcp(self, datagram: bytes) -> None:
        self._rtcp_out.sendto(datagram, (self.group, self.port + 1))

    def _from_member(self, source: Address) -> bool:
        """Only the members' RTCP counts, and not our own looped back (it is dropped here,
        before the engine: from a member's host it would keep that member alive); a member's
        keeps its session alive."""
        return source != self._own and self._member_heard(source)

    def _member_heard(self, source: Address) -> bool:
        """Whether `source` is a member's address; if so, it was heard now."""
        with self._lock:
            if source[0] not in self.members.values():
                return False
            self.heard[str(source[0])] = time.monotonic()
            return True

    def _not_streaming(self) -> bool:
        stream = self._stream
        return stream is None or not stream.active

    def _summary(self, rtcp: SenderRtcp) -> None:
        """-v, once per report interval: the member table and what its reports say."""
        if not log.isEnabledFor(logging.DEBUG):
            return
        group = rtcp.group
        reports = [(s, r) for s, r in rtcp.reports.items() if group.member(s) is not None]
        named = "; ".join(f"{ssrc:08X} {report}" for ssrc, report in reports[:SUMMARY_MEMBERS])
        more = len(reports) - SUMMARY_MEMBERS
        log.debug("multicast %s:%d, %d senders, %d SSRCs ignored, %d members: %s%s",
                  self.group, self.port, group.sender_count, group.ignored_members,
                  group.member_count, named or "no report yet",
                  f"; and {more} more" if more > 0 else "")  # fmt: skip

    # -- the end ---------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._stop_stream()
        self.rtcp.stop("no member left")
        if self.sound is not None:
            self.sound.close()
        for sock in (self._rtp, self._rtcp_out, self._rtcp_in):
            sock.close()
        self.media.close()


class MulticastStreams:
    """Every file's multicast stream, made at its first member's SETUP, closed after its
    last member's TEARDOWN; each file keeps its port while the server runs."""

    def __init__(self, config: StreamConfig, streaming: Streaming, host: str) -> None:
        assert config.multicast is not None
        self.config, self.streaming, self.host = config, streaming, host
        self._ports: dict[tuple[Path, str], int] = {}  # (file, VIDEO or SOUND) -> its port
        self._streams: dict[Path, MulticastStream] = {}
        self._lock = threading.Lock()

    def _port(self, key: tuple[Path, str]) -> int:
        """A file's port pair for its video or sound: its own once given, else the lowest
        free one (under _lock)."""
        multicast = self.config.multicast
        assert multicast is not None
        if key not in self._ports:
            taken = set(self._ports.values())
            ports = range(multicast.port, multicast.port + 2 * MAX_STREAMS, 2)
            free = next((port for port in ports if port not in taken), None)
            if free is None:
                raise RtspError(453, f"already {MAX_STREAMS} streams sent to the group")
            self._ports[key] = free
        return self._ports[key]

    def join(self, path: Path) -> MulticastStream:
        with self._lock:
            stream = self._streams.get(path)
            if stream is None:
                stream = self._open(path)
                self._streams[path] = stream
            stream.join()  # not closed under the SETUP that joined it
            return stream

    def _open(self, path: Path) -> MulticastStream:
        """The file's stream, with its sound if it has one (under _lock). A file that never
        streamed holds no port."""
        had = set(self._ports)
        sound = open_sound(self.config.root, path)
        try:
            port = self._port((path, VIDEO))
            with_sound = None if sound is None else (sound, self._port((path, SOUND)))
            sound = None  # the stream's from here: it closes it if it fails
            return MulticastStream(path, port, self.config, self.streaming, self.host,
                                   with_sound)  # fmt: skip
        except BaseException:
            for key in set(self._ports) - had:
                del self._ports[key]
            if sound is not None:
                sound.close()
            raise

    def streams(self) -> list[MulticastStream]:
        """The files' streams now, for the status page."""
        with self._lock:
            return list(self._streams.values())

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
