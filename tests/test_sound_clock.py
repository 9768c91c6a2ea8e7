"""The player's sound as pure pieces, time passed in: the A/V clock the picture follows
(RTP-Info, then both streams' SRs), the playout log's media times across PLAYs, the renderer
(volume, mute, what is recorded and logged), and the output chosen: the sound card, or muted
with the reason said."""

from __future__ import annotations

import sys
import time

import pytest

from rtsplab.ntp import ntp_from_unix
from rtsplab.player.audio_output import NO_SOUND_ENV, Renderer, StandInOutput, open_output
from rtsplab.player.audio_playout import AudioPlayout
from rtsplab.player.av_clock import AvClock
from rtsplab.player.playout_log import HEADER, PlayoutLog, av_offset

VIDEO_RATE, AUDIO_RATE = 90_000, 8_000
V0, A0 = 1_000, 5_000  # the tracks' rtptimes at the PLAY's start (RTP-Info)
SENDER_TIME = 1_800_000_000.0  # the sender's wall clock at its SRs (unix seconds)


def tied_clock() -> AvClock:
    clock = AvClock(VIDEO_RATE, AUDIO_RATE)
    clock.on_play((V0, 0.0), (A0, 0.0))
    return clock


def hear(clock: AvClock, timestamp: int, at: float) -> None:
    """A sound card plays in real time: a block asked for, then the next 10 ms later."""
    clock.heard(timestamp - AUDIO_RATE // 100, at - 0.01, now=at - 0.02)
    clock.heard(timestamp, at, now=at - 0.01)


def test_a_frame_is_due_when_the_sound_of_its_instant_is_heard():
    clock = tied_clock()
    assert clock.due(V0) is None  # no sound heard yet: the frame cache keeps its own clock
    hear(clock, A0 + AUDIO_RATE, 100.0)  # the sound of npt 1 s reaches the listener at 100 s
    assert clock.due(V0 + VIDEO_RATE) == pytest.approx(100.0)
    assert clock.due(V0 + VIDEO_RATE + 9_000) == pytest.approx(100.1)  # 0.1 s later
    assert clock.due(V0) == pytest.approx(99.0)  # npt 0: a second before
    clock.stopped()  # PAUSE: no audio clock until the sound goes on
    assert clock.due(V0 + VIDEO_RATE) is None


def test_the_blocks_an_output_takes_at_once_when_it_starts_do_not_set_the_clock():
    clock = tied_clock()
    # A sound server's output asks for five 10 ms blocks at once, saying each is heard 10 ms
    # after the one before, then nothing until it plays, 1.5 s later.
    for n in range(5):
        clock.heard(A0 + 80 * n, 10.0 + 0.01 * n, now=10.0)
    assert clock.due(V0) is None  # a buffer filled: when it will be heard, nobody knows
    clock.heard(A0 + 400, 11.55, now=11.5)
    assert clock.due(V0) == pytest.approx(11.5)  # sample A0 was heard 50 ms before A0 + 400
    clock.stopped()  # a PAUSE: when the sound goes on, the output settles again
    clock.heard(A0 + 480, 20.0, now=20.0)
    assert clock.due(V0) is None
    clock.stopped()
    clock.heard(A0 + 480, 30.0)  # the muted stand-in's clock: its own, from its first block
    assert clock.due(V0) == pytest.approx(29.94)


def test_once_both_streams_have_an_sr_their_ntp_times_tie_them():
    clock = tied_clock()
    hear(clock, A0 + AUDIO_RATE, 100.0)
    # SRs 0.1 s into the stream, by which the sender says audio timestamp A0 was sampled
    # 40 ms after video timestamp V0 (its PLAY's RTP-Info had them at the same instant).
    clock.video_report(ntp_from_unix(SENDER_TIME + 0.1), V0 + 9_000)
    assert clock.due(V0 + VIDEO_RATE) == pytest.approx(100.0)  # one SR alone: still RTP-Info
    clock.audio_report(ntp_from_unix(SENDER_TIME + 0.140), A0 + 800)
    assert clock.due(V0 + VIDEO_RATE) == pytest.approx(99.960, abs=1e-6)
    # A new PLAY (a seek) starts the timeline again: the sound heard and the SRs from before
    # it are forgotten, its RTP-Info ties the streams until SRs sent after it come.
    clock.on_play((V0 + 5 * VIDEO_RATE, 5.0), (A0 + 5 * AUDIO_RATE, 5.0))
    assert clock.due(V0 + 5 * VIDEO_RATE) is None
    hear(clock, A0 + 5 * AUDIO_RATE, 200.0)
    assert clock.due(V0 + 5 * VIDEO_RATE) == pytest.approx(200.0)
    clock.video_report(ntp_from_unix(SENDER_TIME), V0)  # an SR from before the PLAY
    clock.audio_report(ntp_from_unix(SENDER_TIME + 0.040), A0)
    assert clock.due(V0 + 5 * VIDEO_RATE) == pytest.approx(200.0)  # not taken


def test_the_playout_log_counts_media_time_from_each_play():
    log = PlayoutLog(VIDEO_RATE, AUDIO_RATE)
    log.on_play(5.0, V0, A0)  # the first PLAY starts at npt 5: media time 0 there
    log.video(V0, 10.000)
    log.video(V0 + 3_600, 10.040)  # 40 ms of 90 kHz later
    log.audio(A0, 10.000)
    log.audio(A0 + 160, 10.020)  # 20 ms of 8 kHz later
    log.on_play(7.0, 77, None)  # a seek to npt 7; the reply names the video alone
    log.video(77 - 3_600, 20.000)  # a frame from just before the range: earlier, not a wrap
    log.audio(999, 20.050)  # the sound's first packet after the seek is its origin
    assert log.rows == [
        ("video", 0.0, 10.0), ("video", pytest.approx(0.04), 10.04),
        ("audio", 0.0, 10.0), ("audio", pytest.approx(0.02), 10.02),
        ("video", pytest.approx(1.96), 20.0), ("audio", 2.0, 20.05),
    ]  # fmt: skip
    # Lags: video 10.0, 10.0, 18.04 (median 10.0); audio 10.0, 10.0, 18.05 (median 10.0).
    assert log.offset() == pytest.approx(0.0)
    assert av_offset([("audio", 0.0, 1.03), ("video", 0.0, 1.0)]) == pytest.approx(0.03)
    assert av_offset([("video", 0.0, 1.0)]) is None  # no sound: no offset


def test_the_playout_log_is_written_as_csv(tmp_path):
    log = PlayoutLog(VIDEO_RATE, AUDIO_RATE)
    log.on_play(0.0, V0, A0)
    log.video(V0 + 45_000, 3.25)
    log.audio(A0 + 4_000, 3.5)
    path = tmp_path / "playout.csv"
    log.write(path)
    assert path.read_text().splitlines() == [
        ",".join(HEADER),
        "video,0.500000,3.250000",
        "audio,0.500000,3.500000",
    ]


def l16_packet(value: int, samples: int) -> bytes:
    """Mono L16 on the wire: big-endian."""
    return value.to_bytes(2, "big", signed=True) * samples


def le_samples(pcm: bytes) -> list[int]:
    return [int.from_bytes(pcm[i : i + 2], "little", signed=True) for i in range(0, len(pcm), 2)]


@pytest.fixture
def rendering():
    """A renderer over a prefilled mono 8 kHz cache (two 20 ms packets of 1000 then -2000)."""
    playout = AudioPlayout(AUDIO_RATE, 1, prefill=0.02, ptime_ms=20)
    clock, log, recorded = tied_clock(), PlayoutLog(VIDEO_RATE, AUDIO_RATE), []
    log.on_play(0.0, V0, A0)
    renderer = Renderer(playout, clock, log, recorded.append)
    return renderer, playout, recorded


def test_the_renderer_tells_the_clock_and_the_log_what_is_heard_when(rendering):
    renderer, playout, recorded = rendering
    assert renderer.render(80, 50.0) == bytes(160)  # nothing held: silence, no clock
    assert renderer.clock.due(V0) is None and not recorded
    playout.put(A0, l16_packet(1000, 160))
    playout.put(A0 + 160, l16_packet(-2000, 160))
    block = renderer.render(240, 50.0, now=49.98)  # 30 ms: a packet and half the next
    assert le_samples(block) == [1000] * 160 + [-2000] * 80
    assert renderer.clock.due(V0) is None  # the first block: the output not yet settled
    rest = renderer.render(80, 50.03, now=49.99)  # asked for 10 ms later, heard after the first
    assert le_samples(rest) == [-2000] * 80
    assert renderer.clock.due(V0) == pytest.approx(50.0)
    # Each packet begun in the block is a row, at the instant its first sample is heard.
    assert renderer.log_rows.rows == [("audio", 0.0, 50.0), ("audio", 0.02, 50.02)]
    assert recorded == [block, rest]


def test_volume_and_mute_change_what_is_heard_not_what_is_recorded(rendering):
    renderer, playout, recorded = rendering
    playout.put(A0, l16_packet(1000, 160))
    playout.put(A0 + 160, l16_packet(-2000, 160))
    renderer.volume = 0.5
    assert le_samples(renderer.render(160, 1.0)) == [500] * 160
    renderer.mute = True
    assert renderer.render(160, 1.02) == bytes(320)
    assert [le_samples(block) for block in recorded] == [[1000] * 160, [-2000] * 160]
    assert renderer.clock.due(V0 + VIDEO_RATE // 50) == pytest.approx(1.02)  # muted, in time


def started(output: StandInOutput, playout: AudioPlayout, limit: float = 2.0) -> bool:
    """Whether the stand-in's clock plays a packet within `limit` seconds; then stopped."""
    deadline = time.monotonic() + limit
    while not playout.stats.played and time.monotonic() < deadline:
        time.sleep(0.005)
    output.stop()
    return playout.stats.played > 0


def test_without_sound_the_stand_in_clock_plays_muted_and_says_why(monkeypatch, caplog):
    monkeypatch.delenv(NO_SOUND_ENV, raising=False)
    playout = AudioPlayout(AUDIO_RATE, 1, prefill=0.02)
    playout.put(A0, l16_packet(1000, 160))
    renderer = Renderer(playout, tied_clock())
    output = open_output(renderer, sound=False)
    assert output.muted == "no sound asked for" and "playing muted" in caplog.text
    assert isinstance(output, StandInOutput) and started(output, playout)
    monkeypatch.setenv(NO_SOUND_ENV, "1")
    output = open_output(renderer)
    assert output.muted == f"{NO_SOUND_ENV} is set"
    output.stop()
    monkeypatch.delenv(NO_SOUND_ENV)
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # the module not installed
    output = open_output(renderer)
    assert output.muted is not None and output.muted.endswith("pip install sounddevice")
    output.stop()


def test_the_sound_library_without_a_device_plays_muted(monkeypatch):
    """The real library: on a machine with no sound card (CI) it is muted with the library's
    reason; with one, it plays."""
    try:
        import sounddevice
    except ImportError:
        pytest.skip("needs sounddevice: pip install sounddevice")
    except OSError as exc:
        pytest.skip(f"needs PortAudio for sounddevice ({exc}): apt install libportaudio2")
    monkeypatch.delenv(NO_SOUND_ENV, raising=False)
    try:
        has_device = bool(sounddevice.query_devices(kind="output"))
    except Exception:  # PortAudio's error for "no default output device"
        has_device = False
    playout = AudioPlayout(AUDIO_RATE, 1, prefill=0.02)
    output = open_output(Renderer(playout, tied_clock()))
    try:
        assert (output.muted is None) == has_device
        if not has_device:
            assert output.muted is not None and output.muted.startswith("no sound device")
    finally:
        output.stop()
