"""What a SETUP reply's Transport says of the server's side (RFC 2326 §12.39): its ports and
SSRC, or the multicast group it chose — checked before the client trusts any of it, and what
the server sent shown only as a printable excerpt (it is untrusted).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from rtsplab.errors import ClientError
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.headers.transport import TransportSpec, parse_transport, rtp_and_rtcp_ports

SHOWN_REASON = 200  # characters of a server's text shown in a message: the server is untrusted
# RFC 5771 §4: 224.0.0.0/24 is for link-local control protocols (IGMP, OSPF, mDNS...), never a
# stream: a server naming it would have our RTCP sent into one of those.
LOCAL_CONTROL_BLOCK = ipaddress.IPv4Network("224.0.0.0/24")
# A group's ports are bound on this host and receive our RTCP: none of the system services'
# (RFC 6335 §6: 0-1023 are the well-known ports; RTP uses the dynamic range, RFC 3551 §8).
MIN_GROUP_PORT = 1024
MAX_GROUP_PORT = 0xFFFF


@dataclass(frozen=True)
class GroupTransport:
    """Where a multicast session's media goes: the group and its ports (RFC 2326 §12.39)."""

    address: str  # an IPv4 multicast address
    rtp_port: int
    rtcp_port: int
    ttl: int | None = None  # the reply's ttl=, for what the client sends to the group
    source: str | None = None  # the reply's source=: the stream's sender, if not the server's


@dataclass(frozen=True)
class ServerTransport:
    """What the SETUP reply's Transport says of the server's side."""

    server_port: tuple[int, int] | None = None  # RTP, RTCP
    ssrc: int | None = None
    group: GroupTransport | None = None  # multicast: the group the server chose


def server_transport(value: str | None) -> ServerTransport:
    """The server's ports and SSRC from a SETUP reply's Transport; what does not parse is
    left unknown (the lab's server sends neither)."""
    try:
        specs = parse_transport(value) if value else []
    except RtspError:
        return ServerTransport()
    spec = specs[0] if specs else TransportSpec()
    return ServerTransport(_server_ports(spec), spec.ssrc)


def multicast_transport(value: str | None) -> ServerTransport:
    """The group, its ports, TTL and the stream's SSRC from the reply to a multicast SETUP;
    ClientError for a reply that gives no usable group (§12.39: multicast is the default
    when a spec says neither unicast nor multicast)."""
    if not value:
        raise ClientError("the server's SETUP reply has no Transport: no multicast group")
    try:
        specs = parse_transport(value)
    except RtspError as exc:
        raise ClientError(f"the server's SETUP reply has a bad Transport: {exc.message}") from None
    spec = specs[0]
    shown = printable_excerpt(value)
    if spec.unicast or spec.lower_transport != "UDP":
        raise ClientError(f"the server answered a multicast SETUP with {shown}: not multicast")
    if spec.port is None:
        raise ClientError(f"the server's multicast SETUP reply names no port: {shown}")
    rtp_port, rtcp_port = rtp_and_rtcp_ports(spec.port)
    for port in (rtp_port, rtcp_port):
        if not MIN_GROUP_PORT <= port <= MAX_GROUP_PORT:
            raise ClientError(
                f"the server's multicast port {port} is not in {MIN_GROUP_PORT}-{MAX_GROUP_PORT}"
            )
    if rtcp_port == rtp_port:
        raise ClientError(f"the server's multicast SETUP reply puts RTP and RTCP on {rtp_port}")
    group = GroupTransport(checked_group(spec.destination), rtp_port, rtcp_port, spec.ttl,
                           spec.source)  # fmt: skip
    return ServerTransport(_server_ports(spec), spec.ssrc, group)


def _server_ports(spec: TransportSpec) -> tuple[int, int] | None:
    return None if spec.server_port is None else rtp_and_rtcp_ports(spec.server_port)


def checked_group(destination: str | None) -> str:
    """`destination` as a group this client joins: an IPv4 multicast address (224.0.0.0/4)
    outside the local network control block; ClientError naming what is wrong otherwise."""
    if not destination:
        raise ClientError("the server's multicast SETUP reply names no destination group")
    shown = printable_excerpt(destination)
    try:
        address = ipaddress.IPv4Address(destination)
    except ValueError:
        raise ClientError(f"the server's multicast destination {shown} is not an IPv4 address"
                          ) from None  # fmt: skip
    if not address.is_multicast:
        raise ClientError(f"the server's multicast destination {shown} is not a multicast address")
    if address in LOCAL_CONTROL_BLOCK:
        raise ClientError(
            f"the server's multicast destination {shown} is in {LOCAL_CONTROL_BLOCK}, "
            "reserved for link-local control protocols (RFC 5771)"
        )
    return str(address)


def printable_excerpt(text: str) -> str:
    """What the server sent (a Transport, a reason), for a message: cut to SHOWN_REASON
    characters, anything unprintable replaced (untrusted)."""
    cut = text[:SHOWN_REASON]
    return "".join(ch if ch.isprintable() else "?" for ch in cut)
