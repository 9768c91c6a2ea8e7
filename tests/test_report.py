"""The lab report's material: per-second rows from cumulative samples, the CSV and the plot."""

from dataclasses import replace

import pytest
from PIL import Image

from rtsplab.player.report import (
    CSV_COLUMNS,
    PLOT_COLOURS,
    Row,
    Sample,
    StatsLog,
    draw_plot,
    panel_boxes,
    save_plot,
    write_csv,
)

START = Sample(time=0.0, packets=0, lost=0, bytes=0, jitter_ms=0.0, rtt_ms=None,
               cache_fill=0, shown=0, late=0)  # fmt: skip


def at(time, packets, lost, nbytes, **rest):
    return replace(START, time=time, packets=packets, lost=lost, bytes=nbytes, **rest)


def test_rows_are_per_second_deltas_with_loss_and_rate():
    log = StatsLog()
    assert log.add(START) is None  # the baseline
    assert log.add(at(0.5, 40, 0, 50_000)) is None  # not a second yet
    # 95 packets and 5 lost in the first second; 125 000 bytes in 1 s = 1000 kbit/s
    first = log.add(at(1.0, 95, 5, 125_000, jitter_ms=2.5, rtt_ms=12.0, cache_fill=10,
                       shown=15, late=1))  # fmt: skip
    assert first == Row(time=1.0, packets=95, lost=5, loss_percent=5.0, kbps=1000.0,
                        jitter_ms=2.5, rtt_ms=12.0, cache_fill=10, shown=15, late=1)  # fmt: skip
    # a late sample: 100 000 bytes over 1.25 s = 640 kbit/s, nothing lost
    second = log.add(at(2.25, 195, 5, 225_000, jitter_ms=3.0, rtt_ms=11.0, cache_fill=12,
                        shown=40, late=1))  # fmt: skip
    assert second == Row(time=2.25, packets=100, lost=0, loss_percent=0.0, kbps=640.0,
                         jitter_ms=3.0, rtt_ms=11.0, cache_fill=12, shown=25, late=0)  # fmt: skip
    # 60 received, 20 lost: 25 %; 40 000 bytes in 1 s = 320 kbit/s
    third = log.add(at(3.25, 255, 25, 265_000, shown=40, late=1))
    assert third is not None
    assert (third.packets, third.lost, third.loss_percent, third.kbps) == (60, 20, 25.0, 320.0)
    assert log.rows == [first, second, third]


def test_no_row_before_the_interval():
    log = StatsLog(interval=2.0)
    log.add(START)
    for t in (0.5, 1.0, 1.999):
        assert log.add(at(t, 10, 0, 1000)) is None
    assert log.rows == []
    assert log.add(at(2.0, 20, 0, 2000)) is not None


def test_finish_adds_the_last_partial_second():
    log = StatsLog()
    log.finish(START)  # nothing to finish before a baseline
    assert log.rows == []
    log.add(START)
    log.add(at(1.0, 100, 0, 100_000))
    log.finish(at(1.0, 100, 0, 100_000))  # no time passed: no row
    assert len(log.rows) == 1
    log.finish(at(1.5, 120, 0, 110_000))  # 10 000 bytes in 0.5 s = 160 kbit/s
    assert len(log.rows) == 2
    assert (log.rows[-1].time, log.rows[-1].packets, log.rows[-1].kbps) == (1.5, 20, 160.0)


def test_duplicates_never_make_loss_negative():
    log = StatsLog()
    log.add(at(0.0, 0, 5, 0))
    row = log.add(at(1.0, 10, 4, 1000))  # RFC 3550: a duplicate lowers the cumulative loss
    assert row is not None and (row.lost, row.loss_percent) == (0, 0.0)


def test_counts_going_back_start_a_new_baseline():
    log = StatsLog()
    log.add(START)
    log.add(at(1.0, 100, 0, 100_000))
    assert log.add(at(2.0, 3, 0, 300)) is None  # a new session: totals went down
    row = log.add(at(3.0, 13, 0, 1300))
    assert row is not None and (row.packets, row.kbps) == (10, 8.0)


def test_rows_are_bounded_and_the_oldest_go():
    log = StatsLog(max_rows=3)
    for t in range(7):
        log.add(at(float(t), 10 * t, 0, 1000 * t))
    assert [r.time for r in log.rows] == [4.0, 5.0, 6.0]


@pytest.mark.parametrize("kwargs", [{"interval": 0.0}, {"interval": -1.0}, {"max_rows": 0}])
def test_nonsense_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        StatsLog(**kwargs)


def test_csv_text_for_two_rows(tmp_path):
    rows = [
        Row(time=1.0004, packets=95, lost=5, loss_percent=5.0, kbps=999.96, jitter_ms=2.499,
            rtt_ms=12.3456, cache_fill=10, shown=15, late=1),
        Row(time=2.25, packets=2, lost=1, loss_percent=100 / 3, kbps=640.0, jitter_ms=3.0,
            rtt_ms=None, cache_fill=12, shown=25, late=0),
    ]  # fmt: skip
    path = tmp_path / "stats.csv"
    write_csv(path, rows)
    assert path.read_bytes() == (
        b"time,packets,lost,loss %,kbit/s,jitter ms,RTT ms,cache fill,frames shown,late\r\n"
        b"1.000,95,5,5.00,1000.0,2.50,12.35,10,15,1\r\n"
        b"2.250,2,1,33.33,640.0,3.00,,12,25,0\r\n"  # an unknown RTT is an empty cell
    )
    assert path.read_text().splitlines()[0].split(",") == list(CSV_COLUMNS)


def row(time, kbps=0.0, loss=0.0, jitter=0.0, cache=0):
    return Row(time=time, packets=0, lost=0, loss_percent=loss, kbps=kbps, jitter_ms=jitter,
               rtt_ms=None, cache_fill=cache, shown=0, late=0)  # fmt: skip


def count(image, box, colour):
    return sum(n for n, c in image.crop(box).getcolors(box_area(box)) if c == colour)


def box_area(box):
    return (box[2] - box[0]) * (box[3] - box[1])


def assert_each_curve_in_its_own_panel(image):
    boxes = panel_boxes(image.size)
    for key, colour in PLOT_COLOURS.items():
        for panel, box in boxes.items():
            pixels = count(image, box, colour)
            assert (pixels > 0) if panel == key else (pixels == 0), (key, panel, pixels)


def test_panels_are_stacked_inside_the_image():
    boxes = list(panel_boxes((960, 640)).values())
    assert len(boxes) == 4
    for upper, lower in zip(boxes, boxes[1:], strict=False):
        assert upper[3] <= lower[1]  # no overlap, top to bottom
    assert boxes[0][1] >= 0 and boxes[-1][3] <= 640
    with pytest.raises(ValueError):
        panel_boxes((50, 40))


@pytest.mark.parametrize("size", [(960, 640), (400, 300)])
def test_each_curve_is_drawn_in_its_own_panel(size):
    rows = [row(t, kbps=800 + 50 * (t % 3), loss=t % 4, jitter=1.5 + t / 10, cache=t % 7)
            for t in range(1, 31)]  # fmt: skip
    image = draw_plot(rows, size)
    assert image.size == size
    assert_each_curve_in_its_own_panel(image)


def test_an_all_zero_series_and_a_single_row_still_draw():
    assert_each_curve_in_its_own_panel(draw_plot([row(float(t)) for t in range(5)]))
    assert_each_curve_in_its_own_panel(draw_plot([row(3.0, kbps=500, loss=1, jitter=2, cache=4)]))


def test_no_rows_says_no_data():
    image = draw_plot([], (480, 320))
    assert image.size == (480, 320)
    colours = {c for _, c in image.getcolors(480 * 320)}
    assert len(colours) > 1  # some text on the white
    assert not colours & set(PLOT_COLOURS.values())


def test_save_plot_writes_a_png(tmp_path):
    path = tmp_path / "session.png"
    save_plot(path, [row(float(t), kbps=100.0 * t) for t in range(10)])
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (960, 640)
        image.load()
