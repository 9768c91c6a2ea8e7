"""One session's sound as the pacing loop runs it: a 20 ms L16 packet each time one is due.

The sound's counterpart of `rtsplab.server.stream.RtpStream`, stepped by the same loop
(`rtsplab.server.pacing_loop`): `step(now)` sends every packet due (at most MAX_CATCH_UP
at once, when the loop is behind) and says when the next one is. Packet k starts at sampling
instant `first_sample + k * step` of the file and is due at `start + k * 20 ms`; the driver
starts it at the same instant as the video's first frame, and `first_sample` is the video's
position (`rtsplab.server.audio_setup.start_sample`), so both streams' first packets are the
same instant of the clip. Each packet anchors the sender's RTP clock at its due time
(`RtpSender.mark_due`), as each video frame does, so the two sender reports map both
timestamps onto one timeline (RFC 3550 §6.4.1).

At the end of the sound, or when its file breaks, it says BYE (`on_end`) a moment after its
last packet; `finish()` stops it, and nothing leaves after.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from rtsplab.payload.l16 import frame_bytes
from rtsplab.rtp.pacer import MAX_LAG
from rtsplab.rtp.sender import RtpSender, joined
from rtsplab.server.audio_source import AudioError, AudioSource
from rtsplab.server.repair import Repair
from rtsplab.server.stream import END_OF_FILE, EOF_BYE_DELAY, FILE_CHANGED

log = logging.getLogger(__name__)

MAX_CATCH_UP = 10  # packets sent in one step when behind: 200 ms of sound


class AudioStream:
    def __init__(
        self,
        name: str,
        source: AudioSource,
        sender: RtpSender,
        first_sample: int,
        send: Callable[[bytes], object],
        on_end: Callable[[str], object],
        repair: Repair | None = None,
    ) -> None:
        """`send(datagram)` puts one packet on its way; `on_end(reason)` says BYE;
        `repair`: the answers to the client's NACKs, sent ahead of the next packet."""
        self.name = name  # the session's, for the log
        self.source, self.sender = source, sender
        self.send, self.on_end = send, on_end
        self.repair = repair
        self.active = True  # until finished, or past its end
        self.at_end = False  # the last packet has been sent (or the file broke)
        self.ended_at: float | None = None
        self.first_sample = first_sample
        self._next = first_sample  # the next packet's first sampling instant
        self._origin = 0.0  # when `first_sample` is due (monotonic s)
        self._bye: tuple[float, str] | None = None
        self._instant = frame_bytes(source.channels)

    def start(self, now: float) -> float:
        """The first packet is due at `now`; returns when to step."""
        self._origin = now
        return now

    def due(self, sample: int) -> float:
        """When the packet starting at `sample` is due."""
        return self._origin + (sample - self.first_sample) / self.source.rate

    def step(self, now: float) -> float | None:
        """Send what is due at `now`; returns when to step next, or None when done."""
        if self._bye is not None:
            self.active = False
            self.on_end(self._bye[1])
            return None
        if now - self.due(self._next) > MAX_LAG:  # the loop fell far behind: late, not lost
            self._origin = now - (self._next - self.first_sample) / self.source.rate
        if self.repair is not None and not self._send_repairs(now):
            return None
        for _ in range(MAX_CATCH_UP):
            due = self.due(self._next)
            if due > now:
                break
            if self._next >= self.source.frames:
                log.info("session %s: end of its sound", self.name)
                return self._end(now, END_OF_FILE)
            try:
                payload = self.source.payload_from(self._next)
            except AudioError as exc:
                log.warning("session %s: sound ended: %s", self.name, exc)
                return self._end(now, FILE_CHANGED)
            packet = self.sender.packets(self.sender.cut(payload))[0]
            self.sender.mark_due(due)
            try:
                self.send(joined(packet))
            except OSError as exc:
                log.warning("session %s: sound stopped: %s", self.name, exc)
                self.finish(now)
                return None
            if self.repair is not None:
                self.repair.sent([packet], now)
            self._next += len(payload) // self._instant
        return self.due(self._next)

    def _send_repairs(self, now: float) -> bool:
        """The packets the client's NACKs asked for again; False when the socket failed."""
        assert self.repair is not None
        try:
            for packet in self.repair.answers(now):
                self.send(joined(packet))
        except OSError as exc:
            log.warning("session %s: sound stopped: %s", self.name, exc)
            self.finish(now)
            return False
        return True

    def finish(self, now: float) -> None:
        """Stop: nothing leaves after this."""
        self.active = False
        if self.ended_at is None:
            self.ended_at = now

    def _end(self, now: float, reason: str) -> float:
        self.at_end = True
        self.ended_at = now
        when = now + EOF_BYE_DELAY
        self._bye = (when, reason)
        return when
