"""The client side of one RTSP session, as a pure object: requests out, replies in.

The mirror of `rtsplab.server.session`: no sockets and no threads, time passed in. The driver
(`rtsplab.client.connection.RtspClient`), on the one thread that owns the connection, asks
it for each request, sends it, and hands it the reply; the session checks that the reply is
the one awaited (CSeq), that it succeeded, and takes from it what the session is: the state
the table names, the Session id and timeout, the server's ports and SSRC, the play range and
RTP-Info. It also decides when a keep-alive is due and when UDP has failed and TCP should be
tried. Other threads may read its attributes (the state, the duration...) to show them; only
the owner changes them.

Two dialects, as on the server. **The lab's** (a bare file name): the requests are the lab's
exactly, so the client also plays the lab's own server:

    SETUP movie.Mjpeg RTSP/1.0          PLAY movie.Mjpeg RTSP/1.0
    CSeq: 1                             CSeq: 2
    Transport: RTP/UDP; client_port= 25000    Session: 123456

and the lab's server ends its replies without the blank line, so a reply may be taken as whole
after a moment of quiet (`reply_may_end_quietly`). **Standard RTSP** (an `rtsp://` URL), as
ffplay and GStreamer speak it (RFC 2326): OPTIONS, DESCRIBE (the SDP's JPEG stream: its
control URL, payload type, clock, frame rate, range, size and profile, all from one media
section), SETUP with `RTP/AVP;unicast;client_port=a-b` (the SDP's RTP/AVPF where it says so)
or interleaved on the RTSP connection, PLAY with a Range to seek, keep-alives, TEARDOWN.

**Multicast** (`multicast=True`, standard RTSP only): SETUP asks for `RTP/AVP;multicast` and
nothing more (RFC 2326 §12.39: the group is the server's choice), and takes from the reply
the group, its ports, `ttl`, `source=` and the stream's `ssrc` as a `GroupTransport`; a reply
that gives no group the client can join is refused. A group has no TCP to fall back to.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from RtpPacket import JPEG_CLOCK_RATE, PT_JPEG
from rtsplab.client.audio_track import AudioStream, audio_transport, choose_audio, info_for
from rtsplab.client.transport_reply import (
    ServerTransport,
    multicast_transport,
    printable_excerpt,
    server_transport,
)
from rtsplab.errors import ClientError, SdpError
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.headers.range import format_npt_range, npt_start
from rtsplab.rtsp.headers.rtp_info import parse_rtp_info
from rtsplab.rtsp.headers.session import parse_session
from rtsplab.rtsp.headers.supported import RTX_OPTION, option_tags
from rtsplab.rtsp.message import Headers, RtspRequest, RtspResponse
from rtsplab.rtsp.sdp import AVP, AVPF, RTX_PT, SessionDescription, parse_sdp, resolve_control
from rtsplab.rtsp.state import (
    DESCRIBE,
    END,
    GET_PARAMETER,
    OPTIONS,
    PAUSE,
    PLAY,
    SETUP,
    TEARDOWN,
    State,
    is_allowed,
    next_state,
)

log = logging.getLogger(__name__)

RTSP_DEFAULT_PORT = 554  # RFC 2326 §3.2
RTSPS_DEFAULT_PORT = 322  # IANA's rtsps port
DEFAULT_SESSION_TIMEOUT = 60  # RFC 2326 §12.37, when the Session header gives none
KEEPALIVE_SHARE = 0.5  # a keep-alive when half the session's timeout has passed unheard
UDP_FALLBACK = 3.0  # seconds after PLAY with no RTP over UDP before trying TCP
INTERLEAVED_CHANNELS = (0, 1)  # RTP, RTCP
USER_AGENT = "rtsp-rtp-lab"
SETUP_AUDIO = "SETUP (audio)"  # the audio track's SETUP, awaited: it adds a stream, no state
JPEG_ENCODING = "JPEG"  # RFC 3551 §4.5.10 / RFC 2435: the rtpmap encoding name


@dataclass(frozen=True)
class Target:
    """Where the stream is and how to ask for it."""

    host: str
    port: int
    path: str  # the lab's bare file name, or the URL's path
    standard: bool
    url: str  # the request URL of standard RTSP (the lab's requests name `path` bare)
    secure: bool = False  # rtsps://: RTSP over TLS, the media interleaved on it
    user: str | None = None  # from the URL's userinfo: never sent in a request line
    password: str | None = None

    def __repr__(self) -> str:  # never the password in a log
        return f"Target(url={self.url!r}, standard={self.standard}, user={self.user!r})"


def parse_target(host: str, port: int, video: str, standard: bool | None = None) -> Target:
    """The target from the lab's positional arguments and the video argument.

    An `rtsp://` (or `rtsps://`) URL names its own host and port (554, or 322, when it names
    none), and they win over the positional ones: a mismatch is logged once. A name and
    password in the URL (`rtsp://alice:secret@host/...`) are taken out of it: they answer
    the server's 401, and the URL sent is without them. A bare name is the lab's dialect
    unless `standard` asks for standard RTSP. IPv6 literals are written in brackets.
    """
    secure = video.lower().startswith("rtsps://")
    if secure or video.lower().startswith("rtsp://"):
        parts = urlsplit(video)
        try:
            url_port = parts.port
        except ValueError:
            raise ClientError(f"bad port in {video!r}") from None
        url_host = parts.hostname
        if not url_host:
            raise ClientError(f"no host in {video!r}")
        url_port = url_port or (RTSPS_DEFAULT_PORT if secure else RTSP_DEFAULT_PORT)
        if (url_host, url_port) != (host, port):
            log.warning(
                "the URL names %s, the arguments %s: using the URL's",
                _host_port(url_host, url_port), _host_port(host, port),
            )  # fmt: skip
        bare = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        user = None if parts.username is None else unquote(parts.username)
        password = None if parts.password is None else unquote(parts.password)
        return Target(url_host, url_port, parts.path or "/", True, bare, secure, user, password)
    path = "/" + video.lstrip("/")
    return Target(host, port, video, bool(standard), f"rtsp://{_host_port(host, port)}{path}")


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class Stream:
    """What the client takes from the SDP: one video section's JPEG, nothing from another."""

    control: str  # the track's URL, for SETUP
    payload_type: int  # 26, or a dynamic type mapped to JPEG/90000
    clock_rate: int
    fps: float | None
    dimensions: tuple[int, int] | None  # a=x-dimensions, for sides over 2040 (RFC 2435)
    profile: str = AVP  # the SDP's RTP profile, which SETUP asks for: RTP/AVP or RTP/AVPF
    nack: bool = False  # generic NACKs offered for it (a=rtcp-fb nack, RFC 4585 §4.2)
    rtx_pt: int | None = None  # its RFC 4588 retransmission format's payload type, if offered


def choose_stream(sdp: SessionDescription, base: str) -> Stream:
    """The first video section carrying JPEG (RFC 2435) under any payload type its rtpmap
    maps to JPEG/90000 (payload type 26 needs none: RFC 3551's static type); ClientError
    naming what is offered when there is none."""
    offered = []
    for media in sdp.media:
        for pt in media.payload_types:
            rtpmap = media.rtpmap.get(pt)
            if rtpmap is None:
                offered.append(f"{media.media} payload type {pt}")
                continue
            offered.append(f"{rtpmap.encoding}/{rtpmap.clock_rate}")
            jpeg = (rtpmap.encoding.upper(), rtpmap.clock_rate) == (JPEG_ENCODING, JPEG_CLOCK_RATE)
            if media.media == "video" and jpeg:
                control = resolve_control(base, media.control or "*")
                rtx = media.rtx_for(pt)
                return Stream(control, pt, rtpmap.clock_rate, media.framerate,
                              media.x_dimensions, media.rtp_profile, media.nack(pt),
                              None if rtx is None else rtx[0])  # fmt: skip
    what = ", ".join(offered) or "no media"
    raise ClientError(f"the stream offers {what}; this client plays JPEG (RFC 2435)")


def transport_conflict(standard: bool, *, tcp: bool, multicast: bool) -> str | None:
    """Why --tcp or --multicast cannot be had (the command line's rule too); None if they can."""
    if tcp and not standard:
        return "--tcp needs standard RTSP: an rtsp:// URL or --standard"
    if multicast and not standard:
        return "--multicast needs standard RTSP: an rtsp:// URL or --standard"
    if multicast and tcp:
        return "--multicast and --tcp exclude each other: a group is UDP"
    return None


class ClientSession:
    """One client's session: the state table's state, CSeq, Session and what the server said."""

    def __init__(
        self, target: Target, client_port: int, *, tcp: bool = False,
        udp_fallback: float = UDP_FALLBACK, multicast: bool = False, repair: bool = True,
        audio: bool = True,
    ) -> None:  # fmt: skip
        """`repair`: ask the server to send lost packets again (RFC 4585 NACKs, RFC 4588)
        where it offers to; `audio`: set up the SDP's L16 track too."""
        conflict = transport_conflict(target.standard, tcp=tcp, multicast=multicast)
        if conflict is not None:
            raise ClientError(conflict)
        self.target = target
        self.client_port = client_port  # the client_port told to the server (not multicast)
        self.tcp = tcp
        self.multicast = multicast
        self.udp_fallback = udp_fallback
        self.repair = repair
        self.rtx_granted = False  # the SETUP reply said x-rtx: RFC 4588 packets will come
        self.state = State.INIT
        self.cseq = 0
        self.session_id: str | None = None
        self.timeout = DEFAULT_SESSION_TIMEOUT
        self.public: set[str] = set()  # the methods the server lists in OPTIONS
        self.sdp: SessionDescription | None = None
        self.stream: Stream | None = None
        self.with_audio = audio
        self.audio: AudioStream | None = None  # the SDP's sound, when the client plays it
        self.audio_server: ServerTransport | None = None  # its SETUP reply's; None: not set up
        self.audio_rtptime: int | None = None  # its RTP-Info at the last PLAY
        self.audio_seq: int | None = None
        self.group_cname: str | None = None  # our CNAME in a group's RTCP, for both tracks
        self.base_url = target.url  # aggregate control: PLAY, PAUSE, TEARDOWN, keep-alive
        self.server = ServerTransport()
        self.play_position = 0.0  # seconds into the stream where the last PLAY started
        self.play_rtptime: int | None = None  # the RTP timestamp it started at (RTP-Info)
        self.play_seq: int | None = None  # and the first sequence number (RTP-Info)
        self.played_at: float | None = None
        self.last_request_at: float | None = None
        self._pending: tuple[str, int, float | None] | None = None  # method, CSeq, PLAY's start

    @property
    def standard(self) -> bool:
        return self.target.standard

    @property
    def reply_may_end_quietly(self) -> bool:
        """The lab's server ends its replies without the blank line: a pause means the end."""
        return not self.standard

    @property
    def duration(self) -> float | None:
        """The stream's length in seconds, from the SDP's range (standard RTSP)."""
        if self.sdp is None or self.sdp.range is None:
            return None
        return self.sdp.range[1]

    @property
    def fps(self) -> float | None:
        return self.stream.fps if self.stream else None

    @property
    def payload_type(self) -> int:
        return self.stream.payload_type if self.stream else PT_JPEG

    @property
    def dimensions(self) -> tuple[int, int] | None:
        return self.stream.dimensions if self.stream else None

    # -- requests out ---------------------------------------------------------------------

    def options(self, now: float) -> RtspRequest:
        return self._request(OPTIONS, self.target.url, now)

    def describe(self, now: float) -> RtspRequest:
        return self._request(DESCRIBE, self.target.url, now, Accept="application/sdp")

    def setup(self, now: float) -> RtspRequest:
        self.check(SETUP)
        control = self.stream.control if self.stream else self.target.url
        # Supported after Transport: the lab's server reads the Transport by line number.
        if self._asks_rtx():
            return self._request(SETUP, control, now, Transport=self.transport(),
                                 Supported=RTX_OPTION)  # fmt: skip
        return self._request(SETUP, control, now, Transport=self.transport())

    def setup_audio(self, now: float, client_port: int) -> RtspRequest:
        """The audio track's SETUP, in the session the video's opened (READY or PLAYING)."""
        if self.audio is None or self.session_id is None:
            raise ClientError("no audio track to set up")
        transport = audio_transport(tcp=self.tcp, client_port=client_port, multicast=self.multicast,
                                    feedback=self.audio_feedback)  # fmt: skip
        request = self._request(SETUP, self.audio.control, now, Transport=transport,
                                Session=self.session_id)  # fmt: skip
        self._pending = (SETUP_AUDIO, self.cseq, None)
        return request

    def _asks_rtx(self) -> bool:
        """Our lab server, or a standard one whose SDP offers RFC 4588 on RTP/AVPF."""
        if not self.repair or self.multicast:
            return False
        stream = self.stream
        return not self.standard or (
            stream is not None and stream.rtx_pt is not None and stream.profile == AVPF
        )

    @property
    def feedback(self) -> bool:
        """Whether this session NACKs what it loses: the server offered NACKs (RTP/AVPF) or
        granted x-rtx."""
        stream = self.stream
        offered = stream is not None and stream.profile == AVPF and stream.nack
        return self.repair and not self.multicast and (self.rtx_granted or offered)

    @property
    def audio_feedback(self) -> bool:
        """Whether the sound's losses are NACKed: offered for it, over unicast UDP."""
        audio = self.audio
        return self.repair and not self.multicast and audio is not None and audio.nack

    @property
    def rtx_payload_type(self) -> int | None:
        """The payload type of the RFC 4588 packets the server may send: the SDP's, where it
        offers them on RTP/AVPF (gst-rtsp-server sends them to any AVPF client), or ours in
        the lab's dialect when granted."""
        stream = self.stream
        if self.feedback and stream is not None and stream.profile == AVPF:
            return stream.rtx_pt
        return RTX_PT if self.rtx_granted and stream is None else None

    def play(self, now: float, start: float | None = None) -> RtspRequest:
        self.check(PLAY)
        headers = {"Session": self.session_id or ""}
        if start is not None:
            headers["Range"] = format_npt_range(start)
        return self._request(PLAY, self.base_url, now, start=start, **headers)

    def pause(self, now: float) -> RtspRequest:
        self.check(PAUSE)
        return self._request(PAUSE, self.base_url, now, Session=self.session_id or "")

    def teardown(self, now: float) -> RtspRequest:
        self.check(TEARDOWN)
        return self._request(TEARDOWN, self.base_url, now, Session=self.session_id or "")

    def keepalive(self, now: float) -> RtspRequest:
        """GET_PARAMETER when the server lists it, else OPTIONS (RFC 2326 §10.8, §10.1)."""
        method = GET_PARAMETER if GET_PARAMETER in self.public else OPTIONS
        return self._request(method, self.base_url, now, Session=self.session_id or "")

    def transport(self) -> str:
        port, profile = self.client_port, self.stream.profile if self.stream else AVP
        if not self.standard:
            return f"RTP/UDP; client_port= {port}"  # the lab's, to the letter
        if self.tcp:
            return "{}/TCP;unicast;interleaved={}-{}".format(profile, *INTERLEAVED_CHANNELS)
        if self.multicast:
            return f"{profile};multicast"  # the group and its ports are the server's to choose
        return f"{profile};unicast;client_port={port}-{port + 1}"

    # -- replies in -----------------------------------------------------------------------

    def is_reply(self, reply: RtspResponse) -> bool:
        """Whether `reply` answers the request awaited (the lab's server may omit CSeq)."""
        return self._pending is not None and reply.cseq in (None, self._pending[1])

    def receive(self, reply: RtspResponse, now: float) -> RtspResponse:
        """Take the reply to the request awaited: the session moves as the table says and
        learns what the reply tells. ClientError for a refusal or an unusable reply; the
        state is then as it was."""
        if self._pending is None or not self.is_reply(reply):
            raise ClientError("a reply to no request")
        method, _, start = self._pending
        self._pending = None
        if reply.status == 200 and method == SETUP_AUDIO:
            read = multicast_transport if self.multicast else server_transport
            self.audio_server = read(reply.headers.get("Transport"))
            return reply
        if reply.status != 200:
            target = self.target.url if self.standard else self.target.path
            reason = f" {reply.reason}" if reply.reason else ""
            why = refusal_reason(reply)
            raise ClientError(
                f"server answered {reply.status}{reason} to {method} {target}"
                + (f": {why}" if why else "")
            )
        if method == OPTIONS:
            public = reply.headers.get("Public") or ""
            self.public = {m.strip().upper() for m in public.split(",") if m.strip()}
        elif method == DESCRIBE:
            self._described(reply)
        elif method == SETUP:
            self._set_up(reply)
        elif method == PLAY:
            self._playing(reply, start, now)
        if method in (SETUP, PLAY, PAUSE, TEARDOWN):
            self.state = next_state(self.state, method)
        if method == TEARDOWN:
            self.session_id, self.audio_server = None, None
        return reply

    def abandon(self) -> None:
        """The request awaited will get no reply (timeout, connection lost). A TEARDOWN
        abandoned still ends the session on our side: the client is done with it."""
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == TEARDOWN:
            self.ended_by_teardown()

    def unanswered(self) -> None:
        """The request awaited was answered by being asked again (401: credentials wanted):
        nothing changed, and the next request is a new one."""
        self._pending = None

    def ended_by_teardown(self) -> None:
        if is_allowed(self.state, TEARDOWN):
            self.state = next_state(self.state, TEARDOWN)
        self.session_id = None
        self.audio_server = None

    def stream_ended(self) -> None:
        """The server's BYE has been played out: READY again, and PLAY starts the video."""
        if is_allowed(self.state, END):
            self.state = next_state(self.state, END)

    # -- timers ---------------------------------------------------------------------------

    def keepalive_due(self, now: float) -> bool:
        """Standard RTSP: a session unheard for half its timeout needs a request."""
        if not self.standard or self.state is State.INIT or self.last_request_at is None:
            return False
        return now - self.last_request_at > self.timeout * KEEPALIVE_SHARE

    def fallback_due(self, now: float, rtp_seen: bool, interleaved: bool) -> bool:
        """Standard RTSP over unicast UDP: nothing came for `udp_fallback` s after PLAY: try
        TCP. (A multicast session has no TCP to fall back to: the group is its transport.)"""
        return (
            self.standard
            and not self.multicast
            and self.state is State.PLAYING
            and not interleaved
            and not rtp_seen
            and self.played_at is not None
            and now - self.played_at > self.udp_fallback
        )

    def check(self, method: str) -> None:
        """ClientError when the state table does not allow `method` now."""
        if not is_allowed(self.state, method):
            raise ClientError(f"{method} is not possible in state {self.state.value}")

    # -- inside ---------------------------------------------------------------------------

    def _request(
        self, method: str, url: str, now: float, start: float | None = None, **headers: str
    ) -> RtspRequest:
        """The next request; the lab's dialect names the file bare and sends only what the
        lab's client sends. `start` is a PLAY's seek, kept for its reply."""
        self.cseq += 1
        items = [("CSeq", str(self.cseq)), *headers.items()]
        if self.standard:
            items.append(("User-Agent", USER_AGENT))
        self._pending = (method, self.cseq, start)
        self.last_request_at = now
        return RtspRequest(method, url if self.standard else self.target.path, Headers(items))

    def _described(self, reply: RtspResponse) -> None:
        try:
            sdp = parse_sdp(reply.body.decode("utf-8", "replace"))
        except SdpError as exc:
            raise ClientError(f"bad SDP from the server: {exc}") from None
        base = reply.headers.get("Content-Base") or reply.headers.get("Content-Location")
        base = base or self.target.url
        self.stream = choose_stream(sdp, base)
        self.audio = choose_audio(sdp, base) if self.with_audio else None
        self.base_url = resolve_control(base, sdp.control or "*").rstrip("/") or self.target.url
        self.sdp = sdp

    def _set_up(self, reply: RtspResponse) -> None:
        session = reply.headers.get("Session")
        if not session:
            raise ClientError("the server's SETUP reply has no Session")
        try:
            self.session_id, timeout = parse_session(session)
        except RtspError as exc:
            raise ClientError(f"the server's SETUP reply: {exc.message}") from None
        self.timeout = timeout or DEFAULT_SESSION_TIMEOUT
        transport = reply.headers.get("Transport")
        self.rtx_granted = RTX_OPTION in option_tags(reply.headers.get_all("Supported"))
        if self.multicast:
            self.server = multicast_transport(transport)
        else:
            self.server = server_transport(transport)

    def _playing(self, reply: RtspResponse, start: float | None, now: float) -> None:
        self.play_position = npt_start(reply.headers.get("Range")) or start or 0.0
        infos = parse_rtp_info(reply.headers.get("RTP-Info") or "")
        info = info_for(infos, self.stream.control, 0) if self.stream else next(iter(infos), None)
        self.play_rtptime = info.rtptime if info else None
        self.play_seq = info.seq if info else None
        sound = info_for(infos, self.audio.control, 1) if self.audio and self.audio_server else None
        self.audio_rtptime, self.audio_seq = (sound.rtptime, sound.seq) if sound else (None, None)
        self.played_at = now


def refusal_reason(reply: RtspResponse) -> str:
    """The first line of a refusal's text/plain body (why the server refused), shown as
    `printable_excerpt` shows text; "" when there is none."""
    media_type = (reply.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if media_type != "text/plain" or not reply.body:
        return ""
    lines = reply.body.decode("utf-8", "replace").splitlines()
    return printable_excerpt(lines[0].strip()) if lines else ""
