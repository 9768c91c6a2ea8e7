"""SDES, source description (RFC 3550 section 6.5).

SC chunks, each an SSRC followed by items (type octet, length octet, that many octets of
UTF-8 text) and ended by one to four null octets that bring the chunk to a 32-bit boundary::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P|    SC   |  PT=SDES=202  |             length            |
    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
    |                          SSRC/CSRC_1                          |  chunk 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |    CNAME=1    |     length    | user and domain name        ...
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    :       ... more items, then 1-4 null octets to the boundary    :
    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from RtpPacket import MAX_SSRC
from rtsplab.rtcp.packet import (
    MAX_TEXT_LENGTH,
    RTCP_SDES,
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


@dataclass(repr=False)
class SdesChunk:
    """One SDES chunk: an SSRC/CSRC and its items as (type, text) pairs, text raw bytes."""

    ssrc: int
    items: list[tuple[int, bytes]] = field(default_factory=list)

    def encode(self) -> bytes:
        check_field("ssrc", self.ssrc, MAX_SSRC)
        parts = [SSRC_FORMAT.pack(self.ssrc)]
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
        parts.append(bytes(1 + pad_to_word(size + 1)))
        return b"".join(parts)

    def __repr__(self) -> str:
        items = ", ".join(
            f"{SDES_ITEM_NAMES.get(item_type, item_type)}={decode_text(text)!r}"
            for item_type, text in self.items
        )
        return f"SdesChunk(ssrc=0x{self.ssrc:08x}, items=[{items}])"


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
                    found.setdefault(chunk.ssrc, decode_text(text))
                    break
        return found

    def speaks_for(self) -> list[int]:
        return [chunk.ssrc for chunk in self.chunks]

    def without_source(self, ssrc: int) -> SourceDescription | None:
        """The chunks of every other source; None when `ssrc`'s were all there was."""
        chunks = [chunk for chunk in self.chunks if chunk.ssrc != ssrc]
        if len(chunks) == len(self.chunks):
            return self
        return SourceDescription(chunks) if chunks else None

    def encode(self) -> bytes:
        check_count("SDES chunk count", len(self.chunks))
        return build_packet(RTCP_SDES, len(self.chunks), b"".join(c.encode() for c in self.chunks))

    @classmethod
    def decode_body(cls, count: int, body: bytes) -> SourceDescription:
        chunks = []
        offset = 0
        end = len(body)
        for index in range(count):
            if end - offset < SSRC_SIZE:
                raise RtcpError(
                    f"RTCP SDES count {count} too large for the length: chunk {index + 1} "
                    f"starts at body offset {offset}, only {end - offset} bytes left"
                )
            (ssrc,) = SSRC_FORMAT.unpack_from(body, offset)
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
                    offset += 1 + pad_to_word(offset + 1)
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
