"""What the RTP receiver asks of a frame assembler, and the policy every assembler shares.

An assembler takes the RTP packets of one stream one at a time, in any order, and returns
each whole frame once its last missing packet arrives. Two implement `FrameAssembler`: the
lab's payload (`rtsplab.payload.lab.LabAssembler`, the JPEG file cut into slices) and RFC
2435's (`rtsplab.payload.rfc2435.depacketizer.JpegDepacketizer`, the scan with a payload
header). `rtsplab.rtp.receiver.RtpReceiver` drives either through this interface alone.

Both keep at most `MAX_OPEN_FRAMES` partial frames, one per RTP timestamp, and let a new
timestamp push out the oldest (`frame_to_drop`); neither raises on what the network brings,
both count it in `stats`.

When the receiver asks for lost packets again (RFC 4585 NACKs), a repair arrives after later
frames have completed: with a `repair_window` of N frames an assembler keeps up to N frames
open, delivers each as it completes, out of order if it must (the player's cache puts frames
back in timestamp order), and a packet is late only if its frame was delivered or dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "FINISHED_TIMESTAMPS",
    "MAX_OPEN_FRAMES",
    "AssemblyStats",
    "FrameAssembler",
    "frame_to_drop",
]

# Frames open at once: the one being received and the one before it, whose last packet may
# arrive after the first packet of the next (reordering across one frame boundary).
MAX_OPEN_FRAMES = 2
# Timestamps of frames delivered or dropped that are remembered, so that their late packets
# are known as late: more than any repair window (a second of frames) holds.
FINISHED_TIMESTAMPS = 256


@dataclass
class AssemblyStats:
    """What every assembler counts; `RtpReceiver.summary` reports these."""

    frames: int = 0  # complete frames delivered
    dropped_frames: int = 0  # incomplete frames discarded
    duplicates: int = 0  # packets already held for an open frame
    late_packets: int = 0  # packets of a frame already delivered or dropped (late or duplicate)


class FrameAssembler(Protocol):
    """Rebuilds whole frames from the packets of one RTP stream, given one at a time."""

    @property
    def stats(self) -> AssemblyStats:
        """The counters, updated by `push` and `flush`."""
        ...

    @property
    def buffered_bytes(self) -> int:
        """Payload bytes held for frames not yet complete."""
        ...

    repair_window: int  # frames kept open for repairs (0: the stream's order decides)

    def push(self, ext_seq: int, timestamp: int, marker: bool, payload: bytes) -> bytes | None:
        """Add one packet; return the whole frame it completes, if any.

        `ext_seq` is the *extended* sequence number (unwrapped past 65535 by
        `rtsplab.rtp.receiver.SeqUnwrapper`, RFC 3550 A.1), so that order is integer order.
        """
        ...

    def flush(self) -> None:
        """The stream has ended: drop and count the frames still incomplete."""
        ...


def frame_to_drop(
    open_frames: Mapping[int, object], timestamp: int, repair_window: int = 0
) -> int | None:
    """The timestamp of the open frame a packet of `timestamp` pushes out, if any.

    `open_frames` is keyed by RTP timestamp in order of each frame's first packet (a dict
    keeps that order). A packet of an open frame, or one arriving while fewer than
    `MAX_OPEN_FRAMES` (or `repair_window`) are open, pushes out nothing; otherwise the oldest
    goes, which bounds what a stream of lost packets leaves behind.
    """
    if timestamp in open_frames or len(open_frames) < max(MAX_OPEN_FRAMES, repair_window):
        return None
    return next(iter(open_frames))
