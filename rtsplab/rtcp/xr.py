"""XR, extended reports (RFC 3611): a receiver's RRTR, a sender's DLRR; other blocks kept raw.

A receiver that sends no RTP gets no report block about itself, so it cannot use LSR/DLSR
for its round-trip time; RRTR and DLRR (sections 4.4 and 4.5) are the same exchange the
other way round. The packet (section 2) is an SSRC and report blocks, each with a 4-octet
header (section 3: BT, type-specific, length in words after the header)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P|reserved |   PT=XR=207   |             length            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                              SSRC                             |
    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
    |     BT=4      |   reserved    |       block length = 2        |  RRTR
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |              NTP timestamp, most significant word             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |             NTP timestamp, least significant word             |
    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
    |     BT=5      |   reserved    |  block length = 3 * items     |  DLRR
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                 SSRC_1 | LRR_1 | DLRR_1  ...                  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar

from RtpPacket import MAX_SSRC
from rtsplab.ntp import MAX_NTP, NTP_SHORT_UNITS
from rtsplab.rtcp.packet import (
    RTCP_XR,
    SSRC_FORMAT,
    SSRC_SIZE,
    WORD_SIZE,
    RtcpError,
    RtcpPacket,
    build_packet,
    check_body,
    check_field,
    check_words,
)

# XR report block types (RFC 3611 section 4) used for a receiver's round-trip time.
XR_RRTR = 4  # Receiver Reference Time: the receiver's NTP clock
XR_DLRR = 5  # DLRR: the sender's echo of it, with the delay since (like LSR/DLSR)
XR_BLOCK_HEADER_SIZE = 4  # BT, type-specific, block length in words
RRTR_WORDS = 2  # one 64-bit NTP timestamp (section 4.4)
DLRR_ITEM_SIZE = 12  # SSRC, LRR, DLRR (section 4.5)
DLRR_ITEM_WORDS = DLRR_ITEM_SIZE // WORD_SIZE

_BLOCK_HEADER = struct.Struct("!BBH")
_NTP_TIMESTAMP = struct.Struct("!Q")
_DLRR_ITEM = struct.Struct("!III")


@dataclass
class DlrrItem:
    """One sub-block of a DLRR block: the last RRTR heard from `ssrc` and the delay since."""

    ssrc: int
    lrr: int  # middle 32 bits of the RRTR's NTP timestamp
    dlrr: int  # delay since it arrived, in 1/65536 s


@dataclass(repr=False)
class ExtendedReport(RtcpPacket):
    """XR (RFC 3611 section 2) with an RRTR, DLRR items, and any other blocks raw."""

    packet_type: ClassVar[int] = RTCP_XR

    ssrc: int
    rrtr: int | None = None  # a 64-bit NTP timestamp
    dlrr: list[DlrrItem] = field(default_factory=list)
    other_blocks: list[tuple[int, int, bytes]] = field(default_factory=list)  # (BT, spec, body)

    def encode(self) -> bytes:
        check_field("ssrc", self.ssrc, MAX_SSRC)
        blocks = []
        if self.rrtr is not None:
            check_field("rrtr", self.rrtr, MAX_NTP)
            blocks.append(_xr_block(XR_RRTR, 0, _NTP_TIMESTAMP.pack(self.rrtr)))
        if self.dlrr:
            items = b"".join(_DLRR_ITEM.pack(i.ssrc, i.lrr, i.dlrr) for i in self.dlrr)
            blocks.append(_xr_block(XR_DLRR, 0, items))
        for block_type, type_specific, body in self.other_blocks:
            check_words("XR block", bytes(body))
            blocks.append(_xr_block(block_type, type_specific, bytes(body)))
        return build_packet(RTCP_XR, 0, SSRC_FORMAT.pack(self.ssrc) + b"".join(blocks))

    @classmethod
    def decode_body(cls, count: int, body: bytes) -> ExtendedReport:
        check_body("XR", "the SSRC", body, SSRC_SIZE)
        report = cls(SSRC_FORMAT.unpack_from(body)[0])
        offset = SSRC_SIZE
        while offset < len(body):
            if len(body) - offset < XR_BLOCK_HEADER_SIZE:
                raise RtcpError(f"RTCP XR block header cut short at offset {offset}")
            block_type, type_specific, words = _BLOCK_HEADER.unpack_from(body, offset)
            start = offset + XR_BLOCK_HEADER_SIZE
            end = start + words * WORD_SIZE
            if end > len(body):
                raise RtcpError(
                    f"RTCP XR block length past the end: type {block_type} says {words} words, "
                    f"{len(body) - start} bytes left"
                )
            content = body[start:end]
            if block_type == XR_RRTR and words == RRTR_WORDS:
                (report.rrtr,) = _NTP_TIMESTAMP.unpack(content)
            elif block_type == XR_DLRR and words % DLRR_ITEM_WORDS == 0:
                report.dlrr = [
                    DlrrItem(*_DLRR_ITEM.unpack_from(content, i))
                    for i in range(0, len(content), DLRR_ITEM_SIZE)
                ]
            else:
                report.other_blocks.append((block_type, type_specific, content))
            offset = end
        return report

    def speaks_for(self) -> list[int]:
        return [self.ssrc]

    def speaks_about(self) -> list[int]:
        return [item.ssrc for item in self.dlrr]

    def reference_time(self) -> int | None:
        return self.rrtr

    def dlrr_items(self) -> list[DlrrItem]:
        return self.dlrr

    def __repr__(self) -> str:
        rrtr = "" if self.rrtr is None else f", rrtr=0x{self.rrtr:016x}"
        dlrr = "".join(
            f", dlrr(0x{i.ssrc:08x}: lrr=0x{i.lrr:08x}, {i.dlrr / NTP_SHORT_UNITS:.3f}s)"
            for i in self.dlrr
        )
        return f"ExtendedReport(ssrc=0x{self.ssrc:08x}{rrtr}{dlrr})"


def _xr_block(block_type: int, type_specific: int, content: bytes) -> bytes:
    return _BLOCK_HEADER.pack(block_type, type_specific, len(content) // WORD_SIZE) + content
