"""One stream's answers to its receivers' NACKs (RFC 4585 §6.2.1): lost packets sent again,
as RFC 4588 retransmission packets to a client that asked for them, else as they were.

Two threads meet here and nowhere else: the RTCP thread, which reads the NACKs, posts them
(`post`), and the pacing loop, which owns the store of recent packets (`rtsplab.rtp.resend`),
records each burst it sends (`sent`) and, before its next burst, takes the answers
(`answers`). So a NACK is answered within one burst's time, and the store has one owner.

Everything the store's limits promise holds whoever asks: a packet is sent again at most once
a round trip, and all that is sent again is at most a share of the stream.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence

from rtsplab.rtp.resend import ResendCounts, ResendLimits, ResendStore
from rtsplab.rtp.rtx import RtxStream
from rtsplab.rtp.sender import Packet

MAX_WAITING = 64  # NACKs posted and not yet answered: the RTCP side bounds its batches too


class Repair:
    def __init__(self, limits: ResendLimits | None = None, rtx: RtxStream | None = None) -> None:
        """`rtx`: the retransmission stream of a client that takes RFC 4588 packets; None
        sends the original packet again (same SSRC and number), which any receiver's reorder
        buffer takes."""
        self.store = ResendStore(limits)
        self.rtx = rtx
        self.round_trip: float | None = None
        self._waiting: deque[list[int]] = deque()
        self._lock = threading.Lock()
        self.refused_waiting = 0  # NACKs dropped because too many were waiting

    @property
    def counts(self) -> ResendCounts:
        return self.store.counts

    def post(self, nacks: list[list[int]], round_trip: float | None = None) -> None:
        """NACKs read by the RTCP thread (each its lost sequence numbers), with the round
        trip as the receiver's reports measure it (seconds), when known."""
        with self._lock:
            if round_trip is not None:
                self.round_trip = round_trip
            for lost in nacks:
                if len(self._waiting) < MAX_WAITING:
                    self._waiting.append(lost)
                else:
                    self.refused_waiting += 1

    def sent(self, packets: Sequence[Packet], now: float) -> None:
        """A burst left at `now` (the pacing loop)."""
        self.store.sent(list(packets), now)

    def answers(self, now: float) -> list[Packet]:
        """What to send again now for the NACKs posted since the last call (the pacing loop)."""
        with self._lock:
            if not self._waiting:
                return []
            waiting, self._waiting = list(self._waiting), deque()
            round_trip = self.round_trip
        out = [p for lost in waiting for p in self.store.answer(lost, now, round_trip)]
        return out if self.rtx is None else [self.rtx.wrap(packet) for packet in out]
