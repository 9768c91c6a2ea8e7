"""The player's status line, and the display rate it shows: what the window says below its
buttons. The Tk thread's alone; time is passed in."""

from __future__ import annotations

import statistics
from collections import deque

from RtpPacket import JPEG_CLOCK_RATE, TIMESTAMP_MOD
from rtsplab.client.session import ClientSession
from rtsplab.player.frame_buffer import FrameBuffer, Playback
from rtsplab.rtsp.state import State

FPS_WINDOW = 1.0  # seconds over which the display rate is measured
WORK_WINDOW = 4096  # frames whose decode and paint times the median is taken over
_PLAYING_MODES = {
    Playback.BUFFERING: "buffering…",
    Playback.PLAYING: "playing",
    Playback.ENDED: "end of video",
    Playback.PAUSED: "paused",
}


class DisplayRate:
    """Frames shown per second over the last FPS_WINDOW seconds."""

    def __init__(self) -> None:
        self._shown_at: deque[float] = deque()  # display times in the last FPS_WINDOW

    def shown(self, now: float) -> None:
        self._shown_at.append(now)

    def fps(self, now: float) -> float:
        shown_at = self._shown_at
        while shown_at and shown_at[0] < now - FPS_WINDOW:
            shown_at.popleft()
        if len(shown_at) < 2:
            return 0.0
        return (len(shown_at) - 1) / (shown_at[-1] - shown_at[0])


class FrameWork:
    """How long each frame shown took to decode and paint, over the last WORK_WINDOW frames:
    the frame interval less this is the player's time to spare a frame."""

    def __init__(self) -> None:
        self._seconds: deque[float] = deque(maxlen=WORK_WINDOW)

    def add(self, seconds: float) -> None:
        self._seconds.append(seconds)

    def median_ms(self) -> float | None:
        return round(1000 * statistics.median(self._seconds), 2) if self._seconds else None


def mode(state: State, playback: Playback, pending: str | None) -> str:
    """What the player is doing, in a word or two: the action on its way first."""
    if pending is not None:
        return f"{pending}…"
    if playback is Playback.ENDED and state is not State.INIT:
        return "end of video"
    if state is State.PLAYING:
        return _PLAYING_MODES[playback]
    return "paused" if playback is Playback.PAUSED else state.value.lower()


def status_line(
    state: State, pending: str | None, frames: int, buffer: FrameBuffer, fps: float,
    stats: dict[str, float | None],
) -> str:  # fmt: skip
    """The status line: state, mode, frames shown, cache fill, display rate, and losses."""
    doing = mode(state, buffer.state, pending)
    return (
        f"{state.value:<8} {doing:<13} frame {frames:>6}  "
        f"buffer {buffer.fill:>3}/{buffer.prefill}  "
        f"{fps:5.1f} fps  dropped {stats.get('dropped_frames', 0)}  "
        f"late {buffer.stats.late}  lost {stats.get('lost_packets', 0)} packets"
    )


def picture_position(session: ClientSession, shown: int | None) -> float | None:
    """Where in the video the picture shown is, in seconds: the PLAY's start plus the RTP
    time since its first packet; None when that cannot be told (no duration, nothing shown,
    no RTP-Info, or a timestamp from before the PLAY)."""
    duration, started = session.duration, session.play_rtptime
    if not duration or shown is None or started is None:
        return None
    elapsed = ((shown - started) % TIMESTAMP_MOD) / JPEG_CLOCK_RATE
    if elapsed >= TIMESTAMP_MOD // 2 / JPEG_CLOCK_RATE:
        return None
    return min(duration, session.play_position + elapsed)
