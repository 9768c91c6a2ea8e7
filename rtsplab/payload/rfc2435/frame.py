"""What RFC 2435 can carry of a JPEG, taken from it: header fields, two tables and the scan.

The format describes the picture in a few payload header fields and lets the receiver
rebuild every JPEG header (`rtsplab.payload.rfc2435.tables.make_headers`), so it only carries
what those fields can describe (RFC 2435 §3.1, §4.1): baseline (SOF0), YCbCr with Y sampled
2x1 or 2x2 and chroma 1x1, 8-bit quantization tables, one interleaved scan, and the standard
Huffman tables of T.81 Annex K.3. `parse_jpeg` checks all of it and names what is not.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from rtsplab.errors import PayloadError
from rtsplab.payload.jpeg import (
    DAC,
    DHT,
    DQT,
    DRI,
    EOI,
    JPG,
    LENGTH_SIZE,
    MARKER_PREFIX,
    MARKER_SIZE,
    SOF0,
    SOF1,
    SOF2,
    SOF3,
    SOF9,
    SOF10,
    SOF11,
    SOF15,
    SOS,
    STANDALONE_MARKERS,
    Buffer,
    JpegError,
    frame_bounds,
    marker_name,
)
from rtsplab.payload.rfc2435.header import (
    CHROMA_SAMPLING,
    MAX_OFFSET,
    MAX_WIRE_SIZE,
    QTABLE_SIZE,
    SIZE_UNIT,
    TYPE_OF_SAMPLING,
    TYPE_RESTART,
)
from rtsplab.payload.rfc2435.tables import (
    AC_CLASS,
    BASELINE_PRECISION,
    CHROMA_TABLE,
    COMPONENTS,
    DC_CLASS,
    HUFFMAN_COUNTS_SIZE,
    LUMA_TABLE,
    STD_HUFFMAN,
)

__all__ = ["JpegFrame", "UnsupportedJpeg", "parse_jpeg"]


class UnsupportedJpeg(PayloadError):
    """A JPEG that RFC 2435 cannot carry (the message says why)."""


_SOF_MARKERS = frozenset(range(SOF0, SOF15 + 1)) - {DHT, JPG, DAC}
_SOF_KINDS = {
    SOF1: "extended sequential",
    SOF2: "progressive",
    SOF3: "lossless",
    SOF9: "arithmetic-coded",
    SOF10: "arithmetic-coded progressive",
    SOF11: "arithmetic-coded lossless",
}

# (component id, H<<4|V sampling, quantization table id), as a SOF lists each component.
_Component = tuple[int, int, int]


@dataclass(frozen=True)
class JpegFrame:
    """What RFC 2435 carries of one JPEG: header fields, two tables and the scan."""

    width: int
    height: int
    type: int  # 0 (Y 2x1) or 1 (Y 2x2), +64 with restart markers
    restart_interval: int  # MCUs per restart interval; 0 when there is none
    qtables: tuple[bytes, bytes]  # Y's and chroma's, 64 bytes each in DQT (zigzag) order
    # The entropy-coded data after the SOS header, EOI excluded: a view of the JPEG given to
    # `parse_jpeg`, so that a frame's scan is never copied before its packets leave.
    scan: Buffer = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"JpegFrame({self.width}x{self.height}, type={self.type}, "
            f"restart_interval={self.restart_interval}, scan={len(self.scan)} bytes)"
        )


# The headers (SOI to the end of the SOS segment) of the last JPEG taken apart, and what
# was taken: a clip's frames share theirs (one encoder, one size, one set of tables), so a
# JPEG that starts with the same bytes says the same, and only its scan is new. Read and
# replaced as one tuple: safe across threads.
_last_headers: tuple[bytes, JpegFrame] | None = None


def parse_jpeg(data: Buffer) -> JpegFrame:
    """Take a JPEG apart for sending as RFC 2435.

    Raises UnsupportedJpeg, naming the reason, for what the format cannot carry, and
    `rtsplab.payload.jpeg.JpegError` for data that is not a whole, well-formed JPEG (both
    are a `rtsplab.errors.PayloadError`). Bytes after EOI are ignored.
    """
    global _last_headers
    end, first_scan_end = frame_bounds(data)
    last = _last_headers
    if last is not None and len(last[0]) < first_scan_end and data[: len(last[0])] == last[0]:
        headers, taken = last
        _check_only_scan(data, first_scan_end)
        return _with_scan(taken, memoryview(data)[len(headers) : first_scan_end])
    qtables: dict[int, bytes] = {}
    huffman: dict[tuple[int, int], bytes] = {}
    restart_interval = 0
    components: list[_Component] | None = None
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
            # frame_bounds found where this, the first scan, ends, on its walk.
            scan = memoryview(data)[seg_end:first_scan_end]
            _check_only_scan(data, first_scan_end)
            frame = _frame(width, height, restart_interval, components, qtables, scan)
            _last_headers = (bytes(data[:seg_end]), frame)
            return frame
    raise JpegError("corrupt JPEG: no scan")  # pragma: no cover - frame_bounds saw EOI


def _segments(data: Buffer, end: int) -> Iterator[tuple[int, int, int]]:
    """(code, body start, segment end) of each marker segment from after SOI up to SOS.

    `data[:end]` must already be a well-formed JPEG (`rtsplab.payload.jpeg.frame_bounds`
    checked it), so the walk needs no bounds checks of its own.
    """
    pos = MARKER_SIZE  # after SOI
    while pos < end:
        while data[pos + 1] == MARKER_PREFIX:  # fill bytes before the code (B.1.1.2)
            pos += 1
        code = data[pos + 1]
        pos += MARKER_SIZE
        if code == EOI:
            yield code, pos, pos
            return
        if code in STANDALONE_MARKERS:  # TEM or RSTn: frame_bounds refused a second SOI
            continue
        length = (data[pos] << 8) | data[pos + 1]
        yield code, pos + LENGTH_SIZE, pos + length
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


def _parse_sof(body: bytes) -> tuple[int, int, list[_Component]]:
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
    components = [(body[6 + 3 * i], body[7 + 3 * i], body[8 + 3 * i]) for i in range(count)]
    if height == 0 or width == 0:
        raise UnsupportedJpeg(f"size {width}x{height}: a size set later by DNL is not carried")
    return width, height, components


def _check_scan_header(
    body: bytes, components: list[_Component], huffman: dict[tuple[int, int], bytes]
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
    components: list[_Component],
    qtables: dict[int, bytes],
    scan: Buffer,
) -> JpegFrame:
    (_, y_sampling, y_table), (_, cb_sampling, cb_table), (_, cr_sampling, cr_table) = components
    jpeg_type = TYPE_OF_SAMPLING.get(y_sampling)
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
    taken = JpegFrame(
        width=width,
        height=height,
        type=jpeg_type + (TYPE_RESTART if restart_interval else 0),
        restart_interval=restart_interval,
        qtables=(qtables[y_table], qtables[cb_table]),
        scan=b"",
    )
    return _with_scan(taken, scan)


def _with_scan(taken: JpegFrame, scan: Buffer) -> JpegFrame:
    """`taken`'s header fields and tables with `scan`, once the scan is checked."""
    if not scan:
        raise JpegError("corrupt JPEG: empty scan")
    if len(scan) > MAX_OFFSET + 1:
        raise UnsupportedJpeg(
            f"scan of {len(scan)} bytes; the 24-bit fragment offset reaches {MAX_OFFSET + 1}"
        )
    return JpegFrame(taken.width, taken.height, taken.type, taken.restart_interval,
                     taken.qtables, scan)  # fmt: skip
