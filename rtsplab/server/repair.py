"""One stream's answers to its receivers' NACKs (RFC 4585 §6.2.1): lost packets sent again,
as RFC 4588 retransmission packets to a client that asked for them, else as they were.

Two threads meet here and nowhere else: the RTCP loop, which reads the NACKs, posts them
(`post`), and the pacing loop, which owns the store of recent packets (`rtsplab.rtp.resend`),
records each burst it sends (`sent`) and, before its next burst, takes the answers
(`answers`). So a NACK is answered before the stream's next burst (within a frame's time
while it plays), and the store has one owner.

Everything the store's limits promise holds whoever asks: a packet is sent again at most once
a round trip, and all that is sent again is at most a share of the stream.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence

from rtsplab.rtp.resend import ResendCounts, ResendLimits, ResendStore
from rtsplab.rtp.rtx import RtxStream
from rtsplab.rtp.sender import Packet
from rtsplab.rtsp.sdp import RTX_PT

# Sequence numbers posted and not yet answered, each once: what the pacing loop looks up
# before a burst is bounded whatever the NACKs say (a frame of 4K is ~540 packets).
MAX_WAITING = 4096


class Repair:
    def __init__(self, limits: ResendLimits | None = None, rtx: RtxStream | None = None) -> None:
        """`rtx`: the retransmission stream of a client that takes RFC 4588 packets; None
        sends the original packet again (same SSRC and number), which any receiver's reorder
        buffer takes."""
        self.store = ResendStore(limits)
        self.rtx = rtx
        self.round_trip: float | None = None
        self._waiting: dict[int, None] = {}  # sequence numbers asked for, in order, once
        self._lock = threading.Lock()
        self.refused_waiting = 0  # numbers dropped because too many were waiting

    @classmethod
    def negotiated(cls, rtx: bool) -> Repair:
        """A session's answers: RFC 4588 packets (our payload type, a random SSRC and first
        number of their own, RFC 3550 §5.1) when its client takes them, else the originals."""
        stream = RtxStream(RTX_PT, secrets.randbits(32), secrets.randbits(16)) if rtx else None
        return cls(rtx=stream)

    @property
    def counts(self) -> ResendCounts:
        return self.store.counts

    def post(self, nacks: list[list[int]], round_trip: float | None = None) -> None:
        """NACKs read by the RTCP loop (each its lost sequence numbers), with the round
        trip as the receiver's reports measure it (seconds), when known."""
        with self._lock:
            if round_trip is not None:
                self.round_trip = round_trip
            self.store.counts.nacks += len(nacks)
            for lost in nacks:
                room = MAX_WAITING - len(self._waiting)
                self._waiting.update(dict.fromkeys(lost[:room]))
                self.refused_waiting += max(0, len(lost) - room)

    def sent(self, packets: Sequence[Packet], now: float) -> None:
        """A burst left at `now` (the pacing loop)."""
        self.store.sent(list(packets), now)

    def answers(self, now: float) -> list[Packet]:
        """What to send again now for the NACKs posted since the last call (the pacing loop)."""
        with self._lock:
            if not self._waiting:
                return []
            waiting, self._waiting = list(self._waiting), {}
            round_trip = self.round_trip
        out = self.store.answer(waiting, now, round_trip)
        return out if self.rtx is None else [self.rtx.wrap(packet) for packet in out]
