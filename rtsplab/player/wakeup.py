"""Waking the Tk thread from another thread when there is something to show, not by polling.

Tk runs on one thread, and a Tkinter call from another thread waits until that thread has run
it. Looking for a new picture with `after()` every few milliseconds wakes the Tk thread each
time whether a picture has come or not: at 4 ms (quick enough for 60 fps) measured here ~40 ms
of CPU a second, more than a millisecond a frame at 30 fps, for nothing most of the time.

Instead the playout thread that hands a picture over writes a byte to a pipe, and Tk's own
event loop watches the pipe's other end (`createfilehandler`): the Tk thread wakes once a
picture, at once. Where Tkinter has no file handlers (Windows), the callback is polled every
`fallback_ms` as before.
"""

from __future__ import annotations

import os
import sys
import threading
import tkinter as tk
from collections.abc import Callable

PIPE_DRAIN = 4096  # bytes read a wake-up: every wake-up pending since the last one


class TkWakeup:
    """Runs `callback` on the Tk thread soon after any thread calls `notify`."""

    def __init__(self, widget: tk.Tk, callback: Callable[[], None], fallback_ms: int) -> None:
        self._widget = widget
        self._callback = callback
        self._fallback_ms = fallback_ms
        # The pipe's ends; the write end is closed (set to None) under the lock, so that a
        # playout thread still finishing a frame never writes to a descriptor reused since.
        self._lock = threading.Lock()
        self._read_end: int | None = None
        self._write_end: int | None = None
        if hasattr(widget.tk, "createfilehandler"):
            self._read_end, self._write_end = os.pipe()
            os.set_blocking(self._read_end, False)
            os.set_blocking(self._write_end, False)
            widget.tk.createfilehandler(self._read_end, tk.READABLE, self._readable)
        else:
            widget.after(fallback_ms, self._poll)

    def notify(self) -> None:
        """Any thread: the callback is to run soon on the Tk thread."""
        with self._lock:
            if self._write_end is None:
                return  # polled, or closed
            try:
                os.write(self._write_end, b"\0")
            except BlockingIOError:
                pass  # the pipe is full of wake-ups not yet read: one is enough

    def close(self) -> None:
        """Tk thread, before the window goes: no more wake-ups."""
        with self._lock:
            read_end, write_end = self._read_end, self._write_end
            self._read_end = self._write_end = None
        if read_end is not None and write_end is not None:
            self._widget.tk.deletefilehandler(read_end)
            os.close(read_end)
            os.close(write_end)

    def _readable(self, read_end: int, _mask: int) -> None:
        try:
            os.read(read_end, PIPE_DRAIN)
        except BlockingIOError:
            pass
        try:
            self._callback()
        except Exception:  # as Tk reports an `after` callback's error: the loop goes on
            self._widget.report_callback_exception(*sys.exc_info())

    def _poll(self) -> None:
        try:
            self._callback()
        finally:
            self._widget.after(self._fallback_ms, self._poll)
