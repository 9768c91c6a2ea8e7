"""rtcp.timing and rtcp.timer: RFC 3550 A.7's rtcp_interval(), and the timer as a unicast
session uses it (a group of two: `RtcpTimer(two_party=True)`)."""

import random

import pytest

from helpers import FixedRandom, SequenceRandom
from rtsplab.rtcp.timer import RtcpTimer
from rtsplab.rtcp.timing import (
    COMPENSATION,
    RTCP_BANDWIDTH_FRACTION,
    SENDER_FRACTION,
    UDP_IP_OVERHEAD,
    rtcp_interval,
)

E_MINUS_3_2 = 1.21828  # A.7: COMPENSATION = 2.71828 - 1.5


MIDDLE = FixedRandom(0.5)  # multiplies by exactly 1.0


def two_party(rtcp_bw, now, we_sent=True, **kw):
    """The timer of one side of a unicast session: members 2, senders 1 (`we_sent` does not
    change the interval then: one sender of two is more than a quarter)."""
    return RtcpTimer(rtcp_bw, now, two_party=True, **kw)


def interval(members=2, senders=1, rtcp_bw=1e6, we_sent=True, avg=100.0, initial=False, **kw):
    kw.setdefault("rng", MIDDLE)
    return rtcp_interval(members, senders, rtcp_bw, we_sent, avg, initial, **kw)


def test_constants():
    assert RTCP_BANDWIDTH_FRACTION == 0.05
    assert SENDER_FRACTION == 0.25
    assert COMPENSATION == pytest.approx(E_MINUS_3_2, abs=1e-12)
    assert UDP_IP_OVERHEAD == 28


def test_deterministic_interval_above_the_minimum():
    # Two members, one sender: 1 > 2 * 25%, so no sender share; n = members = 2.
    # t = avg * n / rtcp_bw = 200 * 2 / 50 = 8 s, above the 5 s minimum.
    assert interval(rtcp_bw=50, avg=200, rng=FixedRandom(0.5)) == pytest.approx(8 / E_MINUS_3_2)
    assert interval(rtcp_bw=50, avg=200, rng=FixedRandom(0.0)) == pytest.approx(4 / E_MINUS_3_2)
    assert interval(rtcp_bw=50, avg=200, rng=FixedRandom(1.0)) == pytest.approx(12 / E_MINUS_3_2)
    assert interval(rtcp_bw=50, avg=200, we_sent=False) == pytest.approx(8 / E_MINUS_3_2)


def test_five_second_minimum():
    # t = 100 * 2 / 1e6 = 0.2 ms, so the 5 s minimum applies.
    assert interval() == pytest.approx(5 / E_MINUS_3_2)
    assert interval(rng=FixedRandom(0.0)) == pytest.approx(2.5 / E_MINUS_3_2)
    assert interval(rng=FixedRandom(1.0)) == pytest.approx(7.5 / E_MINUS_3_2)
    # Just at the minimum: 250 * 2 / 100 = 5 s.
    assert interval(rtcp_bw=100, avg=250) == pytest.approx(5 / E_MINUS_3_2)
    assert interval(rtcp_bw=100, avg=251) == pytest.approx(5.02 / E_MINUS_3_2)


def test_initial_report_halves_the_minimum():
    assert interval(initial=True) == pytest.approx(2.5 / E_MINUS_3_2)
    # Above the minimum, initial changes nothing.
    assert interval(rtcp_bw=50, avg=200, initial=True) == pytest.approx(8 / E_MINUS_3_2)


def test_reduced_minimum_is_360_over_session_kbits():
    # Session 1 Mbit/s = 125000 octets/s; rtcp_bw = 5% = 6250 octets/s.
    # Tmin = 360 / 1000 = 0.36 s; t = 100 * 2 / 6250 = 0.032 s is below it.
    rtcp_bw = RTCP_BANDWIDTH_FRACTION * 125000
    assert interval(rtcp_bw=rtcp_bw, reduced_minimum=True) == pytest.approx(0.36 / E_MINUS_3_2)
    assert interval(rtcp_bw=rtcp_bw, reduced_minimum=True, initial=True) == pytest.approx(
        0.18 / E_MINUS_3_2
    )
    assert interval(rtcp_bw=rtcp_bw) == pytest.approx(5 / E_MINUS_3_2)


def test_reduced_minimum_never_exceeds_five_seconds():
    # 64 kbit/s: 360 / 64 = 5.625 s, more than 5 s; 72 kbit/s is exactly 5 s.
    assert interval(rtcp_bw=0.05 * 8000, reduced_minimum=True) == pytest.approx(5 / E_MINUS_3_2)
    assert interval(rtcp_bw=0.05 * 9000, reduced_minimum=True) == pytest.approx(5 / E_MINUS_3_2)
    assert interval(rtcp_bw=0.05 * 10000, reduced_minimum=True) == pytest.approx(4.5 / E_MINUS_3_2)


def test_reduced_minimum_does_not_lower_a_larger_interval():
    # 80 kbit/s (rtcp_bw 500 octets/s): Tmin = 360 / 80 = 4.5 s. t = 1000 * 2 / 500 = 4 s is
    # below it; with avg 1500, t = 6 s is above it and stays.
    assert interval(rtcp_bw=500, avg=1000, reduced_minimum=True) == pytest.approx(4.5 / E_MINUS_3_2)
    assert interval(rtcp_bw=500, avg=1500, reduced_minimum=True) == pytest.approx(6 / E_MINUS_3_2)


def test_senders_share_a_quarter_when_few():
    # 8 members, 1 sender (1 <= 8 * 25%): the sender uses 25% of 10 octets/s for n = 1;
    # receivers use 75% for n = 7.
    sender = interval(members=8, senders=1, rtcp_bw=10, avg=100, we_sent=True)
    receiver = interval(members=8, senders=1, rtcp_bw=10, avg=100, we_sent=False)
    assert sender == pytest.approx(100 * 1 / 2.5 / E_MINUS_3_2)  # 40 s
    assert receiver == pytest.approx(100 * 7 / 7.5 / E_MINUS_3_2)  # 93.3 s
    # At the boundary 1 <= 4 * 25% the share applies, and gives what no share would: the rule
    # is continuous there (avg * 1 / (bw / 4) = avg * 3 / (bw * 3 / 4) = avg * 4 / bw).
    assert interval(members=4, senders=1, rtcp_bw=10, avg=100) == pytest.approx(40 / E_MINUS_3_2)
    assert interval(members=4, senders=1, rtcp_bw=10, avg=100, we_sent=False) == pytest.approx(
        100 * 3 / 7.5 / E_MINUS_3_2
    )


def test_no_sender_share_when_senders_are_many():
    # 4 members, 2 senders (2 > 1): everyone uses the whole bandwidth with n = 4.
    for we_sent in (True, False):
        t = interval(members=4, senders=2, rtcp_bw=10, avg=100, we_sent=we_sent)
        assert t == pytest.approx(40 / E_MINUS_3_2)
    # Two-party sessions are always in this case: 1 or 2 senders of 2 members.
    for senders in (1, 2):
        t = interval(members=2, senders=senders, rtcp_bw=10, avg=100, we_sent=False)
        assert t == pytest.approx(20 / E_MINUS_3_2)


def test_draws_lie_within_half_and_one_and_a_half_times():
    rng = random.Random(1)
    deterministic = 8.0
    draws = [interval(rtcp_bw=50, avg=200, rng=rng) for _ in range(1000)]
    low, high = 0.5 * deterministic / E_MINUS_3_2, 1.5 * deterministic / E_MINUS_3_2
    assert all(low <= t <= high for t in draws)
    assert min(draws) < low * 1.05 and max(draws) > high * 0.97  # the whole range is used
    assert sum(draws) / len(draws) == pytest.approx(deterministic / E_MINUS_3_2, rel=0.05)


def test_default_rng_is_the_random_module(monkeypatch):
    monkeypatch.setattr(random, "random", lambda: 1.0)
    assert rtcp_interval(2, 1, 1e6, True, 100, False) == pytest.approx(7.5 / E_MINUS_3_2)


@pytest.mark.parametrize(
    "args, message",
    [
        ((0, 0, 100, True, 100, False), r"need 1 <= members"),
        ((2, 3, 100, True, 100, False), r"0 <= senders <= members, got 2, 3"),
        ((2, -1, 100, True, 100, False), r"senders"),
        ((2, 1, 0, True, 100, False), r"rtcp_bw and avg_rtcp_size must be positive, got 0, 100"),
        ((2, 1, 100, True, 0, False), r"must be positive"),
    ],
)
def test_interval_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        rtcp_interval(*args, rng=MIDDLE)


def test_schedule_first_report_after_the_halved_minimum():
    rng = FixedRandom(0.5)
    schedule = two_party(1e6, now=10.0, we_sent=True, rng=rng)
    assert schedule.initial
    assert schedule.tp == 10.0
    assert schedule.tn == pytest.approx(10.0 + 2.5 / E_MINUS_3_2)
    assert rng.calls == 1


def test_schedule_not_due_before_next_time_draws_nothing():
    rng = FixedRandom(0.5)
    schedule = two_party(1e6, now=0.0, we_sent=False, rng=rng)
    assert not schedule.due(schedule.tn - 1e-6)
    assert not schedule.due(0.0)
    assert rng.calls == 1


def test_schedule_due_when_reconsideration_agrees():
    rng = FixedRandom(0.5)
    schedule = two_party(1e6, now=0.0, we_sent=True, rng=rng)
    assert schedule.due(schedule.tn)
    assert schedule.due(schedule.tn + 3.0)


def test_schedule_reconsideration_moves_the_timer():
    # First draw 0.0: tn = 0.5 * 2.5 / c. At tn the redraw 1.0 gives 1.5 * 2.5 / c from tp = 0,
    # later than now: not due, and the timer moves there (section 6.3.6).
    schedule = two_party(1e6, now=0.0, we_sent=True, rng=SequenceRandom(0.0, 1.0, 0.9))
    first = schedule.tn
    assert first == pytest.approx(1.25 / E_MINUS_3_2)
    assert not schedule.due(first)
    assert schedule.tn == pytest.approx(3.75 / E_MINUS_3_2)
    # At the new time, a redraw of 0.9 (1.4 * 2.5 / c) is earlier than now: due.
    assert schedule.due(schedule.tn)


def test_schedule_after_sending_uses_the_full_minimum():
    schedule = two_party(1e6, now=0.0, we_sent=True, avg_rtcp_size=100, rng=FixedRandom(0.5))
    schedule.on_sent(132, now=2.0)
    assert not schedule.initial
    assert schedule.tp == 2.0
    assert schedule.tn == pytest.approx(2.0 + 5 / E_MINUS_3_2)
    # Section 6.3.3 with UDP/IP: avg = 1/16 * (132 + 28) + 15/16 * 100 = 10 + 93.75.
    assert schedule.avg_rtcp_size == 103.75


def test_schedule_received_reports_update_the_average_only():
    schedule = two_party(1e6, now=0.0, we_sent=False, avg_rtcp_size=100, rng=FixedRandom(0.5))
    next_time = schedule.tn
    schedule.on_received(4)  # 1/16 * 32 + 15/16 * 100 = 2 + 93.75
    assert schedule.avg_rtcp_size == 95.75
    schedule.on_received(4)  # 1/16 * 32 + 15/16 * 95.75 = 2 + 89.765625
    assert schedule.avg_rtcp_size == 91.765625
    assert schedule.tn == next_time
    assert schedule.initial


def test_schedule_interval_follows_the_average_size():
    # A thin RTCP bandwidth makes the size matter: 2 members * 200 octets / 50 octets/s = 8 s.
    schedule = two_party(50, now=0.0, we_sent=True, avg_rtcp_size=200, rng=FixedRandom(0.5))
    assert schedule.tn == pytest.approx(8 / E_MINUS_3_2)
    schedule.on_sent(200 - UDP_IP_OVERHEAD + 16 * 16, now=10.0)  # avg 200 -> 216
    assert schedule.avg_rtcp_size == 216
    assert schedule.tn == pytest.approx(10.0 + 216 * 2 / 50 / E_MINUS_3_2)


def test_schedule_reduced_minimum():
    rtcp_bw = RTCP_BANDWIDTH_FRACTION * 125000  # a 1 Mbit/s session: Tmin 0.36 s
    schedule = two_party(rtcp_bw, now=0.0, we_sent=True, rng=FixedRandom(0.5), reduced_minimum=True)
    assert schedule.tn == pytest.approx(0.18 / E_MINUS_3_2)


def test_schedule_mean_interval_with_reconsideration_is_the_deterministic_one():
    # A.7 divides by e - 3/2 because reconsideration lengthens the intervals back; with the
    # redraws of due() the mean comes out at the 5 s minimum.
    schedule = two_party(1e6, now=0.0, we_sent=True, rng=random.Random(3))
    sent = []
    while len(sent) < 3000:
        now = schedule.tn
        if schedule.due(now):
            sent.append(now)
            schedule.on_sent(72, now)  # 72 + 28 = 100 octets: the average stays put
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    assert sum(gaps) / len(gaps) == pytest.approx(5.0, rel=0.03)
    assert min(gaps) >= 2.5 / E_MINUS_3_2


def test_schedule_repr():
    schedule = two_party(1e6, now=1.0, we_sent=True, avg_rtcp_size=100, rng=FixedRandom(0.5))
    assert repr(schedule) == (
        "RtcpTimer(members=1, pmembers=1, senders=0, we_sent=False, initial=True, "
        "avg_rtcp_size=100.0, tp=1.000, tn=3.052)"
    )


def test_postpone_moves_the_timer_without_counting_a_report():
    schedule = two_party(1000.0, 0.0, we_sent=True, rng=random.Random(3))
    due_at, size = schedule.tn, schedule.avg_rtcp_size
    assert schedule.due(due_at + 1)
    schedule.postpone(due_at + 1)
    assert schedule.tn > due_at + 1 and not schedule.due(due_at + 1.01)
    assert schedule.avg_rtcp_size == size and schedule.initial  # nothing was sent
