"""The transports a SETUP may ask for, and what the server makes of one: the lab's
`RTP/UDP`, standard RTP/JPEG over UDP or interleaved on the RTSP connection, with or without
feedback (RTP/AVPF), unicast or (when the server has groups) multicast; and where a unicast
stream goes.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.headers.transport import TransportSpec, parse_transport

LAB_PROFILE = "RTP/UDP"  # the lab's: the JPEG's bytes in packets
# Standard RTP/JPEG over UDP, and interleaved on the RTSP connection; RTP/AVPF (RFC 4585) is
# the same with feedback: its client sends NACKs, which the session answers.
UDP_PROFILES = ("RTP/AVP", "RTP/AVP/UDP", "RTP/AVPF", "RTP/AVPF/UDP")
TCP_PROFILES = ("RTP/AVP/TCP", "RTP/AVPF/TCP")
FEEDBACK_PROFILE = "RTP/AVPF"
RTX_TIME_MS = 1000  # how long packets are kept for a NACK (the SDP's rtx-time)


@dataclass(frozen=True)
class UdpPorts:
    """RTP and RTCP to the client's ports, always at the RTSP peer's own address whatever
    the request says, so that no one can point a stream at a third party."""

    rtp: tuple[str, int]
    rtcp: tuple[str, int]  # the port above RTP's, unless the client named one


@dataclass(frozen=True)
class Channels:
    """RTP and RTCP interleaved on the RTSP connection (RFC 2326 §10.12)."""

    rtp: int
    rtcp: int


def choose_transport(header: str | None, multicast: bool) -> TransportSpec:
    """The first transport offered that this server supports (RFC 2326 §12.39); `multicast`:
    whether it serves multicast."""
    if header is None:
        raise RtspError(461, "SETUP without a Transport header")
    for spec in parse_transport(header):
        protocol = spec.protocol.upper()
        if spec.unicast is False:
            if multicast and protocol in UDP_PROFILES:
                return spec
            continue  # multicast: not served here
        if protocol in (LAB_PROFILE, *UDP_PROFILES) and spec.client_port is not None:
            return spec
        if protocol in TCP_PROFILES:
            return spec
    raise RtspError(461, f"no supported transport in {header!r}")
