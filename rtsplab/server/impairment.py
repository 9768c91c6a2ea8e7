"""The lab's own netem: when each UDP datagram the server sends leaves, if at all.

Linux netem is missing on many machines, so the server impairs its own sending (RTP and
RTCP), repeatably with a seed, to show what RTCP reports and the client's frame cache are for.
A datagram handed over at `now` goes through, in this order:

1. Loss, a two-state Gilbert-Elliott chain (E. N. Gilbert, "Capacity of a burst-noise
   channel", Bell Syst. Tech. J. 39, 1960; E. O. Elliott, "Estimates of error rates for codes
   on burst-noise channels", Bell Syst. Tech. J. 42, 1963) in its simple form: the good state
   loses nothing, the bad state loses everything, so the state is "the previous datagram was
   lost". With p = P(good -> bad) and r = P(bad -> good), a run of losses lasts 1/r datagrams on
   average and the long-run loss rate is p / (p + r). For a loss rate L = loss/100 and a mean
   burst B = loss_burst: r = min(1/B, 1 - L), p = r * L / (1 - L). Bursts shorter than
   1/(1 - L), the mean run of independent losses, would need losses that avoid each other, so
   any B up to that (B = 1 in particular) gives p = L, r = 1 - L: independent (Bernoulli) loss
   exactly. The first datagram is lost with probability L, as in the long run.
2. The link, when `rate` is set: a FIFO that serialises each datagram in size * 8 / rate ms,
   starting when the link is free. A datagram that would wait more than `queue` ms for the link
   is dropped (tail drop); one arriving at an idle link always goes, however large.
   The link comes before the propagation delay, as on a real path: the bottleneck's queue,
   then the wire.
3. Delay and jitter: delay + U(-jitter, +jitter) ms, floored at 0, after the link.
4. Order: a datagram never leaves before any earlier one, so its delay is stretched to
   max(own time, latest departure so far); a `reorder` share skips that rule and leaves at its
   own time, overtaking when jitter makes that earlier (so reorder does nothing without jitter).
5. Duplicate: a `duplicate` share leaves twice at the same time, the copy made beyond the link
   (it takes no link capacity); the caller sends the two back to back.

Each datagram draws exactly four numbers from the generator, whatever the configuration, so
under one seed changing one setting leaves the other settings' decisions as they were.
Pure: time and randomness are passed in; the sleeping and sending are the caller's.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

PERCENT = 100.0
MS_PER_S = 1000.0
BITS_PER_BYTE = 8
BITS_PER_KBIT = 1000.0
# Digits shown in describe(): enough for any setting typed on a command line, no float noise.
DESCRIBE_DIGITS = 10


@dataclass(frozen=True)
class ImpairmentConfig:
    loss: float = 0.0  # percent of datagrams lost, 0..100
    loss_burst: float = 1.0  # mean length of a loss burst, in datagrams (>= 1); 1: independent
    delay: float = 0.0  # ms, one way
    jitter: float = 0.0  # ms: each datagram's delay is delay ± up to jitter (uniform), >= 0
    reorder: float = 0.0  # percent of datagrams that may overtake (skip the order rule)
    duplicate: float = 0.0  # percent of datagrams sent twice
    rate: float | None = None  # kbit/s of the link; None: unlimited
    queue: float = 200.0  # ms a datagram may wait for the link before it is dropped; inf: never
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("loss", "reorder", "duplicate"):
            value = getattr(self, name)
            if not 0.0 <= value <= PERCENT:
                raise ValueError(f"{name} must be a percentage in [0, 100], got {value!r}")
        if not 1.0 <= self.loss_burst < math.inf:
            raise ValueError(f"loss_burst must be at least 1 datagram, got {self.loss_burst!r}")
        for name in ("delay", "jitter"):
            value = getattr(self, name)
            if not 0.0 <= value < math.inf:
                raise ValueError(f"{name} must be a finite number of ms >= 0, got {value!r}")
        if self.rate is not None and not 0.0 < self.rate < math.inf:
            raise ValueError(f"rate must be a finite number of kbit/s > 0, got {self.rate!r}")
        if not self.queue >= 0.0:  # also refuses NaN; inf is a queue that never drops
            raise ValueError(f"queue must be a number of ms >= 0, got {self.queue!r}")

    @property
    def active(self) -> bool:
        """Whether anything at all changes (reorder alone does not: it needs jitter)."""
        return (
            self.loss > 0.0
            or self.delay > 0.0
            or self.jitter > 0.0
            or self.duplicate > 0.0
            or self.rate is not None
        )

    def for_tcp(self) -> ImpairmentConfig:
        """The part that applies over TCP (interleaved RTP): delay and rate, with a queue that
        never drops, since TCP loses, duplicates and reorders nothing."""
        return ImpairmentConfig(delay=self.delay, rate=self.rate, queue=math.inf, seed=self.seed)

    def describe(self) -> str:
        """One line for the start-up log, e.g. "loss 5% (bursts of 3), delay 40 ms ± 10 ms"."""
        parts = []
        if self.loss > 0.0:
            burst = f" (bursts of {_num(self.loss_burst)})" if self.loss_burst > 1.0 else ""
            parts.append(f"loss {_num(self.loss)}%{burst}")
        if self.delay > 0.0 or self.jitter > 0.0:
            jitter = f" ± {_num(self.jitter)} ms" if self.jitter > 0.0 else ""
            parts.append(f"delay {_num(self.delay)} ms{jitter}")
        if self.reorder > 0.0:
            parts.append(f"reorder {_num(self.reorder)}%")
        if self.duplicate > 0.0:
            parts.append(f"duplicate {_num(self.duplicate)}%")
        if self.rate is not None:
            queue = "unlimited" if self.queue == math.inf else f"{_num(self.queue)} ms"
            parts.append(f"rate {_num(self.rate)} kbit/s (queue {queue})")
        if not parts:
            return "none"
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        return ", ".join(parts)


def _num(value: float) -> str:
    return f"{value:.{DESCRIBE_DIGITS}g}"


@dataclass
class ImpairmentCounts:
    sent: int = 0  # datagrams that leave (a duplicate counts twice)
    dropped: int = 0  # lost by the loss model
    queue_drops: int = 0  # dropped because the rate-limited link's queue was full
    duplicated: int = 0
    delayed: int = 0  # datagrams that leave later than they were handed over
    reordered: int = 0  # datagrams that overtook an earlier one


@dataclass
class _LossChain:
    """The Gilbert-Elliott chain of the module's docstring; the state is the last outcome."""

    rate: float  # L, the long-run loss rate
    p: float  # good -> bad
    r: float  # bad -> good
    previous_lost: bool | None = field(default=None)

    @classmethod
    def for_config(cls, config: ImpairmentConfig) -> _LossChain:
        rate = config.loss / PERCENT
        if rate == 1.0:
            return cls(rate, p=1.0, r=0.0)
        r = min(1.0 / config.loss_burst, 1.0 - rate)
        return cls(rate, p=r * rate / (1.0 - rate), r=r)

    def lost(self, draw: float) -> bool:
        if self.previous_lost is None:
            chance = self.rate
        else:
            chance = 1.0 - self.r if self.previous_lost else self.p
        self.previous_lost = draw < chance
        return self.previous_lost


class Impairment:
    def __init__(self, config: ImpairmentConfig, rng: random.Random | None = None) -> None:
        """`rng` defaults to random.Random(config.seed)."""
        self.config = config
        self.rng = rng if rng is not None else random.Random(config.seed)
        self.counts = ImpairmentCounts()
        self._loss = _LossChain.for_config(config)
        self._link_free = -math.inf  # when the link has serialised everything handed to it
        self._last_departure = -math.inf

    def schedule(self, size: int, now: float) -> list[float]:
        """When the datagram of `size` bytes handed over at `now` (seconds, any monotonic clock)
        leaves: [] when it is lost, one time, or two when duplicated (each >= now). Pure:
        decides and counts, never sleeps or sends."""
        if size < 0:
            raise ValueError(f"size must be a number of bytes >= 0, got {size!r}")
        config = self.config
        rng = self.rng
        loss_draw, jitter_draw, reorder_draw, duplicate_draw = (rng.random() for _ in range(4))

        if self._loss.lost(loss_draw):
            self.counts.dropped += 1
            return []

        at = now
        if config.rate is not None:
            start = max(now, self._link_free)
            if (start - now) * MS_PER_S > config.queue:
                self.counts.queue_drops += 1
                return []
            self._link_free = start + size * BITS_PER_BYTE / (config.rate * BITS_PER_KBIT)
            at = self._link_free

        delay_ms = max(0.0, config.delay + (2.0 * jitter_draw - 1.0) * config.jitter)
        own = at + delay_ms / MS_PER_S
        if reorder_draw < config.reorder / PERCENT:
            departure = own
            if own < self._last_departure:
                self.counts.reordered += 1
        else:
            departure = max(own, self._last_departure)
        self._last_departure = max(self._last_departure, departure)

        if departure > now:
            self.counts.delayed += 1
        if duplicate_draw < config.duplicate / PERCENT:
            self.counts.duplicated += 1
            self.counts.sent += 2
            return [departure, departure]
        self.counts.sent += 1
        return [departure]
