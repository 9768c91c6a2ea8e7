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
    this thread. While nothing is due it still asks the cache, so that the cache notices an
    underrun or the end of the stream at the time they happen."""
    while not stop.is_set():
        now = clock()
        wait = buffer.next_due(now)
        if wait is None or wait > 0:
            stop.wait(min(wait or PLAYOUT_POLL, PLAYOUT_POLL))
            if wait is None:
                buffer.pop_due(clock())
            continue
        item = buffer.pop_due(now)
        if item is not None:
            show(*item)
