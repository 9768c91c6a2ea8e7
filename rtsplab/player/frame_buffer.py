"""The client's frame cache (the course's criterion 3): pre-buffer, then play by the clock.

Frames go in as they arrive, unevenly — an HD frame is hundreds of packets, and the network
bunches them. Playback starts once `prefill` frames are held (or the stream has ended), and
from then on frame n is shown at the moment its RTP timestamp says, on the client's own clock:

    due(frame) = start_time + (timestamp(frame) - start_timestamp) / 90000

not when it happens to arrive. When the cache runs dry the player is *buffering* again, and
refills to `prefill` before going on, with the clock re-anchored. A frame that arrives after its
display time is counted late and never shown. PAUSE keeps what is held; resume re-anchors the
clock on the next frame. The cache is bounded in frames and in bytes.

Where the stream has sound, the picture follows the sound's clock instead (`timeline`, from
`rtsplab.player.av_clock`): each frame is due when the sound of its instant is heard. A
timeline may say a frame is not due yet (infinity: the sound is about to start, and the
picture waits for it); where it says None, the cache's own clock stands in.

Pure: time is passed in, so tests are exact. Thread-safe: the network thread pushes while the
display side pops.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from RtpPacket import JPEG_CLOCK_RATE, TIMESTAMP_MOD

MIN_FRAME_STEP = JPEG_CLOCK_RATE // 1000  # 1 ms: no video runs at over 1000 fps
LAB_FRAME_STEP = JPEG_CLOCK_RATE // 20  # the lab's 50 ms
REPAIR_TICKS = 10 * JPEG_CLOCK_RATE  # a frame repaired after a NACK is never this far behind
DEFAULT_PREFILL = 30  # the course report's choice: 1.5 s at 20 fps, 1 s at 30 fps
# Bounds: a few seconds of 4K (750 KB frames), far more of anything smaller.
DEFAULT_MAX_FRAMES = 240
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class Playback(Enum):
    BUFFERING = "buffering"  # filling up to prefill before (re)starting
    PLAYING = "playing"
    PAUSED = "paused"
    ENDED = "ended"  # the stream ended and everything held has been shown


@dataclass
class BufferStats:
    received: int = 0  # frames pushed
    shown: int = 0  # frames returned by pop_due
    late: int = 0  # arrived after their display time: never shown
    skipped: int = 0  # were due while an even later frame was also due: not shown
    overflow: int = 0  # refused because the cache was full
    underruns: int = 0  # times the cache ran dry while playing and playback had to wait
    stall_seconds: float = 0.0  # time spent refilling after an underrun (after the start)
    startup_seconds: float | None = None  # from PLAY (`played`) to the first frame shown

    def summary(self) -> dict[str, float | None]:
        """The cache's figures, as the headless run and the player both report them."""
        startup = self.startup_seconds
        return {
            "shown": self.shown,
            "late": self.late,
            "skipped": self.skipped,
            "underruns": self.underruns,
            "stall_seconds": round(self.stall_seconds, 3),
            "startup_seconds": None if startup is None else round(startup, 3),
        }


@dataclass(slots=True)
class _Entry:
    frame: bytes
    timestamp: int  # extended: does not wrap


class FrameBuffer:
    def __init__(
        self,
        prefill: int = DEFAULT_PREFILL,
        *,
        max_frames: int = DEFAULT_MAX_FRAMES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock_rate: int = JPEG_CLOCK_RATE,
    ) -> None:
        if prefill < 1 or max_frames < prefill:
            raise ValueError(f"need 1 <= prefill ({prefill}) <= max_frames ({max_frames})")
        self.prefill = prefill
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.clock_rate = clock_rate
        self.stats = BufferStats()
        self.state = Playback.BUFFERING
        self._frames: deque[_Entry] = deque()
        self._bytes = 0
        self._ended = False  # no more frames will come
        self._stalled = False  # ran dry while playing
        self._last_timestamp: int | None = None  # extended timestamp of the last push
        self._last_raw = 0  # its RTP timestamp as received
        self._step = 0  # timestamp units between the last two frames pushed: one frame's time
        # Extended timestamp of the last frame shown since the last clear (None: none yet; a
        # new session's timestamps start anywhere, below the last one's as likely as above).
        self._last_shown: int | None = None
        self._origin: tuple[float, int] | None = None  # (wall time, extended timestamp)
        self._stalled_at: float | None = None  # when the cache ran dry
        self._played_at: float | None = None  # the PLAY that the first frame shown answers
        self._lock = threading.Lock()
        # When a frame (its RTP timestamp) is due by another clock, the sound's; None: by ours.
        self.timeline: Callable[[int], float | None] | None = None

    # -- the network side ----------------------------------------------------------------

    def push(self, frame: bytes, timestamp: int, now: float) -> bool:
        """Add a frame received at `now`; False when it is late or the cache is full."""
        with self._lock:
            ext = self._extend(timestamp)
            self.stats.received += 1
            shown_past = self._last_shown is not None and ext <= self._last_shown  # a late repair
            if shown_past or (self.state is Playback.PLAYING and self._due(ext) < now):
                self.stats.late += 1
                return False
            if len(self._frames) >= self.max_frames or self._bytes + len(frame) > self.max_bytes:
                self.stats.overflow += 1
                return False
            self._insert(_Entry(frame, ext))
            self._bytes += len(frame)
            if self.state is Playback.BUFFERING and len(self._frames) >= self.prefill:
                self._start(now)
            return True

    def _insert(self, entry: _Entry) -> None:
        """In timestamp order: a frame repaired after a NACK comes after later ones."""
        frames = self._frames
        index = len(frames)
        while index and frames[index - 1].timestamp > entry.timestamp:
            index -= 1
        frames.insert(index, entry)

    def end_of_stream(self, now: float) -> None:
        """No more frames will come: play out what is held, even below prefill."""
        with self._lock:
            self._ended = True
            if self.state is Playback.BUFFERING:
                if self._frames:
                    self._start(now)
                else:
                    self.state = Playback.ENDED

    # -- the display side ----------------------------------------------------------------

    def pop_due(self, now: float) -> tuple[bytes, int] | None:
        """The frame to show at `now` (and its RTP timestamp), if one is due."""
        with self._lock:
            if self.state is not Playback.PLAYING:
                return None
            if not self._frames:
                if self._ended:
                    self.state = Playback.ENDED
                elif (
                    self._step
                    and self._last_shown is not None
                    and now >= self._due(self._last_shown + self._step)
                ):
                    # The next frame is due and not here: refill before going on. It counts
                    # as an underrun once frames come again (not when the stream just ended).
                    self._stalled = True
                    self._stalled_at = now
                    self.state = Playback.BUFFERING
                return None
            due = None
            while self._frames and self._due(self._frames[0].timestamp) <= now:
                if due is not None:
                    self.stats.skipped += 1
                due = self._frames.popleft()
                self._bytes -= len(due.frame)
            if due is None:
                return None
            self.stats.shown += 1
            if self._played_at is not None:
                self.stats.startup_seconds = now - self._played_at
                self._played_at = None
            self._last_shown = due.timestamp
            return due.frame, due.timestamp % TIMESTAMP_MOD

    def next_due(self, now: float) -> float | None:
        """Seconds until the next frame is due (0 if it is now), or None when not playing or
        not known yet (the timeline waits for the sound to start: it may at any moment)."""
        with self._lock:
            if self.state is not Playback.PLAYING or not self._frames:
                return None
            due = self._due(self._frames[0].timestamp)
            return None if due == math.inf else max(0.0, due - now)

    def played(self, now: float) -> None:
        """PLAY was sent at `now`: the next frame shown measures the startup delay (the
        first PLAY of a session only; a resume or a seek is not a startup)."""
        with self._lock:
            if self.stats.startup_seconds is None:
                self._played_at = now

    def pause(self) -> None:
        with self._lock:
            if self.state in (Playback.PLAYING, Playback.BUFFERING):
                self.state = Playback.PAUSED

    def resume(self, now: float) -> None:
        """Go on from the next frame held; buffer first if there are too few."""
        with self._lock:
            if self.state is not Playback.PAUSED:
                return
            self._ended = False  # PLAY asks the server for more
            self.state = Playback.BUFFERING
            if len(self._frames) >= self.prefill:
                self._start(now)

    def clear(self) -> None:
        """TEARDOWN: free everything and start over."""
        with self._lock:
            self._frames.clear()
            self._bytes = 0
            self._ended = self._stalled = False
            self._stalled_at = None
            self._last_timestamp = None
            self._last_shown = None
            self._step = 0
            self._origin = None
            self.state = Playback.BUFFERING

    @property
    def fill(self) -> int:
        return len(self._frames)

    @property
    def fill_bytes(self) -> int:
        return self._bytes

    # -- internals (lock held) -------------------------------------------------------------

    def _extend(self, timestamp: int) -> int:
        """Unwrap 32-bit RTP timestamps into a count that does not wrap.

        A frame a little before the previous one (up to REPAIR_TICKS) is an earlier frame
        completed late by a repair: it goes in its place, and the clock's idea of the last
        frame stays. Any other frame whose timestamp is not at least MIN_FRAME_STEP after the
        previous one's is not on a 90 kHz clock (the lab's RtpPacket stamps int(time()), the
        same for 20 frames): it is placed one frame at the lab's 20 fps after the previous one.
        """
        if self._last_timestamp is None:
            ext = timestamp
        else:
            delta = (timestamp - self._last_raw) % TIMESTAMP_MOD
            if 0 < TIMESTAMP_MOD - delta <= REPAIR_TICKS:
                return self._last_timestamp - (TIMESTAMP_MOD - delta)
            if delta >= TIMESTAMP_MOD // 2 or delta < MIN_FRAME_STEP:
                delta = LAB_FRAME_STEP
            ext = self._last_timestamp + delta
            self._step = delta
        self._last_raw = timestamp
        self._last_timestamp = ext
        return ext

    def _due(self, timestamp: int) -> float:
        timeline = self.timeline
        due = None if timeline is None else timeline(timestamp % TIMESTAMP_MOD)
        if due is not None:
            return due
        anchor = self._origin
        assert anchor is not None, "the clock is anchored whenever frames can be due"
        wall, origin = anchor
        return wall + (timestamp - origin) / self.clock_rate

    def _start(self, now: float) -> None:
        """Anchor the clock: the first frame held is due now."""
        if self._stalled and not self._ended:
            self.stats.underruns += 1
            if self._stalled_at is not None:
                self.stats.stall_seconds += now - self._stalled_at
        self._stalled = False
        self._stalled_at = None
        self._origin = (now, self._frames[0].timestamp)
        self.state = Playback.PLAYING
