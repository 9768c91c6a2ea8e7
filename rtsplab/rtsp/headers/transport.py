"""The Transport header (RFC 2326 §12.39): parse and format, one transport-spec at a time."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from RtpPacket import MAX_SSRC
from rtsplab.rtp.ports import MAX_PORT
from rtsplab.rtsp.errors import RtspError, short
from rtsplab.rtsp.grammar import TOKEN_RE

# Transport = "Transport" ":" 1#transport-spec                        (RFC 2326 §12.39)
# transport-spec = transport-protocol/profile[/lower-transport] *parameter
_PROTOCOL_RE = re.compile(r"[A-Za-z0-9_.+-]+(?:/[A-Za-z0-9_.+-]+){1,2}")
_RANGE_RE = re.compile(r"([0-9]{1,5})(?:\s*-\s*([0-9]{1,5}))?")
_SSRC_RE = re.compile(r"[0-9A-Fa-f]{1,8}")
MAX_CHANNEL = 0xFF  # interleaved channel ids are one byte ("$" channel length, §10.12)

_Range = tuple[int, int | None]
MAX_TTL = 0xFF  # the IPv4 time-to-live is one octet
MIN_PORT = 1  # port 0 is no destination: a datagram cannot be sent to it
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")  # no host sends from it
# Each range parameter's lowest and highest number. A range names a stream's RTP and RTCP
# (RFC 2326 §12.39): two numbers are RTP's, then RTCP's (the next one as a rule, RFC 3550
# §11, though a peer may name any other); one number alone implies the next for RTCP, which
# must exist too. An odd RTP port is taken: RFC 3550 §11's even one is a SHOULD of the
# receiver's own choice, and the lab's client takes any port it is given.
_RANGE_PARAMS = {
    "port": (MIN_PORT, MAX_PORT),  # multicast: the group's RTP and RTCP ports
    "client_port": (MIN_PORT, MAX_PORT),
    "server_port": (MIN_PORT, MAX_PORT),
    "interleaved": (0, MAX_CHANNEL),
}
_TTL_RE = re.compile(r"[0-9]{1,3}")


def _split_unquoted(text: str, sep: str) -> list[str]:
    """Split on `sep` outside double quotes (mode="PLAY,RECORD" stays whole)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise RtspError(400, f"unbalanced quote in {short(text)}")
    parts.append("".join(current))
    return parts


def _host_address(value: str) -> str:
    """source= (RFC 2326 §12.39) as the unicast IPv4 address a stream is sent from; 400 for
    anything else. A host name is refused too: it is no address a datagram comes from until
    resolved, and resolving it would trust whatever the resolver said."""
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        raise RtspError(400, f"source {short(value)} is not an IPv4 address") from None
    if address.is_multicast or address.is_unspecified or address == _BROADCAST:
        raise RtspError(400, f"source {short(value)} is not a host's address")
    return str(address)


def _range_problem(value: _Range, bounds: tuple[int, int]) -> str | None:
    """Why `value` is no RTP/RTCP pair within `bounds`; None when it is one."""
    (least, most), (low, high) = bounds, value
    if not least <= low <= most or (high is not None and not least <= high <= most):
        return f"out of range {least}-{most}"
    if high is None and low == most:
        return f"leaves no {low + 1} for RTCP"
    return None


def _parse_range(name: str, value: str) -> _Range:
    match = _RANGE_RE.fullmatch(value)
    if match is None:
        raise RtspError(400, f"bad {name} {short(value)}")
    low = int(match.group(1))
    parsed = (low, None if match.group(2) is None else int(match.group(2)))
    problem = _range_problem(parsed, _RANGE_PARAMS[name])
    if problem is not None:
        raise RtspError(400, f"{name} {short(value)} {problem}")
    return parsed


def _format_range(name: str, value: _Range) -> str:
    problem = _range_problem(value, _RANGE_PARAMS[name])
    if problem is not None:
        raise ValueError(f"{name} {value} {problem}")
    low, high = value
    return f"{name}={low}" if high is None else f"{name}={low}-{high}"


@dataclass
class TransportSpec:
    """One transport-spec of a Transport header (RFC 2326 §12.39).

    `protocol` is kept as written ("RTP/AVP", "RTP/AVP/UDP", "RTP/AVP/TCP", the lab's
    "RTP/UDP"). Ranges are (first, second) with second None for a single number.
    Parameters this class does not model go to `other`, name -> value (None for a flag),
    in the order given, and are written back by format().
    """

    protocol: str = "RTP/AVP"
    unicast: bool | None = None
    client_port: _Range | None = None
    server_port: _Range | None = None
    interleaved: _Range | None = None
    ssrc: int | None = None
    mode: str | None = None
    destination: str | None = None  # multicast: the group (the server's choice, §12.39)
    source: str | None = None  # the IPv4 address the stream comes from, if not the peer's
    port: _Range | None = None  # multicast: the group's RTP and RTCP ports
    ttl: int | None = None  # multicast: how many routers the stream may cross
    other: dict[str, str | None] = field(default_factory=dict)

    @property
    def lower_transport(self) -> str:
        """The lower transport, "UDP" or "TCP"; UDP when not written (§12.39)."""
        parts = self.protocol.upper().split("/")
        if len(parts) >= 3:
            return parts[2]
        if len(parts) == 2 and parts[1] in ("UDP", "TCP"):
            return parts[1]  # the lab's "RTP/UDP"
        return "UDP"

    @classmethod
    def parse(cls, text: str) -> TransportSpec:
        """Parse one transport-spec; RtspError(400) when it is garbled."""
        params = [p.strip() for p in _split_unquoted(text, ";")]
        protocol = params[0]
        if not _PROTOCOL_RE.fullmatch(protocol):
            raise RtspError(400, f"bad transport protocol {short(protocol)}")
        spec = cls(protocol)
        seen: set[str] = set()
        for param in params[1:]:
            if not param:
                continue  # "RTP/AVP;unicast;" — a trailing ';' is harmless
            raw_name, eq, raw_value = param.partition("=")
            name, value = raw_name.strip(), raw_value.strip() if eq else None
            key = name.lower()
            if key in ("unicast", "multicast"):
                key = "unicast"  # one slot: both flags would contradict each other
            if key in seen:
                raise RtspError(400, f"repeated transport parameter {short(name)}")
            seen.add(key)
            spec._set_param(name, key, value)
        return spec

    def _set_param(self, name: str, key: str, value: str | None) -> None:
        if key == "unicast":
            if value is not None:
                raise RtspError(400, f"{name} takes no value")
            self.unicast = name.lower() == "unicast"
            return
        if not TOKEN_RE.fullmatch(name):
            raise RtspError(400, f"bad transport parameter name {short(name)}")
        if key not in _RANGE_PARAMS and key not in ("ssrc", "mode", "destination", "source", "ttl"):
            self.other[name] = value
            return
        if not value:
            raise RtspError(400, f"transport parameter {name} needs a value")
        if key in _RANGE_PARAMS:
            setattr(self, key, _parse_range(key, value))
        elif key == "destination":
            self.destination = value
        elif key == "source":
            self.source = _host_address(value)
        elif key == "ttl":
            if not _TTL_RE.fullmatch(value) or int(value) > MAX_TTL:
                raise RtspError(400, f"bad ttl {short(value)}: want 0-{MAX_TTL}")
            self.ttl = int(value)
        elif key == "ssrc":
            if not _SSRC_RE.fullmatch(value):
                raise RtspError(400, f"bad ssrc {short(value)}: want up to 8 hex digits")
            self.ssrc = int(value, 16)
        else:
            mode = value
            if '"' in value:
                if len(value) < 2 or value[0] != '"' or value[-1] != '"':
                    raise RtspError(400, f"bad transport mode {short(value)}")
                mode = value[1:-1].strip()
            if not mode:
                raise RtspError(400, "empty transport mode")
            self.mode = mode

    def format(self) -> str:
        """Canonical form, e.g. "RTP/AVP;unicast;client_port=25000-25001;ssrc=1A2B3C4D"."""
        parts = [self.protocol]
        if self.unicast is not None:
            parts.append("unicast" if self.unicast else "multicast")
        if self.destination is not None:
            parts.append(f"destination={self.destination}")
        if self.source is not None:
            parts.append(f"source={self.source}")
        for name in _RANGE_PARAMS:
            value = getattr(self, name)
            if value is not None:
                parts.append(_format_range(name, value))
        if self.ttl is not None:
            if not 0 <= self.ttl <= MAX_TTL:
                raise ValueError(f"ttl {self.ttl} out of range 0-{MAX_TTL}")
            parts.append(f"ttl={self.ttl}")
        if self.ssrc is not None:
            if not 0 <= self.ssrc <= MAX_SSRC:
                raise ValueError(f"ssrc {self.ssrc} is not 32 bits")
            parts.append(f"ssrc={self.ssrc:08X}")
        if self.mode is not None:
            mode = self.mode if TOKEN_RE.fullmatch(self.mode) else f'"{self.mode}"'
            parts.append(f"mode={mode}")
        parts.extend(name if v is None else f"{name}={v}" for name, v in self.other.items())
        return ";".join(parts)


def parse_transport(value: str) -> list[TransportSpec]:
    """Parse a Transport header: its comma-separated specs, in the client's order.

    RtspError(400) when the header is empty, or when any spec in it is empty or garbled.
    A garbled spec is not skipped: the list is the client's order of preference, and
    answering 400 tells the client what is wrong, where dropping the spec could make the
    server pick an alternative the client ranked lower. (461 is for a spec that parses
    but that the server does not offer: the caller decides that.)
    """
    if not value.strip():
        raise RtspError(400, "empty Transport header")
    specs = []
    for text in _split_unquoted(value, ","):
        if not text.strip():
            raise RtspError(400, f"empty transport spec in {short(value)}")
        specs.append(TransportSpec.parse(text))
    return specs


def format_transport(specs: Iterable[TransportSpec]) -> str:
    """The Transport header value for `specs` (the inverse of parse_transport)."""
    return ",".join(spec.format() for spec in specs)


def rtp_and_rtcp_ports(ports: _Range) -> tuple[int, int]:
    """A range's RTP and RTCP ports (or interleaved channels): `a-b` is (a, b), and `a` alone
    is (a, a+1), RTCP on the next (RFC 3550 §11, RFC 2326 §12.39). A parsed range always
    has that next one (`_range_problem`)."""
    rtp_port, rtcp_port = ports
    return rtp_port, rtp_port + 1 if rtcp_port is None else rtcp_port
