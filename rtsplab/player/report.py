"""Material for the lab report: one row a second of the session, written as a CSV and a PNG.

The headless client and the Tk player hand `StatsLog` the running totals they know (RFC 3550
receiver statistics, the frame cache's counters) about once a second; it turns them into
per-second rows. `write_csv` writes them for a spreadsheet, `draw_plot` draws data rate, loss,
jitter and cache fill over time with Pillow's ImageDraw. Pure: time and values are passed in.
"""

from __future__ import annotations

import csv
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from rtsplab.player.frame_buffer import FrameBuffer

Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels; right, bottom exclusive

CSV_COLUMNS = ("time", "packets", "lost", "loss %", "kbit/s", "jitter ms", "RTT ms",
               "cache fill", "frames shown", "late")  # fmt: skip

PLOT_COLOURS: dict[str, tuple[int, int, int]] = {
    "rate": (31, 119, 180),  # blue
    "loss": (214, 39, 40),  # red
    "jitter": (44, 160, 44),  # green
    "cache": (148, 103, 189),  # purple
}
PANEL_TITLES = {
    "rate": ("data rate", "kbit/s"),
    "loss": ("loss", "%"),
    "jitter": ("jitter", "ms"),
    "cache": ("cache fill", "frames"),
}
# Greys only, so no text or grid pixel can take a curve's exact colour.
BACKGROUND = (255, 255, 255)
TEXT_COLOUR = (40, 40, 40)
FRAME_COLOUR = (150, 150, 150)
GRID_COLOUR = (225, 225, 225)

MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP = 48, 16, 6
TIME_AXIS_HEIGHT = 40  # tick labels and "time (s)" under the last panel
TITLE_HEIGHT = 18  # a panel's title line above its plot area
PANEL_GAP = 6
MIN_PLOT_SIZE = (200, 160)  # below this, titles and the time axis leave no room for curves
TIME_TICKS = 8  # about this many labelled times on the axis
CURVE_WIDTH = 2
FONT_SIZE, NO_DATA_FONT_SIZE = 12, 28  # Pillow's built-in Aileron, in pixels


@dataclass(frozen=True)
class Sample:
    """What the caller knows at one moment; the counts are cumulative since PLAY."""

    time: float  # seconds since PLAY
    packets: int  # RTP packets received so far
    lost: int  # packets lost so far (RFC 3550 cumulative: duplicates can lower it)
    bytes: int  # bytes received so far
    jitter_ms: float
    rtt_ms: float | None
    cache_fill: int  # frames in the cache now
    shown: int  # frames shown so far
    late: int  # late frames so far


@dataclass(frozen=True)
class Row:
    """One second of the session, as the CSV has it.

    `time` is when the second ended. `packets`, `lost`, `shown` and `late` are deltas over the
    second, not totals (`lost` never below 0, though RFC 3550's cumulative count can fall when
    duplicates arrive); `loss_percent` is lost / (lost + packets) of that second, `kbps` the
    byte delta over the second's actual span. Jitter, RTT and cache fill are as at its end.
    """

    time: float
    packets: int
    lost: int
    loss_percent: float
    kbps: float
    jitter_ms: float
    rtt_ms: float | None
    cache_fill: int
    shown: int
    late: int


def _row(start: Sample, end: Sample) -> Row:
    span = end.time - start.time
    packets, lost = end.packets - start.packets, max(0, end.lost - start.lost)
    expected = packets + lost
    return Row(
        time=end.time,
        packets=packets,
        lost=lost,
        loss_percent=100.0 * lost / expected if expected else 0.0,
        kbps=(end.bytes - start.bytes) * 8 / span / 1000 if span > 0 else 0.0,
        jitter_ms=end.jitter_ms,
        rtt_ms=end.rtt_ms,
        cache_fill=end.cache_fill,
        shown=end.shown - start.shown,
        late=end.late - start.late,
    )


def _restarted(start: Sample, end: Sample) -> bool:
    """Time or a count went backwards: a new session, so a new baseline rather than a row."""
    return end.time < start.time or any(
        getattr(end, name) < getattr(start, name) for name in ("packets", "bytes", "shown", "late")
    )


class StatsLog:
    """Per-second rows from a stream of cumulative samples, bounded to `max_rows`."""

    def __init__(self, interval: float = 1.0, max_rows: int = 24 * 3600) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be positive, not {interval}")
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, not {max_rows}")
        self.interval = interval
        self._rows: deque[Row] = deque(maxlen=max_rows)  # beyond max_rows the oldest go
        self._last: Sample | None = None  # where the row being gathered started

    def add(self, sample: Sample) -> Row | None:
        """Take a sample; a new Row when at least `interval` has passed since the last row
        (the first sample only sets the baseline). Bounded: beyond max_rows the oldest go."""
        if self._last is None or _restarted(self._last, sample):
            self._last = sample
            return None
        if sample.time - self._last.time < self.interval:
            return None
        return self._close(sample)

    @property
    def rows(self) -> list[Row]:
        return list(self._rows)

    def finish(self, sample: Sample) -> None:
        """Add the last partial second, if any time passed since the last row."""
        if self._last is not None and not _restarted(self._last, sample):
            if sample.time > self._last.time:
                self._close(sample)

    def _close(self, sample: Sample) -> Row:
        assert self._last is not None  # only called once a baseline is set
        row = _row(self._last, sample)
        self._rows.append(row)
        self._last = sample
        return row


def write_csv(path: Path | str, rows: Sequence[Row]) -> None:
    """Write `rows` under a CSV_COLUMNS header; an unknown RTT is an empty cell."""
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_COLUMNS)
        for r in rows:
            rtt = "" if r.rtt_ms is None else f"{r.rtt_ms:.2f}"
            writer.writerow([f"{r.time:.3f}", r.packets, r.lost, f"{r.loss_percent:.2f}",
                             f"{r.kbps:.1f}", f"{r.jitter_ms:.2f}", rtt, r.cache_fill, r.shown,
                             r.late])  # fmt: skip


def panel_boxes(size: tuple[int, int]) -> dict[str, Box]:
    """Each panel's region (title and plot area), stacked top to bottom in PLOT_COLOURS order."""
    width, height = size
    if width < MIN_PLOT_SIZE[0] or height < MIN_PLOT_SIZE[1]:
        raise ValueError(f"plot size {size} is smaller than {MIN_PLOT_SIZE}")
    usable = height - MARGIN_TOP - TIME_AXIS_HEIGHT
    step = usable // len(PLOT_COLOURS)
    return {
        key: (0, MARGIN_TOP + i * step, width, MARGIN_TOP + (i + 1) * step)
        for i, key in enumerate(PLOT_COLOURS)
    }


def _plot_area(box: Box) -> Box:
    left, top, right, bottom = box
    return left + MARGIN_LEFT, top + TITLE_HEIGHT, right - MARGIN_RIGHT, bottom - PANEL_GAP


def _tick_step(span: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about TIME_TICKS ticks."""
    raw = span / TIME_TICKS
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _label(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{round(value, 2):g}"  # 1.5, 0.25, 840


def draw_plot(rows: Sequence[Row], size: tuple[int, int] = (960, 640)) -> Image.Image:
    """Four stacked panels over time: data rate (kbit/s), loss (%), jitter (ms), cache fill
    (frames), each a curve in its own colour (PLOT_COLOURS), with its title and its maximum
    written, a shared time axis in seconds. Pillow's ImageDraw only."""
    boxes = panel_boxes(size)
    image = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(image)
    if not rows:
        big = ImageFont.load_default(NO_DATA_FONT_SIZE)
        draw.text((size[0] / 2, size[1] / 2), "no data", fill=TEXT_COLOUR, anchor="mm", font=big)
        return image
    draw.font = ImageFont.load_default(FONT_SIZE)
    t_lo, t_hi = min(r.time for r in rows), max(r.time for r in rows)
    if t_hi - t_lo <= 0:  # a single row: centre it on a one-second axis
        t_lo, t_hi = t_lo - 0.5, t_hi + 0.5
    tick = _tick_step(t_hi - t_lo)
    ticks = [t * tick for t in range(math.ceil(t_lo / tick), math.floor(t_hi / tick) + 1)]
    series = {
        key: [v if math.isfinite(v) else 0.0 for v in values]  # a stray inf or NaN is not a scale
        for key, values in (
            ("rate", [r.kbps for r in rows]),
            ("loss", [r.loss_percent for r in rows]),
            ("jitter", [r.jitter_ms for r in rows]),
            ("cache", [float(r.cache_fill) for r in rows]),
        )
    }
    plot_left, plot_right = MARGIN_LEFT, size[0] - MARGIN_RIGHT  # shared by all panels

    def x_of(t: float) -> float:
        return plot_left + (t - t_lo) / (t_hi - t_lo) * (plot_right - plot_left - 1)

    for key, box in boxes.items():
        left, top, right, bottom = area = _plot_area(box)
        values = series[key]
        top_value = max(values)
        scale = top_value if top_value > 0 else 1.0  # an all-zero series is a line on the floor
        for t in ticks:
            draw.line([(x_of(t), top), (x_of(t), bottom)], fill=GRID_COLOUR)
        draw.rectangle(area, outline=FRAME_COLOUR)
        title, unit = PANEL_TITLES[key]
        draw.text((left, box[1] + 2), f"{title} ({unit})", fill=TEXT_COLOUR)
        draw.text((right, box[1] + 2), f"max {_label(top_value)} {unit}", fill=TEXT_COLOUR,
                  anchor="ra")  # fmt: skip
        draw.text((left - 4, top), _label(scale), fill=TEXT_COLOUR, anchor="ra")
        draw.text((left - 4, bottom), "0", fill=TEXT_COLOUR, anchor="rd")
        points = [(x_of(r.time), bottom - max(0.0, v) / scale * (bottom - top))
                  for r, v in zip(rows, values, strict=True)]  # fmt: skip
        colour = PLOT_COLOURS[key]
        if len(points) == 1:
            x, y = points[0]
            draw.ellipse((x - CURVE_WIDTH, y - CURVE_WIDTH, x + CURVE_WIDTH, y + CURVE_WIDTH),
                         fill=colour)  # fmt: skip
        else:
            draw.line(points, fill=colour, width=CURVE_WIDTH, joint="curve")
    axis_y = _plot_area(boxes["cache"])[3] + PANEL_GAP
    for t in ticks:
        draw.text((x_of(t), axis_y), _label(t), fill=TEXT_COLOUR, anchor="ma")
    draw.text((size[0] / 2, size[1] - 4), "time (s)", fill=TEXT_COLOUR, anchor="md")
    return image


def save_plot(path: Path | str, rows: Sequence[Row]) -> None:
    """Draw `rows` at the default size and write the image as a PNG."""
    draw_plot(rows).save(path, format="PNG")


def sample_of(
    summary: Mapping[str, float | str | None], buffer: FrameBuffer | None, seconds: float
) -> Sample:
    """A Sample from the client's summary (`RtspClient.summary`) and its cache, if any."""

    def number(key: str) -> float:
        value = summary.get(key)
        return float(value) if isinstance(value, int | float) else 0.0

    rtt = summary.get("rtt_ms")
    return Sample(
        time=seconds, packets=int(number("packets")), lost=int(number("lost_packets")),
        bytes=int(number("bytes")), jitter_ms=number("jitter_ms"),
        rtt_ms=float(rtt) if isinstance(rtt, int | float) else None,
        cache_fill=buffer.fill if buffer else 0, shown=buffer.stats.shown if buffer else 0,
        late=buffer.stats.late if buffer else 0,
    )  # fmt: skip


def write_report(log: StatsLog, csv_path: str | None, plot_path: str | None) -> None:
    """The lab report's files, each where one was asked for."""
    if csv_path:
        write_csv(csv_path, log.rows)
    if plot_path:
        save_plot(plot_path, log.rows)


class SessionReport:
    """A session's report as the window keeps it: a row at the first PLAY and about each
    second after, written to --stats-csv and --plot at the session's end (then a new one
    begins); `save_plot` draws it so far. `summary()` gives the client's running totals
    (`RtspClient.summary`). Time passed in."""

    def __init__(
        self, summary: Callable[[], Mapping[str, float | str | None]], buffer: FrameBuffer,
        csv_path: str | None, plot_path: str | None,
    ) -> None:  # fmt: skip
        self.summary, self.buffer = summary, buffer
        self.csv_path, self.plot_path = csv_path, plot_path
        self.log = StatsLog()
        self._played_at: float | None = None  # the session's first PLAY, for the rows' time

    def played(self, now: float) -> None:
        """A PLAY: the first of the session starts the rows."""
        if self._played_at is None:
            self._played_at = now
            self.log.add(self._sample(0.0))

    def tick(self, now: float) -> None:
        if self._played_at is not None:
            self.log.add(self._sample(now - self._played_at))

    def finish(self, now: float) -> None:
        """The session's end: its last row, the files asked for, and a new log."""
        if self._played_at is not None:
            self.log.finish(self._sample(now - self._played_at))
        write_report(self.log, self.csv_path, self.plot_path)
        self.log, self._played_at = StatsLog(), None

    def save_plot(self, default: str) -> str:
        """The plot so far, at --plot or `default`: the path written (OSError if not)."""
        path = self.plot_path or default
        save_plot(path, self.log.rows)
        return path

    def _sample(self, seconds: float) -> Sample:
        return sample_of(self.summary(), self.buffer, seconds)
