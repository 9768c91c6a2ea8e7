"""RTCP packets: SR, RR, SDES, BYE and APP (RFC 3550 sections 6.4 to 6.7), and compounds.

Every RTCP packet starts with the same 32-bit header (RFC 3550 section 6.4.1)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P|  count  |      PT       |             length            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

``count`` is RC (report blocks) for SR/RR, SC (chunks, sources) for SDES/BYE and the subtype
for APP. ``length`` is the packet's size in 32-bit words minus one, header and padding
included. If P is set the packet ends with padding whose last octet counts it, itself
included; for RTCP the count is a multiple of four (section 6.4.1).

SR, sender report (section 6.4.1); RR (section 6.4.2) is the same without the sender info::

    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P|    RC   |   PT=SR=200   |             length            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                         SSRC of sender                        |
    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
    |              NTP timestamp, most significant word             |  sender info
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  (SR only)
    |             NTP timestamp, least significant word             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                         RTP timestamp                         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                     sender's packet count                     |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                      sender's octet count                     |
    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
    |                 SSRC_1 (SSRC of first source)                 |  report block 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    | fraction lost |       cumulative number of packets lost       |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |           extended highest sequence number received           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                      interarrival jitter                      |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                         last SR (LSR)                         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                   delay since last SR (DLSR)                  |
    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
    :                 report blocks 2..RC, then any                 :
    :           profile-specific extensions (section 6.4.3)         :
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

SDES, source description (section 6.5): SC chunks, each an SSRC followed by items
(type octet, length octet, that many octets of UTF-8 text) and ended by one to four null
octets that bring the chunk to a 32-bit boundary::

    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P|    SC   |  PT=SDES=202  |             length            |
    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
    |                          SSRC/CSRC_1                          |  chunk 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |    CNAME=1    |     length    | user and domain name        ...
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    :       ... more items, then 1-4 null octets to the boundary    :
    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+

BYE, goodbye (section 6.6), and APP, application-defined (section 6.7)::

    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P|    SC   |   PT=BYE=203  |             length            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                           SSRC/CSRC                           |  SC of these
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     length    |  reason for leaving (optional, null-padded) ...
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P| subtype |   PT=APP=204  |             length            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                           SSRC/CSRC                           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                          name (ASCII)                         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                   application-dependent data                ...
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

A datagram is a compound packet: packets back to back, each found by its length field
(section 6.1). `decode_compound` walks them; a packet type it does not know is kept raw as
`UnknownRtcp` and skipped over, never fatal. Padding is decoded on any packet although
section 6.4.1 allows it only on the last one; it is not kept, so a padded packet re-encodes
without it. `encode_compound` never pads (padding is for encryption, section 9.1).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

RTCP_VERSION = 2
RTCP_HEADER_SIZE = 4
WORD_SIZE = 4  # lengths, padding and chunks are counted in 32-bit words
SSRC_SIZE = 4
SENDER_INFO_SIZE = 20  # NTP timestamp (8), RTP timestamp, packet count, octet count
REPORT_BLOCK_SIZE = 24
APP_NAME_SIZE = 4
MAX_LENGTH_WORDS = 0xFFFF  # the 16-bit length field
MAX_PACKET_SIZE = (MAX_LENGTH_WORDS + 1) * WORD_SIZE

RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_APP = 204
RTCP_XR = 207  # extended reports, RFC 3611
PACKET_TYPE_NAMES = {
    RTCP_SR: "SR",
    RTCP_RR: "RR",
    RTCP_SDES: "SDES",
    RTCP_BYE: "BYE",
    RTCP_APP: "APP",
    RTCP_XR: "XR",
}

# XR report block types (RFC 3611 section 4) used for a receiver's round-trip time.
XR_RRTR = 4  # Receiver Reference Time: the receiver's NTP clock
XR_DLRR = 5  # DLRR: the sender's echo of it, with the delay since (like LSR/DLSR)
XR_BLOCK_HEADER_SIZE = 4  # BT, type-specific, block length in words
DLRR_ITEM_SIZE = 12  # SSRC, LRR, DLRR

# SDES item types (section 6.5); END is the null octet that closes a chunk's item list.
SDES_END = 0
SDES_CNAME = 1
SDES_NAME = 2
SDES_EMAIL = 3
SDES_PHONE = 4
SDES_LOC = 5
SDES_TOOL = 6
SDES_NOTE = 7
SDES_PRIV = 8
SDES_ITEM_NAMES = {
    SDES_CNAME: "CNAME",
    SDES_NAME: "NAME",
    SDES_EMAIL: "EMAIL",
    SDES_PHONE: "PHONE",
    SDES_LOC: "LOC",
    SDES_TOOL: "TOOL",
    SDES_NOTE: "NOTE",
    SDES_PRIV: "PRIV",
}
SDES_ITEM_HEADER_SIZE = 2  # type octet, length octet
MAX_SDES_TYPE = 0xFF
MAX_TEXT_LENGTH = 0xFF  # SDES item text and BYE reason: one length octet

# First octet: V(2) P(1) count(5).
VERSION_SHIFT = 6
PADDING_BIT = 1 << 5
COUNT_MASK = 0x1F
MAX_COUNT = COUNT_MASK  # RC, SC and APP subtype
MAX_PACKET_TYPE = 0xFF

MAX_U32 = 0xFFFFFFFF
MAX_NTP = (1 << 64) - 1
MAX_FRACTION_LOST = 0xFF  # 8-bit fixed point, binary point at the left edge
# Cumulative lost is a signed 24-bit field: negative when duplicates outnumber losses.
CUMULATIVE_LOST_BITS = 24
CUMULATIVE_LOST_MASK = (1 << CUMULATIVE_LOST_BITS) - 1
MAX_CUMULATIVE_LOST = 0x7FFFFF
MIN_CUMULATIVE_LOST = -0x800000
FRACTION_LOST_SHIFT = CUMULATIVE_LOST_BITS

# NTP timestamps (RFC 3550 section 4): 32.32 fixed-point seconds since 1900-01-01 00:00 UTC.
NTP_UNIX_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01 (70 years, 17 leap days)
NTP_FRACTION = 1 << 32
NTP_ERA = 1 << 32  # the seconds field wraps on 2036-02-07
NTP_ERA0_BIT = 1 << 31  # set from 1968 to 2036; clear means era 1 (RFC 4330 section 3)
NTP_MIDDLE_SHIFT = 16  # LSR is the middle 32 bits: 16.16 fixed point (section 6.4.1)
NTP_SHORT_UNITS = 1 << 16  # LSR and DLSR count 1/65536 s

Buffer = bytes | bytearray | memoryview

_HEADER = struct.Struct("!BBH")
_SSRC = struct.Struct("!I")
_SENDER_INFO = struct.Struct("!QIII")  # NTP, RTP timestamp, packet count, octet count
_REPORT_BLOCK = struct.Struct("!IIIIII")


class RtcpError(ValueError):
    """A datagram that is not a well-formed RTCP packet."""


def ntp_from_unix(seconds: float) -> int:
    """The 64-bit NTP timestamp of a Unix time; from 2036-02-07 on, the seconds wrap (era 1)."""
    whole = math.floor(seconds)
    fraction = round((seconds - whole) * NTP_FRACTION)
    return ((whole + NTP_UNIX_OFFSET) * NTP_FRACTION + fraction) & MAX_NTP


def unix_from_ntp(ntp: int) -> float:
    """The Unix time of a 64-bit NTP timestamp.

    A seconds field with its top bit clear is taken to be in era 1 (2036-2104), as RFC 4330
    section 3 does, so this inverts `ntp_from_unix` from 1968 to 2104.
    """
    seconds, fraction = divmod(ntp & MAX_NTP, NTP_FRACTION)
    if not seconds & NTP_ERA0_BIT:
        seconds += NTP_ERA
    return seconds - NTP_UNIX_OFFSET + fraction / NTP_FRACTION


def ntp_middle32(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp, as carried in LSR (section 6.4.1)."""
    return (ntp >> NTP_MIDDLE_SHIFT) & MAX_U32


def _check_field(name: str, value: object, maximum: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValueError(f"{name} must be an integer in 0..{maximum}, got {value!r}")


def _check_count(name: str, count: int) -> None:
    if count > MAX_COUNT:
        raise ValueError(f"{name} must be at most {MAX_COUNT} (5-bit count), got {count}")


def _check_words(name: str, data: bytes) -> None:
    if len(data) % WORD_SIZE:
        raise ValueError(f"{name} must be a multiple of 4 bytes, got {len(data)}")


def _pad_to_word(size: int) -> int:
    """Octets needed after `size` octets to reach a 32-bit boundary (0..3)."""
    return -size % WORD_SIZE


def _type_name(packet_type: int) -> str:
    name = PACKET_TYPE_NAMES.get(packet_type)
    return f"{name} ({packet_type})" if name else f"type {packet_type}"


def _packet(packet_type: int, count: int, body: bytes) -> bytes:
    """Header + body; the body is already whole words."""
    size = RTCP_HEADER_SIZE + len(body)
    if size > MAX_PACKET_SIZE:
        raise ValueError(
            f"RTCP {_type_name(packet_type)} packet of {size} bytes exceeds the "
            f"{MAX_PACKET_SIZE} bytes the length field can describe"
        )
    first = (RTCP_VERSION << VERSION_SHIFT) | count
    return _HEADER.pack(first, packet_type, size // WORD_SIZE - 1) + body


@dataclass
class ReportBlock:
    """One reception report block (section 6.4.1), 24 octets.

    ``fraction_lost`` is 0..255 (lost/expected * 256 over the last interval);
    ``cumulative_lost`` is signed and clamped to -0x800000..0x7FFFFF when encoded;
    ``highest_seq`` is the extended highest sequence number (cycles << 16 | seq);
    ``jitter`` is in RTP timestamp units; ``lsr`` is the middle 32 bits of the last SR's NTP
    timestamp (0: no SR yet); ``dlsr`` is the delay since that SR in 1/65536 s.
    """

    ssrc: int
    fraction_lost: int = 0
    cumulative_lost: int = 0
    highest_seq: int = 0
    jitter: int = 0
    lsr: int = 0
    dlsr: int = 0

    def encode(self) -> bytes:
        _check_field("ssrc", self.ssrc, MAX_U32)
        _check_field("fraction_lost", self.fraction_lost, MAX_FRACTION_LOST)
        if not isinstance(self.cumulative_lost, int):
            raise ValueError(f"cumulative_lost must be an integer, got {self.cumulative_lost!r}")
        _check_field("highest_seq", self.highest_seq, MAX_U32)
        _check_field("jitter", self.jitter, MAX_U32)
        _check_field("lsr", self.lsr, MAX_U32)
        _check_field("dlsr", self.dlsr, MAX_U32)
        lost = min(MAX_CUMULATIVE_LOST, max(MIN_CUMULATIVE_LOST, self.cumulative_lost))
        return _REPORT_BLOCK.pack(
            self.ssrc,
            (self.fraction_lost << FRACTION_LOST_SHIFT) | (lost & CUMULATIVE_LOST_MASK),
            self.highest_seq,
            self.jitter,
            self.lsr,
            self.dlsr,
        )

    @classmethod
    def decode(cls, data: Buffer) -> ReportBlock:
        """Parse exactly one 24-octet report block."""
        if len(data) != REPORT_BLOCK_SIZE:
            raise RtcpError(f"RTCP report block must be {REPORT_BLOCK_SIZE} bytes, got {len(data)}")
        return cls._unpack(bytes(data), 0)

    @classmethod
    def _unpack(cls, data: bytes, offset: int) -> ReportBlock:
        ssrc, lost_word, highest_seq, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, offset)
        lost = lost_word & CUMULATIVE_LOST_MASK
        if lost > MAX_CUMULATIVE_LOST:
            lost -= 1 << CUMULATIVE_LOST_BITS  # sign-extend the 24-bit field
        return cls(ssrc, lost_word >> FRACTION_LOST_SHIFT, lost, highest_seq, jitter, lsr, dlsr)

    def __repr__(self) -> str:
        return (
            f"ReportBlock(ssrc=0x{self.ssrc:08x}, fraction_lost={self.fraction_lost}/256, "
            f"cumulative_lost={self.cumulative_lost}, highest_seq={self.highest_seq}, "
            f"jitter={self.jitter}, lsr=0x{self.lsr:08x}, dlsr={self.dlsr / NTP_SHORT_UNITS:.3f}s)"
        )


_P = TypeVar("_P", bound="RtcpPacket")


class RtcpPacket:
    """Base of the RTCP packet classes: ``encode()`` and the ``decode`` classmethod."""

    packet_type: ClassVar[int]

    def encode(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def decode(cls: type[_P], data: Buffer) -> _P:
        """Parse a datagram holding exactly one RTCP packet of this class.

        ``RtcpPacket.decode`` accepts a packet of any type. Raises RtcpError.
        """
        packets = decode_compound(data, strict=False)
        if len(packets) != 1:
            raise RtcpError(f"expected one RTCP packet, got a compound of {len(packets)}")
        packet = packets[0]
        if not isinstance(packet, cls):
            raise RtcpError(f"expected an RTCP {cls.__name__}, got {type(packet).__name__}")
        return packet

    @classmethod
    def _decode_body(cls: type[_P], count: int, body: bytes) -> _P:
        raise NotImplementedError


def _encode_reports(reports: list[ReportBlock], extension: bytes) -> tuple[int, bytes]:
    _check_count("report count", len(reports))
    _check_words("extension", extension)
    return len(reports), b"".join(block.encode() for block in reports) + extension


def _decode_reports(name: str, count: int, body: bytes, offset: int) -> list[ReportBlock]:
    needed = count * REPORT_BLOCK_SIZE
    if needed > len(body) - offset:
        raise RtcpError(
            f"RTCP {name} report count {count} needs {needed} bytes of report blocks, "
            f"the length leaves {len(body) - offset}"
        )
    return [ReportBlock._unpack(body, offset + i * REPORT_BLOCK_SIZE) for i in range(count)]


@dataclass(repr=False)
class SenderReport(RtcpPacket):
    """SR (section 6.4.1). ``ntp_timestamp`` is the full 64-bit NTP value.

    ``extension`` holds profile-specific extensions (section 6.4.3), whole words, kept raw.
    """

    packet_type: ClassVar[int] = RTCP_SR

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: list[ReportBlock] = field(default_factory=list)
    extension: bytes = b""

    def encode(self) -> bytes:
        _check_field("ssrc", self.ssrc, MAX_U32)
        _check_field("ntp_timestamp", self.ntp_timestamp, MAX_NTP)
        _check_field("rtp_timestamp", self.rtp_timestamp, MAX_U32)
        _check_field("packet_count", self.packet_count, MAX_U32)
        _check_field("octet_count", self.octet_count, MAX_U32)
        count, reports = _encode_reports(self.reports, self.extension)
        head = _SSRC.pack(self.ssrc) + _SENDER_INFO.pack(
            self.ntp_timestamp, self.rtp_timestamp, self.packet_count, self.octet_count
        )
        return _packet(RTCP_SR, count, head + reports)

    @classmethod
    def _decode_body(cls, count: int, body: bytes) -> SenderReport:
        fixed = SSRC_SIZE + SENDER_INFO_SIZE
        if len(body) < fixed:
            raise RtcpError(
                f"RTCP SR too short for the SSRC and sender info: {len(body)} bytes after "
                f"the header, needs {fixed}"
            )
        (ssrc,) = _SSRC.unpack_from(body)
        ntp, rtp_timestamp, packet_count, octet_count = _SENDER_INFO.unpack_from(body, SSRC_SIZE)
        reports = _decode_reports("SR", count, body, fixed)
        extension = body[fixed + count * REPORT_BLOCK_SIZE :]
        return cls(ssrc, ntp, rtp_timestamp, packet_count, octet_count, reports, extension)

    def __repr__(self) -> str:
        extension = f", extension={len(self.extension)} bytes" if self.extension else ""
        return (
            f"SenderReport(ssrc=0x{self.ssrc:08x}, ntp_timestamp=0x{self.ntp_timestamp:016x}, "
            f"rtp_timestamp={self.rtp_timestamp}, packet_count={self.packet_count}, "
            f"octet_count={self.octet_count}, reports={self.reports!r}{extension})"
        )


@dataclass(repr=False)
class ReceiverReport(RtcpPacket):
    """RR (section 6.4.2). An empty one (no reports) heads a compound with nothing to report."""

    packet_type: ClassVar[int] = RTCP_RR

    ssrc: int
    reports: list[ReportBlock] = field(default_factory=list)
    extension: bytes = b""

    def encode(self) -> bytes:
        _check_field("ssrc", self.ssrc, MAX_U32)
        count, reports = _encode_reports(self.reports, self.extension)
        return _packet(RTCP_RR, count, _SSRC.pack(self.ssrc) + reports)

    @classmethod
    def _decode_body(cls, count: int, body: bytes) -> ReceiverReport:
        if len(body) < SSRC_SIZE:
            raise RtcpError(
                f"RTCP RR too short for the SSRC: {len(body)} bytes after the header, "
                f"needs {SSRC_SIZE}"
            )
        (ssrc,) = _SSRC.unpack_from(body)
        reports = _decode_reports("RR", count, body, SSRC_SIZE)
        return cls(ssrc, reports, body[SSRC_SIZE + count * REPORT_BLOCK_SIZE :])

    def __repr__(self) -> str:
        extension = f", extension={len(self.extension)} bytes" if self.extension else ""
        return f"ReceiverReport(ssrc=0x{self.ssrc:08x}, reports={self.reports!r}{extension})"


@dataclass(repr=False)
class SdesChunk:
    """One SDES chunk: an SSRC/CSRC and its items as (type, text) pairs, text raw bytes."""

    ssrc: int
    items: list[tuple[int, bytes]] = field(default_factory=list)

    def encode(self) -> bytes:
        _check_field("ssrc", self.ssrc, MAX_U32)
        parts = [_SSRC.pack(self.ssrc)]
        size = SSRC_SIZE
        for index, (item_type, text) in enumerate(self.items):
            if not isinstance(item_type, int) or not SDES_CNAME <= item_type <= MAX_SDES_TYPE:
                raise ValueError(
                    f"SDES item {index} type must be an integer in "
                    f"{SDES_CNAME}..{MAX_SDES_TYPE}, got {item_type!r}"
                )
            text = bytes(text)
            if len(text) > MAX_TEXT_LENGTH:
                raise ValueError(
                    f"SDES item {index} text must be at most {MAX_TEXT_LENGTH} bytes, "
                    f"got {len(text)}"
                )
            parts.append(bytes((item_type, len(text))) + text)
            size += SDES_ITEM_HEADER_SIZE + len(text)
        # The END item (one null octet), then nulls up to the next 32-bit boundary.
        parts.append(bytes(1 + _pad_to_word(size + 1)))
        return b"".join(parts)

    def __repr__(self) -> str:
        items = ", ".join(
            f"{SDES_ITEM_NAMES.get(item_type, item_type)}={_text(text)!r}"
            for item_type, text in self.items
        )
        return f"SdesChunk(ssrc=0x{self.ssrc:08x}, items=[{items}])"


def _text(data: bytes) -> str:
    """SDES and BYE text is UTF-8 (section 6.5); bad octets become U+FFFD, never an error."""
    return data.decode("utf-8", errors="replace")


@dataclass(repr=False)
class SourceDescription(RtcpPacket):
    """SDES (section 6.5)."""

    packet_type: ClassVar[int] = RTCP_SDES

    chunks: list[SdesChunk] = field(default_factory=list)

    @classmethod
    def cname(cls, ssrc: int, name: str) -> SourceDescription:
        """The SDES every compound packet carries: one chunk with one CNAME item."""
        return cls([SdesChunk(ssrc, [(SDES_CNAME, name.encode("utf-8"))])])

    def cnames(self) -> dict[int, str]:
        """SSRC -> CNAME for every chunk that has one (the first, if several)."""
        found: dict[int, str] = {}
        for chunk in self.chunks:
            for item_type, text in chunk.items:
                if item_type == SDES_CNAME:
                    found.setdefault(chunk.ssrc, _text(text))
                    break
        return found

    def encode(self) -> bytes:
        _check_count("SDES chunk count", len(self.chunks))
        return _packet(RTCP_SDES, len(self.chunks), b"".join(c.encode() for c in self.chunks))

    @classmethod
    def _decode_body(cls, count: int, body: bytes) -> SourceDescription:
        chunks = []
        offset = 0
        end = len(body)
        for index in range(count):
            if end - offset < SSRC_SIZE:
                raise RtcpError(
                    f"RTCP SDES count {count} too large for the length: chunk {index + 1} "
                    f"starts at body offset {offset}, only {end - offset} bytes left"
                )
            (ssrc,) = _SSRC.unpack_from(body, offset)
            offset += SSRC_SIZE
            items = []
            while True:
                if offset >= end:
                    raise RtcpError(
                        f"RTCP SDES chunk {index + 1} (SSRC 0x{ssrc:08x}) runs to the end "
                        f"of the packet without its null terminator"
                    )
                item_type = body[offset]
                if item_type == SDES_END:
                    # Chunks start on word boundaries and the body is whole words, so the
                    # boundary after the terminator is never past the end.
                    offset += 1 + _pad_to_word(offset + 1)
                    break
                text_start = offset + SDES_ITEM_HEADER_SIZE
                text_end = text_start + (body[offset + 1] if offset + 1 < end else 0)
                if text_start > end or text_end > end:
                    raise RtcpError(
                        f"RTCP SDES item running past its chunk: item type {item_type} in "
                        f"chunk {index + 1} needs {text_end - offset} bytes, "
                        f"{end - offset} left"
                    )
                items.append((item_type, body[text_start:text_end]))
                offset = text_end
            chunks.append(SdesChunk(ssrc, items))
        if offset != end:
            raise RtcpError(
                f"RTCP SDES count {count} too small for the length: "
                f"{end - offset} bytes left after the last chunk"
            )
        return cls(chunks)

    def __repr__(self) -> str:
        return f"SourceDescription({self.chunks!r})"


@dataclass(repr=False)
class Bye(RtcpPacket):
    """BYE (section 6.6): the sources leaving, and an optional UTF-8 reason."""

    packet_type: ClassVar[int] = RTCP_BYE

    sources: list[int] = field(default_factory=list)
    reason: str | None = None

    def encode(self) -> bytes:
        _check_count("BYE source count", len(self.sources))
        for index, ssrc in enumerate(self.sources):
            _check_field(f"sources[{index}]", ssrc, MAX_U32)
        body = b"".join(_SSRC.pack(ssrc) for ssrc in self.sources)
        if self.reason is not None:
            reason = self.reason.encode("utf-8")
            if len(reason) > MAX_TEXT_LENGTH:
                raise ValueError(
                    f"BYE reason must be at most {MAX_TEXT_LENGTH} bytes of UTF-8, "
                    f"got {len(reason)}"
                )
            text = bytes((len(reason),)) + reason
            body += text + bytes(_pad_to_word(len(text)))
        return _packet(RTCP_BYE, len(self.sources), body)

    @classmethod
    def _decode_body(cls, count: int, body: bytes) -> Bye:
        needed = count * SSRC_SIZE
        if needed > len(body):
            raise RtcpError(
                f"RTCP BYE source count {count} needs {needed} bytes, the length leaves {len(body)}"
            )
        sources = list(struct.unpack_from(f"!{count}I", body))
        rest = body[needed:]
        reason = None
        if rest:
            length = rest[0]
            if 1 + length > len(rest):
                raise RtcpError(
                    f"RTCP BYE reason length {length} past the end: "
                    f"only {len(rest) - 1} bytes follow it"
                )
            reason = _text(rest[1 : 1 + length])
        return cls(sources, reason)

    def __repr__(self) -> str:
        sources = ", ".join(f"0x{ssrc:08x}" for ssrc in self.sources)
        reason = "" if self.reason is None else f", reason={self.reason!r}"
        return f"Bye(sources=[{sources}]{reason})"


@dataclass(repr=False)
class App(RtcpPacket):
    """APP (section 6.7): a 5-bit subtype, 4 ASCII octets of name and whole words of data."""

    packet_type: ClassVar[int] = RTCP_APP

    subtype: int
    ssrc: int
    name: bytes
    data: bytes = b""

    def encode(self) -> bytes:
        _check_field("subtype", self.subtype, MAX_COUNT)
        _check_field("ssrc", self.ssrc, MAX_U32)
        name = bytes(self.name)
        if len(name) != APP_NAME_SIZE or not name.isascii():
            raise ValueError(f"APP name must be {APP_NAME_SIZE} ASCII bytes, got {name!r}")
        data = bytes(self.data)
        _check_words("APP data", data)
        return _packet(RTCP_APP, self.subtype, _SSRC.pack(self.ssrc) + name + data)

    @classmethod
    def _decode_body(cls, count: int, body: bytes) -> App:
        fixed = SSRC_SIZE + APP_NAME_SIZE
        if len(body) < fixed:
            raise RtcpError(
                f"RTCP APP too short for the SSRC and name: {len(body)} bytes after the "
                f"header, needs {fixed}"
            )
        (ssrc,) = _SSRC.unpack_from(body)
        return cls(count, ssrc, body[SSRC_SIZE:fixed], body[fixed:])

    def __repr__(self) -> str:
        return (
            f"App(subtype={self.subtype}, ssrc=0x{self.ssrc:08x}, name={self.name!r}, "
            f"data={len(self.data)} bytes)"
        )


@dataclass(repr=False)
class UnknownRtcp(RtcpPacket):
    """A packet of a type not decoded here (e.g. RTPFB 205), kept raw (padding removed)."""

    packet_type: int  # type: ignore[misc]  # an instance field here, a ClassVar elsewhere
    count: int
    body: bytes

    def encode(self) -> bytes:
        _check_field("packet_type", self.packet_type, MAX_PACKET_TYPE)
        if self.packet_type in _DECODERS:
            raise ValueError(
                f"packet_type {_type_name(self.packet_type)} has its own class; "
                f"UnknownRtcp would not decode back to itself"
            )
        _check_field("count", self.count, MAX_COUNT)
        body = bytes(self.body)
        _check_words("body", body)
        return _packet(self.packet_type, self.count, body)

    def __repr__(self) -> str:
        return (
            f"UnknownRtcp(packet_type={self.packet_type}, count={self.count}, "
            f"body={len(self.body)} bytes)"
        )


@dataclass
class DlrrItem:
    """One sub-block of a DLRR block: the last RRTR heard from `ssrc` and the delay since."""

    ssrc: int
    lrr: int  # middle 32 bits of the RRTR's NTP timestamp
    dlrr: int  # delay since it arrived, in 1/65536 s


@dataclass(repr=False)
class ExtendedReport(RtcpPacket):
    """XR (RFC 3611 section 2): a receiver's RRTR, a sender's DLRR; other blocks kept raw.

    A receiver that sends no RTP gets no report block about itself, so it cannot use
    LSR/DLSR for its round-trip time; RRTR and DLRR (sections 4.4 and 4.5) are the same
    exchange the other way round::

        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |V=2|P|reserved |   PT=XR=207   |             length            |
        |                              SSRC                             |
        |     BT=4      |   reserved    |       block length = 2        |  RRTR
        |              NTP timestamp, most significant word             |
        |             NTP timestamp, least significant word             |
        |     BT=5      |   reserved    |  block length = 3 * items     |  DLRR
        |                 SSRC_1 | LRR_1 | DLRR_1  ...                  |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    """

    packet_type: ClassVar[int] = RTCP_XR

    ssrc: int
    rrtr: int | None = None  # a 64-bit NTP timestamp
    dlrr: list[DlrrItem] = field(default_factory=list)
    other_blocks: list[tuple[int, int, bytes]] = field(default_factory=list)  # (BT, spec, body)

    def encode(self) -> bytes:
        _check_field("ssrc", self.ssrc, MAX_U32)
        blocks = []
        if self.rrtr is not None:
            _check_field("rrtr", self.rrtr, MAX_NTP)
            blocks.append(_xr_block(XR_RRTR, 0, struct.pack("!Q", self.rrtr)))
        if self.dlrr:
            items = b"".join(struct.pack("!III", i.ssrc, i.lrr, i.dlrr) for i in self.dlrr)
            blocks.append(_xr_block(XR_DLRR, 0, items))
        for block_type, type_specific, body in self.other_blocks:
            _check_words("XR block", bytes(body))
            blocks.append(_xr_block(block_type, type_specific, bytes(body)))
        return _packet(RTCP_XR, 0, _SSRC.pack(self.ssrc) + b"".join(blocks))

    @classmethod
    def _decode_body(cls, count: int, body: bytes) -> ExtendedReport:
        if len(body) < SSRC_SIZE:
            raise RtcpError(f"RTCP XR too short for its SSRC: {len(body)} bytes")
        report = cls(_SSRC.unpack_from(body)[0])
        offset = SSRC_SIZE
        while offset < len(body):
            if len(body) - offset < XR_BLOCK_HEADER_SIZE:
                raise RtcpError(f"RTCP XR block header cut short at offset {offset}")
            block_type, type_specific, words = struct.unpack_from("!BBH", body, offset)
            start, end = offset + XR_BLOCK_HEADER_SIZE, offset + XR_BLOCK_HEADER_SIZE + 4 * words
            if end > len(body):
                raise RtcpError(
                    f"RTCP XR block length past the end: type {block_type} says {words} words, "
                    f"{len(body) - start} bytes left"
                )
            content = body[start:end]
            if block_type == XR_RRTR and words == 2:
                (report.rrtr,) = struct.unpack("!Q", content)
            elif block_type == XR_DLRR and words % 3 == 0:
                report.dlrr = [
                    DlrrItem(*struct.unpack_from("!III", content, i))
                    for i in range(0, len(content), DLRR_ITEM_SIZE)
                ]
            else:
                report.other_blocks.append((block_type, type_specific, content))
            offset = end
        return report

    def __repr__(self) -> str:
        rrtr = "" if self.rrtr is None else f", rrtr=0x{self.rrtr:016x}"
        dlrr = "".join(
            f", dlrr(0x{i.ssrc:08x}: lrr=0x{i.lrr:08x}, {i.dlrr / NTP_SHORT_UNITS:.3f}s)"
            for i in self.dlrr
        )
        return f"ExtendedReport(ssrc=0x{self.ssrc:08x}{rrtr}{dlrr})"


def _xr_block(block_type: int, type_specific: int, content: bytes) -> bytes:
    return struct.pack("!BBH", block_type, type_specific, len(content) // WORD_SIZE) + content


_DECODERS: dict[int, type[RtcpPacket]] = {
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
    first, packet_type, length = _HEADER.unpack_from(data, offset)
    version = first >> VERSION_SHIFT
    if version != RTCP_VERSION:
        raise RtcpError(
            f"RTCP version {version} not supported, expected {RTCP_VERSION} (offset {offset})"
        )
    size = (length + 1) * WORD_SIZE
    if size > remaining:
        raise RtcpError(
            f"RTCP length field past the end: {_type_name(packet_type)} at offset {offset} "
            f"says {length + 1} words ({size} bytes), only {remaining} bytes left"
        )
    if strict_first and packet_type not in (RTCP_SR, RTCP_RR):
        raise RtcpError(
            f"RTCP compound packet must start with SR or RR (RFC 3550 section 6.1), "
            f"got {_type_name(packet_type)}"
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
    decoder = _DECODERS.get(packet_type)
    if decoder is None:
        return UnknownRtcp(packet_type, count, body), end
    return decoder._decode_body(count, body), end


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
