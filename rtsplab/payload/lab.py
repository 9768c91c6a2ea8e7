"""The lab's HD payload: a JPEG frame cut into RTP payloads, and put back together.

The lab's payload format carries the JPEG bytes themselves, with no payload header. A frame
that fits in one packet is one packet; a larger one is cut into consecutive slices, one per
packet, in consecutive sequence numbers, all with the frame's RTP timestamp, and the marker
bit on the last one (RFC 3550 §5.1: "the marker is intended to allow significant events such
as frame boundaries to be marked"). The course report's server left the marker at 0, so the
receiver must not depend on it.

With no payload header, the receiver finds a frame's edges in the JPEG itself, checked against
the RTP header:

- a frame is the packets from a *start* (payload begins with SOI, FFD8) to an *end* (marker
  bit set, or payload ends with EOI, FFD9), with every sequence number in between present and
  one timestamp shared by all of them;
- the bytes joined must be exactly one complete JPEG (`rtsplab.payload.jpeg.is_complete_jpeg`).
  This settles the false edges an embedded thumbnail can make (its own FFD8...FFD9 inside an
  APP1 segment can land at a packet boundary) and guarantees that no partial frame, and no two
  frames glued together, is ever delivered.

A frame that cannot be completed is dropped and counted: when a later frame is delivered, when
a third timestamp arrives while two frames are still open (`rtsplab.payload.assembler`), when
the buffer passes its bound, or when the stream ends (`flush`). Reordering within a frame and
across one frame boundary, and duplicates, are tolerated.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from rtsplab.payload import Payload
from rtsplab.payload.assembler import FINISHED_TIMESTAMPS, AssemblyStats, frame_to_drop
from rtsplab.payload.jpeg import EOI_BYTES, SOI_BYTES, Buffer, is_complete_jpeg

__all__ = ["LabAssembler", "fragment", "fragment_parts"]

# A 3840x2160 JPEG at high quality is 2-3 MB; twice that leaves room for two frames in flight
# and bounds what a hostile or broken sender can make the receiver hold.
MAX_BUFFER_BYTES = 8 * 1024 * 1024
# 8 MiB in 1400-byte packets is ~6000; tiny packets must not grow the dict without bound either.
MAX_BUFFER_PACKETS = 8192


def fragment_parts(frame: Buffer, max_payload: int) -> list[Payload]:
    """Cut `frame` into consecutive payloads of at most `max_payload` bytes (at least one),
    each a view of the frame behind no payload header."""
    if max_payload < 1:
        raise ValueError(f"max_payload must be positive, got {max_payload}")
    view = memoryview(frame)
    return [(b"", view[i : i + max_payload]) for i in range(0, max(1, len(view)), max_payload)]


def fragment(frame: bytes, max_payload: int) -> list[bytes]:
    """Cut `frame` into consecutive payloads of at most `max_payload` bytes (at least one)."""
    return [bytes(body) for _, body in fragment_parts(frame, max_payload)]


class _OpenFrame:
    """The packets held of one RTP timestamp: their payloads by sequence number, and which
    of them may end the frame (a handful at most), so that a push looks at those rather than
    at every packet held."""

    __slots__ = ("payloads", "ends")

    def __init__(self) -> None:
        self.payloads: dict[int, bytes] = {}
        self.ends: set[int] = set()


class LabAssembler:
    """Reassembles the lab's frames from packets given one at a time, in any order.

    A `rtsplab.payload.assembler.FrameAssembler`: `push` takes the *extended* sequence number
    (unwrapped past 65535 by `rtsplab.rtp.receiver.SeqUnwrapper`) so that order is plain
    integer order here. Packets are held per frame (per timestamp), so that a push touches its
    own frame only, and a frame delivered or dropped goes at once, not packet by packet.
    """

    def __init__(
        self,
        max_bytes: int = MAX_BUFFER_BYTES,
        max_packets: int = MAX_BUFFER_PACKETS,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_packets = max_packets
        self.stats = AssemblyStats()
        # The open frames by timestamp, in order of each one's first packet.
        self._open: dict[int, _OpenFrame] = {}
        self._bytes = 0
        self._packets = 0
        # Highest sequence number of the last frame delivered or dropped: anything at or below
        # it belongs to the past, unless frames are kept open for repairs; then the frames
        # delivered or dropped are what is past.
        self._floor: int | None = None
        self.repair_window = 0
        self._finished: deque[int] = deque(maxlen=FINISHED_TIMESTAMPS)

    @property
    def buffered_bytes(self) -> int:
        """Payload bytes held for frames not yet complete."""
        return self._bytes

    @property
    def buffered_packets(self) -> int:
        """Packets held for frames not yet complete."""
        return self._packets

    def push(self, ext_seq: int, timestamp: int, marker: bool, payload: bytes) -> bytes | None:
        """Add one packet; return the frame it completes, if any."""
        past = timestamp in self._finished if self.repair_window else (
            self._floor is not None and ext_seq <= self._floor)  # fmt: skip
        if past:
            self.stats.late_packets += 1
            return None
        for held in self._open.values():  # two at most (MAX_OPEN_FRAMES)
            if ext_seq in held.payloads:
                self.stats.duplicates += 1
                return None
        frame = self._open.get(timestamp)
        if frame is None:  # a new frame: it may push out the oldest
            oldest = frame_to_drop(self._open, timestamp, self.repair_window)
            if oldest is not None:
                self._drop([oldest])
        if self._bytes + len(payload) > self.max_bytes or self._packets >= self.max_packets:
            self._drop(list(self._open))
            frame = None
        if frame is None:
            frame = self._open[timestamp] = _OpenFrame()
        frame.payloads[ext_seq] = payload
        self._bytes += len(payload)
        self._packets += 1
        if marker or payload.endswith(EOI_BYTES):
            frame.ends.add(ext_seq)
        if not frame.ends:
            return None  # no packet held ends this frame: the common case, a frame half come
        # The new packet can complete only a frame ending at or after it.
        for end in sorted(e for e in frame.ends if e >= ext_seq):
            data = self._frame_ending_at(timestamp, frame, end)
            if data is not None:
                return data
        return None

    def flush(self) -> None:
        """The stream has ended: whatever is still buffered is an incomplete frame."""
        self._drop(list(self._open))

    def _frame_ending_at(self, timestamp: int, frame: _OpenFrame, end: int) -> bytes | None:
        """Deliver and return the frame from the nearest valid start up to `end`, if any."""
        payloads = frame.payloads
        seq = end
        while (payload := payloads.get(seq)) is not None:
            if payload.startswith(SOI_BYTES):
                data = b"".join([payloads[s] for s in range(seq, end + 1)])
                if is_complete_jpeg(data):
                    self._drop_before(seq, timestamp)  # can never complete
                    self._remove(timestamp, range(seq, end + 1))
                    self.stats.frames += 1
                    return data
            seq -= 1
        return None

    def _drop(self, timestamps: list[int]) -> None:
        """Discard these frames, incomplete."""
        self.stats.dropped_frames += len(timestamps)
        for timestamp in timestamps:
            self._remove(timestamp, list(self._open[timestamp].payloads))

    def _drop_before(self, start: int, delivered: int) -> None:
        """Discard the packets numbered below `start`, counting one frame per timestamp: of
        every frame, or with a repair window only of the frame `delivered` (the others wait
        for their repairs)."""
        for timestamp, frame in list(self._open.items()):
            if self.repair_window and timestamp != delivered:
                continue
            below = [s for s in frame.payloads if s < start]
            if below:
                self.stats.dropped_frames += 1
                self._remove(timestamp, below)

    def _remove(self, timestamp: int, seqs: Sequence[int]) -> None:
        """Let go of these packets (held, of the frame of `timestamp`); the floor rises."""
        frame = self._open[timestamp]
        if len(seqs) == len(frame.payloads):  # the whole frame, the usual case: at once
            del self._open[timestamp]
            self._finished.append(timestamp)
            removed: Iterable[bytes] = frame.payloads.values()
        else:
            removed = [frame.payloads.pop(seq) for seq in seqs]
            frame.ends.difference_update(seqs)
        self._bytes -= sum(map(len, removed))
        self._packets -= len(seqs)
        highest = max(seqs)
        if self._floor is None or highest > self._floor:
            self._floor = highest
