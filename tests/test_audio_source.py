"""The server's audio source (rtsplab.server.audio_source): a companion WAV read as L16
packets by index, seeking by npt, and a file that breaks while it plays."""

import struct
import wave

import pytest

from rtsplab.server.audio_source import AudioError, AudioSource


def write_wav(path, samples, rate=8000, channels=1):
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return path


def test_packets_by_index_in_network_order(tmp_path):
    path = write_wav(tmp_path / "a.wav", list(range(400)))  # 400 samples at 8 kHz: 2.5 packets
    with AudioSource(path) as source:
        assert (source.step, source.packet_count, source.seconds) == (160, 3, 0.05)
        assert source.payload(0) == struct.pack(">160h", *range(160))
        assert source.payload(2) == struct.pack(">80h", *range(320, 400))  # the short last one
        assert source.payload(1) == struct.pack(">160h", *range(160, 320))  # back and forth
        with pytest.raises(AudioError, match="no packet 3"):
            source.payload(3)


def test_npt_finds_the_packet_and_stays_within_the_file(tmp_path):
    path = write_wav(tmp_path / "a.wav", [0] * 8000 * 2, channels=2)  # 1 s of stereo
    with AudioSource(path) as source:
        assert source.index_at(0.0) == 0 and source.index_at(0.5) == 25
        assert source.index_at(0.019) == 0 and source.index_at(0.021) == 1
        assert source.index_at(99.0) == source.packet_count - 1 == 49
        assert len(source.payload(49)) == 160 * 4


def test_a_file_cut_short_while_playing_ends_the_sound(tmp_path):
    path = write_wav(tmp_path / "a.wav", [1] * 8000)
    with AudioSource(path) as source:
        source.payload(0)
        with open(path, "r+b") as f:
            f.truncate(44 + 1000)
        with pytest.raises(AudioError, match="changed while it played"):
            source.payload(40)


def test_a_file_that_is_not_sound_is_refused(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"not a wav")
    with pytest.raises(AudioError, match="not a PCM WAV"):
        AudioSource(tmp_path / "x.wav")
