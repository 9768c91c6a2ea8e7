"""Per-second data rate and loss from running totals, with time passed in."""

import pytest

from rtsplab.player.stats_panel import Trend


def test_a_point_each_second_with_rate_and_loss():
    trend = Trend(seconds=3)
    assert trend.add(0.0, 0, 0, 0) is None
    assert trend.add(0.5, 50_000, 40, 0) is None  # not a second yet
    point = trend.add(1.0, 125_000, 95, 5)  # 125 kB in 1 s; 5 lost of 100 expected
    assert point.kbps == pytest.approx(1000.0)
    assert point.loss == pytest.approx(0.05)
    trend.add(2.0, 125_000, 95, 5)  # nothing came
    assert trend.points[-1].kbps == 0 and trend.points[-1].loss == 0
    for t in (3.0, 4.0, 5.0):
        trend.add(t, 125_000, 95, 5)
    assert len(trend.points) == 3  # a bounded history


def test_a_new_session_starts_a_new_trend():
    trend = Trend()
    trend.add(0.0, 0, 0, 0)
    trend.add(1.0, 10_000, 10, 0)
    assert trend.add(2.0, 500, 1, 0) is None  # totals went down: a new session
    assert trend.add(3.0, 1500, 2, 0).kbps == pytest.approx(8.0)
