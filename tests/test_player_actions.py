"""The player's RTSP action runner, without Tk or sockets: fake actions that wait on an Event,
so each test decides when an action finishes. Waits are bounded; nothing is timed."""

import threading

import pytest

from helpers import wait_until
from rtsplab.client.session import ClientError
from rtsplab.player.actions import SEEK, ActionRunner, Result

WAIT = 5.0  # seconds any wait here may take before the test fails instead of hanging


class Gate:
    """A fake action that records its calls and waits until `release` is set."""

    def __init__(self, release_at_once=False):
        self.calls = []
        self.threads = []
        self.started = threading.Event()
        self.release = threading.Event()
        if release_at_once:
            self.release.set()

    def __call__(self, value=None):
        self.calls.append(value)
        self.threads.append(threading.current_thread())
        self.started.set()
        assert self.release.wait(WAIT), "the test never released the action"
        return value


def collect(runner, count):
    """Poll as the Tk thread does until `count` results have come."""
    results = []

    def polled():
        results.extend(runner.poll())
        return len(results) >= count

    wait_until(polled, WAIT, what=f"{count} results")
    return results


@pytest.fixture
def runner():
    runner = ActionRunner()
    yield runner
    assert runner.close(WAIT)


def test_an_action_runs_on_the_worker_and_its_result_is_polled(runner):
    action = Gate(release_at_once=True)
    assert not runner.busy and runner.pending is None
    assert runner.post("SETUP", lambda: action("done"))
    assert runner.busy
    assert collect(runner, 1) == [Result("SETUP", None, "done")]
    assert action.threads[0] is not threading.current_thread()
    assert not runner.busy and runner.poll() == []


def test_a_client_error_is_the_results_one_line_message(runner):
    def refused():
        raise ClientError("no reply to SETUP within 5 s")

    assert runner.post("SETUP", refused)
    [result] = collect(runner, 1)
    assert result == Result("SETUP", "no reply to SETUP within 5 s")
    assert not result.ok


def test_a_bug_in_an_action_is_reported_and_the_worker_goes_on(runner):
    assert runner.post("PLAY", lambda: 1 / 0)
    [result] = collect(runner, 1)
    assert result.name == "PLAY" and result.error == "PLAY failed: division by zero"
    assert runner.post("PAUSE", lambda: "paused")
    assert collect(runner, 1) == [Result("PAUSE", value="paused")]


def test_a_press_while_an_action_is_pending_is_ignored(runner):
    setup, play = Gate(), Gate(release_at_once=True)
    assert runner.post("SETUP", setup)
    assert setup.started.wait(WAIT)
    assert runner.pending == "SETUP"
    assert not runner.post("PLAY", play)  # refused at once, not queued
    assert not runner.seek(4.0, play)  # a seek does not wait behind another kind either
    assert runner.busy and not runner.accepts_seek
    setup.release.set()
    assert [r.name for r in collect(runner, 1)] == ["SETUP"]
    assert play.calls == []
    assert runner.post("PLAY", play)  # once the result is applied, the next press goes
    assert [r.name for r in collect(runner, 1)] == ["PLAY"]


def test_busy_until_the_result_has_been_polled(runner):
    done = threading.Event()

    def pause():
        done.set()

    assert runner.post("PAUSE", pause)
    assert done.wait(WAIT)
    # Finished on the worker, but the window has not applied it: still busy, nothing taken.
    assert runner.busy
    assert not runner.post("PLAY", pause)
    collect(runner, 1)
    assert not runner.busy


def test_seeks_coalesce_only_the_latest_target_is_sent(runner):
    seek = Gate()
    assert runner.seek(2.0, seek)
    assert seek.started.wait(WAIT)  # the first is on its way
    assert runner.accepts_seek and runner.pending == SEEK
    for target in (4.0, 6.0, 8.0, 10.0):  # arrow-key auto-repeat meanwhile
        assert runner.seek(target, seek)
    assert not runner.post("PAUSE", seek)  # nor does anything else jump in
    seek.release.set()
    results = collect(runner, 2)
    assert seek.calls == [2.0, 10.0]
    assert results == [Result(SEEK, value=2.0), Result(SEEK, value=10.0)]
    assert not runner.busy


def test_a_seek_waits_behind_the_seek_running_and_runs_in_order(runner):
    first, second = Gate(), Gate(release_at_once=True)
    assert runner.seek(1.0, first)
    assert first.started.wait(WAIT)
    assert runner.seek(3.0, second)
    assert second.calls == []  # one at a time: it waits for the first
    first.release.set()
    assert [r.value for r in collect(runner, 2)] == [1.0, 3.0]


def test_a_seek_after_an_unpolled_seek_is_accepted(runner):
    seek = Gate(release_at_once=True)
    assert runner.seek(1.0, seek)
    assert seek.started.wait(WAIT)
    assert runner.seek(2.0, seek)  # the first's result not collected yet: still seeks only
    assert [r.value for r in collect(runner, 2)] == [1.0, 2.0]


def test_seeks_in_flight_are_bounded_when_results_are_not_collected(runner):
    gates = {target: Gate() for target in (1.0, 2.0, 3.0)}

    def seek(target):
        return gates[target](target)

    assert runner.seek(1.0, seek)
    assert gates[1.0].started.wait(WAIT)
    assert runner.seek(2.0, seek)
    gates[1.0].release.set()
    assert gates[2.0].started.wait(WAIT)  # 1.0 has finished: its result waits for poll()
    assert runner.seek(3.0, seek)
    gates[2.0].release.set()
    assert gates[3.0].started.wait(WAIT)  # two results not collected, the third running
    assert runner.busy and not runner.accepts_seek
    assert not runner.seek(4.0, seek)
    assert [r.value for r in collect(runner, 2)] == [1.0, 2.0]
    assert runner.accepts_seek  # collected: room again
    gates[3.0].release.set()
    assert [r.value for r in collect(runner, 1)] == [3.0]


def test_close_does_not_wait_for_a_hanging_action_and_drops_the_waiting_one():
    runner = ActionRunner()
    seek = Gate()
    assert runner.seek(1.0, seek)
    assert seek.started.wait(WAIT)
    assert runner.seek(5.0, seek)
    assert not runner.close(timeout=0)  # the hanging one is still running: returns anyway
    assert not runner.post("TEARDOWN", seek) and not runner.seek(9.0, seek)
    assert runner.pending == SEEK  # the one running; the one waiting is gone
    seek.release.set()
    assert runner.close(WAIT)
    assert seek.calls == [1.0]  # 5.0 was never sent


def test_close_when_idle_stops_the_worker():
    runner = ActionRunner()
    assert runner.close(WAIT)
    assert not runner.post("SETUP", lambda: None)


def test_on_result_says_when_a_result_is_there_to_poll():
    """The Tk player is woken by `on_result` instead of polling: it is called after each
    result can be polled, never before, once a result."""
    polled_when_told: list[list[Result]] = []
    runner = ActionRunner(on_result=lambda: polled_when_told.append(runner.poll()))
    gate = Gate()
    assert runner.post("PLAY", lambda: gate("played"))
    assert gate.started.wait(WAIT)
    assert polled_when_told == []  # running: nothing to poll yet
    gate.release.set()
    wait_until(lambda: polled_when_told, WAIT, what="on_result")
    assert runner.post("PAUSE", lambda: "paused")
    wait_until(lambda: len(polled_when_told) == 2, WAIT, what="the second on_result")
    assert polled_when_told == [[Result("PLAY", value="played")], [Result("PAUSE", value="paused")]]
    assert runner.close(WAIT)
