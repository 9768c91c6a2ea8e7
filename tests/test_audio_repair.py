"""Lost sound repaired, end to end on loopback: the server's impaired network drops RTP of
both tracks, our client NACKs the sound's gaps too (the SDP offers NACKs for it under
RTP/AVPF), the server sends those packets again as they were, and the sound as played is
the file's, sample for sample; without repair the same losses are concealed."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from conftest import run_client, running_server
from rtsplab.media.clip_file import make_av_clip
from rtsplab.rtsp.sdp import AudioOffer
from rtsplab.server.impairment import ImpairmentConfig

FPS = 20
SECONDS = 4
PACKETS = SECONDS * 50  # 20 ms each


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("audio-repair")
    make_av_clip(root / "av.mjpeg", 160, 120, SECONDS, FPS)
    return root


def pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        return wav.readframes(wav.getnframes())


def play(root: Path, tmp_path: Path, *extra: str) -> tuple[dict, bytes]:
    with running_server(root, fps=FPS) as server:
        server.config.impairment = ImpairmentConfig(loss=5.0, seed=7)
        url = f"rtsp://127.0.0.1:{server.port}/av.mjpeg"
        heard = tmp_path / "heard.wav"
        code, summary, errors = run_client(server.port, url, "--save-audio", str(heard), *extra)
    assert code == 0, errors
    return summary, pcm(heard)


def test_the_sdp_offers_nacks_for_the_sound_only_under_avpf():
    assert "a=rtcp-fb:98 nack" in AudioOffer(48000, 1, "track2").lines("RTP/AVPF")
    assert not any("rtcp-fb" in line for line in AudioOffer(48000, 1, "track2").lines("RTP/AVP"))


def test_lost_sound_is_asked_for_and_played_as_the_file_has_it(root, tmp_path, monkeypatch):
    monkeypatch.setenv("RTSPLAB_NO_SOUND", "1")
    source = pcm(root / "av.wav")
    repaired, heard = play(root, tmp_path)
    assert repaired["audio_nacks_sent"] > 0 and repaired["audio_recovered_packets"] > 0
    # Every packet played whole but, at most, the last: its loss has no later packet to
    # show the gap before the BYE ends the stream (a tail loss no NACK can see).
    assert repaired["audio_played"] >= PACKETS - 1 and repaired["audio_concealed"] <= 1
    packet = len(source) // PACKETS
    assert heard[: len(source) - packet] == source[:-packet]
    bare, heard_bare = play(root, tmp_path, "--no-retransmission")
    assert bare["audio_nacks_sent"] == 0 and bare["audio_recovered_packets"] == 0
    assert bare["audio_concealed"] > 1  # the same network's losses, filled in
    assert heard_bare[: len(source) - packet] != source[:-packet]
