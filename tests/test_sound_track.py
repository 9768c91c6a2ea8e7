"""The player's sound track across a session's steps, pure (no network; the output is the
muted stand-in): a seek takes no packet from before its PLAY's RTP-Info, a reset readies the
track for a new SETUP with a new log and the listener's loudness kept, a session without
sound leaves the frame cache alone; and the lip-sync timeline starts over at each PLAY."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import pytest

from rtsplab.client.audio_track import AudioStream
from rtsplab.ntp import ntp_from_unix
from rtsplab.player.frame_buffer import FrameBuffer
from rtsplab.player.sound_track import SoundTrack
from rtsplab.rtp.sync import LipSync

RATE = 8000
PACKET = 160  # 20 ms at 8 kHz
VIDEO_RTPTIME, AUDIO_RTPTIME = 90_000, 1_000


def session(npt: float = 0.0, audio_rtptime: int | None = AUDIO_RTPTIME, sound: bool = True):
    """What the track reads of a `ClientSession`: the audio track and each PLAY's reply."""
    return SimpleNamespace(
        audio=AudioStream("track2", 97, RATE, 1) if sound else None,
        audio_server=("127.0.0.1", 5004) if sound else None,
        stream=SimpleNamespace(clock_rate=90_000), fps=25.0,
        play_position=npt, play_rtptime=VIDEO_RTPTIME, audio_rtptime=audio_rtptime,
    )  # fmt: skip


def packet(level: int = 1000) -> bytes:
    return struct.pack(">h", level) * PACKET


@pytest.fixture
def track(monkeypatch):
    monkeypatch.setenv("RTSPLAB_NO_SOUND", "1")
    made = SoundTrack(sound=False, prefill=1.0)  # a second held: nothing played meanwhile
    yield made
    made.close()


def test_a_seek_takes_no_packet_from_before_its_plays_rtp_info(track):
    link = track.link()
    track.start(session())
    link.on_played(session())
    link.delivery.on_frame(packet(), AUDIO_RTPTIME)
    assert track.playout.stats.packets == 1
    track.seek()  # PAUSE came back; the seek's PLAY is on its way
    link.delivery.on_frame(packet(), AUDIO_RTPTIME + PACKET)  # sent before the PAUSE, late
    assert track.playout.stats.packets == 1  # not taken (the count runs over the session)
    later = AUDIO_RTPTIME + 10 * PACKET  # the seek's range starts here (RTP-Info)
    link.on_played(session(npt=4.0, audio_rtptime=later))
    link.delivery.on_frame(packet(), later - PACKET)  # still from before the seek
    link.delivery.on_frame(packet(), later + PACKET)
    link.delivery.on_frame(packet(), later - 2 * PACKET)  # after one in the range: still not
    link.delivery.on_frame(packet(), later)  # in the range, in any order
    assert track.playout.stats.packets == 3


def test_a_seek_whose_play_names_no_audio_rtptime_takes_what_comes_after_it(track):
    link = track.link()
    track.start(session())
    track.seek()
    link.delivery.on_frame(packet(), AUDIO_RTPTIME)
    link.on_played(session(npt=2.0, audio_rtptime=None))
    link.delivery.on_frame(packet(), AUDIO_RTPTIME + PACKET)
    assert track.playout.stats.packets == 1


def test_a_reset_readies_the_track_for_the_next_setup(track):
    buffer = FrameBuffer(10)
    link = track.link()
    track.set_loudness(0.4, mute=True)
    track.start_beside(session(), buffer)
    assert track.has_sound and buffer.timeline == track.due
    assert track.prefill == pytest.approx(1.0)  # deeper than 10 frames at 25 fps: kept
    link.on_played(session())
    track.video_shown(VIDEO_RTPTIME, 5.0)
    assert len(track.log.rows) == 1 and track.summary()["sound"] == "muted"
    track.reset()
    assert not track.has_sound and track.log.rows == [] and track.summary()["sound"] is None
    assert track.due(VIDEO_RTPTIME) is None  # the cache keeps its own clock meanwhile
    track.start(session())
    assert track.has_sound and track.loudness() == "mute"  # the listener's choice, kept
    assert (track.renderer.volume, track.renderer.mute) == (0.4, True)


def test_a_session_without_sound_leaves_the_frame_cache_alone(track):
    buffer = FrameBuffer(10)
    track.start_beside(session(sound=False), buffer)
    assert not track.has_sound and buffer.timeline is None
    assert track.summary()["sound"] is None and track.loudness() is None


def test_each_play_starts_the_timeline_over_from_its_rtp_info():
    """Both streams' SRs tie them; a PLAY after a PAUSE names rtptimes that the SRs from before
    it would map 20 ms apart (the audio stopped a packet short of the video's frame), so until
    both have sent an SR again the PLAY's RTP-Info ties them, and an SR from before the PLAY
    that comes late is not taken."""
    sync = LipSync(90_000, 8000)
    sync.video.on_rtp_info(0, 0.0)
    sync.audio.on_rtp_info(0, 0.0)
    sync.video.on_sender_report(ntp_from_unix(100.0), 90_000)  # both at 1 s of the clip
    sync.audio.on_sender_report(ntp_from_unix(100.0), 8000)
    assert sync.video_after_audio(90_000, 8000) == pytest.approx(0.0, abs=1e-6)
    # Resumed at npt 2.04: the video's next frame is 2.04 s in, the audio's packet 2.02 s in.
    video_ts, audio_ts = round(2.04 * 90_000), round(2.02 * 8000)
    sync.video.on_rtp_info(video_ts, 2.04)
    sync.audio.on_rtp_info(audio_ts, 2.04)
    assert sync.video_after_audio(video_ts, audio_ts) == pytest.approx(0.0)  # not -0.02
    sync.audio.on_sender_report(ntp_from_unix(101.5), round(1.5 * 8000))  # sent before: late
    sync.video.on_sender_report(ntp_from_unix(200.0), video_ts)
    assert sync.audio.report_anchor is None
    assert sync.video_after_audio(video_ts, audio_ts) == pytest.approx(0.0)  # RTP-Info still
    sync.audio.on_sender_report(ntp_from_unix(200.0), audio_ts)  # both again: the SRs
    assert sync.video_after_audio(video_ts + 9000, audio_ts) == pytest.approx(0.1, abs=1e-6)
