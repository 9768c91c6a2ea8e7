"""RTP payload format for JPEG (RFC 2435): what ffplay, VLC and GStreamer expect on the wire.

The lab's own payload (`Fragmentation`) carries the JPEG file itself. RFC 2435 does not: the
sender strips the JPEG headers, keeps only the entropy-coded scan, and describes the picture
in a few header fields; the receiver rebuilds standard headers from those fields (Appendix
B, `make_headers`) and glues the scan back on. That is why the format only carries what
those fields can describe: baseline (SOF0), YCbCr with Y sampled 2x1 or 2x2 and chroma 1x1,
8-bit quantization tables, and the standard Huffman tables of T.81 Annex K.3.

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
tables: both ends compute them from Q (Appendix A, `make_tables`).

Sending: `parse_jpeg` -> `packetize` (or `jpeg_to_payloads`). Receiving: `JpegDepacketizer`,
fed one RTP packet at a time like `Fragmentation.FrameAssembler`; it never raises on what
the network brings, it counts.
"""

from __future__ import annotations

import bisect
import logging
import re
import struct
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

from rtsplab.payload.jpeg import (
    DAC,
    DHT,
    DQT,
    DRI,
    EOI,
    JPG,
    MARKER_PREFIX,
    RST0,
    RST7,
    SOF0,
    SOF2,
    SOF15,
    SOS,
    TEM,
    Buffer,
    JpegError,
    frame_end,
    marker_name,
)

__all__ = [
    "JpegDepacketizer",
    "DepacketizerStats",
    "JpegFrame",
    "JpegPayloadHeader",
    "RtpJpegError",
    "UnsupportedJpeg",
    "jpeg_to_payloads",
    "make_headers",
    "make_tables",
    "packetize",
    "parse_jpeg",
]

log = logging.getLogger(__name__)

# --- Wire format (RFC 2435 §3.1) -------------------------------------------------------------

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
_SAMPLING_OF_TYPE = {TYPE_422: 0x21, TYPE_420: 0x22}  # Y's H<<4|V in SOF
_TYPE_OF_SAMPLING = {v: k for k, v in _SAMPLING_OF_TYPE.items()}
CHROMA_SAMPLING = 0x11

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

# --- Receiver bounds -------------------------------------------------------------------------

# The 24-bit fragment offset cannot address more than 16 MiB, so no RFC 2435 frame is larger;
# bounding a frame there rejects no valid stream and caps what a broken sender can make us hold.
MAX_FRAME_BYTES = 1 << OFFSET_BITS
# A 3 MB 4K frame in 1400-byte packets is ~2200 packets; 16384 lets 16 MiB through in 1 KiB
# packets and bounds the per-packet bookkeeping a sender of tiny packets could cause.
MAX_FRAME_PACKETS = 16384
# The frame being received and the one before it (whose last packet may be reordered after
# the first packet of the next): a third timestamp drops the oldest.
MAX_OPEN_FRAMES = 2
# Timestamps of frames delivered or dropped, remembered so that a straggler of one of them is
# late rather than the start of a frame that can never complete. Video timestamps do not
# repeat, and a few frames cover any reordering a sender's burst sees.
FINISHED_TIMESTAMPS = 8

# --- JPEG tables (ITU-T T.81 Annex K) ---------------------------------------------------------

# Table K.1 and K.2, in natural (row-major) order, scaled by Q in Appendix A.
_LUMA_QUANTIZER = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
_CHROMA_QUANTIZER = (
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    *(99,) * 32,
)  # fmt: skip

# ZIGZAG[i] is the natural index of the i-th coefficient in zigzag order (T.81 Figure A.6):
# anti-diagonals r+c = 0, 1, 2, ..., walked downwards (row rising) on odd ones and upwards on
# even ones. DQT segments and RFC 2435 both list tables in this order.
ZIGZAG = tuple(
    sorted(range(64), key=lambda n: (n // 8 + n % 8, n // 8 if (n // 8 + n % 8) % 2 else -(n // 8)))
)

# Huffman tables of T.81 K.3 (Tables K.3 to K.6), as a DHT segment lists them: 16 counts of
# codes per length 1..16, then the symbols. Pillow (libjpeg) writes exactly these unless asked
# to optimize; RFC 2435 receivers always rebuild with them.
_DC_SYMBOLS = bytes(range(12))
STD_DC_LUMA = bytes((0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)) + _DC_SYMBOLS
STD_DC_CHROMA = bytes((0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0)) + _DC_SYMBOLS
STD_AC_LUMA = bytes((0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D)) + bytes.fromhex(
    "01020300041105122131410613516107"
    "227114328191a1082342b1c11552d1f0"
    "2433627282090a161718191a25262728"
    "292a3435363738393a43444546474849"
    "4a535455565758595a63646566676869"
    "6a737475767778797a83848586878889"
    "8a92939495969798999aa2a3a4a5a6a7"
    "a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5"
    "c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2"
    "e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8"
    "f9fa"
)
STD_AC_CHROMA = bytes((0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77)) + bytes.fromhex(
    "00010203110405213106124151076171"
    "1322328108144291a1b1c109233352f0"
    "156272d10a162434e125f11718191a26"
    "2728292a35363738393a434445464748"
    "494a535455565758595a636465666768"
    "696a737475767778797a828384858687"
    "88898a92939495969798999aa2a3a4a5"
    "a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3"
    "c4c5c6c7c8c9cad2d3d4d5d6d7d8d9da"
    "e2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8"
    "f9fa"
)
DC_CLASS, AC_CLASS = 0, 1
LUMA_TABLE, CHROMA_TABLE = 0, 1
# (class, id) -> table, as make_headers writes them and the SOS it writes selects them.
STD_HUFFMAN = {
    (DC_CLASS, LUMA_TABLE): STD_DC_LUMA,
    (AC_CLASS, LUMA_TABLE): STD_AC_LUMA,
    (DC_CLASS, CHROMA_TABLE): STD_DC_CHROMA,
    (AC_CLASS, CHROMA_TABLE): STD_AC_CHROMA,
}
HUFFMAN_COUNTS_SIZE = 16

# --- JPEG segments ---------------------------------------------------------------------------

_SOF_MARKERS = frozenset(range(SOF0, SOF15 + 1)) - {DHT, JPG, DAC}
_SOF_KINDS = {
    0xC1: "extended sequential",
    SOF2: "progressive",
    0xC3: "lossless",
    0xC9: "arithmetic-coded",
    0xCA: "arithmetic-coded progressive",
    0xCB: "arithmetic-coded lossless",
}
_STANDALONE = frozenset({TEM, *range(RST0, RST7 + 1)})
# Inside entropy-coded data 0xFF is followed by 0x00 (stuffing) or RST0..RST7; the first 0xFF
# followed by anything else is the next marker (the rule Jpeg.frame_end walks by, T.81 F.1.2.3).
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")

BASELINE_PRECISION = 8
COMPONENTS = 3  # Y, Cb, Cr
JFIF_COMPONENT_IDS = (1, 2, 3)  # T.871: with a JFIF APP0, decoders read these as Y, Cb, Cr
EOI_BYTES = bytes((MARKER_PREFIX, EOI))


def _segment(code: int, body: bytes) -> bytes:
    """A marker segment: FF code, a 2-byte length counting itself, the body."""
    return bytes((MARKER_PREFIX, code)) + struct.pack("!H", len(body) + 2) + body


# JFIF 1.01, no units, 1:1 pixel aspect, no thumbnail: says "YCbCr" so no decoder guesses.
_JFIF_APP0 = _segment(0xE0, b"JFIF\x00" + bytes((1, 1, 0, 0, 1, 0, 1, 0, 0)))
_DHT_SEGMENT = _segment(
    DHT, b"".join(bytes((tc << 4 | th,)) + table for (tc, th), table in STD_HUFFMAN.items())
)
# One interleaved scan: Y with DC/AC tables 0/0, Cb and Cr with 1/1; Ss=0, Se=63, Ah=Al=0.
_SOS_SEGMENT = _segment(
    SOS,
    bytes(
        (COMPONENTS, JFIF_COMPONENT_IDS[0], LUMA_TABLE << 4 | LUMA_TABLE)
        + (JFIF_COMPONENT_IDS[1], CHROMA_TABLE << 4 | CHROMA_TABLE)
        + (JFIF_COMPONENT_IDS[2], CHROMA_TABLE << 4 | CHROMA_TABLE)
        + (0, 63, 0)
    ),
)


class UnsupportedJpeg(ValueError):
    """A JPEG that RFC 2435 cannot carry (the message says why)."""


class RtpJpegError(ValueError):
    """An RTP/JPEG payload that is malformed or that this receiver cannot use."""


# --- Sending side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class JpegFrame:
    """What RFC 2435 carries of one JPEG: header fields, two tables and the scan."""

    width: int
    height: int
    type: int  # 0 (Y 2x1) or 1 (Y 2x2), +64 with restart markers
    restart_interval: int  # MCUs per restart interval; 0 when there is none
    qtables: tuple[bytes, bytes]  # Y's and chroma's, 64 bytes each in DQT (zigzag) order
    scan: bytes = field(repr=False)  # entropy-coded data after the SOS header, EOI excluded

    def __repr__(self) -> str:
        return (
            f"JpegFrame({self.width}x{self.height}, type={self.type}, "
            f"restart_interval={self.restart_interval}, scan={len(self.scan)} bytes)"
        )


def _segments(data: Buffer, end: int):
    """(code, body start, segment end) of each marker segment from after SOI up to SOS.

    `data[:end]` must already be a well-formed JPEG (`Jpeg.frame_end` checked it), so the
    walk needs no bounds checks of its own.
    """
    pos = 2  # after SOI
    while pos < end:
        while data[pos + 1] == MARKER_PREFIX:  # fill bytes before the code (B.1.1.2)
            pos += 1
        code = data[pos + 1]
        pos += 2
        if code in _STANDALONE:
            continue
        if code == EOI:
            yield code, pos, pos
            return
        length = (data[pos] << 8) | data[pos + 1]
        yield code, pos + 2, pos + length
        pos += length


def _parse_dqt(body: bytes, tables: dict[int, bytes]) -> None:
    i = 0
    while i < len(body):
        precision, table_id = body[i] >> 4, body[i] & 0x0F
        if precision != 0:
            raise UnsupportedJpeg(
                f"quantization table {table_id} has 16-bit precision; "
                "RFC 2435 carries 8-bit tables only"
            )
        if i + 1 + QTABLE_SIZE > len(body):
            raise JpegError(f"corrupt JPEG: DQT table {table_id} runs past its segment")
        tables[table_id] = body[i + 1 : i + 1 + QTABLE_SIZE]
        i += 1 + QTABLE_SIZE


def _parse_dht(body: bytes, tables: dict[tuple[int, int], bytes]) -> None:
    i = 0
    while i < len(body):
        table_class, table_id = body[i] >> 4, body[i] & 0x0F
        counts_end = i + 1 + HUFFMAN_COUNTS_SIZE
        if counts_end > len(body):
            raise JpegError("corrupt JPEG: DHT code counts run past their segment")
        table_end = counts_end + sum(body[i + 1 : counts_end])
        if table_end > len(body):
            raise JpegError("corrupt JPEG: DHT symbols run past their segment")
        tables[(table_class, table_id)] = body[i + 1 : table_end]
        i = table_end


def parse_jpeg(data: Buffer) -> JpegFrame:
    """Take a JPEG apart for sending as RFC 2435.

    Raises UnsupportedJpeg, naming the reason, for what the format cannot carry, and
    Jpeg.JpegError (also a ValueError) for data that is not a whole, well-formed JPEG.
    Bytes after EOI are ignored.
    """
    end = frame_end(data)
    qtables: dict[int, bytes] = {}
    huffman: dict[tuple[int, int], bytes] = {}
    restart_interval = 0
    components: list[tuple[int, int, int]] | None = None  # (id, H<<4|V, quant table)
    width = height = 0
    for code, start, seg_end in _segments(data, end):
        body = bytes(data[start:seg_end])
        if code == EOI:
            raise JpegError("corrupt JPEG: EOI before any scan")
        if code == DQT:
            _parse_dqt(body, qtables)
        elif code == DHT:
            _parse_dht(body, huffman)
        elif code == DRI:
            if len(body) != 2:
                raise JpegError(f"corrupt JPEG: DRI segment of {len(body)} bytes, expected 2")
            restart_interval = (body[0] << 8) | body[1]
        elif code in _SOF_MARKERS:
            if code != SOF0:
                kind = _SOF_KINDS.get(code, "non-baseline")
                raise UnsupportedJpeg(
                    f"{marker_name(code)} ({kind}) JPEG; RFC 2435 carries baseline (SOF0) only"
                )
            width, height, components = _parse_sof(body)
        elif code == SOS:
            if components is None:
                raise JpegError("corrupt JPEG: SOS before SOF")
            _check_scan_header(body, components, huffman)
            scan_end = _NEXT_MARKER.search(data, seg_end)
            # frame_end found EOI after this scan, so a marker is always found.
            scan = bytes(data[seg_end : scan_end.start()])
            _check_only_scan(data, scan_end.start())
            return _frame(width, height, restart_interval, components, qtables, scan)
    raise JpegError("corrupt JPEG: no scan")  # pragma: no cover - frame_end saw EOI


def _parse_sof(body: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    if len(body) < 6:
        raise JpegError(f"corrupt JPEG: SOF0 segment of {len(body)} bytes")
    precision, height, width, count = struct.unpack_from("!BHHB", body)
    if precision != BASELINE_PRECISION:
        raise UnsupportedJpeg(f"{precision}-bit samples; RFC 2435 carries 8-bit baseline only")
    if count != COMPONENTS:
        raise UnsupportedJpeg(
            f"{count} component(s); RFC 2435 carries 3 (YCbCr), not grayscale or CMYK"
        )
    if len(body) != 6 + 3 * count:
        raise JpegError(f"corrupt JPEG: SOF0 segment of {len(body)} bytes for {count} components")
    components = [tuple(body[6 + 3 * i : 9 + 3 * i]) for i in range(count)]
    if height == 0 or width == 0:
        raise UnsupportedJpeg(f"size {width}x{height}: a size set later by DNL is not carried")
    return width, height, components


def _check_scan_header(
    body: bytes, components: list[tuple[int, int, int]], huffman: dict[tuple[int, int], bytes]
) -> None:
    count = body[0] if body else 0
    if count != COMPONENTS or len(body) != 4 + 2 * count:
        raise UnsupportedJpeg(
            f"first scan holds {count} component(s); RFC 2435 carries one interleaved scan "
            "of Y, Cb and Cr"
        )
    selectors = [body[1 + 2 * i] for i in range(count)]
    if selectors != [c[0] for c in components]:
        raise UnsupportedJpeg("the scan does not hold Y, Cb, Cr in frame order")
    ss, se, approx = body[-3:]
    if (ss, se, approx) != (0, 63, 0):
        raise UnsupportedJpeg(f"scan Ss={ss} Se={se} Ah/Al=0x{approx:02X} is not sequential")
    for i in range(count):
        dc_id, ac_id = body[2 + 2 * i] >> 4, body[2 + 2 * i] & 0x0F
        role = LUMA_TABLE if i == 0 else CHROMA_TABLE
        for table_class, table_id in ((DC_CLASS, dc_id), (AC_CLASS, ac_id)):
            # A missing table is the standard one: Motion-JPEG (AVI1) frames leave DHT out.
            table = huffman.get((table_class, table_id), STD_HUFFMAN[(table_class, role)])
            if table != STD_HUFFMAN[(table_class, role)]:
                raise UnsupportedJpeg(
                    f"{'DC' if table_class == DC_CLASS else 'AC'} Huffman table {table_id} "
                    f"of component {i} is not the standard one (T.81 K.3); RFC 2435 receivers "
                    "rebuild the standard tables (re-encode without optimized Huffman tables)"
                )


def _check_only_scan(data: Buffer, pos: int) -> None:
    while data[pos + 1] == MARKER_PREFIX:
        pos += 1
    code = data[pos + 1]
    if code != EOI:
        raise UnsupportedJpeg(
            f"{marker_name(code)} after the first scan; RFC 2435 carries exactly one scan"
        )


def _frame(
    width: int,
    height: int,
    restart_interval: int,
    components: list[tuple[int, int, int]],
    qtables: dict[int, bytes],
    scan: bytes,
) -> JpegFrame:
    (_, y_sampling, y_table), (_, cb_sampling, cb_table), (_, cr_sampling, cr_table) = components
    jpeg_type = _TYPE_OF_SAMPLING.get(y_sampling)
    if jpeg_type is None or cb_sampling != CHROMA_SAMPLING or cr_sampling != CHROMA_SAMPLING:
        raise UnsupportedJpeg(
            f"sampling Y {y_sampling >> 4}x{y_sampling & 15}, "
            f"Cb {cb_sampling >> 4}x{cb_sampling & 15}, Cr {cr_sampling >> 4}x{cr_sampling & 15}; "
            "RFC 2435 carries Y 2x1 (type 0) or 2x2 (type 1) with chroma 1x1"
        )
    if cb_table != cr_table:
        raise UnsupportedJpeg(
            f"Cb and Cr use different quantization tables ({cb_table} and {cr_table}), "
            "3 in all; RFC 2435 carries 2: one for Y, one for both chroma components"
        )
    for table_id in (y_table, cb_table):
        if table_id not in qtables:
            raise JpegError(f"corrupt JPEG: quantization table {table_id} is used, not defined")
    for name, size in (("width", width), ("height", height)):
        if size > MAX_WIRE_SIZE and size % SIZE_UNIT:
            raise UnsupportedJpeg(
                f"{name} {size} is over {MAX_WIRE_SIZE} and not a multiple of {SIZE_UNIT}: "
                "the payload says 0 and only a=x-dimensions gives the size, so sizes over "
                f"{MAX_WIRE_SIZE} are sent in whole 8-pixel blocks only"
            )
    if not scan:
        raise JpegError("corrupt JPEG: empty scan")
    if len(scan) > MAX_OFFSET + 1:
        raise UnsupportedJpeg(
            f"scan of {len(scan)} bytes; the 24-bit fragment offset reaches {MAX_OFFSET + 1}"
        )
    return JpegFrame(
        width=width,
        height=height,
        type=jpeg_type + (TYPE_RESTART if restart_interval else 0),
        restart_interval=restart_interval,
        qtables=(qtables[y_table], qtables[cb_table]),
        scan=scan,
    )


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


def _wire_size(pixels: int) -> int:
    """The 8-pixel-unit byte for a width or height: rounded up, 0 when over 2040 (§3.1.5)."""
    return 0 if pixels > MAX_WIRE_SIZE else -(-pixels // SIZE_UNIT)


def packetize(frame: JpegFrame, max_payload: int, q: int = Q_DYNAMIC) -> list[bytes]:
    """RTP payloads of one frame, each at most `max_payload` bytes, in sequence order.

    Q >= 128 sends the frame's tables in the first payload; Q in 1..99 sends none, so it is
    only allowed when the frame's tables are exactly `make_tables(q)` (otherwise the receiver
    would decode with the wrong tables). Sizes up to 2040 that are not a multiple of 8 are
    rounded up: the receiver's picture gains up to 7 columns/rows of the encoder's padding.
    Raises ValueError for a bad Q, a frame whose tables do not match Q, or a max_payload too
    small for the headers plus one byte of data.
    """
    if not (MIN_Q_SCALED <= q <= MAX_Q_SCALED or Q_TABLES_INLINE <= q <= Q_DYNAMIC):
        raise ValueError(f"Q must be 1..99 or 128..255 (100..127 are reserved), got {q}")
    if q <= MAX_Q_SCALED and frame.qtables != make_tables(q):
        raise ValueError(f"the frame's quantization tables are not those of Q={q}")
    if len(frame.scan) > MAX_OFFSET + 1:
        raise ValueError(f"scan of {len(frame.scan)} bytes is past the 24-bit fragment offset")
    tables = b"".join(frame.qtables) if q >= Q_TABLES_INLINE else None
    scan = memoryview(frame.scan)
    payloads = []
    offset = 0
    while True:
        header = JpegPayloadHeader(
            offset=offset,
            type=frame.type,
            q=q,
            width=_wire_size(frame.width),
            height=_wire_size(frame.height),
            restart_interval=frame.restart_interval,
            qtables=tables if offset == 0 else None,
        ).encode()
        room = max_payload - len(header)
        if room < 1:
            raise ValueError(
                f"max_payload {max_payload} leaves no room for data after {len(header)} "
                "bytes of headers"
            )
        chunk = scan[offset : offset + room]
        payloads.append(header + chunk)
        offset += len(chunk)
        if offset >= len(scan):
            return payloads


def jpeg_to_payloads(jpeg: Buffer, max_payload: int) -> list[bytes]:
    """`packetize(parse_jpeg(jpeg), max_payload)` with Q=255: tables in every frame."""
    return packetize(parse_jpeg(jpeg), max_payload)


# --- Receiving side --------------------------------------------------------------------------


@lru_cache(maxsize=MAX_Q_SCALED)
def make_tables(q: int) -> tuple[bytes, bytes]:
    """The luma and chroma tables for Q in 1..99 (RFC 2435 Appendix A), in zigzag order.

    This is libjpeg's quality scaling (jcparam.c) with baseline clamping: Pillow's
    `quality=q` writes these same tables.
    """
    if not MIN_Q_SCALED <= q <= MAX_Q_SCALED:
        raise ValueError(f"Q must be in {MIN_Q_SCALED}..{MAX_Q_SCALED}, got {q}")
    scale = 5000 // q if q < 50 else 200 - 2 * q  # percent

    def scaled(base: Sequence[int]) -> bytes:
        return bytes(min(max((base[n] * scale + 50) // 100, 1), MAX_BYTE) for n in ZIGZAG)

    return scaled(_LUMA_QUANTIZER), scaled(_CHROMA_QUANTIZER)


def make_headers(
    type: int, width: int, height: int, qtables: Sequence[bytes], restart_interval: int = 0
) -> bytes:
    """JPEG headers for an RFC 2435 scan (Appendix B, MakeHeaders): SOI up to SOS included.

    `type` is 0, 1, 64 or 65; `width`/`height` in pixels; `qtables` Y's and chroma's tables
    (64 bytes each, zigzag order), or one table used for all three components. Adds a JFIF
    APP0 and numbers components 1, 2, 3 so every decoder reads them as YCbCr. Raises
    ValueError for arguments outside those.
    """
    base_type = type % TYPE_RESTART
    if type not in (TYPE_422, TYPE_420, TYPE_422 + TYPE_RESTART, TYPE_420 + TYPE_RESTART):
        raise ValueError(f"type must be 0, 1, 64 or 65, got {type}")
    if not (0 < width <= 0xFFFF and 0 < height <= 0xFFFF):
        raise ValueError(f"size must be 1..65535 in each direction, got {width}x{height}")
    if not 0 <= restart_interval <= MAX_RESTART_INTERVAL:
        raise ValueError(f"restart_interval must be 0..65535, got {restart_interval}")
    if len(qtables) not in (1, QTABLE_COUNT) or any(len(t) != QTABLE_SIZE for t in qtables):
        raise ValueError(f"qtables must be 1 or 2 tables of {QTABLE_SIZE} bytes")
    chroma_table = len(qtables) - 1
    dqt = b"".join(bytes((table_id,)) + bytes(t) for table_id, t in enumerate(qtables))
    y, cb, cr = JFIF_COMPONENT_IDS
    sof = struct.pack("!BHHB", BASELINE_PRECISION, height, width, COMPONENTS) + bytes(
        (y, _SAMPLING_OF_TYPE[base_type], 0)
        + (cb, CHROMA_SAMPLING, chroma_table)
        + (cr, CHROMA_SAMPLING, chroma_table)
    )
    parts = [bytes((MARKER_PREFIX, 0xD8)), _JFIF_APP0, _segment(DQT, dqt)]
    if restart_interval:
        parts.append(_segment(DRI, struct.pack("!H", restart_interval)))
    parts += [_segment(SOF0, sof), _DHT_SEGMENT, _SOS_SEGMENT]
    return b"".join(parts)


@dataclass
class DepacketizerStats:
    frames: int = 0  # whole JPEGs delivered
    dropped_frames: int = 0  # frames given up: a gap, a lost first/last packet, a bad sequence
    malformed: int = 0  # payloads skipped: bad headers, overlaps, missing tables, ...
    duplicates: int = 0  # the same fragment again
    late_packets: int = 0  # packets of a frame already delivered or dropped


class _Frame:
    """The fragments of one timestamp received so far."""

    __slots__ = (
        "key",
        "width",
        "height",
        "offsets",
        "parts",
        "size",
        "extent",
        "end",
        "qtables",
        "min_seq",
        "max_seq",
    )

    def __init__(self, key: tuple[int, int, int, int, int], width: int, height: int) -> None:
        self.key = key  # (type, Q, width, height, restart interval): equal in every packet
        self.width = width
        self.height = height
        self.offsets: list[int] = []  # sorted
        self.parts: dict[int, tuple[int, bytes]] = {}  # offset -> (ext_seq, data)
        self.size = 0  # data bytes held
        self.extent = 0  # highest offset + length held
        self.end: int | None = None  # frame size, known from the marker packet
        self.qtables: tuple[bytes, ...] | None = None  # known from the offset-0 packet
        self.min_seq: int | None = None
        self.max_seq: int | None = None


class JpegDepacketizer:
    """Rebuilds whole JPEGs from RFC 2435 payloads given one RTP packet at a time.

    `push` takes the extended sequence number (see `RtpReceiver.SeqUnwrapper`). A frame is
    delivered when its fragments cover offsets 0 up to the end the marker packet sets, with
    no gap or overlap, in consecutive sequence numbers. Packets of a frame may arrive in any
    order, and the next frame may start before the last packet of this one; a frame that
    cannot complete is dropped when a later one completes, when a third timestamp starts,
    or at `flush`. Tables sent with Q in 128..254 are remembered per Q, so a frame may carry
    Length 0 (RFC 2435 §4.2); Q=255 tables never are. Nothing here raises on input: bad
    payloads are counted in `stats` and skipped.

    `x_dimensions` is the SDP's a=x-dimensions (width, height), used when the payload's
    width or height is 0 (over 2040 pixels); it may be set after construction.
    """

    def __init__(
        self,
        x_dimensions: tuple[int, int] | None = None,
        *,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        max_frame_packets: int = MAX_FRAME_PACKETS,
    ) -> None:
        self.x_dimensions = x_dimensions
        self.max_frame_bytes = max_frame_bytes
        self.max_frame_packets = max_frame_packets
        self.stats = DepacketizerStats()
        self._frames: dict[int, _Frame] = {}  # by RTP timestamp, oldest first
        self._cached_tables: dict[int, tuple[bytes, ...]] = {}  # Q 128..254 -> tables
        # Highest sequence number of a frame delivered or dropped: at or below is the past.
        self._floor: int | None = None
        self._finished: deque[int] = deque(maxlen=FINISHED_TIMESTAMPS)

    @property
    def buffered_bytes(self) -> int:
        return sum(frame.size for frame in self._frames.values())

    def push(self, ext_seq: int, timestamp: int, marker: bool, payload: bytes) -> bytes | None:
        """Add one packet; return the whole JPEG it completes, if any."""
        if (self._floor is not None and ext_seq <= self._floor) or timestamp in self._finished:
            self.stats.late_packets += 1
            return None
        try:
            header, data = JpegPayloadHeader.decode(payload)
            width, height = self._check(header, data)
            return self._add(ext_seq, timestamp, bool(marker), header, data, width, height)
        except RtpJpegError as exc:
            self.stats.malformed += 1
            level = logging.WARNING if self.stats.malformed == 1 else logging.DEBUG
            log.log(level, "skipping RTP/JPEG packet seq %d ts %d: %s", ext_seq, timestamp, exc)
            return None

    def flush(self) -> None:
        """The stream has ended: the frames still open are incomplete."""
        for timestamp in list(self._frames):
            self._drop(timestamp, "the stream ended")

    def _check(self, header: JpegPayloadHeader, data: bytes) -> tuple[int, int]:
        """Validate what the header says against what this receiver can rebuild."""
        if header.type % TYPE_RESTART not in _SAMPLING_OF_TYPE:
            raise RtpJpegError(
                f"type {header.type} is not defined by RFC 2435 (0 and 1, +64 with restart markers)"
            )
        if header.q == 0 or MAX_Q_SCALED < header.q < Q_TABLES_INLINE:
            raise RtpJpegError(f"Q={header.q} is reserved")
        if header.qtables:
            if header.precision:
                raise RtpJpegError(
                    f"16-bit quantization tables (precision 0x{header.precision:02X}) are "
                    "not supported"
                )
            if len(header.qtables) not in (QTABLE_SIZE, QTABLE_COUNT * QTABLE_SIZE):
                raise RtpJpegError(
                    f"quantization table length {len(header.qtables)}: expected "
                    f"{QTABLE_COUNT} tables of {QTABLE_SIZE} bytes"
                )
        if not data:
            raise RtpJpegError("no JPEG data after the headers")
        x_width, x_height = self.x_dimensions or (0, 0)
        width = header.width * SIZE_UNIT or x_width
        height = header.height * SIZE_UNIT or x_height
        if not (width and height):
            raise RtpJpegError(
                f"size {header.width * SIZE_UNIT}x{header.height * SIZE_UNIT}: 0 means over "
                f"{MAX_WIRE_SIZE} and no a=x-dimensions is known"
            )
        return width, height

    def _tables(self, header: JpegPayloadHeader) -> tuple[bytes, ...]:
        if header.q <= MAX_Q_SCALED:
            return make_tables(header.q)
        if header.qtables:
            tables = tuple(
                header.qtables[i : i + QTABLE_SIZE]
                for i in range(0, len(header.qtables), QTABLE_SIZE)
            )
            if header.q != Q_DYNAMIC:  # §4.2: only a static Q's tables may be reused
                self._cached_tables[header.q] = tables
            return tables
        cached = self._cached_tables.get(header.q)
        if cached is None:
            raise RtpJpegError(f"Q={header.q} frame without tables, and none received before")
        return cached

    def _add(
        self,
        ext_seq: int,
        timestamp: int,
        marker: bool,
        header: JpegPayloadHeader,
        data: bytes,
        width: int,
        height: int,
    ) -> bytes | None:
        key = (header.type, header.q, header.width, header.height, header.restart_interval)
        start, end = header.offset, header.offset + len(data)
        if end > self.max_frame_bytes:
            raise RtpJpegError(f"data up to byte {end} is past the {self.max_frame_bytes} bound")
        frame = self._frames.get(timestamp)
        if frame is not None:
            if frame.key != key:
                raise RtpJpegError(
                    f"type/Q/size/restart interval {key} differ from {frame.key} in the same frame"
                )
            if frame.end is not None and end > frame.end:
                raise RtpJpegError(
                    f"data {start}..{end} is past the frame end {frame.end} set by its marker"
                )
            # A second marker packet always fails this check, the one above or an overlap.
            if marker and frame.extent > end:
                raise RtpJpegError(
                    f"marker packet ends the frame at {end}, but data up to {frame.extent} is held"
                )
            index = bisect.bisect_left(frame.offsets, start)
            if index < len(frame.offsets) and frame.offsets[index] == start:
                if frame.parts[start][1] == data:
                    self.stats.duplicates += 1
                    return None
                raise RtpJpegError(f"data at offset {start} differs from the data held there")
            if index > 0:
                before = frame.offsets[index - 1]
                if before + len(frame.parts[before][1]) > start:
                    raise RtpJpegError(f"data {start}..{end} overlaps data from offset {before}")
            if index < len(frame.offsets) and end > frame.offsets[index]:
                raise RtpJpegError(
                    f"data {start}..{end} overlaps data from offset {frame.offsets[index]}"
                )
            if len(frame.offsets) >= self.max_frame_packets:
                raise RtpJpegError(f"more than {self.max_frame_packets} packets in one frame")
        tables = self._tables(header) if start == 0 else None
        if frame is None:
            if len(self._frames) >= MAX_OPEN_FRAMES:
                self._drop(next(iter(self._frames)), "a third frame started")
            frame = self._frames[timestamp] = _Frame(key, width, height)
            index = 0
        if tables is not None:
            frame.qtables = tables
        frame.offsets.insert(index, start)
        frame.parts[start] = (ext_seq, data)
        frame.size += len(data)
        frame.extent = max(frame.extent, end)
        frame.min_seq = ext_seq if frame.min_seq is None else min(frame.min_seq, ext_seq)
        frame.max_seq = ext_seq if frame.max_seq is None else max(frame.max_seq, ext_seq)
        if marker:
            frame.end = end
        # No overlaps are held, so as many bytes as the frame's size means no gap either.
        if frame.end is not None and frame.size == frame.end:
            return self._complete(timestamp, frame)
        return None

    def _complete(self, timestamp: int, frame: _Frame) -> bytes | None:
        del self._frames[timestamp]
        self._finish(timestamp, frame)
        seqs = [frame.parts[offset][0] for offset in frame.offsets]
        if any(b != a + 1 for a, b in pairwise(seqs)):
            self._count_drop(timestamp, "sequence numbers are not consecutive in offset order")
            return None
        # Frames that started before this one can no longer complete in order.
        for other_ts, other in list(self._frames.items()):
            if other.max_seq < frame.min_seq:
                self._drop(other_ts, "a later frame completed first")
        jpeg_type, _q, _w, _h, restart_interval = frame.key
        try:
            headers = make_headers(
                jpeg_type, frame.width, frame.height, frame.qtables, restart_interval
            )
        except ValueError as exc:  # e.g. a size from the SDP no JPEG can have
            self._count_drop(timestamp, f"cannot rebuild its headers: {exc}")
            return None
        self.stats.frames += 1
        parts = [headers]
        parts += [frame.parts[offset][1] for offset in frame.offsets]
        if not parts[-1].endswith(EOI_BYTES):  # a few senders leave EOI in the scan
            parts.append(EOI_BYTES)
        return b"".join(parts)

    def _drop(self, timestamp: int, reason: str) -> None:
        self._finish(timestamp, self._frames.pop(timestamp))
        self._count_drop(timestamp, reason)

    def _count_drop(self, timestamp: int, reason: str) -> None:
        self.stats.dropped_frames += 1
        level = logging.INFO if self.stats.dropped_frames == 1 else logging.DEBUG
        log.log(level, "dropping incomplete RTP/JPEG frame ts %d: %s", timestamp, reason)

    def _finish(self, timestamp: int, frame: _Frame) -> None:
        self._finished.append(timestamp)
        if frame.max_seq is not None and (self._floor is None or frame.max_seq > self._floor):
            self._floor = frame.max_seq
