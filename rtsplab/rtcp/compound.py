"""Compound RTCP packets (RFC 3550 section 6.1): a datagram's packets, back to back.

Each packet is found by its header's length field (see `packet`). `decode_compound` walks
them; a packet type it does not know is kept raw as `UnknownRtcp` and skipped over, never
fatal. Padding is decoded on any packet although section 6.4.1 allows it only on the last
one; it is not kept, so a padded packet re-encodes without it. `encode_compound` never pads
(padding is for encryption, section 9.1).
"""

from __future__ import annotations

from collections.abc import Iterable

from rtsplab.rtcp.app import App
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.feedback import TransportFeedback
from rtsplab.rtcp.packet import Buffer, RtcpPacket, decode_one
from rtsplab.rtcp.reports import ReceiverReport, SenderReport
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtcp.xr import ExtendedReport

# The packet types decoded here (importing them enters them in `packet.DECODERS`); any other
# type is kept as an UnknownRtcp.
PACKET_CLASSES = (
    SenderReport,
    ReceiverReport,
    SourceDescription,
    Bye,
    App,
    TransportFeedback,
    ExtendedReport,
)
_REPORTS = (SenderReport, ReceiverReport)


def decode_compound(data: Buffer, strict: bool = True) -> list[RtcpPacket]:
    """Parse a datagram into its RTCP packets, in order. Raises RtcpError if malformed.

    The length fields must tile the datagram exactly. With ``strict`` (the default) the
    first packet must be SR or RR, as RFC 3550 sections 6.1 and A.2 require of a compound
    packet; ``strict=False`` accepts any first packet (a lone BYE or APP, or RFC 5506
    reduced-size RTCP). Neither mode checks that an SDES CNAME is present (section 6.1).
    """
    data = bytes(data)
    packets: list[RtcpPacket] = []
    offset = 0
    while True:
        packet, offset = decode_one(data, offset, strict and not packets)
        packets.append(packet)
        if offset == len(data):
            return packets


def encode_compound(packets: Iterable[RtcpPacket], strict: bool = True) -> bytes:
    """The packets back to back. With ``strict`` the first must be SR or RR (section 6.1).

    Raises ValueError on an empty list, a bad first packet or a bad field.
    """
    packets = list(packets)
    if not packets:
        raise ValueError("a compound RTCP packet needs at least one packet")
    if strict and not isinstance(packets[0], _REPORTS):
        raise ValueError(
            f"a compound RTCP packet must start with SR or RR (RFC 3550 section 6.1), "
            f"got {type(packets[0]).__name__}"
        )
    return b"".join(packet.encode() for packet in packets)
