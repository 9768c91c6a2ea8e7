"""A sender's store of recent packets, and the rules for sending one again when a receiver's
NACK (RFC 4585 section 6.2.1) says it was lost.

Pure: the driver tells it what was sent and when, hands it each NACK's lost sequence numbers
with the time and the round trip, and sends what it answers. Nothing a receiver asks for makes
it send more than a fixed share of the stream:

- a packet is kept for `keep_seconds` (the SDP's ``rtx-time``, RFC 4588 section 8.1) and
  within `keep_bytes`: the payloads are the frame cache's, shared, never copied;
- a packet is sent again at most once a round trip (a NACK repeated before the first repair
  could have arrived asks for nothing new);
- the bytes sent again earn credit only as the stream is sent: each packet sent adds `share`
  of its size, up to `share` of `keep_bytes`, so a storm of NACKs, forged or not,
  costs at most that share of the stream's rate (a token bucket filled by the stream itself).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from rtsplab.rtp.sender import Packet

SEQ_OFFSET = 2  # the sequence number's place in the fixed header (RFC 3550 section 5.1)


@dataclass(frozen=True)
class ResendLimits:
    """How long and how much is kept, and how much may be sent again."""

    keep_seconds: float = 1.0
    keep_bytes: int = 16 << 20  # about 1 s of 4K at 30 fps
    share: float = 0.25  # of the stream's bytes, at most, sent again
    min_gap: float = 0.010  # between two repairs of one packet when the round trip is unknown

    def __post_init__(self) -> None:
        if self.keep_seconds <= 0 or self.keep_bytes <= 0 or not 0 < self.share <= 1:
            raise ValueError(f"resend limits out of range: {self}")


@dataclass
class ResendCounts:
    """What the store was asked and what it did, for the log and the status figures."""

    nacks: int = 0  # NACK packets received
    asked: int = 0  # sequence numbers they named
    resent: int = 0  # packets sent again
    resent_bytes: int = 0
    not_held: int = 0  # asked for a packet no longer (or never) kept
    too_soon: int = 0  # asked again within a round trip
    over_share: int = 0  # refused: the share of the stream was spent

    def __str__(self) -> str:
        return (
            f"{self.nacks} NACKs asked for {self.asked} packets: {self.resent} sent again "
            f"({self.resent_bytes} bytes); {self.not_held} no longer held, {self.too_soon} "
            f"asked again within a round trip, {self.over_share} over the share of the stream"
        )


@dataclass(slots=True)
class _Held:
    sent_at: float
    packet: Packet
    size: int
    resent_at: float | None = None


def packet_size(packet: Packet) -> int:
    header, head, body = packet
    return len(header) + len(head) + len(body)


class ResendStore:
    """One stream's recent packets by sequence number, oldest first."""

    def __init__(self, limits: ResendLimits | None = None) -> None:
        self.limits = limits or ResendLimits()
        self.counts = ResendCounts()
        self._held: OrderedDict[int, _Held] = OrderedDict()  # by sequence number
        self._bytes = 0
        self._credit = 0.0

    def sent(self, packets: list[Packet], now: float) -> None:
        """`packets` left at `now`: keep them, earn credit, forget what is too old or too much."""
        share = self.limits.share
        for packet in packets:
            seq = int.from_bytes(packet[0][SEQ_OFFSET : SEQ_OFFSET + 2], "big")
            size = packet_size(packet)
            old = self._held.pop(seq, None)
            if old is not None:  # 2^16 packets ago: the number came round again
                self._bytes -= old.size
            self._held[seq] = _Held(now, packet, size)
            self._bytes += size
            self._credit += share * size
        self._credit = min(self._credit, share * self.limits.keep_bytes)
        self._forget(now)

    def _forget(self, now: float) -> None:
        oldest = now - self.limits.keep_seconds
        while self._held:
            seq, held = next(iter(self._held.items()))
            if held.sent_at >= oldest and self._bytes <= self.limits.keep_bytes:
                return
            del self._held[seq]
            self._bytes -= held.size

    def answer(self, lost: list[int], now: float, round_trip: float | None) -> list[Packet]:
        """The packets to send again for the numbers `lost` (NACKed, and counted as NACKs by
        the caller), in the order asked."""
        self.counts.asked += len(lost)
        self._forget(now)
        gap = max(round_trip or 0.0, self.limits.min_gap)
        out: list[Packet] = []
        for seq in dict.fromkeys(lost):  # each number once, in order
            held = self._held.get(seq)
            if held is None:
                self.counts.not_held += 1
                continue
            if held.resent_at is not None and now - held.resent_at < gap:
                self.counts.too_soon += 1
            elif held.size > self._credit:
                self.counts.over_share += 1
            else:
                held.resent_at = now
                self._credit -= held.size
                self.counts.resent += 1
                self.counts.resent_bytes += held.size
                out.append(held.packet)
        return out

    def __len__(self) -> int:
        return len(self._held)
