"""A session's way out through the lab's impaired network: each datagram leaves when
`rtsplab.server.impairment` says — at once, later, twice or never — and the sender never sleeps.

One `ImpairedLink` per session carries its RTP and its RTCP alike (one path, one queue, as on
a real network). A datagram due now goes out on the caller's thread; one due later waits in a
heap that one thread of the link's own sends from, at its time. The heap is bounded: what a
link with a rate has to drop the impairment drops, and the bound only guards against a delay
so long that a stream's packets would pile up without end.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

from rtsplab.rtcp.reports import PeerReport
from rtsplab.server.impairment import Impairment, ImpairmentCounts

log = logging.getLogger(__name__)

Deliver = Callable[[bytes], object]  # sends one datagram (sendto, or the interleaved channel)

MAX_WAITING = 65_536  # datagrams held for later: 5 s of a 4K stream at 12,000 packets/s
DRAIN_ON_CLOSE = 1.0  # seconds close() waits for what is still due (the session's last BYE)


class ImpairedLink:
    def __init__(
        self, impairment: Impairment, name: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.impairment = impairment
        self.name = name  # the session's, for the log
        self.overflow = 0  # datagrams dropped because MAX_WAITING were already held
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._waiting: list[tuple[float, int, bytes, Deliver]] = []
        self._order = itertools.count()  # equal times leave in the order they were handed
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"link-{name}", daemon=True)
        self._thread.start()

    @property
    def counts(self) -> ImpairmentCounts:
        return self.impairment.counts

    def send(self, data: bytes, deliver: Deliver) -> None:
        """Hand one datagram to the network; it leaves when the impairment says."""
        now = self._clock()
        due_now = 0
        with self._lock:
            if self._closed:
                return
            for departure in self.impairment.schedule(len(data), now):
                if departure <= now and not self._waiting:
                    due_now += 1  # nothing ahead of it: straight out, on this thread
                elif len(self._waiting) < MAX_WAITING:
                    heapq.heappush(self._waiting, (departure, next(self._order), data, deliver))
                    self._wake.notify()
                else:
                    self.overflow += 1
        for _ in range(due_now):
            self._deliver(deliver, data)

    def close(self) -> None:
        """Stop: what is due within DRAIN_ON_CLOSE still leaves, the rest is dropped."""
        deadline = self._clock() + DRAIN_ON_CLOSE
        with self._lock:
            self._closed = True
            self._waiting = [item for item in self._waiting if item[0] <= deadline]
            heapq.heapify(self._waiting)
            self._wake.notify()
        self._thread.join(timeout=DRAIN_ON_CLOSE + 1)

    def _run(self) -> None:
        while True:
            with self._lock:
                while True:
                    if not self._waiting:
                        if self._closed:
                            return
                        self._wake.wait()
                        continue
                    wait = self._waiting[0][0] - self._clock()
                    if wait <= 0:
                        break
                    self._wake.wait(wait)
                _, _, data, deliver = heapq.heappop(self._waiting)
            self._deliver(deliver, data)

    @staticmethod
    def _deliver(deliver: Deliver, data: bytes) -> None:
        try:
            deliver(data)
        except OSError as exc:  # the client is gone, or its buffer is full: as on a network
            log.debug("datagram not sent: %s", exc)

    def beside(self, peer: PeerReport | None) -> str:
        """What the link did, beside what the client's receiver reports say of it."""
        c = self.counts
        handed = c.sent - c.duplicated + c.dropped + c.queue_drops
        lost = c.dropped + c.queue_drops
        share = 100 * lost / handed if handed else 0.0
        told = "no report yet" if peer is None else (
            f"client reports {peer.cumulative_lost} lost ({100 * peer.fraction_lost:.1f}% "
            f"lately), jitter {peer.jitter_ms:.1f} ms, RTT "
            + ("-" if peer.rtt_ms is None else f"{peer.rtt_ms:.1f} ms")
        )  # fmt: skip
        return (f"impairment sent {c.sent}, dropped {lost} ({share:.2f}%), duplicated "
                f"{c.duplicated}, delayed {c.delayed} | {told}")  # fmt: skip
