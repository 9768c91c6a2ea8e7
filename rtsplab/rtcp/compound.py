"""Compound RTCP packets (RFC 3550 section 6.1): a datagram's packets, back to back.

Each packet is found by its header's length field (see `packet`). `decode_compound` walks
them; a packet type it does not know is kept raw as `UnknownRtcp` and skipped over, never
fatal. Padding is decoded on any packet although section 6.4.1 allows it only on the last
one; it is not kept, so a padded packet re-encodes without it. `encode_compound` never pads
(padding is for encryption, section 9.1).
"""

from __future__ import annotations

from collections.abc import Iterable

from RtpPacket import PADDING_BIT, VERSION_SHIFT  # the RTCP header's V and P are RTP's
from rtsplab.rtcp.app import App
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.packet import (
    COUNT_MASK,
    HEADER_FORMAT,
    RTCP_APP,
    RTCP_BYE,
    RTCP_HEADER_SIZE,
    RTCP_RR,
    RTCP_SDES,
    RTCP_SR,
    RTCP_VERSION,
    RTCP_XR,
    WORD_SIZE,
    Buffer,
    RtcpError,
    RtcpPacket,
    UnknownRtcp,
    type_name,
)
from rtsplab.rtcp.reports import ReceiverReport, SenderReport
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtcp.xr import ExtendedReport

# The packet types decoded here; any other is an UnknownRtcp.
DECODERS: dict[int, type[RtcpPacket]] = {
    RTCP_SR: SenderReport,
    RTCP_RR: ReceiverReport,
    RTCP_SDES: SourceDescription,
    RTCP_BYE: Bye,
    RTCP_APP: App,
    RTCP_XR: ExtendedReport,
}
_REPORTS = (SenderReport, ReceiverReport)


def _decode_one(data: bytes, offset: int, strict_first: bool) -> tuple[RtcpPacket, int]:
    """The packet at `offset` and the offset after it."""
    remaining = len(data) - offset
    if remaining < RTCP_HEADER_SIZE:
        raise RtcpError(
            f"RTCP packet too short: {remaining} bytes at offset {offset}, "
            f"the header needs {RTCP_HEADER_SIZE}"
        )
    first, packet_type, length = HEADER_FORMAT.unpack_from(data, offset)
    version = first >> VERSION_SHIFT
    if version != RTCP_VERSION:
        raise RtcpError(
            f"RTCP version {version} not supported, expected {RTCP_VERSION} (offset {offset})"
        )
    size = (length + 1) * WORD_SIZE
    if size > remaining:
        raise RtcpError(
            f"RTCP length field past the end: {type_name(packet_type)} at offset {offset} "
            f"says {length + 1} words ({size} bytes), only {remaining} bytes left"
        )
    if strict_first and packet_type not in (RTCP_SR, RTCP_RR):
        raise RtcpError(
            f"RTCP compound packet must start with SR or RR (RFC 3550 section 6.1), "
            f"got {type_name(packet_type)}"
        )
    end = offset + size
    body = data[offset + RTCP_HEADER_SIZE : end]
    if first & PADDING_BIT:
        if not body:
            raise RtcpError("RTCP padding bit set but no room for padding after the header")
        padding = body[-1]
        if padding == 0:
            raise RtcpError("RTCP padding count is 0")
        if padding % WORD_SIZE:
            raise RtcpError(f"RTCP padding count {padding} is not a multiple of 4")
        if padding > len(body):
            raise RtcpError(
                f"RTCP padding count {padding} larger than the {len(body)} bytes after the header"
            )
        body = body[:-padding]
    count = first & COUNT_MASK
    decoder = DECODERS.get(packet_type)
    if decoder is None:
        return UnknownRtcp(packet_type, count, body), end
    return decoder.decode_body(count, body), end


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
        packet, offset = _decode_one(data, offset, strict and not packets)
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
