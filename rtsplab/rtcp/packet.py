"""The RTCP common header (RFC 3550 section 6.4.1), the packet base class and UnknownRtcp.

Every RTCP packet starts with the same 32-bit header::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P|  count  |      PT       |             length            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

``count`` is RC (report blocks) for SR/RR, SC (chunks, sources) for SDES/BYE, the subtype
for APP and FMT (the kind of feedback) for RTPFB. ``length`` is the packet's size in 32-bit
words minus one, header and padding included. If P is set the packet ends with padding
whose last octet counts it, itself included; for RTCP the count is a multiple of four
(section 6.4.1).

One module per packet type encodes and decodes its body: `reports` (SR, RR), `sdes`, `bye`,
`app`, `feedback` (RFC 4585) and `xr` (RFC 3611); `compound` reads the header, strips padding
and walks a datagram.
The helpers below are shared by those modules.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeVar

# V and P sit where RTP has them: the version "is the same in RTCP packets as in data
# packets" (section 6.4.1), and P is RTP's padding bit (section 5.1), so both come from there.
from RtpPacket import PADDING_BIT, RTP_VERSION, VERSION_SHIFT  # RTCP's V and P are RTP's
from rtsplab.errors import PeerError

if TYPE_CHECKING:  # the packet modules import this one
    from rtsplab.rtcp.reports import ReportBlock
    from rtsplab.rtcp.xr import DlrrItem

RTCP_VERSION = RTP_VERSION
RTCP_HEADER_SIZE = 4
WORD_SIZE = 4  # lengths, padding and chunks are counted in 32-bit words
SSRC_SIZE = 4
MAX_LENGTH_WORDS = 0xFFFF  # the 16-bit length field
MAX_PACKET_SIZE = (MAX_LENGTH_WORDS + 1) * WORD_SIZE

# Packet types (section 12.1; RTPFB: RFC 4585 section 6.1; XR: RFC 3611 section 2).
RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_APP = 204
RTCP_RTPFB = 205  # transport-layer feedback (RFC 4585 section 6.2)
RTCP_XR = 207
PACKET_TYPE_NAMES = {
    RTCP_SR: "SR",
    RTCP_RR: "RR",
    RTCP_SDES: "SDES",
    RTCP_BYE: "BYE",
    RTCP_APP: "APP",
    RTCP_RTPFB: "RTPFB",
    RTCP_XR: "XR",
}

# First octet: V(2) P(1) count(5); the 5-bit count is RTCP's own.
COUNT_MASK = 0x1F
MAX_COUNT = COUNT_MASK  # RC, SC and APP subtype
MAX_PACKET_TYPE = 0xFF
MAX_TEXT_LENGTH = 0xFF  # SDES item text and BYE reason: one length octet (6.5, 6.6)

Buffer = bytes | bytearray | memoryview

HEADER_FORMAT = struct.Struct("!BBH")  # first octet, PT, length
SSRC_FORMAT = struct.Struct("!I")


class RtcpError(PeerError):
    """A datagram that is not a well-formed RTCP packet."""


def check_field(name: str, value: object, maximum: int) -> None:
    """Raise ValueError unless `value` is an integer in 0..maximum (a field to encode)."""
    if not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValueError(f"{name} must be an integer in 0..{maximum}, got {value!r}")


def check_count(name: str, count: int) -> None:
    """Raise ValueError if `count` items do not fit the 5-bit count field."""
    if count > MAX_COUNT:
        raise ValueError(f"{name} must be at most {MAX_COUNT} (5-bit count), got {count}")


def check_words(name: str, data: bytes) -> None:
    """Raise ValueError unless `data` is whole 32-bit words."""
    if len(data) % WORD_SIZE:
        raise ValueError(f"{name} must be a multiple of 4 bytes, got {len(data)}")


def check_body(kind: str, what: str, body: bytes, needed: int) -> None:
    """Raise RtcpError unless a packet's body (after the common header) holds the `needed`
    octets of its fixed part, `what` naming them for the message."""
    if len(body) < needed:
        raise RtcpError(
            f"RTCP {kind} too short for {what}: {len(body)} bytes after the header, needs {needed}"
        )


def pad_to_word(size: int) -> int:
    """Octets needed after `size` octets to reach a 32-bit boundary (0..3)."""
    return -size % WORD_SIZE


def type_name(packet_type: int) -> str:
    """``SR (200)`` for a known type, ``type 210`` for another, as error messages say it."""
    name = PACKET_TYPE_NAMES.get(packet_type)
    return f"{name} ({packet_type})" if name else f"type {packet_type}"


def decode_text(data: bytes) -> str:
    """SDES and BYE text is UTF-8 (section 6.5); bad octets become U+FFFD, never an error."""
    return data.decode("utf-8", errors="replace")


def build_packet(packet_type: int, count: int, body: bytes) -> bytes:
    """Header + body; the body is already whole words. Never padded (see `compound`)."""
    size = RTCP_HEADER_SIZE + len(body)
    if size > MAX_PACKET_SIZE:
        raise ValueError(
            f"RTCP {type_name(packet_type)} packet of {size} bytes exceeds the "
            f"{MAX_PACKET_SIZE} bytes the length field can describe"
        )
    first = (RTCP_VERSION << VERSION_SHIFT) | count
    return HEADER_FORMAT.pack(first, packet_type, size // WORD_SIZE - 1) + body


_P = TypeVar("_P", bound="RtcpPacket")

# Packet type -> its class. Each class enters itself when it is defined (`__init_subclass__`);
# `compound` imports every packet module, so that all of them are known.
DECODERS: dict[int, type[RtcpPacket]] = {}


class RtcpPacket:
    """Base of the RTCP packet classes: ``encode()`` and the ``decode`` classmethod.

    A subclass sets ``packet_type`` and implements ``encode`` and ``decode_body``.
    """

    packet_type: ClassVar[int]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        packet_type = cls.__dict__.get("packet_type")
        if isinstance(packet_type, int):
            DECODERS[packet_type] = cls

    def encode(self) -> bytes:
        raise NotImplementedError

    def speaks_for(self) -> list[int]:
        """The SSRCs this packet speaks for (RFC 3550 §6.4-§6.7, §8.2): its sender's, each
        SDES chunk's, each leaving one's; none for a packet of a type not decoded here."""
        return []

    def speaks_about(self) -> list[int]:
        """The SSRCs this packet speaks about without speaking for them: the sources of its
        report blocks (§6.4.1), of its DLRR items (RFC 3611 §4.5). Others' news of them."""
        return []

    def without_source(self, ssrc: int) -> RtcpPacket | None:
        """This packet with what speaks for `ssrc` struck out: itself when nothing does, None
        when nothing would be left (a report by `ssrc`, a BYE naming only it...)."""
        return None if ssrc in self.speaks_for() else self

    def is_report(self) -> bool:
        """An SR or RR: what a compound packet starts with (§6.1)."""
        return False

    def is_feedback(self) -> bool:
        """Feedback (RFC 4585 §6.1): what may go alone, as reduced-size RTCP (RFC 5506)."""
        return False

    # What a reader takes from a packet, asked of the packet rather than of its class: each
    # is empty (or None) for the types that do not carry it.

    def sender_ntp(self) -> int | None:
        """An SR's NTP timestamp (§6.4.1): only senders send one."""
        return None

    def report_blocks(self) -> list[ReportBlock]:
        """An SR's or RR's reception report blocks (§6.4.1)."""
        return []

    def cnames(self) -> dict[int, str]:
        """SSRC -> CNAME, from an SDES (§6.5.1)."""
        return {}

    def leaving(self) -> list[int]:
        """The sources a BYE names (§6.6)."""
        return []

    def reference_time(self) -> int | None:
        """An XR RRTR's NTP timestamp (RFC 3611 §4.4)."""
        return None

    def dlrr_items(self) -> list[DlrrItem]:
        """An XR's DLRR items (RFC 3611 §4.5)."""
        return []

    def nacked(self, media_ssrc: int, limit: int | None = None) -> list[int]:
        """The sequence numbers of `media_ssrc`'s stream a generic NACK says were lost
        (RFC 4585 §6.2.1; its first `limit` words only, when given)."""
        return []

    @classmethod
    def decode(cls: type[_P], data: Buffer) -> _P:
        """Parse a datagram holding exactly one RTCP packet of this class.

        ``RtcpPacket.decode`` accepts a packet of any type. Raises RtcpError.
        """
        data = bytes(data)
        packet, end = decode_one(data, 0)
        count = 1
        while end < len(data):
            _, end = decode_one(data, end)
            count += 1
        if count != 1:
            raise RtcpError(f"expected one RTCP packet, got a compound of {count}")
        if not isinstance(packet, cls):
            raise RtcpError(f"expected an RTCP {cls.__name__}, got {type(packet).__name__}")
        return packet

    @classmethod
    def decode_body(cls: type[_P], count: int, body: bytes) -> _P:
        """The packet from its header's count and the body after the header, padding removed.

        Raises RtcpError if the body does not hold what the count says.
        """
        raise NotImplementedError


@dataclass(repr=False)
class UnknownRtcp(RtcpPacket):
    """A packet of a type not decoded here (e.g. PSFB 206, RFC 4585's payload-specific
    feedback), kept raw (padding removed)."""

    packet_type: int  # type: ignore[misc]  # an instance field here, a ClassVar elsewhere
    count: int
    body: bytes

    def encode(self) -> bytes:
        check_field("packet_type", self.packet_type, MAX_PACKET_TYPE)
        if self.packet_type in DECODERS:
            raise ValueError(
                f"packet_type {type_name(self.packet_type)} has its own class; "
                f"UnknownRtcp would not decode back to itself"
            )
        check_field("count", self.count, MAX_COUNT)
        body = bytes(self.body)
        check_words("body", body)
        return build_packet(self.packet_type, self.count, body)

    def __repr__(self) -> str:
        return (
            f"UnknownRtcp(packet_type={self.packet_type}, count={self.count}, "
            f"body={len(self.body)} bytes)"
        )


def decode_one(data: bytes, offset: int, strict_first: bool = False) -> tuple[RtcpPacket, int]:
    """The packet at `offset` and the offset after it; with `strict_first`, it must be an
    SR or RR (a compound packet's first, section 6.1). Raises RtcpError."""
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
