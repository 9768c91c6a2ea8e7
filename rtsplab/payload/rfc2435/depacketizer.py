"""Receiving RFC 2435: RTP/JPEG payloads in, one RTP packet at a time, whole JPEGs out.

`JpegDepacketizer` is a `rtsplab.payload.assembler.FrameAssembler`, as the lab's
`rtsplab.payload.lab.LabAssembler` is, so `rtsplab.rtp.receiver.RtpReceiver` takes either. It
collects each frame's scan by fragment offset, then puts standard JPEG headers in front
(Appendix B, `rtsplab.payload.rfc2435.tables.make_headers`). It never raises on what the
network brings: it counts it in `stats` and skips it.
"""

from __future__ import annotations

import bisect
import logging
from collections import deque
from dataclasses import dataclass
from itertools import pairwise

from rtsplab.payload.assembler import FINISHED_TIMESTAMPS, AssemblyStats, frame_to_drop
from rtsplab.payload.jpeg import EOI_BYTES
from rtsplab.payload.rfc2435.header import (
    MAX_Q_SCALED,
    MAX_WIRE_SIZE,
    OFFSET_BITS,
    Q_DYNAMIC,
    Q_TABLES_INLINE,
    QTABLE_COUNT,
    QTABLE_SIZE,
    SAMPLING_OF_TYPE,
    SIZE_UNIT,
    TYPE_RESTART,
    JpegPayloadHeader,
    RtpJpegError,
)
from rtsplab.payload.rfc2435.tables import make_headers, make_tables

__all__ = ["DepacketizerStats", "JpegDepacketizer"]

log = logging.getLogger(__name__)

# The 24-bit fragment offset cannot address more than 16 MiB, so no RFC 2435 frame is larger;
# bounding a frame there rejects no valid stream and caps what a broken sender can make us hold.
MAX_FRAME_BYTES = 1 << OFFSET_BITS
# A 3 MB 4K frame in 1400-byte packets is ~2200 packets; 16384 lets 16 MiB through in 1 KiB
# packets and bounds the per-packet bookkeeping a sender of tiny packets could cause.
MAX_FRAME_PACKETS = 16384
# All the frames kept open for repairs hold at most this much: a second of 4K, several of
# anything less, and a hostile sender's open frames cannot fill the client's memory.
MAX_HELD_BYTES = 64 * 1024 * 1024


@dataclass
class DepacketizerStats(AssemblyStats):
    """`AssemblyStats`, where a dropped frame had a gap, a lost first or last packet or a bad
    sequence, and a duplicate is the same fragment again; and the payloads skipped."""

    malformed: int = 0  # payloads skipped: bad headers, overlaps, missing tables, ...


# (type, Q, width, height, restart interval): equal in every packet of a frame.
_FrameKey = tuple[int, int, int, int, int]


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

    def __init__(self, key: _FrameKey, width: int, height: int, ext_seq: int) -> None:
        self.key = key
        self.width = width
        self.height = height
        self.offsets: list[int] = []  # sorted
        self.parts: dict[int, tuple[int, bytes]] = {}  # offset -> (ext_seq, data)
        self.size = 0  # data bytes held
        self.extent = 0  # highest offset + length held
        self.end: int | None = None  # frame size, known from the marker packet
        self.qtables: tuple[bytes, ...] = ()  # known from the offset-0 packet
        self.min_seq = ext_seq  # of the packets held
        self.max_seq = ext_seq


class JpegDepacketizer:
    """Rebuilds whole JPEGs from RFC 2435 payloads given one RTP packet at a time.

    `push` takes the extended sequence number (see `rtsplab.rtp.receiver.SeqUnwrapper`). A
    frame is delivered when its fragments cover offsets 0 up to the end the marker packet
    sets, with no gap or overlap, in consecutive sequence numbers. Packets of a frame may
    arrive in any order, and the next frame may start before the last packet of this one; a
    frame that cannot complete is dropped when a later one completes, when a third timestamp
    starts (`rtsplab.payload.assembler.frame_to_drop`), or at `flush`. Tables sent with Q in
    128..254 are remembered per Q, so a frame may carry Length 0 (RFC 2435 §4.2); Q=255
    tables never are. Nothing here raises on input: bad payloads are counted in `stats` and
    skipped.

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
        # Timestamps of frames delivered or dropped, so that a straggler of one is late rather
        # than the start of a frame that can never complete (video timestamps do not repeat).
        self._finished: deque[int] = deque(maxlen=FINISHED_TIMESTAMPS)
        # Frames kept open for repairs (`rtsplab.payload.assembler`): then only a finished
        # frame's packets are late, and a frame completing drops no other.
        self.repair_window = 0

    @property
    def buffered_bytes(self) -> int:
        """Scan bytes held for frames not yet complete."""
        return sum(frame.size for frame in self._frames.values())

    def push(self, ext_seq: int, timestamp: int, marker: bool, payload: bytes) -> bytes | None:
        """Add one packet; return the whole JPEG it completes, if any."""
        below = not self.repair_window and self._floor is not None and ext_seq <= self._floor
        if below or timestamp in self._finished:
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
        if header.type % TYPE_RESTART not in SAMPLING_OF_TYPE:
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
            oldest = frame_to_drop(self._frames, timestamp, self.repair_window)
            if oldest is not None:
                self._drop(oldest, "a third frame started")
            frame = self._frames[timestamp] = _Frame(key, width, height, ext_seq)
            index = 0
        if tables is not None:
            frame.qtables = tables
        frame.offsets.insert(index, start)
        frame.parts[start] = (ext_seq, data)
        frame.size += len(data)
        frame.extent = max(frame.extent, end)
        frame.min_seq = min(frame.min_seq, ext_seq)
        frame.max_seq = max(frame.max_seq, ext_seq)
        if marker:
            frame.end = end
        if self.repair_window and frame.size == len(data):  # a new frame: room for it
            while len(self._frames) > 1 and self.buffered_bytes > MAX_HELD_BYTES:
                self._drop(next(iter(self._frames)), "the frames held for repairs are too large")
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
        # Frames that started before this one can no longer complete in order (unless they
        # wait for repairs).
        for other_ts, other in list(self._frames.items()):
            if other.max_seq < frame.min_seq and not self.repair_window:
                self._drop(other_ts, "a later frame completed first")
        jpeg_type, _q, _w, _h, restart_interval = frame.key
        try:
            headers = make_headers(
                jpeg_type, frame.width, frame.height, frame.qtables, restart_interval
            )
        except RtpJpegError as exc:  # e.g. a size from the SDP no JPEG can have
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
        if self._floor is None or frame.max_seq > self._floor:
            self._floor = frame.max_seq
