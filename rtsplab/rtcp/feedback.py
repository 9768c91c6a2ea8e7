"""Transport-layer feedback (RFC 4585 section 6.2): the generic NACK, a receiver's "these
packets did not arrive".

Every feedback packet (section 6.1) names who sends it and which media source it is about;
its FMT field, where other packets have a count, says which kind of feedback follows::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P|   FMT   |  PT=RTPFB=205 |             length            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                  SSRC of packet sender                        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                  SSRC of media source                         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    :            Feedback Control Information (FCI)                :

A generic NACK (FMT=1, section 6.2.1) carries one or more FCI words, each a packet ID (the
sequence number of one lost packet) and a bitmask of following lost packets (BLP): bit i
set means PID+i+1 was lost too, so one word reports up to 17 losses.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from RtpPacket import MAX_SSRC
from rtsplab.rtcp.packet import (
    MAX_COUNT,
    RTCP_RTPFB,
    SSRC_SIZE,
    RtcpError,
    RtcpPacket,
    build_packet,
    check_body,
    check_field,
    check_words,
)

FMT_GENERIC_NACK = 1
SEQ_MODULO = 1 << 16
BLP_BITS = 16
MAX_SEQ = SEQ_MODULO - 1
MAX_BLP = (1 << BLP_BITS) - 1

_SOURCES = struct.Struct("!II")  # SSRC of packet sender, SSRC of media source
_NACK_ITEM = struct.Struct("!HH")  # PID, BLP


@dataclass(repr=False)
class TransportFeedback(RtcpPacket):
    """An RTPFB packet of a kind not decoded here (FMT other than 1), its FCI kept raw."""

    packet_type: ClassVar[int] = RTCP_RTPFB

    fmt: int
    sender_ssrc: int
    media_ssrc: int
    fci: bytes = b""

    def speaks_for(self) -> list[int]:
        return [self.sender_ssrc]

    def speaks_about(self) -> list[int]:
        return [self.media_ssrc]

    def is_feedback(self) -> bool:
        return True

    def encode(self) -> bytes:
        check_field("fmt", self.fmt, MAX_COUNT)
        fci = bytes(self.fci)
        check_words("FCI", fci)
        return self._encode(self.fmt, fci)

    def _encode(self, fmt: int, fci: bytes) -> bytes:
        check_field("sender_ssrc", self.sender_ssrc, MAX_SSRC)
        check_field("media_ssrc", self.media_ssrc, MAX_SSRC)
        return build_packet(RTCP_RTPFB, fmt, _SOURCES.pack(self.sender_ssrc, self.media_ssrc) + fci)

    @classmethod
    def decode_body(cls, count: int, body: bytes) -> TransportFeedback:
        check_body("RTPFB", "the two SSRCs", body, 2 * SSRC_SIZE)
        sender, media = _SOURCES.unpack_from(body)
        fci = body[2 * SSRC_SIZE :]
        if count != FMT_GENERIC_NACK:
            return cls(count, sender, media, fci)
        if not fci:
            raise RtcpError("RTCP generic NACK without any FCI (RFC 4585 section 6.2.1)")
        return GenericNack(sender, media, list(_NACK_ITEM.iter_unpack(fci)))

    def __repr__(self) -> str:
        return (
            f"TransportFeedback(fmt={self.fmt}, sender_ssrc=0x{self.sender_ssrc:08x}, "
            f"media_ssrc=0x{self.media_ssrc:08x}, fci={len(self.fci)} bytes)"
        )


@dataclass(repr=False)
class GenericNack(TransportFeedback):
    """A generic NACK (RFC 4585 section 6.2.1): `items` are its (PID, BLP) words as sent;
    `lost()` reads them as sequence numbers, `for_lost` writes them."""

    fmt: int = field(default=FMT_GENERIC_NACK, init=False)
    fci: bytes = field(default=b"", init=False)
    items: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def for_lost(cls, sender_ssrc: int, media_ssrc: int, lost: Iterable[int]) -> GenericNack:
        """The NACK of the 16-bit sequence numbers in `lost`, taken in the order given (RTP
        order, wrap included): each word covers its PID and the 16 numbers after it."""
        items: list[tuple[int, int]] = []
        for seq in lost:
            check_field("lost sequence number", seq, MAX_SEQ)
            if items:
                pid, blp = items[-1]
                distance = (seq - pid) % SEQ_MODULO
                if 1 <= distance <= BLP_BITS:
                    items[-1] = (pid, blp | 1 << (distance - 1))
                    continue
            items.append((seq, 0))
        return cls(sender_ssrc, media_ssrc, items)

    def lost(self, limit: int | None = None) -> list[int]:
        """The sequence numbers reported lost, word by word, each PID before its BLP's (the
        first `limit` words' only, when given)."""
        numbers = []
        for pid, blp in self.items[:limit]:
            numbers.append(pid)
            numbers.extend(
                (pid + bit + 1) % SEQ_MODULO for bit in range(BLP_BITS) if blp >> bit & 1
            )
        return numbers

    def nacked(self, media_ssrc: int, limit: int | None = None) -> list[int]:
        return self.lost(limit) if media_ssrc == self.media_ssrc else []

    def encode(self) -> bytes:
        if not self.items:
            raise ValueError("a generic NACK needs at least one (PID, BLP) item")
        for index, (pid, blp) in enumerate(self.items):
            check_field(f"items[{index}] PID", pid, MAX_SEQ)
            check_field(f"items[{index}] BLP", blp, MAX_BLP)
        fci = b"".join(_NACK_ITEM.pack(pid, blp) for pid, blp in self.items)
        return self._encode(FMT_GENERIC_NACK, fci)

    def __repr__(self) -> str:
        items = ", ".join(f"({pid}, 0x{blp:04x})" for pid, blp in self.items)
        return (
            f"GenericNack(sender_ssrc=0x{self.sender_ssrc:08x}, "
            f"media_ssrc=0x{self.media_ssrc:08x}, items=[{items}])"
        )
