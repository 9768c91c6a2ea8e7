"""The playout loop: each frame out of the cache at its time, the same for the Tk player and
the headless run (`ClientLauncher --headless --buffer N`), so both measure the same cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rtsplab.player.frame_buffer import FrameBuffer

PLAYOUT_POLL = 0.005  # the loop's nap while nothing is due: well under a 60 fps frame


def play_out(
    buffer: FrameBuffer,
    show: Callable[[bytes, int], None],
    stop: threading.Event,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Until `stop`: pop each frame when it is due and `show(jpeg, rtp_timestamp)` it, on
    this thread."""
    while not stop.is_set():
        now = clock()
        wait = buffer.next_due(now)
        if wait is not None and wait > 0:
            stop.wait(min(wait, PLAYOUT_POLL))
            continue
        if wait is None:
            stop.wait(PLAYOUT_POLL)
            now = clock()
        # Asked even with nothing due: so the cache notices an underrun or the end in time.
        # A frame that came meanwhile and is due is shown, never popped and dropped.
        item = buffer.pop_due(now)
        if item is not None:
            show(*item)
