"""A thread that owns some state: other threads post calls to it and wait on their futures.

The owner runs the calls one at a time, in the order posted; between them it waits on its
sockets (a selector: whatever is readable gets its handler called) and, every `poll`
seconds at most, calls `tick(now)` for its timers. A call never re-enters it: one posted from
the owner itself would wait on itself, and raises instead. `stop()` ends it; calls posted
after that, or still queued, fail with ClientError.
"""

from __future__ import annotations

import logging
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

from rtsplab.client.session import ClientError

log = logging.getLogger(__name__)

T = TypeVar("T")
WAKE_READ = 4096  # bytes of wake-ups read at once: any number of posts is one wake-up


class _Job(Generic[T]):
    """A call posted to the owner, and the future its caller waits on."""

    def __init__(self, call: Callable[[], T]) -> None:
        self.call = call
        self.future: Future[T] = Future()

    def run(self) -> None:
        try:
            result = self.call()
        except ClientError as exc:
            self.future.set_exception(exc)
        except Exception as exc:  # a bug: the caller hears of it, the owner goes on
            log.exception("error in a posted call")
            self.future.set_exception(exc)
        else:
            self.future.set_result(result)

    def refuse(self) -> None:
        self.future.set_exception(ClientError("the RTSP connection is closed"))


class OwnerThread:
    def __init__(
        self, name: str, tick: Callable[[float], None], poll: float,
        on_exit: Callable[[], None],
    ) -> None:  # fmt: skip
        """`tick(now)` runs between calls, at least every `poll` seconds; `on_exit()` on the
        owner as it ends, after the last call (it closes what the owner owned)."""
        self._tick, self._poll, self._on_exit = tick, poll, on_exit
        self._jobs: queue.SimpleQueue[_Job[Any]] = queue.SimpleQueue()
        self._closed = False  # under _post_lock: no call is taken any more
        self._post_lock = threading.Lock()
        self._stop = threading.Event()  # this thread's alone
        self._wake_read, self._wake_write = socket.socketpair()
        for end in (self._wake_read, self._wake_write):
            end.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_read, selectors.EVENT_READ, self._woken)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def is_current(self) -> bool:
        return threading.current_thread() is self._thread

    # -- other threads -------------------------------------------------------------------

    def submit(self, call: Callable[[], T]) -> Future[T]:
        """Post `call` to the owner; its future has the result or the exception."""
        if self.is_current():
            raise RuntimeError("the owner thread cannot wait on itself")
        job = _Job(call)
        with self._post_lock:
            if self._closed:
                job.refuse()
                return job.future
            self._jobs.put(job)
        self._wake()
        return job.future

    def call(self, call: Callable[[], T]) -> T:
        """Run `call` on the owner and wait for it: its result, or its exception raised."""
        return self.submit(call).result()

    def stop(self) -> None:
        """End the owner after the call it is running; wait for it (not from itself)."""
        self._stop.set()
        self._wake()
        if not self.is_current() and self._thread.is_alive():
            self._thread.join()

    # -- the owner -----------------------------------------------------------------------

    def watch(self, sock: socket.socket, handler: Callable[[], None]) -> None:
        """Call `handler()` whenever `sock` is readable, between calls."""
        self._selector.register(sock, selectors.EVENT_READ, handler)

    def unwatch(self, sock: socket.socket) -> None:
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass  # not watched

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._run_jobs()
                for key, _ in self._selector.select(self._poll):
                    self._guarded(key.data)
                self._guarded(self._tick, time.monotonic())
        except Exception:  # the selector itself failed: nothing more can be watched
            log.exception("the %s thread failed", self._thread.name)
        finally:
            self._end()

    @staticmethod
    def _guarded(handle: Callable[..., object], *args: object) -> None:
        """A handler's or a timer's bug is logged; the owner goes on with the next."""
        try:
            handle(*args)
        except Exception:
            log.exception("error on the owner thread; going on")

    def _run_jobs(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            job.run()

    def _end(self) -> None:
        with self._post_lock:
            self._closed = True
        while True:
            try:
                self._jobs.get_nowait().refuse()
            except queue.Empty:
                break
        try:
            self._on_exit()
        finally:
            self._selector.close()
            self._wake_read.close()
            self._wake_write.close()

    def _wake(self) -> None:
        try:
            self._wake_write.send(b"\0")
        except OSError:  # a wake-up is waiting already (buffer full), or the owner has gone
            pass

    def _woken(self) -> None:
        try:
            while self._wake_read.recv(WAKE_READ):
                pass
        except OSError:  # read them all
            pass
