"""A clip's sound: a WAV file beside the MJPEG file, with the same stem (`movie.mjpeg`,
`movie.wav`), holding 16-bit PCM that the server sends as L16 (RFC 3551 §4.5.11).

The sound keeps the source's rate and channels up to MAX_RATE and MAX_CHANNELS: 48 kHz
stereo is 1.5 Mbit/s, a tenth of a 1080p stream, and what every sound card plays without
resampling; more channels are mixed down, as a laptop has two speakers. A clip without a
companion plays as video alone.

`write_click_track` makes the sound of the A/V test clip: a short tone at every whole
second, where the clip's picture flashes.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

from rtsplab.media import MakeVideoError

logger = logging.getLogger(__name__)

MAX_RATE = 48_000
MAX_CHANNELS = 2
SAMPLE_WIDTH = 2  # bytes: 16-bit PCM
CLICK_SECONDS = 0.010
CLICK_HZ = 1000.0
CLICK_AMPLITUDE = 0.8 * 32767


@dataclass(frozen=True)
class Sound:
    """What a companion file holds."""

    path: Path
    rate: int
    channels: int
    frames: int  # sampling instants

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def companion(video: str | os.PathLike[str]) -> Path:
    """Where a clip's sound is: its path with the suffix .wav."""
    return Path(video).with_suffix(".wav")


def read_sound(path: str | os.PathLike[str]) -> Sound:
    """A companion's format; MakeVideoError unless it is 16-bit PCM WAV within our bounds."""
    try:
        with wave.open(os.fspath(path), "rb") as wav:
            rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
            frames = wav.getnframes()
    except (wave.Error, EOFError) as exc:
        raise MakeVideoError(f"{path}: not a PCM WAV file: {exc}") from None
    if width != SAMPLE_WIDTH or not 1 <= channels <= MAX_CHANNELS or not 0 < rate <= MAX_RATE:
        raise MakeVideoError(
            f"{path}: {8 * width}-bit PCM, {channels} channel(s) at {rate} Hz; the server sends "
            f"16-bit sound of 1-{MAX_CHANNELS} channels up to {MAX_RATE} Hz"
        )
    return Sound(Path(path), rate, channels, frames)


def _audio_stream(ffmpeg: str, source: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(rate, channels) of the source's first audio stream, None if it has none."""
    ffprobe = shutil.which("ffprobe") or str(Path(ffmpeg).with_name("ffprobe"))
    command = [ffprobe, "-v", "error", "-select_streams", "a:0",
               "-show_entries", "stream=sample_rate,channels", "-of", "csv=p=0",
               os.fspath(source)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    fields = done.stdout.strip().split(",")
    if done.returncode != 0 or len(fields) != 2 or not all(f.isdigit() for f in fields):
        return None
    return int(fields[0]), int(fields[1])


def extract_sound(
    ffmpeg: str, source: str | os.PathLike[str], video: str | os.PathLike[str]
) -> Sound | None:
    """Write the source's first audio stream beside `video` as its companion; None (and
    nothing written) when the source has no sound."""
    found = _audio_stream(ffmpeg, source)
    if found is None:
        return None
    rate, channels = min(found[0], MAX_RATE), min(found[1], MAX_CHANNELS)
    out = companion(video)
    part = out.with_name(out.name + ".part")
    command = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-i", os.fspath(source), "-map", "0:a:0", "-vn", "-sn", "-dn",
               "-c:a", "pcm_s16le", "-ar", str(rate), "-ac", str(channels),
               "-f", "wav", os.fspath(part)]  # fmt: skip
    logger.debug("running %s", " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        part.unlink(missing_ok=True)
        raise MakeVideoError(f"ffmpeg could not take the sound of {source}: "
                             f"{done.stderr.strip()[-800:]}")  # fmt: skip
    os.replace(part, out)
    return read_sound(out)


def write_click_track(
    path: str | os.PathLike[str], seconds: float, rate: int = MAX_RATE, channels: int = 1
) -> Sound:
    """`seconds` of silence with a CLICK_SECONDS tone starting at each whole second (the
    first at 0), where the A/V clip's picture flashes."""
    if seconds <= 0 or not 0 < rate <= MAX_RATE or not 1 <= channels <= MAX_CHANNELS:
        raise MakeVideoError(f"a click track of {seconds} s at {rate} Hz, {channels} channels")
    frames = round(seconds * rate)
    click = [round(CLICK_AMPLITUDE * math.sin(2 * math.pi * CLICK_HZ * n / rate))
             for n in range(round(CLICK_SECONDS * rate))]  # fmt: skip
    samples = bytearray(frames * SAMPLE_WIDTH * channels)
    for start in range(0, frames, rate):
        for n, value in enumerate(click[: frames - start]):
            sample = value.to_bytes(SAMPLE_WIDTH, "little", signed=True)
            offset = (start + n) * SAMPLE_WIDTH * channels
            samples[offset : offset + SAMPLE_WIDTH * channels] = sample * channels
    with wave.open(os.fspath(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(rate)
        wav.writeframes(bytes(samples))
    return read_sound(path)
