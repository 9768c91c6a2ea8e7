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

from collections.abc import Iterable
from dataclasses import dataclass

from rtsplab.payload import Payload
from rtsplab.payload.assembler import AssemblyStats, frame_to_drop
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


@dataclass(slots=True)
class _Fragment:
    timestamp: int
    is_end: bool
    payload: bytes


class LabAssembler:
    """Reassembles the lab's frames from packets given one at a time, in any order.

    A `rtsplab.payload.assembler.FrameAssembler`: `push` takes the *extended* sequence number
    (unwrapped past 65535 by `rtsplab.rtp.receiver.SeqUnwrapper`) so that order is plain
    integer order here.
    """

    def __init__(
        self,
        max_bytes: int = MAX_BUFFER_BYTES,
        max_packets: int = MAX_BUFFER_PACKETS,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_packets = max_packets
        self.stats = AssemblyStats()
        self._fragments: dict[int, _Fragment] = {}
        self._bytes = 0
        # Packets held per open frame's timestamp, in order of arrival.
        self._open: dict[int, int] = {}
        # Sequence numbers of the held packets that may end a frame (a handful at most), so
        # that a push looks at those rather than at every held packet.
        self._ends: set[int] = set()
        # Highest sequence number of the last frame delivered or dropped: anything at or below
        # it belongs to the past.
        self._floor: int | None = None

    @property
    def buffered_bytes(self) -> int:
        """Payload bytes held for frames not yet complete."""
        return self._bytes

    def push(self, ext_seq: int, timestamp: int, marker: bool, payload: bytes) -> bytes | None:
        """Add one packet; return the frame it completes, if any."""
        if self._floor is not None and ext_seq <= self._floor:
            self.stats.late_packets += 1
            return None
        if ext_seq in self._fragments:
            self.stats.duplicates += 1
            return None
        oldest = frame_to_drop(self._open, timestamp)
        if oldest is not None:
            self._drop([s for s, f in self._fragments.items() if f.timestamp == oldest])
        if self._bytes + len(payload) > self.max_bytes or len(self._fragments) >= self.max_packets:
            self._drop(list(self._fragments))
        is_end = marker or payload.endswith(EOI_BYTES)
        self._fragments[ext_seq] = _Fragment(timestamp, is_end, payload)
        self._bytes += len(payload)
        self._open[timestamp] = self._open.get(timestamp, 0) + 1
        if is_end:
            self._ends.add(ext_seq)
        if not self._ends:
            return None  # no packet held ends a frame: the common case, a frame half come
        # The new packet can complete only a frame ending at or after it, in its own frame.
        for end in sorted(e for e in self._ends if e >= ext_seq):
            if self._fragments[end].timestamp == timestamp:
                frame = self._frame_ending_at(end)
                if frame is not None:
                    return frame
        return None

    def flush(self) -> None:
        """The stream has ended: whatever is still buffered is an incomplete frame."""
        self._drop(list(self._fragments))

    def _frame_ending_at(self, end: int) -> bytes | None:
        """Deliver and return the frame from the nearest valid start up to `end`, if any."""
        timestamp = self._fragments[end].timestamp
        seq = end
        while (frag := self._fragments.get(seq)) is not None and frag.timestamp == timestamp:
            if frag.payload.startswith(SOI_BYTES):
                data = b"".join(self._fragments[s].payload for s in range(seq, end + 1))
                if is_complete_jpeg(data):
                    self._drop([s for s in self._fragments if s < seq])  # can never complete
                    self._remove(range(seq, end + 1))
                    self.stats.frames += 1
                    return data
            seq -= 1
        return None

    def _drop(self, seqs: list[int]) -> None:
        """Discard these packets as incomplete frames, counting one frame per timestamp."""
        if seqs:
            self.stats.dropped_frames += len({self._fragments[s].timestamp for s in seqs})
            self._remove(seqs)

    def _remove(self, seqs: Iterable[int]) -> None:
        for seq in seqs:
            frag = self._fragments.pop(seq)
            self._bytes -= len(frag.payload)
            self._ends.discard(seq)
            left = self._open[frag.timestamp] - 1
            if left:
                self._open[frag.timestamp] = left
            else:
                del self._open[frag.timestamp]
            if self._floor is None or seq > self._floor:
                self._floor = seq
