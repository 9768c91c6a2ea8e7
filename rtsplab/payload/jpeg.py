"""JPEG stream structure (ITU-T T.81 Annex B), just enough to find where a frame ends.

A JPEG interchange stream is a sequence of marker segments::

    FFD8                                  SOI, standalone
    FFxx LLLL <LLLL-2 bytes>              a marker segment: the length counts itself
    ...
    FFDA LLLL <scan header>               SOS, then entropy-coded data:
    <entropy-coded data, FF00, FFD0..D7>    0xFF in the data is stuffed as FF00 and
                                            restart markers RST0..RST7 may sit inside
    FFxx ...                              more segments (progressive: more DHT/SOS)
    FFD9                                  EOI, standalone

`frame_end` walks the segments by their lengths and only scans byte by byte inside
entropy-coded data, so a whole JPEG carried inside a segment (the EXIF thumbnail in
APP1, with its own FFD8...FFD9) is skipped, where a search for the next FFD9 would stop
inside it.
"""

from __future__ import annotations

import mmap
import re

from rtsplab.errors import PayloadError

__all__ = [
    "JpegError",
    "frame_bounds",
    "frame_end",
    "is_complete_jpeg",
    "marker_name",
    "vouch_bounds",
]

Buffer = bytes | bytearray | memoryview | mmap.mmap


class JpegError(PayloadError):
    """A byte string that is not a whole, well-formed JPEG stream."""


# Every marker is 0xFF followed by a code byte (T.81 B.1.1.2). Any number of 0xFF fill
# bytes may precede a marker (B.1.1.2), so a run of 0xFF collapses to one marker prefix.
MARKER_PREFIX = 0xFF

# Marker codes, T.81 Table B.1.
TEM = 0x01  # temporary private use in arithmetic coding; standalone
SOF0 = 0xC0  # baseline DCT: what RTP/JPEG (RFC 2435) carries
SOF1 = 0xC1  # extended sequential DCT, Huffman
SOF2 = 0xC2  # progressive DCT, Huffman: many scans, DHT between them
SOF3 = 0xC3  # lossless, Huffman
DHT = 0xC4  # define Huffman tables
SOF5 = 0xC5
SOF6 = 0xC6
SOF7 = 0xC7
JPG = 0xC8  # reserved for JPEG extensions
SOF9 = 0xC9  # extended sequential DCT, arithmetic
SOF10 = 0xCA
SOF11 = 0xCB
DAC = 0xCC  # define arithmetic coding conditioning
SOF13 = 0xCD
SOF14 = 0xCE
SOF15 = 0xCF
RST0 = 0xD0  # restart markers: standalone, and they sit *inside* entropy-coded data
RST7 = 0xD7
SOI = 0xD8  # start of image: standalone
EOI = 0xD9  # end of image: standalone, the end of the frame
SOS = 0xDA  # start of scan: its header is followed by entropy-coded data
DQT = 0xDB  # define quantization tables
DNL = 0xDC  # define number of lines
DRI = 0xDD  # define restart interval
DHP = 0xDE
EXP = 0xDF
APP0 = 0xE0  # JFIF
APP1 = 0xE1  # EXIF, which may hold a whole thumbnail JPEG
APP15 = 0xEF
COM = 0xFE  # comment

# Byte size of a marker (FF xx) and of a segment's length field (B.1.1.4).
MARKER_SIZE = 2
LENGTH_SIZE = 2
# Width and height are 16-bit fields of the SOF segment (B.2.2): no JPEG is larger.
MAX_DIMENSION = 0xFFFF

# The two standalone markers that open and close every JPEG stream (B.2.1), as bytes.
SOI_BYTES = bytes((MARKER_PREFIX, SOI))
EOI_BYTES = bytes((MARKER_PREFIX, EOI))

# Markers without a length field (B.1.1.3): SOI, EOI, TEM and RST0..RST7.
STANDALONE_MARKERS = frozenset({TEM, SOI, EOI, *range(RST0, RST7 + 1)})

# The end of entropy-coded data is the first marker that is not a restart marker.
# Inside the data an 0xFF byte is always followed by 0x00 (byte stuffing, F.1.2.3) or by
# RST0..RST7 (restart intervals, F.1.2.3 / B.2.1), so the first 0xFF followed by anything
# else starts the next marker (or its 0xFF fill bytes). A compiled regex scans at C speed;
# it works on bytes, bytearray, memoryview and mmap alike without copying.
ENTROPY_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")

_NAMES = {
    TEM: "TEM",
    DHT: "DHT",
    JPG: "JPG",
    DAC: "DAC",
    SOI: "SOI",
    EOI: "EOI",
    SOS: "SOS",
    DQT: "DQT",
    DNL: "DNL",
    DRI: "DRI",
    DHP: "DHP",
    EXP: "EXP",
    COM: "COM",
}


def marker_name(code: int) -> str:
    """The T.81 name of a marker code, e.g. ``marker_name(0xDA) == "SOS"``."""
    if code in _NAMES:
        return _NAMES[code]
    if SOF0 <= code <= SOF15:
        return f"SOF{code - SOF0}"
    if RST0 <= code <= RST7:
        return f"RST{code - RST0}"
    if APP0 <= code <= APP15:
        return f"APP{code - APP0}"
    if 0xF0 <= code <= 0xFD:
        return f"JPG{code - 0xF0}"
    return f"RES(0x{code:02X})"


def frame_end(data: Buffer, start: int = 0) -> int:
    """Return the offset just past the EOI of the JPEG that starts at ``data[start]``.

    ``data`` may hold more after the JPEG (the next frame of a raw MJPEG file); it is
    never copied, so an mmap of a large file is fine. Raises JpegError: "not a JPEG" when
    there is no SOI at ``start``, "truncated" when the data ends before EOI, and
    "corrupt" for a segment length below 2 or a non-marker byte where a marker must be.
    """
    return frame_bounds(data, start)[0]


# The last `bytes` walked whole (or vouched for) and what the walk found. A frame read from a
# file is checked (`VideoStream.frame`) and then taken apart (RFC 2435's `parse_jpeg`): the
# second asks about the same object, and an immutable object's bytes have not changed, so
# its answer is this. Read and replaced as one tuple: safe across threads.
_last_walk: tuple[bytes, int, tuple[int, int]] | None = None


def vouch_bounds(data: bytes, bounds: tuple[int, int]) -> None:
    """Take `bounds` as what `frame_bounds(data)` would find: the caller walked these very
    bytes before (a file's index, the file unchanged since), so the next question about
    `data` is answered without a walk."""
    global _last_walk
    _last_walk = (data, 0, bounds)


def frame_bounds(data: Buffer, start: int = 0) -> tuple[int, int]:
    """`frame_end`, and where the first scan's entropy-coded data ends (-1 when there is
    no scan), found on the way: one walk of the bytes. Raises as `frame_end`."""
    global _last_walk
    last = _last_walk
    if last is not None and last[0] is data and last[1] == start:
        return last[2]
    bounds = _walk(data, start)
    if type(data) is bytes:
        _last_walk = (data, start, bounds)
    return bounds


def _walk(data: Buffer, start: int) -> tuple[int, int]:
    first_scan_end = -1
    n = len(data)
    if start < 0 or data[start : start + MARKER_SIZE] != SOI_BYTES:
        got = bytes(data[max(start, 0) : max(start, 0) + MARKER_SIZE])
        raise JpegError(f"not a JPEG: no SOI (FFD8) at offset {start}, found {got.hex() or 'EOF'}")
    pos = start + MARKER_SIZE
    while True:
        if pos >= n:
            raise JpegError(f"truncated JPEG: data ends at offset {n} before EOI")
        if data[pos] != MARKER_PREFIX:
            raise JpegError(
                f"corrupt JPEG: byte 0x{data[pos]:02X} at offset {pos} where a marker must be"
            )
        marker_at = pos
        while pos < n and data[pos] == MARKER_PREFIX:  # fill bytes before the code
            pos += 1
        if pos >= n:
            raise JpegError(f"truncated JPEG: data ends at offset {n} inside a marker")
        code = data[pos]
        pos += 1
        if code == EOI:
            return pos, first_scan_end
        if code == 0x00 or code == SOI:
            # FF00 is only meaningful inside entropy-coded data; a second SOI means a new
            # image started before this one ended.
            raise JpegError(
                f"corrupt JPEG: unexpected {'FF00' if code == 0 else 'SOI'} at offset {marker_at}"
            )
        if code in STANDALONE_MARKERS:
            continue
        if pos + LENGTH_SIZE > n:
            raise JpegError(
                f"truncated JPEG: {marker_name(code)} length at offset {pos} past end of data"
            )
        length = (data[pos] << 8) | data[pos + 1]
        if length < LENGTH_SIZE:
            raise JpegError(
                f"corrupt JPEG: {marker_name(code)} segment at offset {marker_at} "
                f"has length {length} < 2"
            )
        seg_end = pos + length
        if seg_end > n:
            raise JpegError(
                f"truncated JPEG: {marker_name(code)} segment at offset {marker_at} "
                f"runs to {seg_end}, past end of data at {n}"
            )
        if code != SOS:
            pos = seg_end
            continue
        found = ENTROPY_END.search(data, seg_end)
        if found is None:
            raise JpegError(
                f"truncated JPEG: entropy-coded data after SOS at offset {marker_at} "
                f"runs to the end of data at {n}"
            )
        pos = found.start()
        if first_scan_end < 0:
            first_scan_end = pos


def is_complete_jpeg(data: Buffer) -> bool:
    """True if ``data`` is exactly one whole JPEG: SOI first and EOI as the last bytes.

    False for a partial frame, for junk after EOI, and for two JPEGs glued together.
    """
    try:
        return frame_end(data) == len(data)
    except JpegError:
        return False
