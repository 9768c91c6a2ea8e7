"""The player's frame cache, with time passed in."""

import pytest

from rtsplab.player.frame_buffer import FrameBuffer, Playback

STEP = 4500  # 90 kHz / 20 fps
T = 0.05  # seconds per frame at 20 fps


def frame(n: int) -> bytes:
    return b"frame%05d" % n


def fill(buffer, first, count, now, ts0=1_000_000):
    for n in range(first, first + count):
        buffer.push(frame(n), (ts0 + n * STEP) % 2**32, now)


def test_playback_starts_only_once_prefill_frames_are_held():
    buffer = FrameBuffer(prefill=30)
    fill(buffer, 0, 29, now=0.0)
    assert buffer.state is Playback.BUFFERING
    assert buffer.pop_due(10.0) is None
    fill(buffer, 29, 1, now=0.5)
    assert buffer.state is Playback.PLAYING
    assert buffer.pop_due(0.5) == (frame(0), 1_000_000)


def test_frames_are_shown_at_the_streams_rate_not_as_they_arrive():
    buffer = FrameBuffer(prefill=5)
    fill(buffer, 0, 5, now=2.0)  # a burst: all five arrive at once
    shown = []
    for k in range(5):
        assert buffer.pop_due(2.0 + k * T - 0.001) is None  # not yet
        shown.append(buffer.pop_due(2.0 + k * T)[0])
        if k < 4:
            assert buffer.next_due(2.0 + k * T) == pytest.approx(T)
    assert buffer.next_due(2.0 + 4 * T) is None
    assert shown == [frame(n) for n in range(5)]
    assert buffer.stats.shown == 5 and buffer.stats.skipped == 0


def test_a_frame_that_arrives_after_its_time_is_late_and_never_shown():
    buffer = FrameBuffer(prefill=3)
    fill(buffer, 0, 3, now=0.0)
    assert buffer.pop_due(0.0)[0] == frame(0)
    # frame 3 is due at 3T; it arrives at 3T + 0.01
    assert buffer.push(frame(3), 1_000_000 + 3 * STEP, 3 * T + 0.01) is False
    assert buffer.stats.late == 1
    shown = [buffer.pop_due(k * T) for k in (1, 2, 3, 4)]
    assert [s[0] if s else None for s in shown] == [frame(1), frame(2), None, None]


def test_a_slow_display_skips_to_the_latest_due_frame():
    buffer = FrameBuffer(prefill=5)
    fill(buffer, 0, 5, now=0.0)
    assert buffer.pop_due(2 * T)[0] == frame(2)
    assert buffer.stats.skipped == 2 and buffer.stats.shown == 1


def test_underrun_shows_buffering_and_refills_before_going_on():
    buffer = FrameBuffer(prefill=4)
    fill(buffer, 0, 4, now=0.0)
    for k in range(4):
        assert buffer.pop_due(k * T)[0] == frame(k)
    assert buffer.pop_due(3.5 * T) is None and buffer.state is Playback.PLAYING  # not due yet
    assert buffer.pop_due(4 * T) is None  # frame 4 is due and not here
    assert buffer.state is Playback.BUFFERING
    fill(buffer, 4, 3, now=1.0)
    assert buffer.state is Playback.BUFFERING  # 3 < prefill
    fill(buffer, 7, 1, now=1.2)
    assert buffer.state is Playback.PLAYING and buffer.stats.underruns == 1
    assert buffer.pop_due(1.2)[0] == frame(4)  # the clock restarts on the refilled frames
    assert buffer.pop_due(1.2 + T)[0] == frame(5)


def test_pause_keeps_the_cache_and_resume_goes_on_from_it():
    buffer = FrameBuffer(prefill=3)
    fill(buffer, 0, 6, now=0.0)
    assert buffer.pop_due(0.0)[0] == frame(0)
    buffer.pause()
    assert buffer.state is Playback.PAUSED and buffer.fill == 5
    assert buffer.pop_due(100.0) is None
    buffer.resume(100.0)
    assert buffer.pop_due(100.0)[0] == frame(1)
    assert buffer.pop_due(100.0 + T)[0] == frame(2)
    assert buffer.stats.late == 0 and buffer.stats.skipped == 0


def test_resume_with_too_few_frames_buffers_first():
    buffer = FrameBuffer(prefill=3)
    fill(buffer, 0, 3, now=0.0)
    buffer.pop_due(0.0)
    buffer.pop_due(T)
    buffer.pause()
    buffer.resume(5.0)
    assert buffer.state is Playback.BUFFERING


def test_teardown_frees_everything():
    buffer = FrameBuffer(prefill=3)
    fill(buffer, 0, 10, now=0.0)
    buffer.clear()
    assert (buffer.fill, buffer.fill_bytes, buffer.state) == (0, 0, Playback.BUFFERING)


def test_memory_is_bounded_in_frames_and_bytes():
    buffer = FrameBuffer(prefill=2, max_frames=5, max_bytes=10_000)
    fill(buffer, 0, 8, now=0.0)
    assert buffer.fill == 5 and buffer.stats.overflow == 3
    big = FrameBuffer(prefill=1, max_frames=100, max_bytes=2500)
    for n in range(10):
        big.push(b"x" * 1000, n * STEP, 0.0)
    assert big.fill_bytes <= 2500 and big.stats.overflow == 8


def test_the_end_of_the_stream_plays_out_what_is_held_then_ends():
    buffer = FrameBuffer(prefill=30)
    fill(buffer, 0, 3, now=0.0)
    buffer.end_of_stream(1.0)
    assert buffer.state is Playback.PLAYING
    assert [buffer.pop_due(1.0 + k * T)[0] for k in range(3)] == [frame(0), frame(1), frame(2)]
    assert buffer.pop_due(2.0) is None
    assert buffer.state is Playback.ENDED and buffer.stats.underruns == 0


def test_running_dry_just_before_the_end_is_not_an_underrun():
    buffer = FrameBuffer(prefill=2)
    fill(buffer, 0, 2, now=0.0)
    buffer.pop_due(0.0)
    buffer.pop_due(T)
    assert buffer.pop_due(2 * T) is None and buffer.state is Playback.BUFFERING
    buffer.end_of_stream(1.0)
    assert buffer.state is Playback.ENDED and buffer.stats.underruns == 0


def test_timestamps_wrapping_past_2_32_keep_their_order():
    buffer = FrameBuffer(prefill=4)
    fill(buffer, 0, 4, now=0.0, ts0=2**32 - 2 * STEP)
    assert [buffer.pop_due(k * T)[0] for k in range(4)] == [frame(k) for k in range(4)]


def test_the_labs_timestamps_in_seconds_play_at_the_labs_20_fps():
    """The lab's RtpPacket stamps int(time()): twenty frames share one value."""
    buffer = FrameBuffer(prefill=4)
    for n in range(4):
        buffer.push(frame(n), 1_700_000_000, 0.0)
    assert [buffer.pop_due(k * T)[0] for k in range(4)] == [frame(k) for k in range(4)]


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError):
        FrameBuffer(prefill=0)
    with pytest.raises(ValueError):
        FrameBuffer(prefill=10, max_frames=5)


def test_the_time_spent_refilling_after_an_underrun_is_counted():
    buffer = FrameBuffer(prefill=4)
    fill(buffer, 0, 4, now=0.0)
    for k in range(4):
        buffer.pop_due(k * T)
    assert buffer.pop_due(4 * T) is None  # ran dry at 0.2 s
    fill(buffer, 4, 4, now=1.2)  # refilled at 1.2 s: a 1.0 s stall
    assert buffer.stats.stall_seconds == pytest.approx(1.0)
    for k in range(4):
        buffer.pop_due(1.2 + k * T)
    buffer.pop_due(1.2 + 4 * T)  # dry again at 1.4 s
    fill(buffer, 8, 4, now=1.9)
    assert buffer.stats.stall_seconds == pytest.approx(1.5) and buffer.stats.underruns == 2


def test_the_startup_delay_runs_from_play_to_the_first_frame_shown():
    buffer = FrameBuffer(prefill=3)
    assert buffer.stats.startup_seconds is None
    buffer.played(10.0)
    fill(buffer, 0, 3, now=10.4)
    assert buffer.stats.startup_seconds is None  # nothing shown yet
    buffer.pop_due(10.45)
    assert buffer.stats.startup_seconds == pytest.approx(0.45)
    buffer.pause()
    buffer.played(20.0)  # a resume is not a startup
    buffer.resume(20.1)
    buffer.pop_due(20.1)
    assert buffer.stats.startup_seconds == pytest.approx(0.45)


def test_a_frame_repaired_after_later_ones_is_played_in_its_place():
    buffer = FrameBuffer(prefill=3)
    for ts in (90_000, 99_000, 94_500):  # 20 fps: the middle frame came last, after a NACK
        assert buffer.push(b"%d" % ts, ts, 0.0)
    assert [buffer.pop_due(t)[1] for t in (0.0, 0.05, 0.1)] == [90_000, 94_500, 99_000]


def test_after_teardown_a_new_sessions_frames_are_taken_wherever_its_timestamps_start():
    """TEARDOWN clears the cache; the next session's sender picks a new random timestamp
    origin, below the last frame shown as likely as above: not a repair come too late."""
    buffer = FrameBuffer(prefill=2)
    fill(buffer, 0, 3, now=0.0, ts0=3_000_000_000)
    assert [buffer.pop_due(k * T)[0] for k in range(3)] == [frame(n) for n in range(3)]
    buffer.clear()
    fill(buffer, 0, 2, now=10.0, ts0=1000)
    assert buffer.stats.late == 0 and buffer.pop_due(10.0) == (frame(0), 1000)
