"""The frames' way to the screen across a seek: the receiving thread pushes a frame into the
cache, the playout thread pops and decodes it, the Tk thread shows the picture, and a seek
(started on the Tk thread, ended on the RTSP actions' thread) must let no frame from before it
be shown after it. One lock holds the cache's pushes and pops, the seek's generation and
marker, and the one-picture hand-over slot, so that no check falls apart from its act.

More than one playout thread may decode at once (a frame's decode may then take longer than a
frame's time): each frame popped is numbered, and a picture that comes after a newer one has
been offered is dropped, never painted late and out of order."""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

from RtpPacket import TIMESTAMP_MOD
from rtsplab.player.frame_buffer import FrameBuffer

Picture = TypeVar("Picture")
SKIP_ALL = -1  # the marker while a seek's PLAY is on its way: no frame is taken


class Handover(Generic[Picture]):
    def __init__(self, buffer: FrameBuffer) -> None:
        self.buffer = buffer
        self._lock = threading.Lock()
        self._ready: Picture | None = None  # the hand-over slot
        self._skip_until: int | None = None  # after a seek: the first RTP timestamp to take
        self._generation = 0  # one more at each seek
        self._popped = 0  # frames popped so far: each one's number
        self._offered = 0  # the number of the newest picture offered
        self.shown_timestamp: int | None = None  # of the newest picture: the seek bar's

    # -- the seek: begun on the Tk thread, ended where its PLAY was sent ------------------

    def start_seek(self) -> None:
        """Frames sent before the seek may still be on their way, in the cache or being
        decoded: take none of them, nor any at all until `end_seek` says (RTP-Info) where
        the new ones start."""
        with self._lock:
            self._generation += 1
            self._skip_until = SKIP_ALL
            self._ready = None
            self.shown_timestamp = None  # the seek bar stays at the target meanwhile
            self.buffer.clear()

    def generation(self) -> int:
        with self._lock:
            return self._generation

    def end_seek(self, generation: int, first_timestamp: int | None) -> None:
        """The seek of `generation` is done: frames from `first_timestamp` on are taken
        (None: the seek failed, every frame is). An older seek leaves the marker to the one
        behind it."""
        with self._lock:
            if self._generation == generation:
                self._skip_until = first_timestamp

    # -- the receiving thread, the playout thread, the Tk thread -------------------------

    def push(self, frame: bytes, timestamp: int) -> None:
        """Into the cache, unless it is from before a seek."""
        with self._lock:
            first = self._skip_until
            if first is not None:
                before = (timestamp - first) % TIMESTAMP_MOD >= TIMESTAMP_MOD // 2
                if first == SKIP_ALL or before:
                    return  # sent before the seek (earlier than the PLAY's RTP-Info)
                self._skip_until = None
            self.buffer.push(frame, timestamp, time.monotonic())

    def pop(self, now: float) -> tuple[bytes, int, int, int] | None:
        """The frame due, with the seek generation it was popped in and its number."""
        with self._lock:
            item = self.buffer.pop_due(now)
            if item is None:
                return None
            self._popped += 1
            return (*item, self._generation, self._popped)

    def offer(self, picture: Picture, timestamp: int, generation: int, number: int) -> bool:
        """A decoded picture into the slot, unless a seek came since its frame was popped or
        a newer frame's picture has been offered; whether it was taken."""
        with self._lock:
            if generation != self._generation or number < self._offered:
                return False
            self._offered = number
            self._ready = picture
            self.shown_timestamp = timestamp
            return True

    def take(self) -> Picture | None:
        """The newest picture, if one came since the last take."""
        with self._lock:
            picture, self._ready = self._ready, None
            return picture

    def drop(self) -> None:
        with self._lock:
            self._ready = None
