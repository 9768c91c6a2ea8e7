"""Pacing by the clock, with time passed in."""

import pytest

from rtsplab.rtp.pacer import MAX_LAG, Pacer


def run(pacer, seconds, packets_per_frame, cost=0.0):
    """Simulate a sender that sleeps until each burst and spends `cost` per frame."""
    now, frames = 0.0, 0
    pacer.start(now)
    while True:
        bursts = pacer.next_frame(packets_per_frame, now)
        if bursts[0][2] >= seconds:
            return frames
        for _first, _end, send_at in bursts:
            now = max(now, send_at)
        now += cost
        frames += 1


def test_sixty_seconds_at_20_fps_is_1200_frames_whatever_each_frame_costs():
    assert run(Pacer(20), 60.0, 1) == 1200
    assert run(Pacer(20), 60.0, 300, cost=0.03) == 1200  # 30 ms of work per 50 ms frame


def test_a_frames_packets_are_spread_in_small_bursts_within_its_interval():
    pacer = Pacer(30, burst=16, spread=0.8)
    pacer.start(10.0)
    bursts = pacer.next_frame(500, 10.0)
    assert len(bursts) == 32
    assert bursts[0] == (0, 16, 10.0)
    assert bursts[-1][:2] == (496, 500)
    assert all(end - first <= 16 for first, end, _ in bursts)
    assert [b[0] for b in bursts[1:]] == [b[1] for b in bursts[:-1]]  # no gap, no overlap
    times = [b[2] for b in bursts]
    assert times == sorted(times) and times[-1] < 10.0 + 0.8 / 30
    next_due = pacer.next_frame(1, 10.0)[0][2]
    assert next_due == pytest.approx(10.0 + 1 / 30)


def test_a_frame_of_a_burst_or_less_leaves_at_once_and_one_more_packet_makes_two():
    pacer = Pacer(20, burst=16, spread=0.8)
    pacer.start(3.0)
    assert pacer.next_frame(9, 3.0) == [(0, 9, 3.0)]
    assert pacer.next_frame(16, 3.0) == [(0, 16, 3.05)]
    assert pacer.next_frame(17, 3.0) == [(0, 16, 3.1), (16, 17, pytest.approx(3.1 + 0.02))]


def test_far_behind_the_clock_it_starts_again_from_now():
    pacer = Pacer(20)
    pacer.start(0.0)
    pacer.next_frame(1, 0.0)
    late = 5.0
    assert pacer.next_frame(1, late)[0][2] == late
    assert pacer.next_frame(1, late)[0][2] == pytest.approx(late + 0.05)
    assert MAX_LAG < late


def test_burst_zero_sends_a_frame_at_once():
    pacer = Pacer(30, burst=0)
    pacer.start(0.0)
    assert pacer.next_frame(500, 0.0) == [(0, 500, 0.0)]


@pytest.mark.parametrize("args", [(0,), (20, {"burst": -1}), (20, {"spread": 1.0})])
def test_bad_settings_are_refused(args):
    fps, *rest = args
    with pytest.raises(ValueError):
        Pacer(fps, **(rest[0] if rest else {}))
