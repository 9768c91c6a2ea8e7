"""The player's sound, the same for the window and the headless run: the audio track's packets
into the sound cache, the cache out to the sound card (or muted, on a stand-in clock), the A/V
clock the picture follows, and what is measured (`--playout-log`, `--save-audio`, the A/V
offset).

The driver (`RtspClient`) is given `link()`: the audio packets, both streams' SRs and each
PLAY's RTP-Info come through it, on the network threads. `start(session)`, once SETUP has
said whether there is sound, opens the cache and the output for the track's rate and
channels; a session without sound keeps the video alone, exactly as before (the playout log
then has video rows only). PAUSE stops the sound and its clock (`pause`), a seek empties the
cache (`seek`) and takes no packet from before the new PLAY's RTP-Info (as the picture's
hand-over does), and the end of the stream plays out what is held (`end_of_stream`). After
TEARDOWN, `reset` readies the track for the next SETUP: a new log, no sound until `start`.

The listener's mute and volume (`set_loudness`, the window's controls) outlive a session:
they are applied to each new output. They change what is heard only: `--save-audio`
records the stream as played out, in time, before loudness (a muted recording would be
silence, not the sound the listener chose not to hear).
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
from rtsplab.player.frame_buffer import FrameBuffer
from rtsplab.player.playout_log import AUDIO, PlayoutLog

__all__ = ["SoundTrack"]

log = logging.getLogger(__name__)

SAMPLE_WIDTH = 2  # bytes: L16
DEFAULT_PREFILL = 0.2  # s of sound held before it starts: jitter on a LAN, well under a frame cache
ASSUMED_FPS = 25.0  # a frame cache's frames in the sound's seconds, when the SDP gives no rate
HALF = TIMESTAMP_MOD // 2
SKIP_ALL = -1  # the seek's marker while its PLAY is on its way: no packet is taken
# Seconds the picture waits, beyond the sound's prefill, for the sound to start after a PLAY
# (a sound server may take two to start playing what it was given); then it goes on alone, by
# its own clock (a track whose packets never come, a device that never plays).
SOUND_WAIT = 3.0


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
        self.volume, self.mute = 1.0, False  # the listener's
        # After a seek: the first audio timestamp to take (SKIP_ALL until the PLAY's reply).
        self._skip_until: int | None = None
        self._skip_lock = threading.Lock()  # the seek's thread sets it, the network's reads
        self._played_at: float | None = None  # when the last PLAY's reply came (monotonic s)

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
        self.renderer.volume, self.renderer.mute = self.volume, self.mute
        self.output = open_output(self.renderer, self.want_sound)
        log.info("sound: L16 %d Hz, %d channel(s)", audio.rate, audio.channels)

    def start_beside(self, session: ClientSession, buffer: FrameBuffer) -> None:
        """`start`, with a frame cache: the sound held as deep as the cache, and the frames
        scheduled by the sound's clock (a session without sound leaves the cache alone)."""
        self.prefill = max(self.prefill, buffer.prefill / (session.fps or ASSUMED_FPS))
        self.start(session)
        if self.playout is not None:
            buffer.timeline = self.due

    def pause(self) -> None:
        if self.playout is not None:
            self.playout.pause()

    def seek(self) -> None:
        """A PLAY from elsewhere is coming: what is held is from before it, and so is every
        packet until the PLAY's RTP-Info says where the new ones start."""
        with self._skip_lock:
            self._skip_until = SKIP_ALL
        if self.playout is not None:
            self.playout.restart()

    def set_loudness(self, volume: float, mute: bool) -> None:
        """The listener's volume (0..1) and mute, now and for every session after."""
        self.volume, self.mute = min(1.0, max(0.0, volume)), mute
        renderer = self.renderer
        if renderer is not None:
            renderer.volume, renderer.mute = self.volume, self.mute

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

    def reset(self) -> None:
        """The session is over (TEARDOWN): closed, and ready for the next SETUP's `start`
        with a new playout log (the summary and the log are to be taken before)."""
        self.close()
        self.playout = self.clock = self.renderer = None
        self.output = None
        self.log = PlayoutLog(JPEG_CLOCK_RATE, JPEG_CLOCK_RATE)
        self.ended.clear()
        with self._skip_lock:
            self._skip_until = None
        self._played_at = None

    @property
    def has_sound(self) -> bool:
        """Whether the session set up has sound (after `start`)."""
        return self.playout is not None

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

    def loudness(self) -> str | None:
        """What the output applies, as the panel shows it: "mute", "80 %"; None without."""
        renderer = self.renderer
        if renderer is None:
            return None
        return "mute" if renderer.mute else f"{renderer.volume * 100:.0f} %"

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
        playout = self.playout
        with self._skip_lock:
            first = self._skip_until
            if first is not None:
                if first == SKIP_ALL or (timestamp - first) % TIMESTAMP_MOD >= HALF:
                    return  # sent before the seek (earlier than its PLAY's RTP-Info)
                if playout is not None and playout.playing:  # the cache drops what is late
                    self._skip_until = None
        if playout is not None:
            playout.put(timestamp, payload)

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
        with self._skip_lock:
            if self._skip_until == SKIP_ALL:
                self._skip_until = audio  # None: the reply names none, every packet is taken
        self.log.on_play(npt, video, audio)
        if self.clock is not None:
            self.clock.on_play(None if video is None else (video, npt),
                               None if audio is None else (audio, npt))  # fmt: skip
        if self.playout is not None:
            self.playout.resume()
        self._played_at = time.monotonic()
