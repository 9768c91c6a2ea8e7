"""The RFC 2435 payload header at the front of every RTP/JPEG payload (§3.1).

Every payload starts with the main JPEG header (§3.1)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    | Type-specific |              Fragment Offset                  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |      Type     |       Q       |     Width     |     Height    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Fragment Offset is where this packet's data sits in the frame's scan; Width and Height are in
8-pixel units, 0 meaning "over 2040, see a=x-dimensions in the SDP". Types 64..127 add the
restart marker header (§3.1.7)::

    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |       Restart Interval        |F|L|       Restart Count       |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

and when Q >= 128 the first packet of a frame (offset 0) carries the tables (§3.1.8)::

    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |      MBZ      |   Precision   |             Length            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Quantization Table Data                    |
    |                              ...                              |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

The tables are 64 bytes each, in the zigzag order of a JPEG DQT segment. Q in 1..99 sends no
tables: both ends compute them from Q (Appendix A, `rtsplab.payload.rfc2435.tables`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from rtsplab.errors import PayloadError
from rtsplab.payload.jpeg import Buffer

__all__ = ["MAX_WIRE_SIZE", "JpegPayloadHeader", "RtpJpegError"]


class RtpJpegError(PayloadError):
    """An RTP/JPEG payload that is malformed or that this receiver cannot use."""


MAIN_HEADER_SIZE = 8
RESTART_HEADER_SIZE = 4
QTABLE_HEADER_SIZE = 4
_MAIN_HEADER = struct.Struct("!IBBBB")  # type-specific(8) | offset(24), type, Q, width, height
_RESTART_HEADER = struct.Struct("!HH")  # restart interval, F(1) L(1) restart count(14)
_QTABLE_HEADER = struct.Struct("!BBH")  # MBZ, precision, length

OFFSET_BITS = 24
MAX_OFFSET = (1 << OFFSET_BITS) - 1
TYPE_SPECIFIC_SHIFT = OFFSET_BITS
MAX_BYTE = 0xFF
MAX_RESTART_INTERVAL = 0xFFFF
RESTART_FIRST_BIT = 0x8000
RESTART_LAST_BIT = 0x4000
RESTART_COUNT_MASK = 0x3FFF
# §3.1.7: F=L=1 with count 0x3FFF says "restart intervals are not aligned with packets,
# reassemble the whole frame before decoding", which is what a payloader cutting the scan
# at arbitrary byte offsets must send.
RESTART_COUNT_ANY = RESTART_COUNT_MASK
MAX_QTABLE_LENGTH = 0xFFFF

# Types (§3.1.3, §4.1): the low bits name the sampling, +64 says a restart header follows.
TYPE_422 = 0  # Y 2x1, Cb 1x1, Cr 1x1 (RFC 2435 calls it 4:2:2)
TYPE_420 = 1  # Y 2x2, Cb 1x1, Cr 1x1
TYPE_RESTART = 64
FIRST_DYNAMIC_TYPE = 128  # types 128..255 are defined out of band: not supported
SAMPLING_OF_TYPE = {TYPE_422: 0x21, TYPE_420: 0x22}  # Y's H<<4|V in SOF
TYPE_OF_SAMPLING = {v: k for k, v in SAMPLING_OF_TYPE.items()}
CHROMA_SAMPLING = 0x11  # Cb's and Cr's H<<4|V in SOF: 1x1 in both types

# Q (§3.1.4): 1..99 tables from Q (Appendix A), 100..127 reserved, 128..255 tables in-band.
MIN_Q_SCALED = 1
MAX_Q_SCALED = 99
Q_TABLES_INLINE = 128
Q_DYNAMIC = 255  # §3.1.8: tables may change every frame, so never cached

# Width and height are one byte each in 8-pixel units (§3.1.5, §3.1.6).
SIZE_UNIT = 8
MAX_WIRE_SIZE = MAX_BYTE * SIZE_UNIT  # 2040; beyond it the field is 0 and SDP says the size

QTABLE_SIZE = 64  # 8-bit precision: one byte per coefficient, zigzag order
QTABLE_COUNT = 2  # types 0 and 1: table 0 for Y, table 1 for Cb and Cr (§4.1)


@dataclass(frozen=True)
class JpegPayloadHeader:
    """The RFC 2435 headers at the front of one RTP payload, in wire units.

    `width` and `height` are the wire bytes (8-pixel units, 0 when over 2040). The restart
    fields are on the wire only for types 64..127; `qtables` (all tables concatenated, b""
    for Length 0) only when Q >= 128 and offset is 0, and is None otherwise.
    """

    offset: int
    type: int
    q: int
    width: int
    height: int
    type_specific: int = 0
    restart_interval: int = 0
    restart_first: bool = True
    restart_last: bool = True
    restart_count: int = RESTART_COUNT_ANY
    precision: int = 0
    qtables: bytes | None = None

    @property
    def has_restart_header(self) -> bool:
        return TYPE_RESTART <= self.type < FIRST_DYNAMIC_TYPE

    @property
    def has_qtable_header(self) -> bool:
        return self.q >= Q_TABLES_INLINE and self.offset == 0

    def encode(self) -> bytes:
        """The header bytes. Raises ValueError naming a field out of range or inconsistent."""
        for name, value, maximum in (
            ("type_specific", self.type_specific, MAX_BYTE),
            ("offset", self.offset, MAX_OFFSET),
            ("type", self.type, FIRST_DYNAMIC_TYPE - 1),
            ("q", self.q, MAX_BYTE),
            ("width", self.width, MAX_BYTE),
            ("height", self.height, MAX_BYTE),
            ("restart_interval", self.restart_interval, MAX_RESTART_INTERVAL),
            ("restart_count", self.restart_count, RESTART_COUNT_MASK),
            ("precision", self.precision, MAX_BYTE),
        ):
            if not isinstance(value, int) or not 0 <= value <= maximum:
                raise ValueError(f"{name} must be an integer in 0..{maximum}, got {value!r}")
        if self.has_qtable_header != (self.qtables is not None):
            raise ValueError(
                "qtables must be given exactly when Q >= 128 and offset is 0 "
                f"(Q={self.q}, offset={self.offset})"
            )
        parts = [
            _MAIN_HEADER.pack(
                self.type_specific << TYPE_SPECIFIC_SHIFT | self.offset,
                self.type,
                self.q,
                self.width,
                self.height,
            )
        ]
        if self.has_restart_header:
            flags = (RESTART_FIRST_BIT if self.restart_first else 0) | (
                RESTART_LAST_BIT if self.restart_last else 0
            )
            parts.append(_RESTART_HEADER.pack(self.restart_interval, flags | self.restart_count))
        if self.qtables is not None:
            if len(self.qtables) > MAX_QTABLE_LENGTH:
                raise ValueError(f"qtables of {len(self.qtables)} bytes exceed the 16-bit length")
            if self.q == Q_DYNAMIC and not self.qtables:
                raise ValueError("Q=255 needs the tables in every frame (RFC 2435 §3.1.8)")
            parts.append(_QTABLE_HEADER.pack(0, self.precision, len(self.qtables)))
            parts.append(self.qtables)
        return b"".join(parts)

    @classmethod
    def decode(cls, payload: Buffer) -> tuple[JpegPayloadHeader, bytes]:
        """Split a payload into its headers and its scan data. Raises RtpJpegError."""
        payload = bytes(payload)
        size = len(payload)
        if size < MAIN_HEADER_SIZE:
            raise RtpJpegError(
                f"payload of {size} bytes is shorter than the {MAIN_HEADER_SIZE}-byte "
                "main JPEG header"
            )
        first, jpeg_type, q, width, height = _MAIN_HEADER.unpack_from(payload)
        offset = first & MAX_OFFSET
        if jpeg_type >= FIRST_DYNAMIC_TYPE:
            raise RtpJpegError(
                f"type {jpeg_type} is dynamic (128..255), defined out of band: not supported"
            )
        fields = dict(
            offset=offset,
            type=jpeg_type,
            q=q,
            width=width,
            height=height,
            type_specific=first >> TYPE_SPECIFIC_SHIFT,
        )
        pos = MAIN_HEADER_SIZE
        if jpeg_type >= TYPE_RESTART:
            if size < pos + RESTART_HEADER_SIZE:
                raise RtpJpegError(
                    f"type {jpeg_type} needs the restart marker header: payload of {size} "
                    f"bytes ends before byte {pos + RESTART_HEADER_SIZE}"
                )
            interval, flags_count = _RESTART_HEADER.unpack_from(payload, pos)
            fields.update(
                restart_interval=interval,
                restart_first=bool(flags_count & RESTART_FIRST_BIT),
                restart_last=bool(flags_count & RESTART_LAST_BIT),
                restart_count=flags_count & RESTART_COUNT_MASK,
            )
            pos += RESTART_HEADER_SIZE
        if q >= Q_TABLES_INLINE and offset == 0:
            if size < pos + QTABLE_HEADER_SIZE:
                raise RtpJpegError(
                    f"Q={q} first packet needs the quantization table header: payload of "
                    f"{size} bytes ends before byte {pos + QTABLE_HEADER_SIZE}"
                )
            _mbz, precision, length = _QTABLE_HEADER.unpack_from(payload, pos)
            pos += QTABLE_HEADER_SIZE
            if size < pos + length:
                raise RtpJpegError(
                    f"quantization table length {length} runs past the payload end "
                    f"({size - pos} bytes left)"
                )
            if q == Q_DYNAMIC and length == 0:
                raise RtpJpegError("Q=255 first packet without tables (RFC 2435 §3.1.8)")
            fields.update(precision=precision, qtables=payload[pos : pos + length])
            pos += length
        return cls(**fields), payload[pos:]

    def __repr__(self) -> str:
        extra = ""
        if self.has_restart_header:
            extra += f", dri={self.restart_interval} count=0x{self.restart_count:04X}"
        if self.qtables is not None:
            extra += f", qtables={len(self.qtables)} bytes"
        return (
            f"JpegPayloadHeader(offset={self.offset}, type={self.type}, q={self.q}, "
            f"{self.width * SIZE_UNIT}x{self.height * SIZE_UNIT}{extra})"
        )
