"""The server side of one RTSP session, as a pure object: requests in, responses out.

No sockets and no threads: `ServerWorker` feeds it parsed requests and carries out what a
successful one means (start or stop the stream, close it). Tests drive it directly.

The session's life is the lab's diagram, the table in `rtsplab.rtsp.state`: a request the
table does not allow gets 455 and changes nothing, and a request that succeeds moves the
session to the state the table names. Every other refusal is
decided before anything changes too, so a bad request leaves the session as it was.

Two dialects share it. The lab's (`Transport: RTP/UDP; client_port= 25000`) gets the lab's
payload: the JPEG's bytes cut into packets. Standard RTSP (RFC 2326: OPTIONS, DESCRIBE with
SDP, SETUP with RTP/AVP over UDP or interleaved on the RTSP connection, PLAY with Range and
RTP-Info, GET_PARAMETER as keep-alive) gets RTP/JPEG as RFC 2435 defines it, which ffmpeg
and GStreamer play (the tests run both).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rtsplab.errors import PayloadError
from rtsplab.payload.lab import fragment_parts
from rtsplab.payload.rfc2435.frame import parse_jpeg
from rtsplab.payload.rfc2435.packetizer import jpeg_payload_parts
from rtsplab.rtp.pacer import BURST_PACKETS
from rtsplab.rtp.ports import ANY_INTERFACE
from rtsplab.rtp.sender import RtpSender
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.headers.range import format_npt_range, parse_npt_start
from rtsplab.rtsp.headers.rtp_info import RtpInfo
from rtsplab.rtsp.headers.session import format_session
from rtsplab.rtsp.headers.supported import RTX_OPTION, option_tags
from rtsplab.rtsp.headers.transport import TransportSpec, rtp_and_rtcp_ports
from rtsplab.rtsp.message import Headers, RtspRequest, RtspResponse
from rtsplab.rtsp.sdp import make_sdp
from rtsplab.rtsp.state import (
    DESCRIBE,
    GET_PARAMETER,
    IMPLEMENTED,
    OPTIONS,
    PLAY,
    SETUP,
    TEARDOWN,
    State,
    next_state,
)
from rtsplab.server import audio_setup as sound
from rtsplab.server.auth import Gate
from rtsplab.server.impairment import ImpairmentConfig
from rtsplab.server.media_root import AUDIO_TRACK, TRACK, URL_SCHEMES, resolve, track_of
from rtsplab.server.position import played_rates, rewind_if_played
from rtsplab.server.shared_stream import MulticastConfig, SharedStream, SharedStreams, unmapped
from rtsplab.server.transports import (
    FEEDBACK_PROFILE,
    LAB_PROFILE,
    RTX_TIME_MS,
    Channels,
    UdpPorts,
    choose_transport,
)
from VideoStream import VideoError, VideoStream

log = logging.getLogger(__name__)


SESSION_TIMEOUT = 60  # seconds a standard session lives without a request or RTCP
REASON_CONTENT_TYPE = "text/plain; charset=utf-8"  # the body of a 4xx: why it was refused


def new_session_id() -> str:
    """An unguessable session id, all digits: the lab's client reads it with int()."""
    return str(secrets.randbelow(9 * 10**17) + 10**17)  # 18 digits, 59 bits of randomness


@dataclass(frozen=True)
class SetUp:
    """What a SETUP made, whole, until the session closes: the file, its reader and RTP
    numbering, and how the stream reaches the client (its UDP ports, channels on the RTSP
    connection, or the file's multicast stream, which sends for every member)."""

    session_id: str  # the id it was set up with (TEARDOWN clears the session's first)
    path: Path
    media: VideoStream
    sender: RtpSender
    standard: bool  # RTP/AVP: the RFC 2435 payload; else the lab's
    way: UdpPorts | Channels | SharedStream
    feedback: bool = False  # the client NACKs lost packets (RTP/AVPF, or our RTX_OPTION)
    rtx: bool = False  # ...and takes RFC 4588 packets for them (RTX_OPTION)

    @property
    def group(self) -> SharedStream | None:
        return None if isinstance(self.way, (UdpPorts, Channels)) else self.way


@dataclass
class StreamConfig:
    root: Path
    fps: float = 20.0
    max_packet: int = 1400
    burst: int = BURST_PACKETS  # packets sent back to back; 0: each frame at once
    rtcp_reduced_minimum: bool = False  # RFC 3550 §6.2's 360/kbps minimum instead of 5 s
    session_timeout: int = SESSION_TIMEOUT  # seconds a standard session lives unheard
    impairment: ImpairmentConfig | None = None  # the lab's network, on purpose (off: None)
    multicast: MulticastConfig | None = None  # standard SETUPs may ask for it (off: None)
    retransmission: bool = True  # NACKs answered, and offered in the SDP (RFC 4585, 4588)
    gate: Gate | None = None  # who may make a request (None: anyone)


class ServerSession:
    """One client's session: its state, its media and its RTP numbering."""

    def __init__(
        self,
        config: StreamConfig,
        client_ip: str,
        server_rtp_port: int,
        *,
        server_address: tuple[str, int] = ("127.0.0.1", 554),
        make_session_id: Callable[[], str] = new_session_id,
        make_sender: Callable[..., RtpSender] = RtpSender,
        groups: SharedStreams | None = None,
        secure: bool = False,
        audio_port: Callable[[], int] | None = None,
    ) -> None:
        """`groups` are the server's multicast streams (needed with config.multicast);
        `audio_port()` the driver's RTP port for a clip's sound over UDP (bound when first
        asked: a silent session binds nothing more).
        `secure`: the connection is TLS (rtsps://), so the media rides on it, interleaved:
        a SETUP for UDP or multicast, which would send it in the clear, is refused."""
        self.config = config
        self.client_ip = client_ip
        self.server_rtp_port = server_rtp_port
        self.server_address = server_address  # where the client reached us: for URLs
        self._make_session_id = make_session_id
        self._make_sender = make_sender
        self._groups = groups
        self._audio_port = audio_port
        self.secure = secure
        self.audio: sound.AudioSetUp | None = None  # a clip's sound, from its SETUP to close()
        self.state = State.INIT
        self.session_id: str | None = None
        self.setup: SetUp | None = None  # from SETUP to close()
        self.timeout: int | None = None  # standard sessions end after this long unheard

    def handle(self, request: RtspRequest) -> RtspResponse:
        """Answer one request. Anything refused leaves the session exactly as it was."""
        try:
            cseq = request.cseq
        except RtspError as exc:
            return self.error_response(exc)
        try:
            return self._dispatch(request, cseq)
        except RtspError as exc:
            exc.cseq = cseq
            return self.error_response(exc)

    def error_response(self, error: RtspError) -> RtspResponse:
        """The refusal: CSeq, Session, and for a 4xx the message as a text/plain body, so that
        a client can say why (RFC 2326 §7: a response may carry an entity). A 5xx is our
        own fault: its reply stays bare and the log has the rest."""
        log.info("answering %s", error)
        headers = Headers()
        if error.cseq is not None:
            headers["CSeq"] = str(error.cseq)
        if self.session_id is not None:
            headers["Session"] = self.session_id
        response = RtspResponse(error.status, headers)
        if 400 <= error.status < 500 and error.message:
            # After CSeq and Session: the lab's client reads those two by line number.
            response.body = error.message.encode("utf-8", "replace")
            headers["Content-Type"] = REASON_CONTENT_TYPE
            headers["Content-Length"] = str(len(response.body))
        return response

    def close(self) -> None:
        """Free the media: after TEARDOWN, or when the client went away."""
        setup, self.setup = self.setup, None
        if setup is not None and setup.group is None:  # a group's media is the group's
            setup.media.close()
        audio, self.audio = self.audio, None
        if audio is not None:
            audio.close()
        self.session_id = self.timeout = None
        self.state = State.INIT

    # What SETUP made, for those who read it piece by piece (None before SETUP).

    @property
    def path(self) -> Path | None:
        return None if self.setup is None else self.setup.path

    @property
    def media(self) -> VideoStream | None:
        return None if self.setup is None else self.setup.media

    @property
    def sender(self) -> RtpSender | None:
        return None if self.setup is None else self.setup.sender

    @property
    def standard(self) -> bool:
        """RTP/AVP: the RFC 2435 payload; else the lab's."""
        return self.setup is not None and self.setup.standard

    @property
    def group(self) -> SharedStream | None:
        """A multicast member's stream, shared."""
        return None if self.setup is None else self.setup.group

    @property
    def rtp_destination(self) -> tuple[str, int] | None:
        way = None if self.setup is None else self.setup.way
        return way.rtp if isinstance(way, UdpPorts) else None

    @property
    def rtcp_destination(self) -> tuple[str, int] | None:
        way = None if self.setup is None else self.setup.way
        return way.rtcp if isinstance(way, UdpPorts) else None

    @property
    def interleaved(self) -> tuple[int, int] | None:
        way = None if self.setup is None else self.setup.way
        return (way.rtp, way.rtcp) if isinstance(way, Channels) else None

    # -- methods -------------------------------------------------------------------------

    def _dispatch(self, request: RtspRequest, cseq: int) -> RtspResponse:
        method = request.method
        if method not in IMPLEMENTED:
            raise RtspError(501, f"method {method!r} is not implemented")
        if method == OPTIONS:
            return self._ok(cseq, Public=", ".join(IMPLEMENTED))
        if method == DESCRIBE:
            return self._describe(request, cseq)
        if method == GET_PARAMETER:  # a keep-alive; the session, if any, must be ours
            if self.state is not State.INIT and request.session not in (None, self.session_id):
                raise RtspError(454, f"unknown session {request.session!r}")
            return self._ok(cseq)
        video, audio = self.setup is not None, self.audio is not None
        adds = sound.adds_track(self.state, request, video, audio)
        new_state = self.state if adds else next_state(self.state, method)
        if self.state is not State.INIT and request.session != self.session_id:
            raise RtspError(454, f"unknown session {request.session!r}")
        if method == SETUP:
            response = self._setup(request, cseq)
        elif method == PLAY:
            response = self._play(request, cseq)
        elif method == TEARDOWN:
            # The media stays open until the caller has stopped the stream and calls close().
            session_id, self.session_id = self.session_id, None
            response = self._ok(cseq, session_id)
        else:
            response = self._ok(cseq)
        self.state = new_state  # only once the request has succeeded
        return response

    def _describe(self, request: RtspRequest, cseq: int) -> RtspResponse:
        """The SDP of the file named, for players that ask what they are about to play."""
        path = resolve(self.config.root, request.uri)
        with self._open(path) as media:
            first = media.frame(0)
            frame_count = media.frame_count
        width, height = self._rfc2435_size(path, first)
        host, port = self.server_address
        if request.uri.lower().startswith(URL_SCHEMES):
            base = request.uri.rstrip("/") + "/"
        else:  # the lab's bare name
            scheme = "rtsps" if self.secure else "rtsp"
            base = f"{scheme}://{host}:{port}/{request.uri.strip('/')}/"
        # No c=GROUP/TTL here, though the stream may go to one: a player reading a multicast
        # c= takes the stream to be multicast only (GStreamer then refuses unicast). SETUP's
        # reply says where the group is (RFC 2326 §12.39), as both players read it.
        sdp = make_sdp(
            session_id=secrets.randbits(62), server_ip=host, uri_control=TRACK,
            fps=self.config.fps, duration=frame_count / self.config.fps,
            width=width, height=height, name=path.name,
            rtx_time_ms=RTX_TIME_MS if self.config.retransmission else None,
            audio=sound.audio_offer(self.config.root, path),
        )  # fmt: skip
        response = self._ok(cseq, **{"Content-Base": base, "Content-Type": "application/sdp"})
        response.body = sdp.encode()
        return response

    def _setup(self, request: RtspRequest, cseq: int) -> RtspResponse:
        transport = choose_transport(request.headers.get("Transport"), self._groups is not None)
        if self.secure and transport.lower_transport != "TCP":
            raise RtspError(461, "over rtsps:// the media rides the TLS connection: "
                                 "ask for RTP/AVP/TCP (interleaved)")  # fmt: skip
        if track_of(request.uri) == AUDIO_TRACK:
            return self._setup_audio(request, cseq, transport)
        if transport.unicast is False:
            return self._setup_multicast(request, cseq, transport)
        standard = transport.protocol.upper() != LAB_PROFILE
        beside = self.audio.way if self.audio and self.state is State.READY else None
        way = self._unicast_way(transport, beside)
        path = resolve(self.config.root, request.uri)
        media = self._open(path)
        if standard:
            try:
                self._rfc2435_size(path, media.frame(0))
            except RtspError:
                media.close()
                raise
        # Everything checked: commit (keeping the session's sound, when it joins it).
        audio = self._joined_audio(path, standard)
        session_id, self.audio = (self.session_id if audio else None), None
        self.close()
        payloader = jpeg_payload_parts if standard else fragment_parts
        sender = self._make_sender(self.config.fps, self.config.max_packet, payloader=payloader)
        self.session_id = session_id or self._make_session_id()
        self.audio = audio
        rtx = self.config.retransmission and RTX_OPTION in option_tags(
            request.headers.get_all("Supported")
        )
        feedback = rtx or (
            self.config.retransmission and transport.protocol.upper().startswith(FEEDBACK_PROFILE)
        )  # fmt: skip
        self.setup = SetUp(self.session_id, path, media, sender, standard, way, feedback, rtx)
        reply = TransportSpec(protocol=transport.protocol, unicast=True, ssrc=sender.ssrc)
        if isinstance(way, Channels):
            reply.interleaved = (way.rtp, way.rtcp)
        else:
            reply.client_port = transport.client_port
            reply.server_port = (self.server_rtp_port, self.server_rtp_port + 1)
        self.timeout = self.config.session_timeout if standard else None
        log.info(
            "session %s: %s (%d frames, %s) %s to %s", self.session_id, path.name,
            media.frame_count, media.format, "RFC 2435" if standard else "lab payload",
            self.rtp_destination or f"interleaved {self.interleaved}",
        )  # fmt: skip
        # The lab's client reads the Session line with int(): no ";timeout" for it.
        session = format_session(self.session_id, self.timeout) if standard else None
        granted = {"Supported": RTX_OPTION} if rtx else {}
        return self._ok(cseq, session, Transport=reply.format(), **granted)

    def _joined_audio(self, path: Path, standard: bool) -> sound.AudioSetUp | None:
        """The sound this SETUP of the video joins (set up first, in this session), or
        None; 400 for the video of another clip, or the lab's dialect, beside it."""
        audio = self.audio if self.state is State.READY else None
        if audio is not None and (audio.path != path or not standard):
            raise RtspError(400, "the video of another clip, or in another dialect, "
                                 "cannot join this session's sound")  # fmt: skip
        return audio

    def _setup_audio(
        self, request: RtspRequest, cseq: int, transport: TransportSpec
    ) -> RtspResponse:
        """A clip's sound (`rtsplab.server.audio_setup`): a session of its own, or a track
        joining the session of its video."""
        sound.check_audio_transport(transport)
        video = self.setup if self.state is State.READY else None  # (`adds_track`)
        path = resolve(self.config.root, request.uri)
        if video is not None and video.path != path:
            raise RtspError(400, f"{path.name}: not the clip this session plays")
        group = self.group if video is not None else None
        if transport.unicast is False or group is not None:
            self.audio, reply = sound.join_group_sound(
                path, group, transport, self.config.multicast,
                None if group is None else self._group_source(group),
            )  # fmt: skip
            session = format_session(str(self.session_id), self.timeout)
            return self._ok(cseq, session, Transport=reply)
        way = self._unicast_way(transport, None if video is None else video.way)
        source = sound.open_sound(self.config.root, path)
        if source is None:
            raise RtspError(404, f"{path.name} has no sound")
        port = self._audio_port() if isinstance(way, UdpPorts) and self._audio_port else None
        if video is None:  # its own session: a new one, as the video's SETUP makes
            self.close()
            self.session_id = self._make_session_id()
            self.timeout = self.config.session_timeout
        sender = sound.audio_sender(source, self._make_sender)
        feedback = sound.asks_feedback(transport, self.config.retransmission)
        self.audio = sound.AudioSetUp(path, source, sender, way, feedback=feedback)
        log.info("session %s: the sound of %s (%d Hz, %d channel(s)) to %s", self.session_id,
                 path.name, source.rate, source.channels, way)  # fmt: skip
        session = format_session(str(self.session_id), self.timeout)
        return self._ok(cseq, session, Transport=sound.audio_reply(transport, self.audio, port))

    def _unicast_way(
        self, transport: TransportSpec, beside: UdpPorts | Channels | SharedStream | None = None
    ) -> UdpPorts | Channels:
        """Where a unicast SETUP's stream goes (`beside` the other track's way, if any).
        The Transport's parser has checked that its ports or channels leave room for
        RTCP's (`rtsplab.rtsp.headers.transport`)."""
        if transport.lower_transport == "TCP":
            return sound.channels_beside(transport.interleaved, beside)
        client_port = transport.client_port
        assert client_port is not None  # _choose_transport takes UDP only with one
        rtp_port, rtcp_port = rtp_and_rtcp_ports(client_port)
        return UdpPorts((self.client_ip, rtp_port), (self.client_ip, rtcp_port))

    def _setup_multicast(
        self, request: RtspRequest, cseq: int, transport: TransportSpec
    ) -> RtspResponse:
        """A member of the file's multicast stream: the group, its ports and TTL are the
        server's, whatever the client asked for."""
        multicast = self.config.multicast
        assert multicast is not None and self._groups is not None  # _choose_transport
        path = resolve(self.config.root, request.uri)
        with self._open(path) as media:
            self._rfc2435_size(path, media.frame(0))
        group = self._groups.join(path)
        self.close()
        self.session_id = self._make_session_id()
        self.setup = SetUp(self.session_id, path, group.media, group.sender, True, group)
        self.timeout = self.config.session_timeout
        reply = TransportSpec(
            protocol=transport.protocol, unicast=False, destination=multicast.group,
            source=self._group_source(group), port=(group.port, group.port + 1),
            ttl=multicast.ttl, ssrc=group.sender.ssrc,
        )  # fmt: skip
        log.info("session %s: %s, a member of its multicast stream to %s:%d",
                 self.session_id, path.name, multicast.group, group.port)  # fmt: skip
        return self._ok(cseq, format_session(self.session_id, self.timeout),
                        Transport=reply.format())  # fmt: skip

    def _group_source(self, group: SharedStream) -> str | None:
        """The reply's `source=`: where the group's datagrams leave from, when that is not
        the address the client reached us at (a host with two interfaces, the stream sent
        from another than the RTSP connection's). RFC 2326 §12.39 names it for exactly this:
        a client takes a stream only from where it knows it comes from."""
        source = unmapped(group.source)
        if source in (unmapped(self.server_address[0]), ANY_INTERFACE):
            return None
        return source

    def _play(self, request: RtspRequest, cseq: int) -> RtspResponse:
        """Start or go on; `Range: npt=X-` seeks to the frame at X seconds (not in a shared
        multicast stream: a member joins it where it is, though its Range must still be one
        the server could serve). Every header is read before anything moves."""
        setup, fps, group = self.setup, self.config.fps, self.group
        if setup is None:  # the sound alone
            raise RtspError(455, "SETUP the video track too before PLAY")
        media, sender = setup.media, setup.sender
        rates = played_rates(request.headers)
        start = parse_npt_start(request.headers.get("Range"))
        if group is not None:
            start = None
        if start is not None:
            frame = round(start * fps)
            if frame >= media.frame_count:
                raise RtspError(
                    457, f"npt={start:g} is past the end ({media.frame_count / fps:g} s)"
                )
            media.seek(frame)
        elif group is not None:  # the shared media is the group's to move, under its lock
            group.rewind_if_played()
        else:
            rewind_if_played(media)
        position = media.frameNbr() / fps
        # What the first packet sent will carry, so the client can map it to the range: one
        # frame's numbers, even while a shared stream goes on sending.
        seq, rtptime = sender.play_position()
        if self.audio is not None:
            self.audio.first_sample = sound.start_sample(self.audio.source, position)
        # RTP-Info names each stream (RFC 2326 §12.33) by its track URL; the lab's, as asked.
        rtp_info = (
            sound.rtp_infos(request.uri, (seq, rtptime), self.audio, position)
            if self.standard
            else RtpInfo(request.uri, seq, rtptime).format()
        )
        return self._ok(cseq, Range=format_npt_range(position), **{"RTP-Info": rtp_info}, **rates)

    def _open(self, path: Path) -> VideoStream:
        # The client reads the message: it names the file as requested, not where it lies.
        try:
            return VideoStream(path)
        except VideoError as exc:
            why = str(exc).removeprefix(f"{path}: ")
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
        raise RtspError(415, f"{path.name}: {why}")

    @staticmethod
    def _rfc2435_size(path: Path, frame: bytes) -> tuple[int, int]:
        """The frame's size, if RTP/JPEG (RFC 2435) can carry it; else 415 saying why."""
        try:
            info = parse_jpeg(frame)
        except PayloadError as exc:
            raise RtspError(
                415, f"{path.name} cannot be sent as RTP/JPEG (RFC 2435): {exc}; "
                "re-encode it with: python MakeVideo.py convert IN OUT",
            ) from None  # fmt: skip
        return info.width, info.height

    def _ok(self, cseq: int, session: str | None = None, **extra: str) -> RtspResponse:
        # CSeq then Session, in that order: the lab's client reads them by line number.
        headers = Headers([("CSeq", str(cseq))])
        session = session or self.session_id
        if session is not None:
            headers["Session"] = session
        for name, value in extra.items():
            headers[name] = value
        return RtspResponse(200, headers)
