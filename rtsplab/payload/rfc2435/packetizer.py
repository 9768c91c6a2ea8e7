"""Sending RFC 2435: one JPEG's scan cut into RTP payloads, each behind its payload header.

`parse_jpeg` (`rtsplab.payload.rfc2435.frame`) takes what the format carries from a JPEG;
`payload_parts` cuts the scan at arbitrary byte offsets (so a restart header says F=L=1 with
count 0x3FFF, "reassemble the whole frame", §3.1.7) and puts the tables in the first payload
when Q >= 128 (§3.1.8); each payload is its headers and a view of the scan, so the scan is
copied only as packets leave. `jpeg_payload_parts` does both; `packetize` and
`jpeg_to_payloads` give each payload joined as bytes.
"""

from __future__ import annotations

from rtsplab.payload import Payload
from rtsplab.payload.jpeg import Buffer
from rtsplab.payload.rfc2435.frame import JpegFrame, parse_jpeg
from rtsplab.payload.rfc2435.header import (
    MAX_OFFSET,
    MAX_Q_SCALED,
    MAX_WIRE_SIZE,
    MIN_Q_SCALED,
    Q_DYNAMIC,
    Q_TABLES_INLINE,
    SIZE_UNIT,
    TYPE_SPECIFIC_SHIFT,
    JpegPayloadHeader,
)
from rtsplab.payload.rfc2435.tables import make_tables

__all__ = ["jpeg_payload_parts", "jpeg_to_payloads", "packetize", "payload_parts"]

# The main header's first four bytes: type-specific, then the 24-bit fragment offset (§3.1).
OFFSET_END = 4


def _wire_size(pixels: int) -> int:
    """The 8-pixel-unit byte for a width or height: rounded up, 0 when over 2040 (§3.1.5)."""
    return 0 if pixels > MAX_WIRE_SIZE else -(-pixels // SIZE_UNIT)


def payload_parts(frame: JpegFrame, max_payload: int, q: int = Q_DYNAMIC) -> list[Payload]:
    """RTP payloads of one frame as (headers, slice of the scan), each at most `max_payload`
    bytes in all, in sequence order. The slices are views of `frame.scan`: no byte of the
    scan is copied here.

    Q >= 128 sends the frame's tables in the first payload; Q in 1..99 sends none, so it is
    only allowed when the frame's tables are exactly `make_tables(q)` (otherwise the receiver
    would decode with the wrong tables). Sizes up to 2040 that are not a multiple of 8 are
    rounded up: the receiver's picture gains up to 7 columns/rows of the encoder's padding.
    The last payload never carries a single byte of the scan (`_slice_starts`).
    Raises ValueError for a bad Q, a frame whose tables do not match Q, or a max_payload too
    small for the headers plus one byte of data.
    """
    if not (MIN_Q_SCALED <= q <= MAX_Q_SCALED or Q_TABLES_INLINE <= q <= Q_DYNAMIC):
        raise ValueError(f"Q must be 1..99 or 128..255 (100..127 are reserved), got {q}")
    if q <= MAX_Q_SCALED and frame.qtables != make_tables(q):
        raise ValueError(f"the frame's quantization tables are not those of Q={q}")
    scan = memoryview(frame.scan)
    if len(scan) > MAX_OFFSET + 1:
        raise ValueError(f"scan of {len(scan)} bytes is past the 24-bit fragment offset")

    first, later = _headers(frame, q)
    # Past the first payload only the 24-bit offset changes (§3.1.2): its bytes are put
    # after the header's first byte and before the rest, taken once from a header at offset 1.
    type_specific, rest = later[0] << TYPE_SPECIFIC_SHIFT, later[OFFSET_END:]
    room = max_payload - len(later)
    if max_payload - len(first) < 1 or room < 1:
        raise ValueError(
            f"max_payload {max_payload} leaves no room for data after {len(first)} bytes of headers"
        )
    starts = _slice_starts(len(scan), max_payload - len(first), room)
    heads = [first, *[(type_specific | start).to_bytes(OFFSET_END, "big") + rest
                      for start in starts[1:]]]  # fmt: skip
    ends = [*starts[1:], len(scan)]
    bodies = [scan[start:end] for start, end in zip(starts, ends, strict=True)]
    return list(zip(heads, bodies, strict=True))


# The payload headers of the last frame cut, by what they are made of: a clip's frames share
# them. Read and replaced as one tuple: safe across threads.
_last_headers: tuple[tuple[object, ...], bytes, bytes] | None = None


def _headers(frame: JpegFrame, q: int) -> tuple[bytes, bytes]:
    """The first payload's headers, and those of a payload at offset 1."""
    global _last_headers
    inline = q >= Q_TABLES_INLINE
    key = (frame.type, q, frame.width, frame.height, frame.restart_interval,
           frame.qtables if inline else None)  # fmt: skip
    last = _last_headers
    if last is not None and last[0] == key:
        return last[1], last[2]

    def header(offset: int) -> bytes:
        return JpegPayloadHeader(
            offset=offset,
            type=frame.type,
            q=q,
            width=_wire_size(frame.width),
            height=_wire_size(frame.height),
            restart_interval=frame.restart_interval,
            qtables=b"".join(frame.qtables) if inline and offset == 0 else None,
        ).encode()

    first, later = header(0), header(1)
    _last_headers = (key, first, later)
    return first, later


def _slice_starts(size: int, first: int, room: int) -> list[int]:
    """Where each payload's slice of a `size`-byte scan starts: `first` bytes in the first,
    `room` in each other, the last one no longer, and never a last slice of one byte:
    live555's receiver (VLC's) puts back the EOI only after a last packet of two bytes or
    more, so a byte is moved from the slice before it."""
    starts = [0, *range(first, size, room)]
    if len(starts) > 1 and size - starts[-1] == 1 and starts[-1] - starts[-2] > 1:
        starts[-1] -= 1
    return starts


def packetize(frame: JpegFrame, max_payload: int, q: int = Q_DYNAMIC) -> list[bytes]:
    """`payload_parts` joined: each payload as one bytes object."""
    return [head + body for head, body in payload_parts(frame, max_payload, q)]


def jpeg_payload_parts(jpeg: Buffer, max_payload: int) -> list[Payload]:
    """`payload_parts(parse_jpeg(jpeg), max_payload)` with Q=255: tables in every frame.

    Raises what `parse_jpeg` raises for a JPEG the format cannot carry or that is corrupt.
    """
    return payload_parts(parse_jpeg(jpeg), max_payload)


def jpeg_to_payloads(jpeg: Buffer, max_payload: int) -> list[bytes]:
    """`packetize(parse_jpeg(jpeg), max_payload)` with Q=255: tables in every frame.

    Raises what `parse_jpeg` raises for a JPEG the format cannot carry or that is corrupt.
    """
    return packetize(parse_jpeg(jpeg), max_payload)
