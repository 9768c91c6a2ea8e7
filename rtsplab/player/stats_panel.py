"""The player's statistics panel: the numbers RTCP and the cache know, live, and a small plot.

"Frame loss and network usage analysis", as the course asks: received and lost packets and
the loss rate, dropped frames, data rate, interarrival jitter, round-trip time, the RTCP
session's members and report interval (a multicast group's size, RFC 3550 §6.3, and the Td
it gives; 2 and the two-party interval in unicast), cache fill (a bar), display rate — and,
over the last minute, the data rate and the loss per second drawn on a Tk canvas. Where the
stream has sound: the sound's state ("device" or "muted"), the listener's volume and the A/V
offset measured from what was played (`rtsplab.player.playout_log`: the sound's lag
behind the picture, in ms). Each value is a label named by its key (`.panel.offset`...), so
that what the window shows can be read back. `Trend` turns the client's running totals into
per-second rates; it is pure, with time passed in. `StatsPanel` only draws, on the Tk thread.
"""

from __future__ import annotations

import tkinter as tk
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

HISTORY_SECONDS = 60
PLOT_SIZE = (240, 110)
RATE_COLOUR = "#2471a3"
LOSS_COLOUR = "#c0392b"


@dataclass
class Point:
    time: float
    kbps: float  # data rate over the last second
    loss: float  # packets lost over the last second / expected, 0..1


class Trend:
    """Per-second data rate and loss from the client's running totals, over a minute."""

    def __init__(self, seconds: int = HISTORY_SECONDS) -> None:
        self.points: deque[Point] = deque(maxlen=seconds)
        self._last: tuple[float, float, float, float] | None = None  # time, bytes, packets, lost

    def add(self, now: float, total_bytes: float, packets: float, lost: float) -> Point | None:
        """Record the totals at `now`; returns the new point once a second has passed."""
        if self._last is None or total_bytes < self._last[1]:  # first call, or a new session
            self._last = (now, total_bytes, packets, lost)
            return None
        then, old_bytes, old_packets, old_lost = self._last
        if now - then < 1.0:
            return None
        lost_now, got_now = max(0, lost - old_lost), packets - old_packets
        expected = lost_now + got_now
        point = Point(now, (total_bytes - old_bytes) * 8 / (now - then) / 1000,
                      lost_now / expected if expected else 0.0)  # fmt: skip
        self.points.append(point)
        self._last = (now, total_bytes, packets, lost)
        return point

    def clear(self) -> None:
        self.points.clear()
        self._last = None


ROWS = [
    ("packets", "packets received"),
    ("lost", "packets lost"),
    ("loss", "loss rate"),
    ("dropped", "frames dropped"),
    ("nacks", "NACKs sent"),
    ("recovered", "packets recovered"),
    ("rescued", "frames rescued"),
    ("rate", "data rate"),
    ("jitter", "jitter"),
    ("rtt", "round trip"),
    ("members", "RTCP members"),
    ("interval", "report interval"),
    ("fps", "display rate"),
    ("sound", "sound"),
    ("volume", "volume"),
    ("offset", "A/V offset"),
]


class StatsPanel(tk.Frame):
    def __init__(self, master: tk.Misc) -> None:
        super().__init__(master, padx=6, pady=4, name="panel")
        self.values: dict[str, tk.Label] = {}
        for row, (key, title) in enumerate(ROWS):
            tk.Label(self, text=title, anchor="w").grid(row=row, column=0, sticky="w")
            value = tk.Label(self, text="–", anchor="e", font="TkFixedFont", width=12, name=key)
            value.grid(row=row, column=1, sticky="e")
            self.values[key] = value
        row = len(ROWS)
        tk.Label(self, text="cache", anchor="w").grid(row=row, column=0, sticky="w")
        self.bar = tk.Canvas(self, width=100, height=12, bg="white", highlightthickness=1)
        self.bar.grid(row=row, column=1, sticky="e", pady=2)
        self.bar_fill = self.bar.create_rectangle(0, 0, 0, 12, fill="#27ae60", width=0)
        self.bar_text = self.bar.create_text(50, 7, text="", font="TkSmallCaptionFont")
        legend = tk.Frame(self)
        legend.grid(row=row + 1, column=0, columnspan=2, sticky="w", pady=(6, 0))
        tk.Label(legend, text="■ kbit/s", fg=RATE_COLOUR).pack(side="left")
        tk.Label(legend, text="■ loss %", fg=LOSS_COLOUR).pack(side="left", padx=6)
        self.plot = tk.Canvas(self, width=PLOT_SIZE[0], height=PLOT_SIZE[1], bg="white",
                              highlightthickness=1)  # fmt: skip
        self.plot.grid(row=row + 2, column=0, columnspan=2, pady=(0, 2))
        self.plot_note = tk.Label(self, text="", anchor="w", font="TkSmallCaptionFont")
        self.plot_note.grid(row=row + 3, column=0, columnspan=2, sticky="w")

    def show(
        self, stats: Mapping[str, float | None], fill: int, capacity: int, display_fps: float
    ) -> None:
        packets, lost = stats.get("packets") or 0, stats.get("lost_packets") or 0
        rtt, jitter = stats.get("rtt_ms"), stats.get("jitter_ms")
        members, interval = stats.get("members"), stats.get("rtcp_interval_s")
        text = {
            "packets": f"{packets}",
            "lost": f"{lost}",
            "loss": f"{100 * lost / (packets + lost):.2f} %" if packets + lost else "–",
            "dropped": f"{stats.get('dropped_frames', 0)}",
            "nacks": f"{stats.get('nacks_sent') or 0}",
            "recovered": f"{stats.get('recovered_packets') or 0}",
            "rescued": f"{stats.get('rescued_frames') or 0}",
            "rate": f"{stats.get('rate_kbps', 0.0):.0f} kbit/s",
            "jitter": "–" if jitter is None else f"{jitter:.2f} ms",
            "rtt": "–" if rtt is None else f"{rtt:.2f} ms",
            "members": "–" if members is None else f"{members:.0f}",
            "interval": "–" if interval is None else f"{interval:.2f} s",
            "fps": f"{display_fps:.1f} fps",
        }
        for key, value in text.items():
            self.values[key].configure(text=value)
        width = int(self.bar["width"])
        self.bar.coords(self.bar_fill, 0, 0, width * min(1.0, fill / capacity), 14)
        self.bar.itemconfigure(self.bar_text, text=f"{fill}/{capacity}")

    def show_sound(self, state: str | None, volume: str | None, offset_ms: float | None) -> None:
        """The sound's state ("device", "muted"; None: the stream has none), the listener's
        volume as the output applies it ("80 %", "mute"), and the A/V offset
        (ms, the sound's lag; None until both streams have played)."""
        self.values["sound"].configure(text=state or "–")
        self.values["volume"].configure(text=volume or "–")
        self.values["offset"].configure(text="–" if offset_ms is None else f"{offset_ms:+.1f} ms")

    def plot_trend(self, points: deque[Point]) -> None:
        canvas, (width, height) = self.plot, PLOT_SIZE
        canvas.delete("line")
        if len(points) < 2:
            return
        top_rate = max(p.kbps for p in points) or 1.0
        top_loss = max(0.05, max(p.loss for p in points))  # at least a 5% scale
        step = width / (HISTORY_SECONDS - 1)
        start = HISTORY_SECONDS - len(points)
        for colour, values in ((RATE_COLOUR, [p.kbps / top_rate for p in points]),
                               (LOSS_COLOUR, [p.loss / top_loss for p in points])):  # fmt: skip
            coords: list[float] = []
            for i, value in enumerate(values):
                coords += [(start + i) * step, height - 4 - value * (height - 8)]
            canvas.create_line(*coords, fill=colour, width=2, tags="line")
        self.plot_note.configure(
            text=f"last {len(points)} s; tops: {top_rate:.0f} kbit/s, {100 * top_loss:.0f}% loss"
        )
