"""Our client plays sound beside the video from GStreamer's RTSP server (tests/gst_rtsp_server.py
--audio: ticks at the start of every second as L16, one pipeline with the clip, so the tick of
second k goes with frame k * fps), headless, over UDP and TCP.

Compared with the source: every frame arrives and is shown; the WAV of the sound as played
holds the samples the server sent, each one as the source made it (GStreamer renders the
same ticks to a file for the comparison: within the few units of its converter's dither);
the playout log's A/V offset is within ±20 ms (ATSC IS-191 asks +15/-45 ms). The run has
no sound card (RTSPLAB_NO_SOUND, as in CI): it says "muted" once and plays on the stand-in
clock.
"""

from __future__ import annotations

import csv
import shutil
import statistics
import subprocess
import wave
from array import array
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import run_client
from gst import gst_available, gst_rtsp_server
from MakeVideo import make_clip
from rtsplab.player.playout_log import HEADER, av_offset

FPS = 25.0
SECONDS = 3
FRAMES = int(FPS * SECONDS)
PTIME = 0.02  # the server's packets: 20 ms
MAX_OFFSET = 0.020  # s: the bound on the measured A/V offset
TICK_LEVEL = 1000  # a tick's samples reach far above this; silence is 0
DITHER = 4  # units of a 16-bit sample: GStreamer's converter dithers its big-endian output


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    reason = gst_available()
    if reason:
        pytest.skip(reason)
    path = tmp_path_factory.mktemp("av") / "clip.mjpeg"
    make_clip(path, 320, 240, FRAMES, fmt="mjpeg")
    return path


def tick_onsets(samples: list[int], rate: int) -> list[float]:
    """Seconds into the sound where each tick starts: a loud sample after half a second of
    quiet (or at the start)."""
    onsets: list[float] = []
    quiet_since = -rate
    for index, sample in enumerate(samples):
        if abs(sample) < TICK_LEVEL:
            continue
        if index - quiet_since >= rate // 2:
            onsets.append(index / rate)
        quiet_since = index
    return onsets


def source_sound(path: Path, rate: int, channels: int) -> Path:
    """The server's ticks rendered to a WAV by GStreamer itself: the same element with the
    same settings (tests/gst_rtsp_server.py), as many 20 ms buffers as the clip lasts."""
    if shutil.which("gst-launch-1.0") is None:
        pytest.skip("gst-launch-1.0 not on PATH: apt install gstreamer1.0-tools")
    command = [
        "gst-launch-1.0", "-q", "audiotestsrc", "wave=ticks",
        f"samplesperbuffer={round(rate * PTIME)}", f"num-buffers={round(SECONDS / PTIME)}",
        "!", f"audio/x-raw,rate={rate},channels={channels}",
        "!", "wavenc", "!", "filesink", f"location={path}",
    ]  # fmt: skip
    subprocess.run(command, check=True, timeout=60, capture_output=True)
    return path


def first_channel(path: Path) -> tuple[list[int], int, int]:
    with wave.open(str(path)) as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        assert wav.getsampwidth() == 2
        pcm = array("h", wav.readframes(wav.getnframes()))
    return list(pcm[::channels]), rate, channels


@pytest.mark.parametrize(
    "rate, channels, transport",
    [(48_000, 1, ()), (44_100, 2, ("--tcp",))],
    ids=["udp-48k-mono", "tcp-44.1k-stereo"],
)
def test_sound_and_picture_from_gst_rtsp_server(
    clip, tmp_path, monkeypatch, rate, channels, transport
):
    monkeypatch.setenv("RTSPLAB_NO_SOUND", "1")
    wav_path, log_path = tmp_path / "out.wav", tmp_path / "playout.csv"
    extra = ("--audio", str(rate), "--channels", str(channels))
    with gst_rtsp_server(clip, FPS, extra=extra) as url:
        code, summary, stderr = run_client(
            urlsplit(url).port, url, "--save-audio", str(wav_path),
            "--playout-log", str(log_path), *transport, timeout=60,
        )  # fmt: skip
    assert code == 0, stderr
    assert summary["frames"] == FRAMES and summary["shown"] == FRAMES
    assert summary["sound"] == "muted" and stderr.count("muted") == 1
    packets = SECONDS / PTIME
    assert summary["audio_packets"] == packets and summary["audio_lost_packets"] == 0
    assert summary["audio_played"] == packets and summary["audio_concealed"] == 0

    samples, wav_rate, wav_channels = first_channel(wav_path)
    assert (wav_rate, wav_channels) == (rate, channels)
    assert abs(len(samples) - SECONDS * rate) <= 2 * PTIME * rate
    source, _, _ = first_channel(source_sound(tmp_path / "source.wav", rate, channels))
    assert len(samples) == len(source)  # here, on loopback, not one packet more or less
    assert max(abs(a - b) for a, b in zip(samples, source, strict=True)) <= DITHER
    ticks = tick_onsets(samples, rate)  # GStreamer's: 20 ms before each second, from -20 ms
    assert len(ticks) == SECONDS + 1 and ticks == pytest.approx(tick_onsets(source, rate))

    with open(log_path, newline="") as log_file:
        reader = csv.reader(log_file)
        assert tuple(next(reader)) == HEADER
        rows = [(stream, float(media), float(played)) for stream, media, played in reader]
    video = [row for row in rows if row[0] == "video"]
    audio = [row for row in rows if row[0] == "audio"]
    assert len(video) == FRAMES and len(audio) == packets
    assert [row[1] for row in audio[:3]] == pytest.approx([0.0, 0.02, 0.04])
    assert [row[1] for row in video[:3]] == pytest.approx([0.0, 0.04, 0.08])
    offset = av_offset(rows)
    assert offset is not None and abs(offset) <= MAX_OFFSET
    assert summary["av_offset_ms"] == pytest.approx(offset * 1000, abs=0.01)
    # Each stream played at its own rate: a steady lag, not one that grows.
    lags = [played - media for _, media, played in audio]
    assert max(lags) - statistics.median(lags) < 0.1


def test_a_silent_stream_plays_as_before(clip, monkeypatch, tmp_path):
    """The same clip without sound: no audio SETUP, no sound output, the JSON says so."""
    monkeypatch.setenv("RTSPLAB_NO_SOUND", "1")
    log_path = tmp_path / "playout.csv"
    with gst_rtsp_server(clip, FPS) as url:
        code, summary, stderr = run_client(
            urlsplit(url).port, url, "--playout-log", str(log_path), timeout=60
        )
    assert code == 0, stderr
    assert summary["frames"] == FRAMES and summary["shown"] == FRAMES
    assert summary["sound"] is None and summary["av_offset_ms"] is None
    assert "audio_packets" not in summary and "muted" not in stderr
    rows = log_path.read_text().splitlines()
    assert rows[0] == ",".join(HEADER) and len(rows) == 1 + FRAMES
