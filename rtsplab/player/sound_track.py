"""The player's sound, the same for the window and the headless run: the audio track's packets
into the sound cache, the cache out to the sound card (or muted, on a stand-in clock), the A/V
clock the picture follows, and what is measured (`--playout-log`, `--save-audio`, the A/V
offset).

The driver (`RtspClient`) is given `link()`: the audio packets, both streams' SRs and each
PLAY's RTP-Info come through it, on the network threads. `start(session)`, once SETUP has
said whether there is sound, opens the cache and the output for the track's rate and
channels; a session without sound keeps the video alone, exactly as before (the playout log
then has video rows only). PAUSE stops the sound and its clock (`pause`), a seek empties the
cache (`seek`), and the end of the stream plays out what is held (`end_of_stream`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import wave
from pathlib import Path

from RtpPacket import JPEG_CLOCK_RATE, TIMESTAMP_MOD
from rtsplab.client.audio_link import AudioLink
from rtsplab.client.media import Delivery
from rtsplab.client.session import ClientSession
from rtsplab.player.audio_output import Renderer, SoundOutput, open_output
from rtsplab.player.audio_playout import AudioPlayout
from rtsplab.player.av_clock import AvClock
from rtsplab.player.playout_log import AUDIO, PlayoutLog

__all__ = ["SoundTrack"]

log = logging.getLogger(__name__)

SAMPLE_WIDTH = 2  # bytes: L16
DEFAULT_PREFILL = 0.2  # s of sound held before it starts: jitter on a LAN, well under a frame cache
SKIP_ALL = -1  # the marker while a seek's PLAY is on its way: no packet is taken
# Seconds the picture waits, beyond the sound's prefill, for the sound to start after a PLAY;
# then it goes on alone, by its own clock (a track whose packets never come).
SOUND_WAIT = 1.0


class SoundTrack:
    def __init__(
        self, *, sound: bool = True, save_audio: str | Path | None = None,
        prefill: float = DEFAULT_PREFILL,
    ) -> None:  # fmt: skip
        """`sound`: to the sound card if there is one (False: muted); `save_audio`: a WAV of
        the sound as played; `prefill`: seconds held before the sound starts (the picture's
        cache's depth, so that both start together)."""
        self.want_sound = sound
        self.save_audio = save_audio
        self.prefill = prefill
        self.ended = threading.Event()  # the audio's BYE
        self.log = PlayoutLog(JPEG_CLOCK_RATE, JPEG_CLOCK_RATE)
        self.clock: AvClock | None = None
        self.playout: AudioPlayout | None = None
        self.renderer: Renderer | None = None
        self.output: SoundOutput | None = None
        self._wav: wave.Wave_write | None = None
        self._skip_until: int | None = None  # after a seek: the first RTP timestamp to take
        self._played_at: float | None = None  # when the last PLAY's reply came (monotonic s)
        self._lock = threading.Lock()  # the marker: set by a seek and its PLAY, read per packet

    def link(self) -> AudioLink:
        """What the driver feeds: the audio packets, both streams' SRs and each PLAY."""
        delivery = Delivery(self.ended, on_frame=self._packet, on_end=self._end,
                            on_sender_report=self._audio_report)  # fmt: skip
        return AudioLink(delivery, self._played, video_reports=self._video_report)

    # -- the session ---------------------------------------------------------------------

    def start(self, session: ClientSession) -> None:
        """After SETUP: the cache and the output, if the session has sound."""
        audio = session.audio if session.audio_server is not None else None
        if audio is None or self.playout is not None:
            return
        video_rate = session.stream.clock_rate if session.stream else JPEG_CLOCK_RATE
        self.log.rates[AUDIO] = audio.rate
        self.clock = AvClock(video_rate, audio.rate)
        self.playout = AudioPlayout(audio.rate, audio.channels, self.prefill, audio.ptime)
        record = None
        if self.save_audio is not None:
            self._wav = wav = wave.open(str(self.save_audio), "wb")  # noqa: SIM115 - kept open
            wav.setnchannels(audio.channels)
            wav.setsampwidth(SAMPLE_WIDTH)
            wav.setframerate(audio.rate)
            record = wav.writeframesraw
        self.renderer = Renderer(self.playout, self.clock, self.log, record)
        self.output = open_output(self.renderer, self.want_sound)
        log.info("sound: L16 %d Hz, %d channel(s)", audio.rate, audio.channels)

    def pause(self) -> None:
        if self.playout is not None:
            self.playout.pause()

    def seek(self) -> None:
        """A PLAY from elsewhere is coming: what is held is from before it, and so is what
        comes until the PLAY's RTP-Info says where the new sound starts."""
        with self._lock:
            self._skip_until = SKIP_ALL
        if self.playout is not None:
            self.playout.restart()

    def end_of_stream(self) -> None:
        """No more sound will come: play out what is held."""
        if self.playout is not None:
            self.playout.end()

    def drained(self) -> bool:
        """Nothing left to play: no sound, or all of it played."""
        playout = self.playout
        return playout is None or playout.drained or not playout.playing

    def close(self) -> None:
        if self.output is not None:
            self.output.stop()
        if self._wav is not None:
            self._wav.close()
            self._wav = None

    # -- the picture ---------------------------------------------------------------------

    def due(self, video_timestamp: int) -> float | None:
        """When a frame is due by the sound's clock (`FrameBuffer.timeline`); not yet
        (infinity) while the sound is about to start, so that picture and sound start
        together; None when there is no sound to follow (the cache's own clock then)."""
        clock = self.clock
        if clock is None:
            return None
        due = clock.due(video_timestamp)
        if due is None and self._sound_coming(time.monotonic()):
            return math.inf
        return due

    def _sound_coming(self, now: float) -> bool:
        """Whether the sound is filling its cache after a PLAY, within SOUND_WAIT of it."""
        playout, since = self.playout, self._played_at
        if playout is None or since is None or playout.paused or playout.ended:
            return False
        return now - since < self.prefill + SOUND_WAIT

    def video_shown(self, video_timestamp: int, at: float) -> None:
        self.log.video(video_timestamp, at)

    # -- figures -------------------------------------------------------------------------

    @property
    def muted(self) -> str | None:
        """Why the sound is not heard (no device...), None when it is or there is none."""
        return None if self.output is None else self.output.muted

    def summary(self) -> dict[str, float | str | None]:
        """The sound's figures: how it was played, the A/V offset (ms, the sound's lag),
        packets played, stretches concealed, packets late."""
        offset = self.log.offset()
        playout = self.playout
        stats = None if playout is None else playout.stats
        return {
            "sound": None if self.output is None else ("muted" if self.muted else "device"),
            "av_offset_ms": None if offset is None else round(offset * 1000, 2),
            "audio_played": None if stats is None else stats.played,
            "audio_concealed": None if stats is None else stats.concealed,
            "audio_late": None if stats is None else stats.late,
        }

    # -- the network threads -------------------------------------------------------------

    def _packet(self, payload: bytes, timestamp: int) -> None:
        with self._lock:
            first = self._skip_until
            if first is not None:
                before = (timestamp - first) % TIMESTAMP_MOD >= TIMESTAMP_MOD // 2
                if first == SKIP_ALL or before:
                    return  # sent before the seek (earlier than the PLAY's RTP-Info)
                self._skip_until = None
        if self.playout is not None:
            self.playout.put(timestamp, payload)

    def _end(self) -> None:
        self.end_of_stream()

    def _audio_report(self, ntp: int, rtp_timestamp: int) -> None:
        if self.clock is not None:
            self.clock.audio_report(ntp, rtp_timestamp)

    def _video_report(self, ntp: int, rtp_timestamp: int) -> None:
        if self.clock is not None:
            self.clock.video_report(ntp, rtp_timestamp)

    def _played(self, session: ClientSession) -> None:
        """A PLAY's reply: both tracks' RTP-Info, and the sound goes on."""
        npt = session.play_position
        video, audio = session.play_rtptime, session.audio_rtptime
        with self._lock:
            if self._skip_until == SKIP_ALL:  # a seek's PLAY: its sound from RTP-Info on
                self._skip_until = audio
        self.log.on_play(npt, video, audio)
        if self.clock is not None:
            self.clock.on_play(None if video is None else (video, npt),
                               None if audio is None else (audio, npt))  # fmt: skip
        if self.playout is not None:
            self.playout.resume()
        self._played_at = time.monotonic()
