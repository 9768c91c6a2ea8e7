"""SDP (RFC 4566) for one MJPEG video stream over RTP, as an RTSP DESCRIBE carries it.

What the server writes (`make_sdp`), for a 1280x720 movie of 20 s at 25 fps::

    v=0
    o=- 1234 1234 IN IP4 192.0.2.1
    s=movie.Mjpeg
    c=IN IP4 0.0.0.0
    t=0 0
    a=control:*
    a=range:npt=0-20
    m=video 0 RTP/AVP 26
    a=rtpmap:26 JPEG/90000
    a=control:track1
    a=framerate:25

Port 0 in m= is the RTSP convention (RFC 2326 C.1): the port is chosen at SETUP. Payload type
26 is JPEG's static type (RFC 3551 §6). Where the server repairs losses, the media line says
RTP/AVPF and offers generic NACKs (RFC 4585 §4.2) and RFC 4588 retransmission::

    m=video 0 RTP/AVPF 26 97
    a=rtpmap:26 JPEG/90000
    a=rtcp-fb:26 nack
    a=rtpmap:97 rtx/90000
    a=fmtp:97 apt=26;rtx-time=1000

A clip with sound (`AudioOffer`) gets a second media section after the video's, in the same
profile: L16 (RFC 3551 §4.5.11) at the file's rate and channels, 20 ms a packet::

    m=audio 0 RTP/AVP 98
    a=rtpmap:98 L16/48000/1
    a=ptime:20
    a=control:track2

A side over 2040 pixels does not fit RFC 2435's
one-byte size fields, so `a=x-dimensions:<w>,<h>` gives it (RFC 2435 §3.1.5, GStreamer's
name for it).

What a client reads (`parse_sdp`): the session's control and range, and per media its type,
port, protocol, payload types, control, rtpmap (with an audio format's channels), framerate,
x-dimensions and ptime. Parsing is
lenient where leniency is harmless: LF or CRLF, unknown lines and attributes (kept in
`attributes`), a range or framerate it cannot read (left None). Lines that decide how the
stream decodes (m=, a=rtpmap, a=x-dimensions) raise SdpError when malformed.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from RtpPacket import JPEG_CLOCK_RATE, PT_JPEG
from rtsplab.errors import SdpError
from rtsplab.payload.jpeg import MAX_DIMENSION
from rtsplab.payload.rfc2435.header import MAX_WIRE_SIZE
from rtsplab.rtsp.grammar import is_digits
from rtsplab.rtsp.headers.range import parse_npt_range

__all__ = [
    "AudioOffer",
    "MediaDescription",
    "RtpMap",
    "SessionDescription",
    "make_sdp",
    "parse_sdp",
    "resolve_control",
]

log = logging.getLogger(__name__)

AVP = "RTP/AVP"  # RFC 3551: the audio/video profile
AVPF = "RTP/AVPF"  # RFC 4585: the same with early RTCP feedback
RTX_PT = 97  # a dynamic payload type (RFC 3551 §6) for RFC 4588 retransmission packets
RTX_ENCODING = "rtx"
L16_PT = 98  # a dynamic payload type for L16 at any rate (97 is the video's rtx)
L16_ENCODING = "L16"
AUDIO_PTIME_MS = 20  # RFC 3551 §4.2: the default packetization interval
# RFC 3986 §3.1: scheme ":" — "rtsp:", "rtsps:", "rtspu:" — marks an absolute URL.
ABSOLUTE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")

CRLF = "\r\n"  # RFC 4566 §5: lines end with CRLF (parsers should accept LF alone)

# RFC 3551 Table 5: static video payload types, for SDPs that list one without an rtpmap
# (ffmpeg writes no rtpmap for a static type).
STATIC_VIDEO_TYPES = {
    25: ("CelB", 90_000),
    26: ("JPEG", 90_000),
    28: ("nv", 90_000),
    31: ("H261", 90_000),
    32: ("MPV", 90_000),
    33: ("MP2T", 90_000),
    34: ("H263", 90_000),
}
# RFC 3551 Table 4: the static audio types of L16, the one audio encoding the client plays.
STATIC_AUDIO_TYPES = {
    10: ("L16", 44_100, 2),
    11: ("L16", 44_100, 1),
}
MAX_CHANNEL_DIGITS = 3  # an rtpmap's channel count: no stream has a thousand channels


def _format_number(value: float) -> str:
    """Decimal without trailing zeros, at most 3 fraction digits: 25, 29.97, 12.5."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _check_token(name: str, value: str) -> None:
    if not value or any(c in value for c in "\r\n") or value != value.strip():
        raise ValueError(f"{name} must be non-empty, on one line, without edge spaces: {value!r}")


@dataclass(frozen=True)
class AudioOffer:
    """The sound beside the video, as DESCRIBE offers it: L16 at `rate` Hz, `channels`."""

    rate: int
    channels: int
    control: str  # the track's a=control, as the video's
    payload_type: int = L16_PT

    def lines(self, profile: str) -> list[str]:
        """Its media section; ValueError for a value that would make a wrong SDP."""
        if self.rate <= 0 or not 1 <= self.channels <= 8 or not 96 <= self.payload_type <= 127:
            raise ValueError(f"L16 at {self.rate} Hz, {self.channels} channels, "
                             f"payload type {self.payload_type}")  # fmt: skip
        _check_token("audio control", self.control)
        pt = self.payload_type
        # Under RTP/AVPF lost sound is NACKed and sent again as it was (no RFC 4588 stream).
        feedback = [f"a=rtcp-fb:{pt} nack"] if profile == AVPF else []
        return [
            f"m=audio 0 {profile} {pt}",
            f"a=rtpmap:{pt} {L16_ENCODING}/{self.rate}/{self.channels}",
            *feedback,
            f"a=ptime:{AUDIO_PTIME_MS}",
            f"a=control:{self.control}",
        ]


def make_sdp(
    *,
    session_id: int,
    server_ip: str,
    uri_control: str,
    fps: float,
    duration: float | None,
    width: int,
    height: int,
    name: str,
    rtx_time_ms: int | None = None,
    audio: AudioOffer | None = None,
) -> str:
    """The SDP text of one MJPEG stream, and of its sound (`audio`) if any, CRLF line ends.

    `uri_control` is the track's a=control (relative like "track1", or a full URL);
    `duration` None for a live source (a=range:npt=0-). `rtx_time_ms`: NACKs are answered
    for packets this recent (RTP/AVPF with nack and rtx offered); None offers plain RTP/AVP.
    Raises ValueError for a value that would make a wrong or ambiguous SDP.
    """
    if not isinstance(session_id, int) or session_id < 0:
        raise ValueError(f"session_id must be a non-negative integer, got {session_id!r}")
    address = ipaddress.ip_address(server_ip)  # ValueError if not an address
    address_type = "IP4" if address.version == 4 else "IP6"
    any_address = "0.0.0.0" if address.version == 4 else "::"
    _check_token("name", name)
    _check_token("uri_control", uri_control)
    if any(c.isspace() for c in uri_control):
        raise ValueError(f"uri_control must not contain spaces: {uri_control!r}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if duration is not None and not duration >= 0:
        raise ValueError(f"duration must be >= 0 or None, got {duration}")
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        raise ValueError(f"size must be positive integers, got {width}x{height}")
    end = "" if duration is None else _format_number(duration)
    profile, formats = (AVP, f"{PT_JPEG}") if rtx_time_ms is None else (AVPF, f"{PT_JPEG} {RTX_PT}")
    lines = [
        "v=0",
        f"o=- {session_id} {session_id} IN {address_type} {address.compressed}",
        f"s={name}",
        f"c=IN {address_type} {any_address}",
        "t=0 0",
        "a=control:*",
        f"a=range:npt=0-{end}",
        f"m=video 0 {profile} {formats}",
        f"a=rtpmap:{PT_JPEG} JPEG/{JPEG_CLOCK_RATE}",
        *_feedback_lines(rtx_time_ms),
        f"a=control:{uri_control}",
        f"a=framerate:{_format_number(fps)}",
    ]
    if width > MAX_WIRE_SIZE or height > MAX_WIRE_SIZE:
        lines.append(f"a=x-dimensions:{width},{height}")
    if audio is not None:
        lines += audio.lines(profile)
    return CRLF.join(lines) + CRLF


def _feedback_lines(rtx_time_ms: int | None) -> list[str]:
    if rtx_time_ms is None:
        return []
    if not isinstance(rtx_time_ms, int) or rtx_time_ms <= 0:
        raise ValueError(f"rtx-time must be a positive integer of ms, got {rtx_time_ms!r}")
    return [
        f"a=rtcp-fb:{PT_JPEG} nack",
        f"a=rtpmap:{RTX_PT} {RTX_ENCODING}/{JPEG_CLOCK_RATE}",
        f"a=fmtp:{RTX_PT} apt={PT_JPEG};rtx-time={rtx_time_ms}",
    ]


class RtpMap(NamedTuple):
    encoding: str
    clock_rate: int
    channels: int | None = None  # audio's <encoding parameters> (RFC 4566 §6); None: unsaid


@dataclass
class MediaDescription:
    media: str  # "video", "audio", ...
    port: int
    proto: str  # "RTP/AVP", ...
    formats: list[str]  # the m= line's <fmt> list as written
    control: str | None = None
    rtpmap: dict[int, RtpMap] = field(default_factory=dict)
    framerate: float | None = None
    x_dimensions: tuple[int, int] | None = None
    ptime: float | None = None  # a=ptime: ms of audio a packet carries (RFC 4566 §6)
    attributes: list[tuple[str, str | None]] = field(default_factory=list)  # every a= line

    @property
    def payload_types(self) -> list[int]:
        """The formats as RTP payload types (an RTP profile's formats are integers)."""
        return [int(f) for f in self.formats if f.isdigit()]

    def nack(self, pt: int) -> bool:
        """Whether generic NACKs are offered for payload type `pt` (a=rtcp-fb, RFC 4585
        §4.2: "nack" alone, for `pt` or for every type with "*")."""
        for name, value in self.attributes:
            if name == "rtcp-fb" and value is not None:
                fields = value.split()
                if fields[:1] in ([str(pt)], ["*"]) and fields[1:] == ["nack"]:
                    return True
        return False

    def rtx_for(self, pt: int) -> tuple[int, int | None] | None:
        """(payload type, rtx-time in ms or None) of the RFC 4588 retransmission format
        whose apt= is `pt` (RFC 4588 §8.1), None if none is offered."""
        fmtps: dict[int, dict[str, str]] = {}
        for name, value in self.attributes:
            if name == "fmtp" and value is not None:
                fmt, _, text = value.strip().partition(" ")
                if is_digits(fmt):
                    pairs = (item.strip().partition("=") for item in text.split(";"))
                    fmtps[int(fmt)] = {key: val for key, _, val in pairs if key}
        for rtx_pt, rtpmap in self.rtpmap.items():
            params = fmtps.get(rtx_pt, {})
            if rtpmap.encoding.lower() == RTX_ENCODING and params.get("apt") == str(pt):
                time = params.get("rtx-time", "")
                return rtx_pt, int(time) if is_digits(time) and len(time) < 9 else None
        return None

    @property
    def rtp_profile(self) -> str:
        """The profile a SETUP asks for: RTP/AVPF where the m= line offers it (RFC 4585 §4.2:
        a server may offer nothing else, and refuse RTP/AVP with 461), else RTP/AVP."""
        return AVPF if self.proto.upper() == AVPF else AVP


@dataclass
class SessionDescription:
    name: str | None = None
    origin: str | None = None  # the o= value as written
    control: str | None = None  # session-level a=control ("*" = the aggregate base URL)
    range: tuple[float | None, float | None] | None = None  # npt (start, end); None = now/open
    media: list[MediaDescription] = field(default_factory=list)
    attributes: list[tuple[str, str | None]] = field(default_factory=list)  # session a= lines


def _parse_media(value: str) -> MediaDescription:
    # RFC 4566 §5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ...
    parts = value.split()
    port_text = parts[1].split("/", 1)[0] if len(parts) > 1 else ""
    if len(parts) < 4 or not is_digits(port_text) or int(port_text) > 0xFFFF:
        raise SdpError(f"malformed m= line {value!r}: expected '<media> <port> <proto> <fmt> ...'")
    media = MediaDescription(parts[0], int(port_text), parts[2], parts[3:])
    if "RTP" in media.proto.upper() and len(media.payload_types) != len(media.formats):
        raise SdpError(f"malformed m= line {value!r}: RTP payload types must be integers")
    return media


def _parse_rtpmap(value: str) -> tuple[int, RtpMap]:
    # RFC 4566 §6: a=rtpmap:<payload type> <encoding name>/<clock rate>[/<parameters>]
    match = re.fullmatch(r"(\d+)\s+([^/\s]+)/(\d+)(?:/(\S*))?", value.strip())
    if match is None:
        raise SdpError(
            f"malformed a=rtpmap {value!r}: expected '<pt> <encoding>/<clock rate>[/<params>]'"
        )
    # For audio the parameters are the number of channels (RFC 4566 §6); for anything else,
    # or a count that is not a small number, they say nothing the client uses.
    params = match[4] or ""
    channels = int(params) if is_digits(params) and len(params) <= MAX_CHANNEL_DIGITS else None
    return int(match[1]), RtpMap(match[2], int(match[3]), channels)


def _parse_x_dimensions(value: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*", value)
    if (
        match is None
        or not 0 < int(match[1]) <= MAX_DIMENSION
        or not 0 < int(match[2]) <= MAX_DIMENSION
    ):
        raise SdpError(
            f"malformed a=x-dimensions {value!r}: "
            f"expected '<width>,<height>', each 1..{MAX_DIMENSION}"
        )
    return int(match[1]), int(match[2])


def parse_sdp(text: str) -> SessionDescription:
    """Read a session description (see the module docstring for what is strict and what not)."""
    session = SessionDescription()
    media: MediaDescription | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        kind, sep, value = line.partition("=")
        if not sep or len(kind) != 1:
            log.debug("ignoring SDP line %d %r: not <type>=<value>", number, raw)
            continue
        if kind == "m":
            media = _parse_media(value)
            session.media.append(media)
        elif kind == "s" and media is None:
            session.name = value
        elif kind == "o" and media is None:
            session.origin = value
        elif kind == "a":
            attr, colon, attr_value = value.partition(":")
            attribute = (attr, attr_value if colon else None)
            if media is None:
                session.attributes.append(attribute)
                _session_attribute(session, *attribute)
            else:
                media.attributes.append(attribute)
                _media_attribute(media, *attribute)
    for m in session.media:
        for pt in m.payload_types:
            if pt not in m.rtpmap and pt in STATIC_VIDEO_TYPES:
                m.rtpmap[pt] = RtpMap(*STATIC_VIDEO_TYPES[pt])
            elif pt not in m.rtpmap and pt in STATIC_AUDIO_TYPES and m.media == "audio":
                m.rtpmap[pt] = RtpMap(*STATIC_AUDIO_TYPES[pt])
    return session


def _session_attribute(session: SessionDescription, name: str, value: str | None) -> None:
    if name == "control" and value is not None:
        session.control = value.strip()
    elif name == "range" and value is not None:
        session.range = parse_npt_range(value)


def _media_attribute(media: MediaDescription, name: str, value: str | None) -> None:
    if value is None:
        return
    if name == "control":
        media.control = value.strip()
    elif name == "rtpmap":
        pt, rtpmap = _parse_rtpmap(value)
        media.rtpmap[pt] = rtpmap
    elif name == "framerate":
        try:
            media.framerate = float(value)
        except ValueError:
            log.debug("ignoring unreadable a=framerate %r", value)
    elif name == "x-dimensions":
        media.x_dimensions = _parse_x_dimensions(value)
    elif name == "ptime":
        try:
            media.ptime = float(value)
        except ValueError:
            log.debug("ignoring unreadable a=ptime %r", value)


def resolve_control(content_base: str, control: str) -> str:
    """The URL a control attribute names (RFC 2326 C.1.1), as ffmpeg, live555 and GStreamer
    read it rather than as RFC 3986 §5 would.

    "*" (or empty) is the base itself; an absolute URL (one with a scheme, RFC 3986 §3.1)
    stays as it is; anything else is appended to the base with one "/" between them. The
    base is the DESCRIBE reply's Content-Base (or Content-Location), else the request URL.
    Strict RFC 3986 resolution would replace the base's last path segment, so that
    "rtsp://h/s" + "streamid=0" became "rtsp://h/streamid=0": the relays ffmpeg publishes
    into leave Content-Base out and expect "rtsp://h/s/streamid=0", which every common
    client sends; servers that do send Content-Base end it with "/", where both readings
    agree. Dot segments and a query in the base are kept as written, as those clients do.
    """
    control = control.strip()
    if control in ("", "*"):
        return content_base
    if ABSOLUTE_URL.match(control):
        return control
    return content_base.rstrip("/") + "/" + control.lstrip("/")
