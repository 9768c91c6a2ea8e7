"""The picture's clock taken from the sound's: when a video frame is due, given where the
listener is in the audio stream and how the two streams' timestamps line up.

The sound output tells, with each block it plays, which audio sample the listener hears at
which instant (`heard`: the audio clock, the sound card's latency included). `LipSync`
(`rtsplab.rtp.sync`) says how far the frame with video timestamp V is from audio timestamp A
on the streams' common timeline (PLAY's RTP-Info until both streams have had an SR, then the
SRs, RFC 3550 §6.4.1). The frame is due at

    due(V) = heard_at(A) + video_after_audio(V, A)

so that it is seen when the sound of its instant is heard. Until the sound plays (prefill,
pause, a track that never started) there is no audio clock, and `due` says None: the frame
cache then keeps its own clock. Pure (time passed in) and thread-safe: the sound device's
thread and the network's write, the playout thread reads.
"""

from __future__ import annotations

import threading

from rtsplab.rtp.sync import LipSync

# The output has played in real time once a block is asked for this long after the first:
# the blocks it takes at once when it starts fill its buffer, and say nothing of when they
# will be heard (a sound server may hold them a second or two before it plays).
SETTLE = 0.005


class AvClock:
    def __init__(self, video_rate: int, audio_rate: int) -> None:
        self.sync = LipSync(video_rate, audio_rate)
        self._heard: tuple[int, float] | None = None  # (audio timestamp, when it is heard)
        self._started: float | None = None  # when the output asked for its first block
        self._lock = threading.Lock()

    # -- the streams' timing -------------------------------------------------------------

    def on_play(self, video: tuple[int, float] | None, audio: tuple[int, float] | None) -> None:
        """A PLAY's RTP-Info: each track's (rtptime, npt) at the start of the range played,
        None for a track it did not name. The audio clock waits for the sound to go on."""
        with self._lock:
            if video is not None:
                self.sync.video.on_rtp_info(*video)
            if audio is not None:
                self.sync.audio.on_rtp_info(*audio)
            self._heard = self._started = None

    def video_report(self, ntp: int, rtp_timestamp: int) -> None:
        """The video stream's SR: its NTP/RTP pair."""
        with self._lock:
            self.sync.video.on_sender_report(ntp, rtp_timestamp)

    def audio_report(self, ntp: int, rtp_timestamp: int) -> None:
        with self._lock:
            self.sync.audio.on_sender_report(ntp, rtp_timestamp)

    # -- the sound output ----------------------------------------------------------------

    def heard(self, audio_timestamp: int, at: float, now: float | None = None) -> None:
        """Audio sample `audio_timestamp` reaches the listener at `at` (monotonic s), as
        a sound card says when it asks for a block at `now`: the clock runs from the first
        block asked for SETTLE after the first one. Without `now`, an output whose clock is
        its own (the muted stand-in's): from its first block."""
        with self._lock:
            if now is not None:
                if self._started is None:
                    self._started = now
                if now - self._started < SETTLE:
                    return
            self._heard = (audio_timestamp, at)

    def stopped(self) -> None:
        """The sound stopped (pause, end): no audio clock until it goes on."""
        with self._lock:
            self._heard = self._started = None

    # -- the picture ---------------------------------------------------------------------

    def due(self, video_timestamp: int) -> float | None:
        """When the frame with `video_timestamp` is to be seen; None without an audio clock
        or before the two streams are tied."""
        with self._lock:
            heard = self._heard
            if heard is None:
                return None
            after = self.sync.video_after_audio(video_timestamp, heard[0])
            return None if after is None else heard[1] + after
