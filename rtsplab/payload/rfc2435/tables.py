"""The JPEG tables RFC 2435 leaves out of the wire, and the JPEG headers rebuilt from them.

RFC 2435 carries no Huffman tables and, for Q in 1..99, no quantization tables: the receiver
computes the quantization tables from Q (Appendix A, `make_tables`), always uses the standard
Huffman tables of ITU-T T.81 Annex K.3 (`STD_HUFFMAN`), and rebuilds the JPEG headers from
the payload header's fields (Appendix B, `make_headers`). The sender checks a JPEG against
the same tables (`rtsplab.payload.rfc2435.frame`).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from functools import lru_cache

from rtsplab.payload.jpeg import (
    APP0,
    DHT,
    DQT,
    DRI,
    MARKER_PREFIX,
    MAX_DIMENSION,
    SOF0,
    SOI_BYTES,
    SOS,
)
from rtsplab.payload.rfc2435.header import (
    CHROMA_SAMPLING,
    MAX_BYTE,
    MAX_Q_SCALED,
    MAX_RESTART_INTERVAL,
    MIN_Q_SCALED,
    QTABLE_COUNT,
    QTABLE_SIZE,
    SAMPLING_OF_TYPE,
    TYPE_420,
    TYPE_422,
    TYPE_RESTART,
    RtpJpegError,
)

__all__ = ["STD_HUFFMAN", "ZIGZAG", "make_headers", "make_tables"]

# --- Quantization tables (T.81 Annex K.1, RFC 2435 Appendix A) -------------------------------

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

# --- Huffman tables (T.81 Annex K.3) ---------------------------------------------------------

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

# --- The JPEG headers rebuilt (RFC 2435 Appendix B) ------------------------------------------

# What RFC 2435 carries (§4.1), so what make_headers writes and parse_jpeg accepts.
BASELINE_PRECISION = 8  # bits per sample
COMPONENTS = 3  # Y, Cb, Cr
JFIF_COMPONENT_IDS = (1, 2, 3)  # T.871: with a JFIF APP0, decoders read these as Y, Cb, Cr


def _segment(code: int, body: bytes) -> bytes:
    """A marker segment: FF code, a 2-byte length counting itself, the body (T.81 B.1.1.4)."""
    return bytes((MARKER_PREFIX, code)) + struct.pack("!H", len(body) + 2) + body


# JFIF 1.01, no units, 1:1 pixel aspect, no thumbnail: says "YCbCr" so no decoder guesses.
_JFIF_APP0 = _segment(APP0, b"JFIF\x00" + bytes((1, 1, 0, 0, 1, 0, 1, 0, 0)))
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


@lru_cache(maxsize=MAX_Q_SCALED)
def make_tables(q: int) -> tuple[bytes, bytes]:
    """The luma and chroma tables for Q in 1..99 (RFC 2435 Appendix A), in zigzag order.

    This is libjpeg's quality scaling (jcparam.c) with baseline clamping: Pillow's
    `quality=q` writes these same tables. Raises ValueError for Q outside 1..99.
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
    RtpJpegError (a ValueError) for arguments outside those: they are a payload header's
    fields and the SDP's a=x-dimensions, which this receiver cannot rebuild a JPEG from.
    """
    base_type = type % TYPE_RESTART
    if type not in (TYPE_422, TYPE_420, TYPE_422 + TYPE_RESTART, TYPE_420 + TYPE_RESTART):
        raise RtpJpegError(f"type must be 0, 1, 64 or 65, got {type}")
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        raise RtpJpegError(
            f"size must be 1..{MAX_DIMENSION} in each direction, got {width}x{height}"
        )
    if not 0 <= restart_interval <= MAX_RESTART_INTERVAL:
        raise RtpJpegError(f"restart_interval must be 0..65535, got {restart_interval}")
    if len(qtables) not in (1, QTABLE_COUNT) or any(len(t) != QTABLE_SIZE for t in qtables):
        raise RtpJpegError(f"qtables must be 1 or 2 tables of {QTABLE_SIZE} bytes")
    chroma_table = len(qtables) - 1
    dqt = b"".join(bytes((table_id,)) + bytes(t) for table_id, t in enumerate(qtables))
    y, cb, cr = JFIF_COMPONENT_IDS
    sof = struct.pack("!BHHB", BASELINE_PRECISION, height, width, COMPONENTS) + bytes(
        (y, SAMPLING_OF_TYPE[base_type], 0)
        + (cb, CHROMA_SAMPLING, chroma_table)
        + (cr, CHROMA_SAMPLING, chroma_table)
    )
    parts = [SOI_BYTES, _JFIF_APP0, _segment(DQT, dqt)]
    if restart_interval:
        parts.append(_segment(DRI, struct.pack("!H", restart_interval)))
    parts += [_segment(SOF0, sof), _DHT_SEGMENT, _SOS_SEGMENT]
    return b"".join(parts)
