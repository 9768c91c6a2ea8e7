"""One session's RTP stream, a burst at a time: what the pacing loop runs for a PLAY.

`step(now)` does what is due — read and number the next frame, send its next burst (every
burst already due, as one, when the loop is behind) — and says when it wants the loop back;
it never sleeps. A frame comes from the shared `PayloadCache` (read and cut once per file,
whoever is first), is numbered for this session (`RtpSender.packets`) and leaves burst by
burst on the `Pacer`'s clock through `send`, with the packets the client's NACKs asked for
again ahead of each burst (`repair`). At the end of the file, or when the file changed under
it, the stream says BYE (through `on_end`) a moment after its last packet; `finish()` is
the stop: the rest of a frame in progress leaves at once, so a receiver is never left half a
frame, and nothing leaves after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rtsplab.errors import PayloadError
from rtsplab.rtp.pacer import Pacer
from rtsplab.rtp.sender import Packet, RtpSender
from rtsplab.server.pacing_loop import PacingLoop
from rtsplab.server.payload_cache import PayloadCache
from rtsplab.server.position import played_to_end
from rtsplab.server.repair import Repair
from rtsplab.server.udp_out import Gso
from VideoStream import VideoError, VideoStream

log = logging.getLogger(__name__)

# Seconds between the last frame and the BYE, at least a frame's time: a receiver reading
# RTP and RTCP from two sockets (ffmpeg) would otherwise stop before the last frame.
EOF_BYE_DELAY = 0.1
REPAIR_TAIL = 0.5  # s: with NACKs answered, a few round trips to repair the last frames

END_OF_FILE = "end of file"
FILE_CHANGED = "file changed"


class RtpStream:
    def __init__(
        self,
        name: str,
        media: VideoStream,
        sender: RtpSender,
        pacer: Pacer,
        cache: PayloadCache,
        send: Callable[[Sequence[Packet], int | None], object],
        on_end: Callable[[str], object],
        repair: Repair | None = None,
    ) -> None:
        """`send(packets, segment)` puts a burst on the way to the client (`segment` as
        `UdpOut.send` takes it); `on_end(reason)` says BYE. `repair`: the answers to the
        client's NACKs, sent before each burst (`rtsplab.server.repair`), when it asks."""
        self.name = name  # the session's, for the log
        self.media, self.sender, self.pacer, self.cache = media, sender, pacer, cache
        self.send, self.on_end = send, on_end
        self.repair = repair
        self.active = True  # until finished, or past its end
        self.at_end = False  # the last frame has been sent (or the file changed)
        self.ended_at: float | None = None  # when it stopped sending
        self._packets: list[Packet] = []  # the frame in progress
        self._segment: int | None = None  # its packets' size, for GSO (CutFrame.segment)
        self._bursts: list[tuple[int, int, float]] = []  # its bursts still to send
        self._bye: tuple[float, str] | None = None  # (when, reason)
        self._how = (sender.payloader, sender.max_payload)  # how the cache's frames are cut

    def start(self, now: float) -> float:
        """The first frame is due now; returns when to step."""
        self.pacer.start(now)
        return now

    def step(self, now: float) -> float | None:
        """Do what is due at `now`; returns when to step next, or None when done."""
        if self._bye is not None and now < self._bye[0]:  # till the BYE, repairs still go
            try:
                self._send_repairs(now)
            except OSError as exc:
                log.warning("session %s: RTP stream stopped: %s", self.name, exc)
                self._stop(now)
                return None
            return min(self._bye[0], now + self.pacer.interval)
        if self._bye is not None:
            self.active = False
            self.on_end(self._bye[1])
            return None
        if not self._bursts:
            due = self._next_frame(now)
            if due is not None:
                return due
        first, end, _ = self._bursts.pop(0)
        while self._bursts and self._bursts[0][2] <= now:
            end = self._bursts.pop(0)[1]  # behind the clock: the bursts due leave as one
        packets = self._packets
        burst = packets if first == 0 and end == len(packets) else packets[first:end]
        try:
            if self.repair is not None:
                self._send_repairs(now)
            self.send(burst, self._segment)
            if self.repair is not None:
                self.repair.sent(burst, now)
        except OSError as exc:
            log.warning("session %s: RTP stream stopped: %s", self.name, exc)
            self._stop(now)
            return None
        if self._bursts:
            return self._bursts[0][2]
        self._packets = []
        return self.pacer.next_due()

    def _send_repairs(self, now: float) -> None:
        """The packets the client's NACKs asked for again, ahead of the next burst."""
        resend = self.repair.answers(now) if self.repair is not None else []
        if resend:
            self.send(resend, None)

    def finish(self, now: float) -> None:
        """Stop: the frame in progress leaves whole, at once, and nothing after it."""
        if self.active and self._bursts:
            try:
                self.send(self._packets[self._bursts[0][0] :], self._segment)
            except OSError as exc:
                log.debug("session %s: the rest of a frame not sent: %s", self.name, exc)
        self._stop(now)

    def _stop(self, now: float) -> None:
        self.active = False
        self._packets, self._bursts = [], []
        if self.ended_at is None:
            self.ended_at = now

    def _next_frame(self, now: float) -> float | None:
        """Read and number the next frame and plan its bursts; None when they are ready,
        else when to step again (past a frame skipped, or at the end: the BYE's time)."""
        media, sender = self.media, self.sender
        index = media.frameNbr()
        if played_to_end(media):
            log.info("session %s: end of %s", self.name, media.filename)
            return self._end(now, END_OF_FILE)
        try:
            frame = self.cache.get(media, index, sender.cut, self._how)
        except VideoError as exc:  # the file changed while served: end as at its end
            log.warning("session %s: stream ended: %s", self.name, exc)
            return self._end(now, FILE_CHANGED)
        except PayloadError as exc:  # a frame RFC 2435 cannot carry: skip it
            log.warning("session %s: frame %d not sent: %s", self.name, index, exc)
            media.seek(index + 1)
            sender.skip_frame()  # its time passes all the same
            self.pacer.skip()
            return self.pacer.next_due()
        media.seek(index + 1)
        self._packets, self._segment = sender.packets(frame), frame.segment
        self._bursts = self.pacer.next_frame(len(self._packets), now)
        sender.mark_due(self._bursts[0][2])
        return None

    def _end(self, now: float, reason: str) -> float:
        self.at_end = True
        self.ended_at = now
        # The BYE waits while the last packets may still be asked for again.
        tail = REPAIR_TAIL if self.repair is not None else EOF_BYE_DELAY
        when = now + max(self.pacer.interval, tail)
        self._bye = (when, reason)
        return when if self.repair is None else min(when, now + self.pacer.interval)


@dataclass
class Streaming:
    """What every session's stream shares: one pacing loop (its thread started by whoever
    runs the server: `PacingLoop.start`), one payload cache, and when UDP bursts leave with
    GSO (`rtsplab.server.udp_out.Gso`, which the loop's load moves)."""

    loop: PacingLoop = field(default_factory=PacingLoop)
    cache: PayloadCache = field(default_factory=PayloadCache)
    gso: Gso = field(default_factory=lambda: Gso.fixed(False))
