"""Sender and receiver reports (RFC 3550 sections 6.4.1 and 6.4.2) and their report blocks.

SR, sender report; RR is the same without the sender info (PT=RR=201)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
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

A receiver's statistics come from `rtsplab.rtp.reception` as a `ReceptionReport`;
`ReportBlock.from_reception` fits them to these fields. `round_trip_time` is the sender's
reading of a block that comes back.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar

from RtpPacket import JPEG_CLOCK_RATE, MAX_SSRC, MAX_TIMESTAMP
from rtsplab.ntp import MAX_NTP, MAX_U32, NTP_SHORT_UNITS, ntp_middle32
from rtsplab.rtcp.packet import (
    RTCP_RR,
    RTCP_SR,
    SSRC_FORMAT,
    SSRC_SIZE,
    Buffer,
    RtcpError,
    RtcpPacket,
    build_packet,
    check_body,
    check_count,
    check_field,
    check_words,
)
from rtsplab.rtp.reception import ReceptionReport

SENDER_INFO_SIZE = 20  # NTP timestamp (8), RTP timestamp, packet count, octet count
REPORT_BLOCK_SIZE = 24

# Fraction lost: 8-bit fixed point, binary point at the left edge (lost/expected in 1/256).
FRACTION_LOST_UNITS = 1 << 8
MAX_FRACTION_LOST = FRACTION_LOST_UNITS - 1
# Cumulative lost is a signed 24-bit field: negative when duplicates outnumber losses.
CUMULATIVE_LOST_BITS = 24
CUMULATIVE_LOST_MASK = (1 << CUMULATIVE_LOST_BITS) - 1
MAX_CUMULATIVE_LOST = 0x7FFFFF
MIN_CUMULATIVE_LOST = -0x800000
FRACTION_LOST_SHIFT = CUMULATIVE_LOST_BITS

_SENDER_INFO = struct.Struct("!QIII")  # NTP, RTP timestamp, packet count, octet count
_REPORT_BLOCK = struct.Struct("!IIIIII")


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

    @classmethod
    def from_reception(cls, ssrc: int, report: ReceptionReport) -> ReportBlock:
        """The block about source `ssrc`, each of `report`'s values fitted to its field.

        Fraction lost and jitter are capped at their largest value, cumulative lost at the
        signed 24-bit range, DLSR at 2^32 - 1; the extended highest sequence number keeps its
        low 32 bits, as its wrap is the field's (section 6.4.1); jitter is truncated.
        """
        return cls(
            ssrc=ssrc,
            fraction_lost=min(MAX_FRACTION_LOST, report.fraction_lost),
            cumulative_lost=min(
                MAX_CUMULATIVE_LOST, max(MIN_CUMULATIVE_LOST, report.cumulative_lost)
            ),
            highest_seq=report.highest_seq & MAX_U32,
            jitter=min(MAX_U32, int(report.jitter)),
            lsr=report.lsr,
            dlsr=min(MAX_U32, report.dlsr),
        )

    def encode(self) -> bytes:
        check_field("ssrc", self.ssrc, MAX_SSRC)
        check_field("fraction_lost", self.fraction_lost, MAX_FRACTION_LOST)
        if not isinstance(self.cumulative_lost, int):
            raise ValueError(f"cumulative_lost must be an integer, got {self.cumulative_lost!r}")
        check_field("highest_seq", self.highest_seq, MAX_U32)
        check_field("jitter", self.jitter, MAX_U32)
        check_field("lsr", self.lsr, MAX_U32)
        check_field("dlsr", self.dlsr, MAX_U32)
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


def round_trip_time(block: ReportBlock, arrival_ntp: int) -> float | None:
    """The round trip to the receiver that sent `block`, in seconds (RFC 3550 section 6.4.1).

    `arrival_ntp` is the sender's own NTP time when the block arrived. RTT = A - LSR - DLSR in
    16.16 fixed point, mod 2^32. None when the receiver has had no SR yet (LSR 0). A result in
    the upper half of the 32-bit range is a small negative one (DLSR rounding, or the
    receiver's clock running a little fast over the DLSR), and is returned as 0.0.
    """
    if block.lsr == 0:
        return None
    delay = (ntp_middle32(arrival_ntp) - block.lsr - block.dlsr) & MAX_U32
    if delay > MAX_U32 // 2:
        return 0.0
    return delay / NTP_SHORT_UNITS


def _encode_reports(reports: list[ReportBlock], extension: bytes) -> tuple[int, bytes]:
    check_count("report count", len(reports))
    check_words("extension", extension)
    return len(reports), b"".join(block.encode() for block in reports) + extension


def _decode_reports(name: str, count: int, body: bytes, offset: int) -> list[ReportBlock]:
    needed = count * REPORT_BLOCK_SIZE
    if needed > len(body) - offset:
        raise RtcpError(
            f"RTCP {name} report count {count} needs {needed} bytes of report blocks, "
            f"the length leaves {len(body) - offset}"
        )
    return [ReportBlock._unpack(body, offset + i * REPORT_BLOCK_SIZE) for i in range(count)]


class _Report(RtcpPacket):
    """What SR and RR share (§6.4): the reporter's SSRC, and the sources its blocks are about."""

    ssrc: int
    reports: list[ReportBlock]

    def speaks_for(self) -> list[int]:
        return [self.ssrc]

    def speaks_about(self) -> list[int]:
        return [block.ssrc for block in self.reports]

    def is_report(self) -> bool:
        return True

    def report_blocks(self) -> list[ReportBlock]:
        return self.reports


@dataclass(repr=False)
class SenderReport(_Report):
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
        check_field("ssrc", self.ssrc, MAX_SSRC)
        check_field("ntp_timestamp", self.ntp_timestamp, MAX_NTP)
        check_field("rtp_timestamp", self.rtp_timestamp, MAX_TIMESTAMP)
        check_field("packet_count", self.packet_count, MAX_U32)
        check_field("octet_count", self.octet_count, MAX_U32)
        count, reports = _encode_reports(self.reports, self.extension)
        head = SSRC_FORMAT.pack(self.ssrc) + _SENDER_INFO.pack(
            self.ntp_timestamp, self.rtp_timestamp, self.packet_count, self.octet_count
        )
        return build_packet(RTCP_SR, count, head + reports)

    @classmethod
    def decode_body(cls, count: int, body: bytes) -> SenderReport:
        fixed = SSRC_SIZE + SENDER_INFO_SIZE
        check_body("SR", "the SSRC and sender info", body, fixed)
        (ssrc,) = SSRC_FORMAT.unpack_from(body)
        ntp, rtp_timestamp, packet_count, octet_count = _SENDER_INFO.unpack_from(body, SSRC_SIZE)
        reports = _decode_reports("SR", count, body, fixed)
        extension = body[fixed + count * REPORT_BLOCK_SIZE :]
        return cls(ssrc, ntp, rtp_timestamp, packet_count, octet_count, reports, extension)

    def sender_ntp(self) -> int | None:
        return self.ntp_timestamp

    def __repr__(self) -> str:
        extension = f", extension={len(self.extension)} bytes" if self.extension else ""
        return (
            f"SenderReport(ssrc=0x{self.ssrc:08x}, ntp_timestamp=0x{self.ntp_timestamp:016x}, "
            f"rtp_timestamp={self.rtp_timestamp}, packet_count={self.packet_count}, "
            f"octet_count={self.octet_count}, reports={self.reports!r}{extension})"
        )


@dataclass(repr=False)
class ReceiverReport(_Report):
    """RR (section 6.4.2). An empty one (no reports) heads a compound with nothing to report."""

    packet_type: ClassVar[int] = RTCP_RR

    ssrc: int
    reports: list[ReportBlock] = field(default_factory=list)
    extension: bytes = b""

    def encode(self) -> bytes:
        check_field("ssrc", self.ssrc, MAX_SSRC)
        count, reports = _encode_reports(self.reports, self.extension)
        return build_packet(RTCP_RR, count, SSRC_FORMAT.pack(self.ssrc) + reports)

    @classmethod
    def decode_body(cls, count: int, body: bytes) -> ReceiverReport:
        check_body("RR", "the SSRC", body, SSRC_SIZE)
        (ssrc,) = SSRC_FORMAT.unpack_from(body)
        reports = _decode_reports("RR", count, body, SSRC_SIZE)
        return cls(ssrc, reports, body[SSRC_SIZE + count * REPORT_BLOCK_SIZE :])

    def __repr__(self) -> str:
        extension = f", extension={len(self.extension)} bytes" if self.extension else ""
        return f"ReceiverReport(ssrc=0x{self.ssrc:08x}, reports={self.reports!r}{extension})"


@dataclass
class PeerReport:
    """What a reception report block about our stream says (§6.4.1), for the server's log."""

    fraction_lost: float  # in the last interval, 0..1
    cumulative_lost: int
    highest_seq: int
    jitter_ms: float
    rtt_ms: float | None

    @classmethod
    def from_block(cls, block: ReportBlock, arrival_ntp: int) -> PeerReport:
        rtt = round_trip_time(block, arrival_ntp)
        return cls(
            fraction_lost=block.fraction_lost / FRACTION_LOST_UNITS,
            cumulative_lost=block.cumulative_lost,
            highest_seq=block.highest_seq,
            jitter_ms=block.jitter * 1000 / JPEG_CLOCK_RATE,
            rtt_ms=None if rtt is None else rtt * 1000,
        )

    def __str__(self) -> str:
        rtt = "?" if self.rtt_ms is None else f"{self.rtt_ms:.2f}"
        return (
            f"loss {self.fraction_lost:.1%} (cumulative {self.cumulative_lost}), "
            f"jitter {self.jitter_ms:.2f} ms, RTT {rtt} ms"
        )
