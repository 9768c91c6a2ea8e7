"""The player's RTSP actions, run off the Tk thread, one at a time: a window never waits.

Each `RtspClient` method posts its request to the connection's owner thread and waits for the
server's reply, up to its reply timeout. The window posts the call here instead and goes on
painting; one worker thread makes it and waits; the outcome —
done, or the `ClientError`'s one-line message — waits until the Tk thread collects it with
`poll()`, woken by `on_result` (the Tk player's `TkWakeup`), and applies the follow-ups there.

The rules, all of them:

* One worker thread runs the actions one at a time, in the order they were accepted.
* `post()` is refused (returns False: the press is ignored) while anything is *in flight*:
  running, waiting, or finished with its result not yet collected by `poll()`. A press is
  asked for in the state the window shows, and until the pending action's result has been
  applied that state is not known: Play queued behind Play would be PLAY twice, Teardown
  behind a hanging Setup would tear down a session that never came. So no request is queued
  behind a button; the window shows `busy` (buttons disabled, the pending action's name on
  the status line). What it may keep is the *press*, to judge again once the result is
  applied (the Tk player does so for a key: s then p plays).
* `seek()` coalesces. While nothing but seeks is in flight, a seek is accepted: it runs at
  once, or waits behind the seek running, and a newer seek replaces the one waiting, so only
  the latest target is sent. A seek is refused while another kind of action is in flight
  (seek behind a Pause or a Teardown is the same guess as above). At most one action waits.
* What is in flight is bounded: `MAX_IN_FLIGHT` actions, running, waiting or with results
  not yet polled. A seek that would be one more is refused (the window polls as soon as a
  result is there, so this only happens when it has stopped polling).
* `close(timeout)` takes nothing more, drops the waiting action and waits for the running
  one no longer than `timeout`; the worker is a daemon thread and dies with the process.

Accepting and refusing depend only on what the posting thread did (post, seek, poll, close),
so a thread that checks `busy` or `accepts_seek` and then posts is not racing the worker.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from rtsplab.client.session import ClientError

log = logging.getLogger(__name__)

SEEK = "SEEK"  # the name seek() gives its actions
MAX_IN_FLIGHT = 3  # the seek running, the one waiting, and one result not yet polled


@dataclass(frozen=True)
class Result:
    """How an action ended: `error` is None when it was done, else the one-line message."""

    name: str
    error: str | None = None
    value: object = None  # what the action returned

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class _Action:
    name: str
    run: Callable[[], object]
    is_seek: bool = False


class ActionRunner:
    """One worker thread for the player's RTSP calls; see the module's rules."""

    def __init__(
        self, name: str = "rtsp-actions", on_result: Callable[[], None] | None = None
    ) -> None:
        """`on_result` is called on the worker each time a result is there to `poll()`."""
        self._on_result = on_result
        self._cond = threading.Condition()
        self._running: _Action | None = None
        self._waiting: _Action | None = None
        self._results: deque[tuple[Result, bool]] = deque()  # and whether a seek's
        self._in_flight = 0  # accepted, and its result not yet returned by poll()
        self._others_in_flight = 0  # of which not seeks
        self._closed = False
        self._worker = threading.Thread(target=self._work, name=name, daemon=True)
        self._worker.start()

    # -- the posting thread (Tk) ---------------------------------------------------------

    def post(self, name: str, action: Callable[[], object]) -> bool:
        """Run `action` on the worker; False (ignored) while anything is in flight."""
        with self._cond:
            if self._closed or self._in_flight:
                return False
            self._accept(_Action(name, action))
            return True

    def seek(self, target: float, action: Callable[[float], object]) -> bool:
        """Run `action(target)` on the worker, replacing a seek that waits; False (ignored)
        while an action other than a seek is in flight."""
        job = _Action(SEEK, partial(action, target), is_seek=True)
        with self._cond:
            if not self._accepts_seek():
                return False
            if self._waiting is not None:  # a seek, by the rule above: the newer target wins
                self._waiting = job
            else:
                self._accept(job)
            return True

    def poll(self) -> list[Result]:
        """The results finished since the last poll, oldest first; never blocks."""
        with self._cond:
            finished = list(self._results)
            self._results.clear()
            for _result, is_seek in finished:
                self._forget(is_seek)
            return [result for result, _is_seek in finished]

    @property
    def busy(self) -> bool:
        """An action is running or waiting, or its result has not been polled yet."""
        with self._cond:
            return self._in_flight > 0

    @property
    def accepts_seek(self) -> bool:
        """Whether seek() now would be accepted (idle, or busy with seeks only)."""
        with self._cond:
            return self._accepts_seek()

    @property
    def pending(self) -> str | None:
        """The name of the action running, else of the one waiting; None when neither."""
        with self._cond:
            action = self._running or self._waiting
            return action.name if action is not None else None

    def close(self, timeout: float = 0.0) -> bool:
        """Accept nothing more, drop the waiting action, and wait up to `timeout` seconds
        for the running one; True when the worker has stopped."""
        with self._cond:
            self._closed = True
            if self._waiting is not None:
                self._forget(self._waiting.is_seek)
                self._waiting = None
            self._cond.notify_all()
        if threading.current_thread() is not self._worker:
            self._worker.join(timeout)
        return not self._worker.is_alive()

    def _accepts_seek(self) -> bool:  # with self._cond held
        if self._closed or self._others_in_flight:
            return False
        return self._waiting is not None or self._in_flight < MAX_IN_FLIGHT

    def _accept(self, job: _Action) -> None:  # with self._cond held
        self._waiting = job
        self._in_flight += 1
        if not job.is_seek:
            self._others_in_flight += 1
        self._cond.notify_all()

    def _forget(self, is_seek: bool) -> None:  # with self._cond held
        self._in_flight -= 1
        if not is_seek:
            self._others_in_flight -= 1

    # -- the worker ----------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while self._waiting is None and not self._closed:
                    self._cond.wait()
                job = self._waiting
                if self._closed or job is None:
                    return
                self._running, self._waiting = job, None
            result = self._run(job)
            with self._cond:
                self._running = None
                self._results.append((result, job.is_seek))
            if self._on_result is not None:
                self._on_result()

    @staticmethod
    def _run(job: _Action) -> Result:
        try:
            value = job.run()
        except ClientError as exc:
            return Result(job.name, str(exc))
        except Exception as exc:  # a bug in an action must not stop the ones after it
            log.exception("%s failed", job.name)
            return Result(job.name, f"{job.name} failed: {exc}")
        return Result(job.name, value=value)
