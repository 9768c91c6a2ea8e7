"""A receiver's list of missing packets and when to ask for each again (RFC 4585's generic
NACK, RFC 4588's retransmission).

Pure, on extended sequence numbers (the receiver unwraps them, RFC 3550 A.1) and times passed
in. A packet is missing when a later one arrives first. It is asked for at once (the first
NACK should leave before the repair could be useless), then again each round trip while it is
still missing, until its deadline: the playout time of the frame it belongs to, after which a
repair could not be shown. A packet that arrives after it was asked for is recovered (whether
the repair or the original, late, brought it).

Bounded: at most `max_missing` numbers are followed at once, the oldest given up first; a jump
ahead larger than RFC 3550 A.1's MAX_DROPOUT is a restart, not a loss, and nothing is asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtsplab.rtp.reception import MAX_DROPOUT

MIN_REPEAT = 0.010  # s: the shortest wait before asking again, whatever the round trip says
DEFAULT_ROUND_TRIP = 0.050  # s: until RTCP has measured one (RFC 3550 section 6.4.1)
MAX_MISSING = 4096  # numbers followed at once: 7 frames of 4K at 1% loss is ~40
BLP_SPAN = 16  # numbers a NACK word's bitmask covers after its PID (RFC 4585 section 6.2.1)


@dataclass
class NackCounts:
    missing: int = 0  # packets found missing
    asked: int = 0  # sequence numbers put in a NACK, repeats included
    recovered: int = 0  # arrived after they were asked for
    given_up: int = 0  # deadline passed, or pushed out by newer losses


@dataclass(slots=True)
class _Missing:
    deadline: float
    next_ask: float
    asked: bool = False


class NackList:
    """The missing packets of one RTP stream."""

    def __init__(self, max_missing: int = MAX_MISSING) -> None:
        self.max_missing = max_missing
        self.counts = NackCounts()
        self._highest: int | None = None
        self._missing: dict[int, _Missing] = {}  # by extended sequence number, oldest first

    def awaiting(self, now: float) -> bool:
        """Whether a missing packet may still be repaired at `now` (its deadline ahead)."""
        return any(entry.deadline > now for entry in self._missing.values())

    def arrived(self, seq: int, now: float, deadline: float) -> bool:
        """Packet `seq` arrived at `now`; a packet before it now missing must be repaired by
        `deadline` (the arriving packet's frame's playout time bounds its own). True when
        `seq` had been asked for: a repair."""
        if self._highest is None or seq - self._highest > MAX_DROPOUT:
            self._restart(seq)
            return False
        if seq <= self._highest:
            entry = self._missing.pop(seq, None)
            if entry is not None and entry.asked:
                self.counts.recovered += 1
                return True
            return False
        for lost in range(self._highest + 1, seq):
            self._missing[lost] = _Missing(deadline, now)
        self.counts.missing += seq - self._highest - 1
        self._highest = seq
        while len(self._missing) > self.max_missing:
            del self._missing[next(iter(self._missing))]
            self.counts.given_up += 1
        return False

    def _restart(self, seq: int) -> None:
        self.counts.given_up += len(self._missing)
        self._missing.clear()
        self._highest = seq

    def due(
        self, now: float, round_trip: float | None = None, max_words: int | None = None
    ) -> list[int]:
        """The numbers to ask for now, oldest first; each is asked again a round trip later
        while it is missing, and given up at its deadline. `max_words`: no more than one NACK
        packet's words carry (a PID and the BLP_SPAN numbers after it, a word); the rest
        stay due, not taken for asked."""
        wait = max(DEFAULT_ROUND_TRIP if round_trip is None else round_trip, MIN_REPEAT)
        ask: list[int] = []
        words, pid = 0, 0
        for seq, entry in list(self._missing.items()):
            if entry.deadline <= now:
                del self._missing[seq]
                self.counts.given_up += 1
            elif entry.next_ask <= now:
                if not ask or seq - pid > BLP_SPAN:
                    if max_words is not None and words == max_words:
                        continue  # asked in the next NACK
                    words, pid = words + 1, seq
                entry.asked = True
                entry.next_ask = now + wait
                ask.append(seq)
        self.counts.asked += len(ask)
        return ask

    def next_due(self) -> float | None:
        """When `due` will next have something to ask or give up (None: nothing missing)."""
        return min(
            (min(entry.next_ask, entry.deadline) for entry in self._missing.values()),
            default=None,
        )

    def __len__(self) -> int:
        return len(self._missing)
