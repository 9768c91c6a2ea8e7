"""The player's way for frames across a seek (no frame from before a seek shown after it) and
its status line; pure, no Tk."""

import threading
import time

from rtsplab.player.frame_buffer import FrameBuffer, Playback
from rtsplab.player.handover import Handover
from rtsplab.player.playout import play_out
from rtsplab.player.status import DisplayRate, FrameWork, mode
from rtsplab.rtsp.state import State


def test_after_a_seek_only_frames_from_its_play_on_are_taken():
    buffer = FrameBuffer(1)
    handover = Handover(buffer)
    handover.push(b"old", 1000)
    assert buffer.fill == 1
    handover.start_seek()
    assert buffer.fill == 0
    handover.push(b"late", 2000)  # on its way before the PLAY's reply said where to start
    assert buffer.fill == 0
    handover.end_seek(handover.generation(), 90_000)
    handover.push(b"before", 89_999)
    handover.push(b"first", 90_000)
    handover.push(b"next", 93_600)
    assert buffer.fill == 2


def test_a_picture_decoded_before_a_seek_is_not_offered_after_it():
    handover = Handover(FrameBuffer(1))
    handover.offer("shown", 1, handover.generation(), 1)
    assert (handover.take(), handover.take()) == ("shown", None)
    popped_in = handover.generation()
    handover.start_seek()
    handover.offer("stale", 2, popped_in, 2)
    assert handover.take() is None and handover.shown_timestamp is None


def test_a_picture_overtaken_by_a_newer_one_is_dropped_not_painted_late():
    buffer = FrameBuffer(2)
    handover = Handover(buffer)
    handover.push(b"first", 0)
    handover.push(b"second", 90_000)  # 1 s later at 90 kHz; the cache starts playing now
    now = time.monotonic()  # the clock the hand-over pushes with
    first = handover.pop(now)
    second = handover.pop(now + 1.0)
    assert first is not None and second is not None
    assert (first[0], first[3]) == (b"first", 1) and (second[0], second[3]) == (b"second", 2)
    # Two playout threads: the second frame's decode finished first.
    assert handover.offer("second", second[1], second[2], second[3])
    assert not handover.offer("first", first[1], first[2], first[3])
    assert handover.take() == "second" and handover.shown_timestamp == 90_000


def test_an_older_seek_leaves_the_marker_to_the_newer_one():
    buffer = FrameBuffer(1)
    handover = Handover(buffer)
    handover.start_seek()
    older = handover.generation()
    handover.start_seek()
    handover.end_seek(older, 0)  # the older seek's PLAY came back: not the one to follow
    handover.push(b"frame", 5)
    assert buffer.fill == 0


def test_the_display_rate_counts_the_last_second_and_the_mode_reads_the_states():
    rate = DisplayRate()
    for i in range(21):
        rate.shown(10.0 + i * 0.05)
    assert rate.fps(11.0) == 20.0 and rate.fps(13.0) == 0.0
    assert mode(State.PLAYING, Playback.BUFFERING, None) == "buffering…"
    assert mode(State.PLAYING, Playback.PLAYING, "PAUSE") == "PAUSE…"
    assert mode(State.READY, Playback.ENDED, None) == "end of video"
    assert mode(State.INIT, Playback.ENDED, None) == "init"


def test_frames_due_while_one_is_decoded_are_skipped_not_decoded_late():
    """A decode that takes 1.5 frames' time (a fake clock): the playout loop decodes only the
    newest frame due each time it comes back, never one whose successor is already due."""
    buffer = FrameBuffer(10)
    for n in range(10):
        buffer.push(bytes([n]), n * 3000, 0.0)  # 30 fps at 90 kHz; playing from t = 0
    clock = [0.0]
    decoded: list[int] = []
    stop = threading.Event()

    def decode(item: tuple[bytes, int]) -> None:
        decoded.append(item[0][0])
        clock[0] += 1.5 / 30
        if len(decoded) == 6:
            stop.set()

    play_out(buffer, buffer.pop_due, decode, stop, clock=lambda: clock[0])
    assert decoded == [0, 1, 3, 4, 6, 7]
    assert buffer.stats.skipped == 2 and buffer.stats.shown == 6


def test_the_decode_and_paint_time_is_the_median_of_the_frames_shown():
    work = FrameWork()
    assert work.median_ms() is None  # nothing shown yet: no figure, not 0
    for seconds in (0.010, 0.030, 0.020, 0.500):  # one frame held up does not move it far
        work.add(seconds)
    assert work.median_ms() == 25.0
