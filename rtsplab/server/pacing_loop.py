"""One thread paces every playing session: a heap of streams ordered by when each is due.

A thread per PLAY spends most of its life asleep, and two hundred of them wake each other
and the interpreter's lock thousands of times a second. Here one thread takes the stream due
soonest, lets it do what is due (`RtpStream.step`: a burst, a frame read, a BYE) and puts
it back at the time it names. Python runs one thread at a time anyway; one loop does the
same work without the switching (a second loop thread, to step while the first is in the
kernel, measured no faster).

`remove` is the stop: it waits for a step in progress, lets the stream finish its frame
(`RtpStream.finish`), and after it returns the stream sends nothing more. Streams step
outside the heap's lock, every stream due taken in one turn of it (at most BATCH), so
`remove` never waits behind more than one batch. Nothing a
stream raises escapes the loop: it is logged and that stream alone ends.

Once a LOAD_WINDOW the loop tells `on_load` its load: the streams playing, and its share of
the window spent stepping them rather than waiting (what `udp_out.Gso` decides batching on).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

# Streams stepped in one turn of the lock: what a remove() may wait behind, at ~30 µs a step.
BATCH = 32
# A stream due this soon is stepped now, as at its time: a sleep so short costs more than it
# gives (a thousand sessions at 20 fps are one due every 50 µs), and no frame is later for it.
EARLY = 0.0005
LOAD_WINDOW = 1.0  # seconds between two reports of the loop's load


class Steps(Protocol):
    """What the loop runs (`rtsplab.server.stream.RtpStream`)."""

    name: str
    active: bool

    def step(self, now: float) -> float | None: ...

    def finish(self, now: float) -> None: ...


class PacingLoop:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        on_load: Callable[[int, float], object] | None = None,
    ) -> None:
        """`on_load(playing, busy)` hears the load once a LOAD_WINDOW, on the loop's thread."""
        self._clock = clock
        self._on_load = on_load
        self._window: tuple[float, float] | None = None  # (its start, time spent stepping)
        self._heap: list[tuple[float, int, Steps]] = []
        self._order = itertools.count()  # equal times step in the order they were added
        self._wake = threading.Condition(threading.Lock())
        self._closed = False
        self._stepping: set[int] = set()  # id() of each stream stepping now, outside the lock
        self._removing = 0  # remove() calls waiting for a step to end
        self.thread = threading.Thread(target=self._run, name="rtp-pacing", daemon=True)

    def start(self) -> None:
        """Start the loop's thread: the server does, once it serves."""
        self.thread.start()

    def add(self, stream: Steps, at: float) -> None:
        """Step `stream` at `at` (monotonic s) and then whenever it says."""
        with self._wake:
            if self._closed:
                raise RuntimeError("the pacing loop is closed")
            heapq.heappush(self._heap, (at, next(self._order), stream))
            self._wake.notify_all()

    def remove(self, stream: Steps) -> None:
        """Stop `stream`: its frame in progress leaves whole; nothing leaves after this."""
        with self._wake:
            self._removing += 1
            try:
                while id(stream) in self._stepping:
                    self._wake.wait()
            finally:
                self._removing -= 1
            stream.finish(self._clock())
            # Its heap entry stays until its time comes, and is dropped then: inactive.

    def __len__(self) -> int:
        """Streams waiting their turn."""
        with self._wake:
            return sum(1 for _, _, stream in self._heap if stream.active)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout=5)

    def _run(self) -> None:
        heap, wake, stepping = self._heap, self._wake, self._stepping
        while True:
            with wake:
                if self._closed:
                    return
                while heap and not heap[0][2].active:
                    heapq.heappop(heap)  # stopped since it was queued
                if not heap:
                    wake.wait()
                    continue
                now = self._clock()
                wait = heap[0][0] - now
                if wait > EARLY:
                    wake.wait(wait)
                    continue
                # Every stream due, in one turn of the lock (at most BATCH of them).
                due: list[tuple[float, Steps]] = []
                while heap and heap[0][0] <= now + EARLY and len(due) < BATCH:
                    at, _, stream = heapq.heappop(heap)
                    if stream.active:
                        due.append((max(at, now), stream))
                        stepping.add(id(stream))
            steps = [(stream, self._step(stream, at)) for at, stream in due]
            self._count_load(now, len(heap) + len(due))
            with wake:
                for stream, after in steps:
                    stepping.discard(id(stream))
                    if after is not None and stream.active:
                        heapq.heappush(heap, (after, next(self._order), stream))
                if self._removing:
                    wake.notify_all()  # a remove() waiting for one of these steps

    def _count_load(self, started: float, playing: int) -> None:
        """Add a turn that began at `started` to the window; report the window once full."""
        if self._on_load is None:
            return
        end = self._clock()
        begun, busy = self._window or (started, 0.0)
        busy += end - started
        if end - begun < LOAD_WINDOW:
            self._window = (begun, busy)
            return
        self._window = None
        try:
            self._on_load(playing, min(1.0, busy / (end - begun)))
        except Exception:
            log.exception("the pacing loop's load was not taken")

    @staticmethod
    def _step(stream: Steps, now: float) -> float | None:
        try:
            return stream.step(now)
        except Exception:
            log.exception("RTP stream of session %s failed", stream.name)
            stream.active = False
            return None
