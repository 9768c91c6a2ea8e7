"""One thread for every session's RTCP: a heap of report times, one selector over every socket.

A thread per session spends its life asleep, and a thousand of them, each waking to look for
its end, wake ten thousand times a second and take the interpreter's lock from the pacing
loop each time. Here one thread sleeps until the next report is due or a datagram arrives on
any session's RTCP socket (epoll through `selectors`, never `select.select`), lets that
session's driver do it (`ServerRtcp.turn`, `ServerRtcp.read`), and sleeps again.

The heap and the selector are the loop thread's alone: other threads post to it (`add`,
`remove`, `sooner`) and wake it through a socket pair it watches. `remove` returns once the
loop has let the driver go, so that no turn of it runs after. The thread starts with the
first driver and ends with the last, so that a server with no session holds none.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import selectors
import socket
import threading
import time
from typing import Protocol

log = logging.getLogger(__name__)


class Driver(Protocol):
    """What the loop runs (`rtsplab.server.rtcp.ServerRtcp`)."""

    name: str
    sock: socket.socket | None

    def turn(self, now: float) -> float | None:
        """Send what is due; when to turn next, or None once done (its socket closed)."""
        ...

    def read(self) -> bool:
        """Read what waits on `sock`; False once it is closed."""
        ...


class RtcpLoop:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._posted: list[tuple[str, Driver, object]] = []
        self._thread: threading.Thread | None = None
        self._waker: socket.socket | None = None  # the thread's socket pair, write end
        self._selector: selectors.BaseSelector | None = None  # the thread's
        # The thread's alone: when each driver turns next, and the heap of those times.
        self._due: dict[Driver, float] = {}
        self._heap: list[tuple[float, int, Driver]] = []
        self._order = itertools.count()

    def add(self, driver: Driver) -> None:
        """Turn `driver` now, then when it says; read its socket whenever a datagram comes.
        Returns once the loop holds it. Raises RuntimeError when no thread can be had."""
        done = threading.Event()
        self._post("add", driver, done)
        if threading.current_thread() is not self._thread:
            done.wait()

    def sooner(self, driver: Driver, when: float) -> None:
        """`driver` wants its turn at `when`, sooner than it said last."""
        self._post("sooner", driver, when)

    def remove(self, driver: Driver) -> None:
        """Let `driver` go: it turns and reads no more once this returns."""
        if threading.current_thread() is self._thread:
            self._forget(driver)
            return
        done = threading.Event()
        if self._post("remove", driver, done):
            done.wait()

    def holds(self, driver: Driver) -> bool:
        return driver in self._due

    @property
    def thread(self) -> threading.Thread | None:
        """The loop's thread while it runs."""
        return self._thread

    def _post(self, what: str, driver: Driver, arg: object) -> bool:
        """Hand the loop a change; False when there is no loop to take it (no thread runs,
        and the change is not `add`)."""
        with self._lock:
            if self._thread is None:
                if what != "add":
                    return False
                self._start()
            self._posted.append((what, driver, arg))
            waker = self._waker
        try:
            assert waker is not None
            waker.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # a wake-up already waits: one is enough
        return True

    def _start(self) -> None:
        """A thread, its selector and its wake-up pair, under the lock."""
        selector = selectors.DefaultSelector()
        wake_in, wake_out = socket.socketpair()
        for end in (wake_in, wake_out):
            end.setblocking(False)
        selector.register(wake_in, selectors.EVENT_READ, None)
        thread = threading.Thread(target=self._run, args=(selector, wake_in, wake_out),
                                  name="rtcp", daemon=True)  # fmt: skip
        try:
            thread.start()
        except RuntimeError:
            selector.close()
            wake_in.close()
            wake_out.close()
            raise
        self._thread, self._waker = thread, wake_out

    def _run(
        self, selector: selectors.BaseSelector, wake_in: socket.socket, wake_out: socket.socket
    ) -> None:
        self._selector = selector
        try:
            while self._take_posted():
                wait = max(0.0, self._heap[0][0] - time.monotonic()) if self._heap else None
                for key, _ in selector.select(wait):
                    if key.data is None:
                        _drain_wake_ups(wake_in)
                    elif key.data in self._due and not key.data.read():
                        self._forget(key.data)  # its socket closed under it
                self._turn_due(time.monotonic())
        except Exception:  # pragma: no cover - the loop's own fault: every driver ends
            log.exception("the RTCP loop failed")
            with self._lock:
                self._end()
        finally:
            selector.close()
            wake_in.close()
            wake_out.close()

    def _end(self) -> None:
        """The thread ends, under the lock: the next `add` starts another."""
        self._thread = self._waker = self._selector = None
        posted, self._posted = self._posted, []
        for _, _, arg in posted:  # an add or remove that came as the loop failed
            if isinstance(arg, threading.Event):
                arg.set()
        self._due.clear()
        self._heap.clear()

    def _take_posted(self) -> bool:
        """Apply what other threads posted; False when the loop has nothing left to do (and
        then the thread is let go, in the same hold of the lock as the look)."""
        with self._lock:
            posted, self._posted = self._posted, []
            if not posted and not self._due:
                self._end()
                return False
        now = time.monotonic()
        for what, driver, arg in posted:
            if what == "sooner":
                due = self._due.get(driver)
                if due is not None and isinstance(arg, float) and arg < due:
                    self._schedule(driver, arg)
                continue
            if what == "add" and self._watch(driver):
                self._schedule(driver, now)
            elif what == "remove":
                self._forget(driver)
            assert isinstance(arg, threading.Event)
            arg.set()
        return True

    def _turn_due(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, _, driver = heapq.heappop(heap)
            if self._due.get(driver) != when:
                continue  # rescheduled since, or let go
            after = driver.turn(now)
            if after is None:
                self._forget(driver)
            else:
                self._schedule(driver, after)

    def _schedule(self, driver: Driver, when: float) -> None:
        self._due[driver] = when
        heapq.heappush(self._heap, (when, next(self._order), driver))

    def _watch(self, driver: Driver) -> bool:
        sock, selector = driver.sock, self._selector
        if sock is None:
            return True
        assert selector is not None
        try:
            try:
                selector.register(sock, selectors.EVENT_READ, driver)
            except KeyError:  # its number still names a socket closed under the loop
                stale = selector.get_map().get(sock.fileno())
                if stale is not None and stale.data is not None:
                    self._forget(stale.data)
                selector.register(sock, selectors.EVENT_READ, driver)
        except (OSError, ValueError, KeyError) as exc:  # closed before the loop took it
            log.debug("%s: RTCP not started: %s", driver.name, exc)
            return False
        return True

    def _forget(self, driver: Driver) -> None:
        if self._due.pop(driver, None) is None:
            return
        if driver.sock is not None and self._selector is not None:
            try:
                self._selector.unregister(driver.sock)
            except (KeyError, ValueError, OSError):
                pass  # never registered, or closed and gone from the selector already


def _drain_wake_ups(wake_in: socket.socket) -> None:
    try:
        while wake_in.recv(4096):
            pass
    except (BlockingIOError, OSError):
        pass


# The process's loop: every server's sessions share it (its thread runs only while one
# session or multicast stream has RTCP).
RTCP_LOOP = RtcpLoop()
