"""Where the sound goes: the sound card, through `sounddevice` (PortAudio), or — where there is
no sound card, no PortAudio, or no `sounddevice` — nowhere, muted, on a clock that stands in
for the card's, so that the picture still has an audio clock to follow.

Both pull from the sound cache (`AudioPlayout`) in blocks through one `Renderer`, which tells
the A/V clock which sample is heard when (`AvClock.heard`), logs each packet played
(`PlayoutLog.audio`), records what is played (`--save-audio`) and applies the volume. The
card's thread calls it from PortAudio's callback, with the instant the block's first sample
leaves the card (`outputBufferDacTime`, on PortAudio's clock: turned into ours by the distance
from the callback's `currentTime`); the stand-in's own thread calls it every BLOCK_SECONDS,
the block heard at once.

`sounddevice` is imported here only, and only when the sound is opened: a player without it
(or without its system part, libportaudio2) plays muted and says so once.
`RTSPLAB_NO_SOUND=1` in the environment makes the same choice (tests, a shared machine).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from array import array
from collections.abc import Callable
from typing import Any, Protocol

from rtsplab.player.audio_playout import AudioPlayout
from rtsplab.player.av_clock import AvClock
from rtsplab.player.playout_log import PlayoutLog

__all__ = ["NO_SOUND_ENV", "Renderer", "SoundOutput", "open_output"]

log = logging.getLogger(__name__)

NO_SOUND_ENV = "RTSPLAB_NO_SOUND"
BLOCK_SECONDS = 0.01  # the stand-in's block: the picture's clock moves in steps this fine
# The stand-in fell this far behind its schedule (the process was stopped, the machine slept):
# it goes on from now rather than rushing through the blocks it missed.
MAX_BEHIND = 0.5
MAX_VOLUME = 1.0


class SoundOutput(Protocol):
    muted: str | None  # why there is no sound, or None: the sound card plays it

    def stop(self) -> None: ...


class Renderer:
    """One block of sound out of the cache, told to the clock, the log and the recording."""

    def __init__(
        self, playout: AudioPlayout, clock: AvClock, log_rows: PlayoutLog | None = None,
        record: Callable[[bytes], object] | None = None,
    ) -> None:  # fmt: skip
        self.playout, self.clock, self.log_rows, self.record = playout, clock, log_rows, record
        self.volume = MAX_VOLUME
        self.mute = False  # the listener's choice (the window's key), not the device's lack

    def render(self, frames: int, heard_at: float, now: float | None = None) -> bytes:
        """`frames` sampling instants of little-endian PCM, the first heard at `heard_at`;
        `now`: when a sound card asked for them (`AvClock.heard`)."""
        playout = self.playout
        position = playout.position if playout.running else None
        drained = playout.drained  # before: the block with the last sound is recorded
        pcm, marks = playout.pull_marked(frames)
        if position is None:
            self.clock.stopped()
            return pcm
        self.clock.heard(position, heard_at, now)
        if self.record is not None and not drained:
            self.record(pcm)
        if self.log_rows is not None:
            for timestamp, offset in marks:
                self.log_rows.audio(timestamp, heard_at + offset / playout.rate)
        return self._loudness(pcm)

    def _loudness(self, pcm: bytes) -> bytes:
        if self.mute or self.volume <= 0:
            return bytes(len(pcm))
        if self.volume >= MAX_VOLUME:
            return pcm
        samples = array("h", pcm)
        volume = self.volume
        return array("h", (int(sample * volume) for sample in samples)).tobytes()


class StandInOutput:
    """No sound card: a thread plays the cache into nothing at the sampling rate."""

    def __init__(self, renderer: Renderer, reason: str) -> None:
        self.renderer = renderer
        self.muted: str | None = reason
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audio-clock", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        rate = self.renderer.playout.rate
        frames = max(1, round(BLOCK_SECONDS * rate))
        due = time.monotonic()
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            try:
                self.renderer.render(frames, due)
            except Exception:  # a bug or a full disk: logged, the clock goes on
                log.exception("error playing a block of sound; going on")
            due += frames / rate
            if time.monotonic() - due > MAX_BEHIND:
                due = time.monotonic()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()


class DeviceOutput:
    """The sound card, through a PortAudio output stream of 16-bit samples."""

    def __init__(self, renderer: Renderer, sounddevice: Any) -> None:
        self.renderer = renderer
        self.muted: str | None = None
        playout = renderer.playout
        self._stream = sounddevice.RawOutputStream(
            samplerate=playout.rate, channels=playout.channels, dtype="int16",
            callback=self._callback,
        )  # fmt: skip
        self._stream.start()

    def _callback(self, outdata: Any, frames: int, timing: Any, _status: Any) -> None:
        """PortAudio's thread: never raises (silence instead)."""
        try:
            latency = max(0.0, timing.outputBufferDacTime - timing.currentTime)
            if not timing.outputBufferDacTime:  # a host API that does not tell
                latency = float(self._stream.latency)
            now = time.monotonic()
            outdata[:] = self.renderer.render(frames, now + latency, now)
        except Exception:
            log.exception("error playing a block of sound; silence")
            outdata[:] = bytes(len(outdata))

    def stop(self) -> None:
        try:
            self._stream.stop()
            self._stream.close()
        except Exception as exc:  # the device went away meanwhile: nothing left to stop
            log.debug("closing the sound device: %s", exc)


def open_output(renderer: Renderer, sound: bool = True) -> SoundOutput:
    """The sound card when it can be had and `sound` is wanted, else the muted stand-in
    (logged once, with the reason)."""
    reason = "no sound asked for" if not sound else None
    if reason is None and os.environ.get(NO_SOUND_ENV):
        reason = f"{NO_SOUND_ENV} is set"
    if reason is None:
        try:
            import sounddevice  # noqa: PLC0415 (lazily: the player runs without it)

            return DeviceOutput(renderer, sounddevice)
        except ImportError as exc:
            reason = f"the sounddevice module is missing ({exc}): pip install sounddevice"
        except Exception as exc:  # OSError without PortAudio, PortAudioError without a device
            reason = f"no sound device ({exc})".replace("\n", " ")
    if sys.platform.startswith("linux") and "PortAudio library not found" in reason:
        reason += ": apt install libportaudio2"
    log.warning("playing muted: %s", reason)
    return StandInOutput(renderer, reason)
