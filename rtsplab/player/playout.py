"""The playout loop: each frame out of the cache at its time, the same for the Tk player and
the headless run (`ClientLauncher --headless --buffer N`), so both measure the same cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from rtsplab.player.frame_buffer import FrameBuffer

PLAYOUT_POLL = 0.005  # the loop's nap while nothing is held: well under a 60 fps frame
# The longest nap until the next frame held is due. Sleeping until it is due rather than
# looking every PLAYOUT_POLL wakes the two playout threads two or three times a frame, not
# ten or more (each wake-up costs CPU); the bound is how late a frame can be shown when the
# clock is re-anchored meanwhile (a resume within it, after a pause).
PLAYOUT_MAX_NAP = 0.02

T = TypeVar("T")


def play_out(
    buffer: FrameBuffer,
    pop: Callable[[float], T | None],
    show: Callable[[T], None],
    stop: threading.Event,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Until `stop`: when the cache has a frame due, `pop(now)` it (the cache's `pop_due`,
    or the caller's wrapper of it) and `show` what that returned, on this thread."""
    while not stop.is_set():
        now = clock()
        wait = buffer.next_due(now)
        if wait is not None and wait > 0:
            stop.wait(min(wait, PLAYOUT_MAX_NAP))
            continue
        if wait is None:
            stop.wait(PLAYOUT_POLL)
            now = clock()
        # Asked even with nothing due: so the cache notices an underrun or the end in time.
        # A frame that came meanwhile and is due is shown, never popped and dropped.
        item = pop(now)
        if item is not None:
            show(item)
