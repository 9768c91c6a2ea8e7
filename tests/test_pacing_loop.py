"""PacingLoop: one thread stepping every stream when it is due, on a clock the test moves."""

import logging
import threading

import pytest

from conftest import wait_until
from rtsplab.server.pacing_loop import EARLY, PacingLoop

WAIT = 5.0  # the longest any test waits for the loop's thread


class Clock:
    """A clock that moves only when the test says."""

    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now


class Fake:
    """A stream that records its steps into `log` and answers them from `script` (a time
    to be stepped again, None to be done, or an exception to raise)."""

    def __init__(self, name, log, *script):
        self.name, self.log, self.script = name, log, list(script)
        self.active = True
        self.steps, self.finished = [], []

    def step(self, now):
        self.steps.append(now)
        self.log.append(self.name)
        answer = self.script.pop(0) if self.script else None
        if isinstance(answer, Exception):
            raise answer
        return answer

    def finish(self, now):
        self.finished.append(now)
        self.log.append(f"finish {self.name}")
        self.active = False


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def loop(clock):
    loop = PacingLoop(clock)
    loop.start()
    yield loop
    loop.close()


def test_streams_step_in_the_order_they_are_due(loop, clock):
    log = []
    a, b, c = Fake("a", log, 3.5), Fake("b", log), Fake("c", log)
    loop.add(a, 1.0)
    loop.add(c, 3.0)
    loop.add(b, 2.0)
    assert len(loop) == 3 and log == []  # nothing due at 0
    clock.now = 10.0
    d = Fake("d", log)
    loop.add(d, 4.0)  # wakes the loop
    wait_until(lambda: len(log) == 5, WAIT)
    # Every stream due at 10 steps in one turn, in the order of its time; a's next step
    # (3.5, due too) comes in the turn after it.
    assert log == ["a", "b", "c", "d", "a"]
    assert a.steps == [10.0, 10.0] and d.steps == [10.0]


def test_a_stream_due_within_early_steps_now_as_at_its_time_and_one_later_waits(loop, clock):
    log = []
    soon, later = Fake("soon", log), Fake("later", log)
    clock.now = 7.0
    loop.add(later, 7.0 + 2 * EARLY)
    loop.add(soon, 7.0 + EARLY / 2)  # the clock does not move: only EARLY lets it step
    wait_until(lambda: log == ["soon"], WAIT)
    assert soon.steps == [7.0 + EARLY / 2]  # its own time, not the clock's 7.0
    assert later.steps == []
    clock.now = 7.0 + 2 * EARLY
    loop.add(Fake("wake", log), 100.0)
    wait_until(lambda: "later" in log, WAIT)
    assert later.steps == [7.0 + 2 * EARLY]


def test_streams_due_at_the_same_time_step_in_the_order_added(loop, clock):
    log = []
    streams = [Fake(name, log) for name in "qwerty"]
    for stream in streams:
        loop.add(stream, 5.0)
    clock.now = 5.0
    loop.add(Fake("last", log), 5.0)
    wait_until(lambda: len(log) == 7, WAIT)
    assert log == [*"qwerty", "last"]


def test_a_stream_that_is_done_is_dropped(loop, clock):
    log = []
    done, later = Fake("done", log, None, 1.0), Fake("later", log)
    clock.now = 1.0
    loop.add(done, 1.0)
    wait_until(lambda: log == ["done"], WAIT)
    assert len(loop) == 0
    clock.now = 2.0
    loop.add(later, 2.0)
    wait_until(lambda: "later" in log, WAIT)
    assert log == ["done", "later"]
    assert done.steps == [1.0] and done.finished == []


def test_removing_a_waiting_stream_finishes_it_and_it_never_steps(loop, clock):
    log = []
    stream, sentinel = Fake("s", log, 6.0), Fake("sentinel", log)
    loop.add(stream, 5.0)
    clock.now = 1.5
    loop.remove(stream)
    assert stream.finished == [1.5] and not stream.active
    assert len(loop) == 0
    clock.now = 10.0
    loop.add(sentinel, 7.0)
    wait_until(lambda: "sentinel" in log, WAIT)
    assert log == ["finish s", "sentinel"]
    assert stream.steps == []


def test_remove_waits_for_the_step_in_progress(loop, clock):
    entered, release, removed = threading.Event(), threading.Event(), threading.Event()
    log = []

    class Held(Fake):
        def step(self, now):
            log.append("step begins")
            entered.set()
            assert release.wait(WAIT)
            log.append("step ends")
            return now + 1.0

    stream = Held("held", log)
    clock.now = 1.0
    loop.add(stream, 1.0)
    assert entered.wait(WAIT)

    def remove():
        loop.remove(stream)
        removed.set()

    remover = threading.Thread(target=remove, daemon=True)
    remover.start()
    try:
        assert not removed.wait(0.3)  # held behind the step
        assert log == ["step begins"]
    finally:
        release.set()
    assert removed.wait(WAIT)
    remover.join(WAIT)
    assert log == ["step begins", "step ends", "finish held"]
    assert stream.finished == [1.0]
    clock.now = 50.0  # past the time the step asked for
    sentinel = Fake("sentinel", log)
    loop.add(sentinel, 49.0)
    wait_until(lambda: "sentinel" in log, WAIT)
    assert log.count("step begins") == 1


def test_a_stream_that_raises_is_logged_and_dropped_and_the_others_go_on(loop, clock, caplog):
    log = []
    bad = Fake("bad", log, RuntimeError("boom"), 3.0)
    good = Fake("good", log, 3.0, None)
    loop.add(bad, 1.0)
    loop.add(good, 2.0)
    with caplog.at_level(logging.ERROR, logger="rtsplab.server.pacing_loop"):
        clock.now = 5.0
        loop.add(Fake("wake", log), 4.0)
        wait_until(lambda: log.count("good") == 2 and "wake" in log, WAIT)
    assert log == ["bad", "good", "wake", "good"]  # bad at 3.0 never comes
    assert bad.active is False and bad.finished == []
    errors = [r for r in caplog.records if r.name == "rtsplab.server.pacing_loop"]
    assert len(errors) == 1
    assert "session bad failed" in errors[0].getMessage()
    assert errors[0].exc_info is not None and "boom" in str(errors[0].exc_info[1])
    assert len(loop) == 0


def test_len_counts_the_streams_waiting_that_are_still_active(loop):
    log = []
    streams = [Fake(str(i), log) for i in range(3)]
    for i, stream in enumerate(streams):
        loop.add(stream, 100.0 + i)
    assert len(loop) == 3
    loop.remove(streams[1])
    assert len(loop) == 2
    assert log == ["finish 1"]


def test_close_stops_the_thread_and_add_after_it_is_refused(clock):
    before = set(threading.enumerate())
    loop = PacingLoop(clock)
    assert set(threading.enumerate()) == before  # building it starts nothing
    loop.start()
    started = [t for t in threading.enumerate() if t not in before]
    assert [t.name for t in started] == ["rtp-pacing"]
    log = []
    loop.add(Fake("waiting", log), 1.0)
    loop.close()
    started[0].join(WAIT)
    assert not started[0].is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        loop.add(Fake("late", log), 0.0)
    clock.now = 10.0
    assert log == []  # nothing stepped: the waiting stream was never due while it ran
    loop.close()  # twice is harmless
