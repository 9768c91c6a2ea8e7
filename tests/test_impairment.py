"""Impairment: the loss chain's statistics, the order rule, the link's rate and queue, the
config's validation and log line. Seeded, so every number here is the same on every run."""

import math
import random
from dataclasses import replace

import pytest

from rtsplab.server.impairment import Impairment, ImpairmentConfig, ImpairmentCounts

SIZE = 1400
# 1 ms apart: closer than any jitter used below, so a reordered datagram has someone to overtake.
SPACING = 0.001


def run(config, n, *, size=SIZE, spacing=SPACING, rng=None):
    """Schedule n datagrams handed over `spacing` s apart; their departure lists, in order."""
    impairment = Impairment(config, rng)
    return impairment, [impairment.schedule(size, i * spacing) for i in range(n)]


def lost_flags(config, n):
    _, departures = run(config, n)
    return [not times for times in departures]


def bursts(flags):
    """Lengths of the runs of consecutive losses."""
    lengths, current = [], 0
    for lost in flags:
        if lost:
            current += 1
        elif current:
            lengths.append(current)
            current = 0
    if current:
        lengths.append(current)
    return lengths


# --- determinism ---------------------------------------------------------------------------

BUSY = ImpairmentConfig(
    loss=10, loss_burst=2, delay=30, jitter=20, reorder=10, duplicate=5, rate=5000, seed=7
)


def test_same_seed_same_decisions_and_times():
    first_impairment, first = run(BUSY, 2000)
    second_impairment, second = run(BUSY, 2000)
    assert first == second
    assert first_impairment.counts == second_impairment.counts
    counts = first_impairment.counts
    assert counts.dropped and counts.duplicated and counts.reordered and counts.delayed


def test_different_seed_differs():
    _, first = run(BUSY, 2000)
    _, other = run(replace(BUSY, seed=8), 2000)
    assert [not t for t in first] != [not t for t in other]
    assert first != other


def test_injected_rng_is_the_seeded_one():
    _, seeded = run(BUSY, 500)
    _, injected = run(replace(BUSY, seed=None), 500, rng=random.Random(7))
    assert seeded == injected


def test_losses_do_not_depend_on_the_other_settings():
    plain = ImpairmentConfig(loss=5, loss_burst=3, seed=3)
    delayed = ImpairmentConfig(loss=5, loss_burst=3, delay=40, jitter=10, duplicate=2, seed=3)
    assert lost_flags(plain, 5000) == lost_flags(delayed, 5000)


def test_inactive_config_passes_everything_at_once():
    config = ImpairmentConfig(reorder=30, loss_burst=4, seed=1)
    assert not config.active
    impairment, departures = run(config, 100)
    assert departures == [[i * SPACING] for i in range(100)]
    assert impairment.counts == ImpairmentCounts(sent=100)


# --- loss ----------------------------------------------------------------------------------


def test_loss_rate_is_the_configured_one():
    flags = lost_flags(ImpairmentConfig(loss=5, seed=11), 20_000)
    assert sum(flags) / len(flags) == pytest.approx(0.05, abs=0.005)


def test_bursty_loss_keeps_rate_and_mean_burst():
    flags = lost_flags(ImpairmentConfig(loss=5, loss_burst=3, seed=12), 100_000)
    assert sum(flags) / len(flags) == pytest.approx(0.05, abs=0.005)
    lengths = bursts(flags)
    assert sum(lengths) / len(lengths) == pytest.approx(3.0, rel=0.1)


def test_default_burst_is_independent_loss():
    # Independent loss at rate L has runs of mean 1/(1 - L): about 1, and not exactly 1.
    flags = lost_flags(ImpairmentConfig(loss=10, seed=13), 100_000)
    lengths = bursts(flags)
    assert sum(lengths) / len(lengths) == pytest.approx(1 / 0.9, rel=0.02)
    after_loss = [b for a, b in zip(flags, flags[1:], strict=False) if a]
    after_kept = [b for a, b in zip(flags, flags[1:], strict=False) if not a]
    overall = sum(flags) / len(flags)
    assert sum(after_loss) / len(after_loss) == pytest.approx(overall, abs=0.01)
    assert sum(after_kept) / len(after_kept) == pytest.approx(overall, abs=0.01)


def test_bursty_loss_is_correlated():
    flags = lost_flags(ImpairmentConfig(loss=5, loss_burst=4, seed=14), 100_000)
    after_loss = [b for a, b in zip(flags, flags[1:], strict=False) if a]
    # P(loss | previous loss) = 1 - r = 1 - 1/4.
    assert sum(after_loss) / len(after_loss) == pytest.approx(0.75, abs=0.02)


def test_first_datagram_is_lost_at_the_long_run_rate():
    # Long bursts make p = r = 1/20: starting in the good state would lose the first datagram
    # 5% of the time, not 50%.
    firsts = [
        not Impairment(ImpairmentConfig(loss=50, loss_burst=20, seed=seed)).schedule(SIZE, 0.0)
        for seed in range(2000)
    ]
    assert sum(firsts) / len(firsts) == pytest.approx(0.5, abs=0.04)


def test_no_loss_and_total_loss():
    assert not any(lost_flags(ImpairmentConfig(loss=0, loss_burst=5, seed=1), 1000))
    assert all(lost_flags(ImpairmentConfig(loss=100, seed=1), 1000))
    assert all(lost_flags(ImpairmentConfig(loss=100, loss_burst=3, seed=1), 1000))


# --- delay, jitter, order -------------------------------------------------------------------


def test_fixed_delay_known_answer():
    impairment, departures = run(ImpairmentConfig(delay=40), 3, spacing=0.5)
    assert departures == [[0.04], [0.54], [1.04]]
    assert impairment.counts == ImpairmentCounts(sent=3, delayed=3)


def test_jitter_without_reorder_keeps_order():
    config = ImpairmentConfig(delay=40, jitter=15, seed=21)
    impairment, departures = run(config, 5000)
    times = [t for (t,) in departures]
    assert all(later >= earlier for earlier, later in zip(times, times[1:], strict=False))
    for i, t in enumerate(times):
        now = i * SPACING
        # Never early; late only as far as the order rule stretches it.
        assert t >= now + 0.025 - 1e-12
        assert t <= max(now + 0.055, times[i - 1] if i else now) + 1e-12
    assert impairment.counts.reordered == 0


def test_jitter_before_the_order_rule_is_uniform_in_range():
    # reorder 100%: no datagram waits for another, so each leaves at its own delay.
    config = ImpairmentConfig(delay=40, jitter=15, reorder=100, seed=22)
    _, departures = run(config, 5000)
    delays_ms = [(t - i * SPACING) * 1000 for i, (t,) in enumerate(departures)]
    assert all(25 - 1e-9 <= d <= 55 + 1e-9 for d in delays_ms)
    assert sum(delays_ms) / len(delays_ms) == pytest.approx(40, abs=0.5)
    # Spread over the whole range, not bunched at the centre.
    assert min(delays_ms) < 25.5 and max(delays_ms) > 54.5


def test_jitter_is_floored_at_zero():
    config = ImpairmentConfig(delay=5, jitter=10, reorder=100, seed=23)
    _, departures = run(config, 2000)
    delays = [t - i * SPACING for i, (t,) in enumerate(departures)]
    assert min(delays) == 0.0
    # About a quarter of U(-5, 15) ms is below 0.
    assert sum(d == 0.0 for d in delays) / len(delays) == pytest.approx(0.25, abs=0.03)


def test_reorder_share_overtakes():
    # A burst handed over at once (a frame's packets): an earlier datagram is almost always
    # leaving later than an exempt one's own time, so nearly all of the share overtakes.
    config = ImpairmentConfig(delay=40, jitter=20, reorder=10, seed=24)
    impairment, departures = run(config, 20_000, spacing=0.0)
    assert impairment.counts.reordered / 20_000 == pytest.approx(0.10, abs=0.01)
    overtaking, latest = 0, -math.inf
    for (t,) in departures:
        overtaking += t < latest
        latest = max(latest, t)
    assert overtaking == impairment.counts.reordered


def test_reorder_without_jitter_does_nothing():
    impairment, departures = run(ImpairmentConfig(delay=40, reorder=50, seed=25), 1000)
    assert impairment.counts.reordered == 0
    assert departures == [[i * SPACING + 0.04] for i in range(1000)]


# --- duplicate -----------------------------------------------------------------------------


def test_duplicate_share_leaves_twice_at_once():
    impairment, departures = run(ImpairmentConfig(duplicate=3, loss=2, seed=31), 20_000)
    counts = impairment.counts
    assert counts.duplicated / 20_000 == pytest.approx(0.03, abs=0.004)
    twice = [times for times in departures if len(times) == 2]
    assert len(twice) == counts.duplicated
    assert all(first == second for first, second in twice)
    assert counts.sent == sum(len(times) for times in departures)
    assert counts.sent == 20_000 - counts.dropped + counts.duplicated


# --- rate and queue ------------------------------------------------------------------------


def test_link_known_answer_with_tail_drop():
    # 8 kbit/s = 1000 bytes/s: 125 bytes take 125 ms; the queue lets a datagram wait 250 ms.
    impairment = Impairment(ImpairmentConfig(rate=8, queue=250))
    assert [impairment.schedule(125, 0.0) for _ in range(5)] == [[0.125], [0.25], [0.375], [], []]
    assert impairment.counts == ImpairmentCounts(sent=3, queue_drops=2, delayed=3)
    # Once the queue drains, a datagram is accepted again.
    assert impairment.schedule(125, 0.25) == [0.5]
    assert impairment.schedule(125, 1.0) == [1.125]


def test_idle_link_takes_any_size():
    impairment = Impairment(ImpairmentConfig(rate=8, queue=0))
    assert impairment.schedule(1000, 0.0) == [1.0]
    assert impairment.schedule(1, 0.5) == []
    assert impairment.counts.queue_drops == 1


def test_link_never_exceeds_rate_and_drops_beyond_queue():
    rate_kbit = 1000.0  # 125,000 bytes/s; offered below: 800 bytes per 4 ms, 1.6 times that
    queue_ms = 100.0
    rng = random.Random(41)
    impairment = Impairment(ImpairmentConfig(rate=rate_kbit, queue=queue_ms, delay=20))
    sent = []  # (handed over, departure, size)
    now = 0.0
    for _ in range(5000):
        now += rng.expovariate(1 / 0.004)
        size = rng.randint(200, 1400)
        for t in impairment.schedule(size, now):
            sent.append((now, t, size))
    assert impairment.counts.queue_drops > 500
    bytes_per_s = rate_kbit * 1000 / 8
    for (_, earlier, _), (_, later, size) in zip(sent, sent[1:], strict=False):
        # One after the other: the next finishes at least its serialisation time later.
        assert later - earlier >= size / bytes_per_s - 1e-9
    departures = [t for _, t, _ in sent]
    sizes = [size for _, _, size in sent]
    for window in (0.02, 0.1, 1.0):
        start, in_window = 0, 0
        for end, t in enumerate(departures):
            in_window += sizes[end]
            while departures[start] <= t - window:
                in_window -= sizes[start]
                start += 1
            # What left in (t - window, t]: at most the rate, plus the datagram already
            # on the wire when the window opened.
            assert in_window <= bytes_per_s * window + 1400
    for handed, t, size in sent:
        waited_ms = (t - 0.020 - size / bytes_per_s - handed) * 1000
        assert -1e-6 <= waited_ms <= queue_ms + 1e-6


def test_link_under_its_rate_drops_nothing():
    impairment, departures = run(ImpairmentConfig(rate=10_000, seed=42), 5000, spacing=0.002)
    # 1400 bytes at 10 Mbit/s: 1.12 ms of 2 ms; each leaves its serialisation time later.
    assert impairment.counts.queue_drops == 0
    assert departures == [[pytest.approx(i * 0.002 + 0.00112)] for i in range(5000)]


# --- config --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("loss", -1, "loss must be a percentage in [0, 100], got -1"),
        ("loss", 100.5, "loss must be a percentage in [0, 100], got 100.5"),
        ("loss", math.nan, "loss must be a percentage in [0, 100], got nan"),
        ("reorder", 101, "reorder must be a percentage in [0, 100], got 101"),
        ("duplicate", -0.1, "duplicate must be a percentage in [0, 100], got -0.1"),
        ("loss_burst", 0.5, "loss_burst must be at least 1 datagram, got 0.5"),
        ("loss_burst", math.inf, "loss_burst must be at least 1 datagram, got inf"),
        ("delay", -5, "delay must be a finite number of ms >= 0, got -5"),
        ("jitter", math.inf, "jitter must be a finite number of ms >= 0, got inf"),
        ("rate", 0, "rate must be a finite number of kbit/s > 0, got 0"),
        ("rate", -100, "rate must be a finite number of kbit/s > 0, got -100"),
        ("queue", -1, "queue must be a number of ms >= 0, got -1"),
        ("queue", math.nan, "queue must be a number of ms >= 0, got nan"),
    ],
)
def test_config_rejects_each_bad_field(field, value, message):
    with pytest.raises(ValueError) as raised:
        ImpairmentConfig(**{field: value})
    assert str(raised.value) == message


def test_config_accepts_its_limits():
    """Each field at its limit is taken as given, and the link does what the limit says."""
    every = ImpairmentConfig(loss=0, reorder=100, duplicate=100, loss_burst=1, queue=0)
    assert (every.loss, every.reorder, every.duplicate, every.loss_burst, every.queue) == (
        0, 100, 100, 1, 0,
    )  # fmt: skip
    _, departures = run(every, 100)
    assert all(len(times) == 2 for times in departures)  # none lost, every one sent twice
    none = ImpairmentConfig(loss=100, queue=math.inf, rate=1e-3, jitter=1000)
    assert (none.loss, none.queue, none.rate, none.jitter) == (100, math.inf, 1e-3, 1000)
    impairment, departures = run(none, 100)
    assert departures == [[]] * 100  # every one lost
    assert impairment.counts.dropped == 100


def test_size_must_not_be_negative():
    with pytest.raises(ValueError, match="size must be a number of bytes >= 0, got -1"):
        Impairment(ImpairmentConfig()).schedule(-1, 0.0)


@pytest.mark.parametrize(
    "config",
    [
        ImpairmentConfig(loss=1),
        ImpairmentConfig(delay=1),
        ImpairmentConfig(jitter=1),
        ImpairmentConfig(duplicate=1),
        ImpairmentConfig(rate=1000),
    ],
)
def test_any_impairment_is_active(config):
    assert config.active


def test_for_tcp_keeps_only_delay_and_rate():
    tcp = BUSY.for_tcp()
    assert tcp == ImpairmentConfig(delay=30, rate=5000, queue=math.inf, seed=7)
    impairment = Impairment(tcp)
    # A burst far beyond any finite queue: all of it goes, one after the other.
    departures = [impairment.schedule(625, 0.0) for _ in range(1000)]
    assert impairment.counts == ImpairmentCounts(sent=1000, delayed=1000)
    assert departures[-1] == [pytest.approx(1000 * 0.001 + 0.030)]


@pytest.mark.parametrize(
    ("config", "line"),
    [
        (ImpairmentConfig(), "none"),
        (ImpairmentConfig(seed=3), "none"),
        (
            ImpairmentConfig(
                loss=5, loss_burst=3, delay=40, jitter=10, duplicate=1, rate=20000, seed=7
            ),
            "loss 5% (bursts of 3), delay 40 ms ± 10 ms, duplicate 1%, "
            "rate 20000 kbit/s (queue 200 ms), seed 7",
        ),
        (ImpairmentConfig(loss=2.5), "loss 2.5%"),
        (ImpairmentConfig(jitter=5, reorder=25), "delay 0 ms ± 5 ms, reorder 25%"),
        (ImpairmentConfig(rate=1e6, queue=math.inf), "rate 1000000 kbit/s (queue unlimited)"),
        (BUSY.for_tcp(), "delay 30 ms, rate 5000 kbit/s (queue unlimited), seed 7"),
    ],
)
def test_describe(config, line):
    assert config.describe() == line
