"""Sound and picture in sync through the network's jitter, PAUSE/PLAY, a seek and loss: our
client against our server, headless, on loopback, the A/V test clip (a white frame and a click
at every whole second, `MakeVideo.py avclip`) sent through the server's impairment.

The measure is the playout log's (`rtsplab.player.playout_log`): the sound's lag behind the
picture, median(played_at - media_time | audio) - median(... | video), within ±20 ms (ATSC
IS-191 asks +15/-45 ms). PAUSE, PLAY and the seek drive the player's real pieces from here as
the headless run wires them (`rtsplab.player.headless`: the driver, the frame cache, the sound
on its stand-in clock, the playout thread); the log is split at each PLAY, whose media times
start again from its range, and each stretch is measured on its own. No sound card is used
(RTSPLAB_NO_SOUND, as in CI): the sound plays muted on the stand-in clock.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import wave
from array import array

import pytest

from conftest import free_port, run_client, running_server, wait_until
from rtsplab.client.connection import RtspClient
from rtsplab.media.clip_file import make_av_clip
from rtsplab.player.headless import HeadlessPlayer
from rtsplab.player.playout_log import HEADER, av_offset, mark_lags
from rtsplab.server.impairment import ImpairmentConfig

FPS = 25
SECONDS = 6
PACKETS = SECONDS * 50  # 20 ms audio packets
MAX_OFFSET = 0.020  # s: the bound on the A/V offset
JITTER = {"delay": 40.0, "jitter": 40.0}  # ms: each datagram 0..80 ms late
SEED = 3550
PREFILL = 5  # frames: the headless run's cache when it measures its playout


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("avsync")
    make_av_clip(root / "av.mjpeg", 320, 240, SECONDS, FPS)
    return root


@pytest.fixture(autouse=True)
def no_sound_card(monkeypatch):
    monkeypatch.setenv("RTSPLAB_NO_SOUND", "1")


@contextlib.contextmanager
def impaired_server(root, **impairment):
    with running_server(root, fps=FPS) as server:
        server.config.impairment = ImpairmentConfig(**impairment, seed=SEED)
        yield server


def read_log(path):
    with open(path, newline="") as log_file:
        reader = csv.reader(log_file)
        assert tuple(next(reader)) == HEADER
        return [(stream, float(media), float(played)) for stream, media, played in reader]


def play_whole(root, tmp_path, *extra, **impairment):
    """The headless client (with `extra` options) through the impairment to the end: its
    JSON, its playout log's rows, the sound as played."""
    log_path, wav_path = tmp_path / "playout.csv", tmp_path / "played.wav"
    with impaired_server(root, **impairment) as server:
        url = f"rtsp://127.0.0.1:{server.port}/av.mjpeg"
        code, summary, stderr = run_client(
            server.port, url, "--playout-log", str(log_path), "--save-audio", str(wav_path),
            *extra, timeout=60,
        )  # fmt: skip
    assert code == 0, stderr
    return summary, read_log(log_path), wav_path


def test_in_sync_through_jitter(root, tmp_path):
    summary, rows, _ = play_whole(root, tmp_path, **JITTER)
    assert summary["frames"] == summary["shown"] == SECONDS * FPS
    assert summary["late"] == summary["skipped"] == 0
    assert summary["audio_packets"] == summary["audio_played"] == PACKETS
    assert summary["audio_concealed"] == summary["audio_late"] == 0
    offset = av_offset(rows)
    assert offset is not None and abs(offset) <= MAX_OFFSET
    assert summary["av_offset_ms"] == pytest.approx(offset * 1000, abs=0.01)
    # each flash with its click, the first too: the picture waits for the sound to start
    lags = mark_lags(rows)
    assert list(lags) == list(range(SECONDS))
    assert max(map(abs, lags.values())) <= MAX_OFFSET, lags


def largest_step(path):
    """The largest difference between two successive samples of a mono 16-bit WAV."""
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        pcm = array("h", wav.readframes(wav.getnframes()))
    return max(abs(b - a) for a, b in itertools.pairwise(pcm))


def test_lost_sound_is_concealed_without_a_click(root, tmp_path):
    """Without repair: the sound's NACKs are tests/test_audio_repair.py's."""
    summary, rows, played = play_whole(root, tmp_path, "--no-retransmission", loss=2.0, **JITTER)
    lost = summary["audio_lost_packets"]
    assert lost > 0 and summary["audio_concealed"] >= lost  # a stretch for each, at least
    assert summary["audio_played"] == PACKETS - lost
    assert largest_step(played) <= largest_step(root / "av.wav")
    offset = av_offset(rows)
    assert offset is not None and abs(offset) <= MAX_OFFSET
    lags = mark_lags(rows)  # the flashes and clicks that came through
    assert len(lags) >= SECONDS - 2 and max(map(abs, lags.values())) <= MAX_OFFSET, lags


# -- PAUSE, PLAY and a seek, driving the player's pieces ------------------------------------


def stretches(rows, starts):
    """The rows played after each PLAY and before the next."""
    ends = [*starts[1:], float("inf")]
    return [[row for row in rows if start <= row[2] < end]
            for start, end in zip(starts, ends, strict=True)]  # fmt: skip


def media_reached(player, since, seconds):
    """A condition: sound at `seconds` into the stream played since `since`."""

    def reached():
        return any(stream == "audio" and media >= seconds and played >= since
                   for stream, media, played in list(player.track.log.rows))  # fmt: skip

    return reached


def pause_until_still(player, client):
    """PAUSE, and wait until the sound's clock has stopped (no frame is due by it)."""
    player.pause(client)
    wait_until(lambda: player.track.due(0) is None, timeout=2, what="the sound to stop")


def test_in_sync_after_pause_and_after_a_seek(root):
    with impaired_server(root, **JITTER) as server:
        player = HeadlessPlayer(prefill=PREFILL, sound=False)
        client = RtspClient(
            "127.0.0.1", server.port, free_port(), f"rtsp://127.0.0.1:{server.port}/av.mjpeg",
            on_frame=player.sink, audio=player.audio_link(),
        )  # fmt: skip
        try:
            with player.playing_out():
                player.set_up(client)
                starts = [player.play(client)]
                wait_until(media_reached(player, starts[-1], 2.0), timeout=10, what="2 s")
                pause_until_still(player, client)
                starts.append(player.play(client))
                wait_until(media_reached(player, starts[-1], 3.0), timeout=10, what="3 s")
                pause_until_still(player, client)
                starts.append(player.play(client, 4.0))
                wait_until(media_reached(player, starts[-1], 5.5), timeout=10, what="5.5 s")
        finally:
            client.close()
            player.close()
    assert player.track.summary()["sound"] == "muted"
    parts = stretches(list(player.track.log.rows), starts)
    firsts = [min(media for stream, media, _ in part if stream == "audio") for part in parts]
    assert firsts[0] == 0.0 and 2.0 <= firsts[1] < 2.5 and firsts[2] == pytest.approx(4.0)
    for number, (part, first) in enumerate(zip(parts, firsts, strict=True)):
        videos = [media for stream, media, _ in part if stream == "video"]
        assert len(videos) >= FPS  # a second of frames at least
        assert min(videos) >= first - 1 / FPS  # none from before the stretch's PLAY
        offset = av_offset(part)
        assert offset is not None and abs(offset) <= MAX_OFFSET, (number, offset)
        lags = mark_lags(part)
        assert lags and max(map(abs, lags.values())) <= MAX_OFFSET, (number, lags)


def test_the_lag_at_each_mark():
    rows = [("video", 0.0, 10.0), ("audio", 0.0, 10.005), ("audio", 0.02, 10.025),
            ("video", 0.04, 10.04), ("video", 1.0, 11.0), ("audio", 1.0, 10.99),
            ("audio", 2.0, 12.0), ("video", 1.0, 13.0)]  # fmt: skip
    # second 2 has no frame; second 1's later frame (played again) does not count
    assert mark_lags(rows) == pytest.approx({0: 0.005, 1: -0.01})
