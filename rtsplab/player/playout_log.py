"""What the player played and when: one row per video frame shown and per audio packet
handed to the sound output, and the A/V offset measured from them.

    stream,media_time_s,played_at_s
    video,0.000000,12.345678
    audio,0.020000,12.366012

`media_time_s` is the stream's position from its own RTP timestamps: 0 at the first PLAY's
start, each track counted from the timestamp its PLAY's RTP-Info names (RFC 2326 §12.33; the
first one played when the reply names none), a later PLAY's rows from where its range starts.
`played_at_s` is the client's monotonic clock when the frame was shown, or when the packet's
first sample reaches the listener (handed to the output, plus the output's latency). Played in
sync, `played_at - media_time` is the same for both streams; the offset

    median(played_at - media_time | audio) - median(played_at - media_time | video)

is how far the sound lags the picture (negative: it leads). `mark_lags` gives that lag at each
whole second alone (the A/V test clip's flash and click), where the median hides a moment out
of step (the start, a resume). Pure apart from `write`; rows are bounded (MAX_ROWS) and added
under a lock (the sound device's thread and the playout's).
"""

from __future__ import annotations

import csv
import statistics
import threading
from pathlib import Path

from RtpPacket import TIMESTAMP_MOD

__all__ = ["HEADER", "PlayoutLog", "av_offset", "mark_lags"]

HEADER = ("stream", "media_time_s", "played_at_s")
VIDEO, AUDIO = "video", "audio"
MAX_ROWS = 1_000_000  # 3.7 h of 25 frames and 50 packets a second; a row is ~50 bytes
HALF = TIMESTAMP_MOD // 2
ON_THE_SECOND = 1e-3  # s: a row's media time this near a whole second is that second's

Row = tuple[str, float, float]


def av_offset(rows: list[Row]) -> float | None:
    """Seconds the sound lags the picture (module docstring); None without both streams."""
    lags: dict[str, list[float]] = {VIDEO: [], AUDIO: []}
    for stream, media_time, played_at in rows:
        if stream in lags:
            lags[stream].append(played_at - media_time)
    if not lags[VIDEO] or not lags[AUDIO]:
        return None
    return statistics.median(lags[AUDIO]) - statistics.median(lags[VIDEO])


def mark_lags(rows: list[Row]) -> dict[int, float]:
    """For each whole second of the stream where both a frame and an audio packet start, the
    packet's `played_at` minus the frame's: the sound's lag at that instant (s). The first
    rows of a second count (a later PLAY from before it plays it again)."""
    at: dict[str, dict[int, float]] = {VIDEO: {}, AUDIO: {}}
    for stream, media_time, played_at in rows:
        second = round(media_time)
        if stream in at and abs(media_time - second) < ON_THE_SECOND:
            at[stream].setdefault(second, played_at)
    return {second: at[AUDIO][second] - shown
            for second, shown in sorted(at[VIDEO].items()) if second in at[AUDIO]}  # fmt: skip


class PlayoutLog:
    def __init__(self, video_rate: int, audio_rate: int) -> None:
        self.rates = {VIDEO: video_rate, AUDIO: audio_rate}
        self.rows: list[Row] = []
        self._first_npt: float | None = None
        self._base = 0.0  # media time at the start of the range the last PLAY played
        # Each stream's (RTP timestamp, media time) at its last PLAY; None: its first row's.
        self._origins: dict[str, tuple[int, float] | None] = {VIDEO: None, AUDIO: None}
        self._lock = threading.Lock()

    def on_play(self, npt: float, video_rtptime: int | None, audio_rtptime: int | None) -> None:
        """A PLAY from `npt` seconds, with each track's RTP-Info rtptime (None: unnamed)."""
        with self._lock:
            if self._first_npt is None:
                self._first_npt = npt
            self._base = npt - self._first_npt
            for stream, rtptime in ((VIDEO, video_rtptime), (AUDIO, audio_rtptime)):
                self._origins[stream] = None if rtptime is None else (rtptime, self._base)

    def video(self, timestamp: int, played_at: float) -> None:
        self._add(VIDEO, timestamp, played_at)

    def audio(self, timestamp: int, played_at: float) -> None:
        self._add(AUDIO, timestamp, played_at)

    def _add(self, stream: str, timestamp: int, played_at: float) -> None:
        with self._lock:
            if len(self.rows) >= MAX_ROWS:
                return
            origin = self._origins[stream]
            if origin is None:
                origin = self._origins[stream] = (timestamp, self._base)
            distance = (timestamp - origin[0]) % TIMESTAMP_MOD
            if distance >= HALF:
                distance -= TIMESTAMP_MOD
            self.rows.append((stream, origin[1] + distance / self.rates[stream], played_at))

    def offset(self, last: int | None = None) -> float | None:
        """The A/V offset over every row, or over the `last` rows only (a live figure that
        costs the same however long the session)."""
        with self._lock:
            rows = list(self.rows if last is None else self.rows[-last:])
        return av_offset(rows)

    def write(self, path: str | Path) -> None:
        """The CSV, header first."""
        with self._lock:
            rows = list(self.rows)
        with open(path, "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(HEADER)
            writer.writerows((s, f"{m:.6f}", f"{p:.6f}") for s, m, p in rows)
