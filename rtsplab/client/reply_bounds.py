"""Bounds on what a server's reply says, checked before the client session takes it.

The server is untrusted: every number the client reads from a reply is checked here for a
sane length and range before `ClientSession.receive` reads it, and a bad one becomes one
`ClientError` line ("the server's PLAY reply has a bad Range: ..."), never a traceback deep
in a parser or, later, on a thread (a seq out of 16 bits, a timeout no float holds, a port
past 65535 that the RTCP socket cannot send to). What a header does not say, or says in a
form the session ignores anyway (a Transport that does not parse: the lab's server), is left
to the session's own leniency.

    Range, SDP a=range   npt times of at most MAX_DIGITS digits a number, 0..MAX_NPT s
    RTP-Info             seq 0..65535, rtptime 0..2^32-1 (RFC 3550 §5.1's field widths)
    Transport            server_port, client_port, port: 1..65535, RTCP's (RTP's + 1) too
    Session              timeout 1..MAX_SESSION_TIMEOUT s
"""

from __future__ import annotations

import math
import re

from RtpPacket import MAX_SEQ
from rtsplab.client.transport_reply import printable_excerpt
from rtsplab.errors import ClientError
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.grammar import bounded_int
from rtsplab.rtsp.headers.range import parse_npt_range
from rtsplab.rtsp.headers.session import parse_session
from rtsplab.rtsp.message import RtspResponse

__all__ = ["check_reply"]

# Fifteen digits hold any time a server means (a century in seconds has ten); a longer run
# of digits in a range is an attack on the parser (int -> float overflows), not a value.
# (The other numbers are ints, whose length the header line's cap bounds: their range decides.)
MAX_DIGITS = 15
MAX_NPT = 100 * 365 * 24 * 3600.0  # a century, in seconds: past it no stream is meant
MAX_RTPTIME = 0xFFFF_FFFF  # 32 bits (RFC 3550 §5.1)
MIN_PORT, MAX_PORT = 1, 0xFFFF  # 0 is no port (RFC 768)
MAX_SESSION_TIMEOUT = 24 * 3600  # a day: keep-alives then still go out at least twice a day
_LONG_NUMBER = re.compile(rf"\d{{{MAX_DIGITS + 1},}}")
_RANGE_LINE = "a=range:"
_TRANSPORT_PORTS = re.compile(r"(?:^|;)\s*(client_port|server_port|port)\s*=([^;,]*)", re.I)
_RTP_INFO_NUMBER = re.compile(r"(?:^|[;,])\s*(seq|rtptime)\s*=([^;,]*)", re.IGNORECASE)
SHOWN = 60  # characters of a bad value shown in the error: enough to recognise it


def check_reply(method: str, reply: RtspResponse) -> None:
    """ClientError naming the first header of `reply` (the answer to `method`) whose value
    is out of bounds; nothing when all are sane."""
    headers = reply.headers
    checks = (
        ("Range", _check_range),
        ("RTP-Info", _check_rtp_info),
        ("Transport", _check_transport),
        ("Session", _check_session),
    )
    for name, check in checks:
        value = headers.get(name)
        if value is None:
            continue
        why = check(value)
        if why:
            raise ClientError(
                f"the server's {method} reply has a bad {name} ({why}): {_shown(value)}"
            )
    if reply.body and (headers.get("Content-Type") or "").lower().startswith("application/sdp"):
        _check_sdp_ranges(method, reply.body.decode("utf-8", "replace"))


def _shown(value: str) -> str:
    return printable_excerpt(value[:SHOWN]) + ("..." if len(value) > SHOWN else "")


def _check_range(value: str) -> str:
    if _LONG_NUMBER.search(value):
        return f"a number of over {MAX_DIGITS} digits"
    try:
        parsed = parse_npt_range(value)
    except (ValueError, OverflowError, RtspError):
        return "not an npt range"
    if parsed is None and value.strip().lower().startswith("npt"):
        return "an npt time past what the range parser reads"  # over 9 digits a field
    for time in parsed or ():
        if time is not None and not (math.isfinite(time) and 0 <= time <= MAX_NPT):
            return f"a time outside 0-{MAX_NPT:g} s"
    if parsed is not None and None not in parsed and parsed[0] > parsed[1]:  # type: ignore[operator]
        return "it ends before it starts"
    return ""


def _check_rtp_info(value: str) -> str:
    """The parser leaves a value out of its field's range unknown; a server that sends one
    is told of here, not silently helped."""
    for name, text in _RTP_INFO_NUMBER.findall(value):
        high = MAX_SEQ if name.lower() == "seq" else MAX_RTPTIME
        if bounded_int(text.strip(), high) is None:
            return f"{name.lower()} outside 0-{high}"
    return ""


def _check_transport(value: str) -> str:
    """Ports read from the text itself: the parser refuses what is out of bounds, and the
    session leaves a Transport it cannot read unknown (the lab's server writes its own)."""
    for name, text in _TRANSPORT_PORTS.findall(value):
        numbers = [bounded_int(part.strip(), MAX_PORT) for part in text.split("-")]
        if None in numbers or len(numbers) > 2:
            return f"{name.lower()} outside {MIN_PORT}-{MAX_PORT}"
        ports = [n for n in numbers if n is not None]
        if len(ports) == 1:
            ports.append(ports[0] + 1)  # RTCP on RTP's next port
        if not all(MIN_PORT <= port <= MAX_PORT for port in ports):
            return f"{name.lower()} outside {MIN_PORT}-{MAX_PORT} (RTCP on RTP's next port)"
    return ""


def _check_session(value: str) -> str:
    try:
        _, timeout = parse_session(value)
    except RtspError as exc:
        return f"timeout outside 1-{MAX_SESSION_TIMEOUT} s" if "timeout" in exc.message else (
            exc.message)  # fmt: skip
    if timeout is not None and not 1 <= timeout <= MAX_SESSION_TIMEOUT:
        return f"timeout outside 1-{MAX_SESSION_TIMEOUT} s"
    return ""


def _check_sdp_ranges(method: str, sdp: str) -> None:
    for line in sdp.splitlines():
        line = line.strip()
        if not line.startswith(_RANGE_LINE):
            continue
        value = line[len(_RANGE_LINE) :]
        why = _check_range(value)
        if why:
            raise ClientError(
                f"the server's {method} reply has a bad SDP a=range ({why}): {_shown(value)}"
            )
