"""BYE, goodbye (RFC 3550 section 6.6): the sources leaving, and an optional reason.

::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P|    SC   |   PT=BYE=203  |             length            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                           SSRC/CSRC                           |  SC of these
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     length    |  reason for leaving (optional, null-padded) ...
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar

from RtpPacket import MAX_SSRC
from rtsplab.rtcp.packet import (
    MAX_TEXT_LENGTH,
    RTCP_BYE,
    SSRC_FORMAT,
    SSRC_SIZE,
    RtcpError,
    RtcpPacket,
    build_packet,
    check_count,
    check_field,
    decode_text,
    pad_to_word,
)


@dataclass(repr=False)
class Bye(RtcpPacket):
    """BYE (section 6.6): the sources leaving, and an optional UTF-8 reason."""

    packet_type: ClassVar[int] = RTCP_BYE

    sources: list[int] = field(default_factory=list)
    reason: str | None = None

    def speaks_for(self) -> list[int]:
        return list(self.sources)

    def leaving(self) -> list[int]:
        return list(self.sources)

    def without_source(self, ssrc: int) -> Bye | None:
        """The BYE of every other source leaving; None when `ssrc` was the only one."""
        leaving = [source for source in self.sources if source != ssrc]
        if len(leaving) == len(self.sources):
            return self
        return Bye(leaving, self.reason) if leaving else None

    def encode(self) -> bytes:
        check_count("BYE source count", len(self.sources))
        for index, ssrc in enumerate(self.sources):
            check_field(f"sources[{index}]", ssrc, MAX_SSRC)
        body = b"".join(SSRC_FORMAT.pack(ssrc) for ssrc in self.sources)
        if self.reason is not None:
            reason = self.reason.encode("utf-8")
            if len(reason) > MAX_TEXT_LENGTH:
                raise ValueError(
                    f"BYE reason must be at most {MAX_TEXT_LENGTH} bytes of UTF-8, "
                    f"got {len(reason)}"
                )
            text = bytes((len(reason),)) + reason
            body += text + bytes(pad_to_word(len(text)))
        return build_packet(RTCP_BYE, len(self.sources), body)

    @classmethod
    def decode_body(cls, count: int, body: bytes) -> Bye:
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
            reason = decode_text(rest[1 : 1 + length])
        return cls(sources, reason)

    def __repr__(self) -> str:
        sources = ", ".join(f"0x{ssrc:08x}" for ssrc in self.sources)
        reason = "" if self.reason is None else f", reason={self.reason!r}"
        return f"Bye(sources=[{sources}]{reason})"
