"""The player without a window: the frame cache, the sound and the playout thread wired to the
driver (`RtspClient`), as `ClientLauncher --headless` runs them and as a test drives them
through PAUSE, PLAY and seeks.

Frames go from the driver's `on_frame` (`FrameSink`) through the seek's hand-over into the
cache; the playout thread shows each when it is due, by the sound's clock where the stream has
sound. `pause` stops the cache and the sound with the PAUSE; `play` goes on, and `play(start)`
seeks: nothing held or still on its way from before the seek is played after it (the frames'
hand-over, the sound's marker), both tracks taken again from where the PLAY's RTP-Info says.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from rtsplab.client.audio_link import AudioLink
from rtsplab.client.connection import RtspClient
from rtsplab.player.frame_buffer import FrameBuffer, Playback
from rtsplab.player.handover import Handover
from rtsplab.player.playout import play_out
from rtsplab.player.sound_track import SoundTrack

__all__ = ["FrameSink", "HeadlessPlayer"]

PLAYOUT_JOIN = 2.0  # seconds the end waits for the playout thread (a frame, at most)


class FrameSink:
    """The driver's `on_frame`: counts the frames up to `limit` (then `done`), writes them to
    `saved`, and hands them to the cache (through the seek's hand-over)."""

    def __init__(self, limit: int, saved: BinaryIO | None, handover: Handover[None] | None) -> None:
        self.limit, self.saved, self.handover = limit, saved, handover
        self.track: SoundTrack | None = None
        self.delivered = 0
        self.done = threading.Event()

    def show(self, item: tuple[bytes, int]) -> None:
        """The playout thread shows a frame: a row of the playout log."""
        if self.track is not None:
            self.track.video_shown(item[1], time.monotonic())

    def __call__(self, frame: bytes, timestamp: int) -> None:
        if self.done.is_set():
            return  # frames past the limit are neither counted nor saved
        self.delivered += 1
        if self.saved is not None:
            self.saved.write(frame)
        if self.handover is not None:
            self.handover.push(frame, timestamp)
        if self.limit and self.delivered >= self.limit:
            self.done.set()


class HeadlessPlayer:
    def __init__(
        self, *, limit: int = 0, saved: BinaryIO | None = None, prefill: int | None = None,
        sound: bool | None = None, save_audio: str | Path | None = None,
    ) -> None:  # fmt: skip
        """`limit`: frames counted before `done` (0: all); `saved`: where the frames are
        written; `prefill`: the frame cache's depth (None: no cache, frames are only counted);
        `sound`: None for no sound track (the lab's dialect), else whether to the sound card
        (False: muted); `save_audio`: a WAV of the sound as played."""
        self.buffer = None if prefill is None else FrameBuffer(max(1, prefill))
        self.handover = None if self.buffer is None else Handover[None](self.buffer)
        self.sink = FrameSink(limit, saved, self.handover)
        if sound is not None:
            self.sink.track = SoundTrack(sound=sound, save_audio=save_audio)
        self.track = self.sink.track

    def audio_link(self) -> AudioLink | None:
        """What the driver is given for the sound (None: the video alone)."""
        return None if self.track is None else self.track.link()

    @contextlib.contextmanager
    def playing_out(self) -> Iterator[None]:
        """The playout thread, taking frames out of the cache by the clock, while in the
        block (nothing without a cache)."""
        buffer = self.buffer
        if buffer is None:
            yield
            return
        stop = threading.Event()
        playout = threading.Thread(
            target=play_out, args=(buffer, buffer.pop_due, self.sink.show, stop),
            name="playout", daemon=True,
        )  # fmt: skip
        playout.start()
        try:
            yield
        finally:
            stop.set()
            playout.join(timeout=PLAYOUT_JOIN)

    def set_up(self, client: RtspClient) -> None:
        """SETUP; the sound, if the session has any, held as deep as the frame cache, and the
        frames scheduled by its clock."""
        client.setup()
        track, buffer = self.track, self.buffer
        if track is None:
            return
        if buffer is not None:
            track.start_beside(client.session, buffer)
        else:
            track.start(client.session)

    def play(self, client: RtspClient, start: float | None = None) -> float:
        """PLAY, from `start` seconds when given (a seek); the monotonic time it was sent."""
        buffer, handover, track = self.buffer, self.handover, self.track
        seek = start is not None
        generation = None
        if seek and handover is not None:
            handover.start_seek()
            generation = handover.generation()
        if seek and track is not None:
            track.seek()
        sent_at = time.monotonic()
        if buffer is not None:
            buffer.played(sent_at)  # the first PLAY's: the startup delay
        marker = None  # a failed seek: whatever comes is shown, as before it
        try:
            client.play(start)
            marker = client.session.play_rtptime
        finally:
            if handover is not None and generation is not None:
                handover.end_seek(generation, marker)
        if buffer is not None and buffer.state is Playback.PAUSED:
            buffer.resume(time.monotonic())
        return sent_at

    def pause(self, client: RtspClient) -> None:
        """PAUSE: the cache and the sound stop where they are."""
        client.pause()
        if self.buffer is not None:
            self.buffer.pause()
        if self.track is not None:
            self.track.pause()

    def close(self) -> None:
        if self.track is not None:
            self.track.close()
