"""The RTCP report timer: RFC 3550 §6.3 and Appendix A.7, once, for unicast and multicast.

`RtcpTimer` holds §6.3's variables under the RFC's names — `tp`, `tn`, `members`,
`pmembers`, `senders`, `rtcp_bw` (octets/s), `we_sent`, `avg_rtcp_size` (octets, UDP/IP
included), `initial` — and the rules that move them: §6.3.6 timer reconsideration (`due`,
`on_sent`), §6.3.4 reverse reconsideration (`reverse_reconsider`), §6.3.3's running average
(`on_received`), and §6.3.7's BYE back-off (`leave`). The counts are kept by the member table
above it (`rtsplab.rtcp.group.RtcpGroup`, which is a timer with a table).

A unicast session is a group of two (`two_party`): the server and its client are counted
before either is heard — members at least 2, senders at least 1 — and §6.2's reduced minimum,
when asked for, applies to both sides; in a multicast group only an active sender may use it.

Three intervals, all from A.7's `rtcp_interval` with the current counts:

- `interval()`: a fresh random draw of §6.3.1's T (random factor, compensation divided in);
- `mean_interval()`: T with the random factor at its mean 1, i.e. Td / (e - 3/2);
- `deterministic_interval()`: §6.3.1's Td = max(Tmin, n * C), neither random nor compensated.
  Reconsideration lengthens the draws back to it, so Td is also the mean spacing of the
  reports one would measure; it is the number to log as "the report interval".

With `regular_spacing` the timer follows the feedback profile, RTP/AVPF (RFC 4585 §3.5):
the intervals have no minimum, so the timer fires as often as the RTCP bandwidth allows; a
regular report goes out only when `regular_spacing` (T_rr_interval) has passed since the last
one (`regular_due`), and each time the timer fires one early packet may go before the next
(`allow_early`, `on_early_sent`): feedback as soon as the bandwidth has room for it, regular
reports as seldom as before.

Pure: `now` is monotonic seconds passed in, the random source is injectable. Sizes are UDP
payloads; the timer adds UDP/IP headers to them (§6.2).
"""

from __future__ import annotations

import random as _random

from rtsplab.rtcp.timing import (
    COMPENSATION,
    INITIAL_AVG_RTCP_SIZE,
    MEAN_DRAW,
    TWO_PARTY_MEMBERS,
    UDP_IP_OVERHEAD,
    RandomSource,
    average_rtcp_size,
    rtcp_interval,
)

TIMEOUT_MULTIPLIER = 5  # M: silent for M * Td, a member times out (§6.2.1, §6.3.5)
SENDER_TIMEOUT_INTERVALS = 2  # no RTP for 2T, a sender is a sender no more (§6.3.5, §6.3.8)
BYE_BACKOFF_MEMBERS = 50  # §6.3.7: leaving a group of more than 50 backs the BYE off
TWO_PARTY_SENDERS = 1  # a unicast session has its RTP source, whether heard yet or not


class RtcpTimer:
    """When to send the next report, for one participant (RFC 3550 §6.3, A.7)."""

    def __init__(
        self,
        rtcp_bw: float,
        now: float,
        *,
        avg_rtcp_size: float = INITIAL_AVG_RTCP_SIZE,
        rng: RandomSource = _random,
        reduced_minimum: bool = False,
        two_party: bool = False,
        regular_spacing: float | None = None,
    ) -> None:
        self.rtcp_bw = rtcp_bw
        self.rng = rng
        self.reduced_minimum = reduced_minimum
        self.two_party = two_party
        # RTP/AVPF (RFC 4585 §3.5): T_rr_interval, the last regular report, and whether an
        # early packet may go before the timer fires again.
        self.regular_spacing = regular_spacing
        self.last_regular: float | None = None
        self.allow_early = regular_spacing is not None
        # §6.3.2, with times counted from `now` rather than from 0.
        self.tp = now
        self.members = 1
        self.pmembers = 1
        self.senders = 0
        self.we_sent = False
        self.initial = True
        self.avg_rtcp_size = float(avg_rtcp_size)
        self.leaving = False  # leave() was called: the BYE is to go out
        self.left = False  # the BYE went out, or we left without one
        self._bye_at_once = False
        self.has_sent = False  # any RTP or RTCP of ours: §6.3.7's condition for a BYE
        self.tn = now + self.interval()

    # -- intervals (§6.3.1, A.7) ----------------------------------------------------------

    def interval(self) -> float:
        """A fresh random T for the current state (§6.3.1; one draw)."""
        return self._calculated(self.rng)

    def mean_interval(self) -> float:
        """T with the random factor at its mean: Td / (e - 3/2), compensation included."""
        return self._calculated(MEAN_DRAW)

    def deterministic_interval(self) -> float:
        """§6.3.1's Td: max(Tmin, n * C), without the random factor or the compensation."""
        return self._calculated(MEAN_DRAW) * COMPENSATION

    def member_timeout(self) -> float:
        """M * Td (§6.3.5), Td computed for a receiver (we_sent false) with the fixed 5 s
        minimum (§6.2: so that members not using the reduced one are not timed out early),
        and never the initial halved one: it spans others' reports, not our first."""
        return TIMEOUT_MULTIPLIER * self.receiver_td()

    def sender_timeout(self) -> float:
        """2T (§6.3.5, §6.3.8), T taken as Td: the mean spacing of reports, not a draw."""
        return SENDER_TIMEOUT_INTERVALS * self.deterministic_interval()

    def receiver_td(self) -> float:
        members, senders = self._counts()
        t = rtcp_interval(members, senders, self.rtcp_bw, False, self.avg_rtcp_size, False,
                          rng=MEAN_DRAW)  # fmt: skip
        return t * COMPENSATION

    def _counts(self) -> tuple[int, int]:
        if not self.two_party or self.leaving:
            return self.members, self.senders
        members = max(self.members, TWO_PARTY_MEMBERS)
        return members, min(members, max(self.senders, TWO_PARTY_SENDERS))

    def _calculated(self, rng: RandomSource) -> float:
        members, senders = self._counts()
        return rtcp_interval(
            members, senders, self.rtcp_bw, self.we_sent, self.avg_rtcp_size, self.initial,
            rng=rng,
            # §6.2: in a multicast session only active senders may use the reduced minimum.
            reduced_minimum=self.reduced_minimum and (self.we_sent or self.two_party),
            avpf=self.regular_spacing is not None,
        )  # fmt: skip

    # -- the timer (§6.3.6) ---------------------------------------------------------------

    def due(self, now: float) -> bool:
        """Whether to send a report (or, leaving, the BYE) now: §6.3.6 timer reconsideration.

        Before `tn`, False and no draw. At or after it, T is drawn again from `tp` with the
        current counts: if tp + T has passed, True (send, then call `on_sent`); if not, the
        timer moves to tp + T and the answer is False. Either way pmembers = members.
        """
        if self.left:
            return False
        if self._bye_at_once:
            return True
        if now < self.tn:
            return False
        t = self.interval()
        self.pmembers = self.members
        if self.tp + t <= now:
            return True
        self.tn = self.tp + t
        return False

    def on_sent(self, size: int, now: float) -> None:
        """A compound packet of `size` octets (UDP payload) of ours went out at `now`.

        §6.3.6: avg_rtcp_size takes it in, tp = now, initial is cleared, tn = now + a fresh
        T, pmembers = members. (A.7 clears `initial` after that draw; §6.3.1 says the
        halved minimum is for a participant that "has not yet sent", so it is cleared
        first.) When leaving, this was the BYE: the timer is done.
        """
        self.on_received(size)
        self.has_sent = True
        if self.leaving:
            self.left = True
            self._bye_at_once = False
            return
        self.tp = now
        self.initial = False
        self.tn = now + self.interval()
        self.pmembers = self.members

    def regular_due(self, now: float) -> bool:
        """The timer has fired (`due` said True): whether the regular report goes now. Under
        AVPF (RFC 4585 §3.5.3) only when T_rr_interval has passed since the last one; else it
        is suppressed (call `postpone`). Either way the next early packet is allowed."""
        if self.regular_spacing is None:
            return True
        self.allow_early = True
        if self.last_regular is not None and now - self.last_regular < self.regular_spacing:
            return False
        self.last_regular = now
        return True

    def on_early_sent(self, size: int) -> None:
        """An early packet of ours (feedback, RFC 4585 §3.5.2) of `size` octets went out: it
        counts in the average size, and no other goes early until the timer fires again."""
        self.on_received(size)
        self.has_sent = True
        self.allow_early = False

    def postpone(self, now: float) -> None:
        """A report was due and not sent (our source has said BYE and waits for a PLAY, or
        AVPF's T_rr_interval suppressed it): the next is one interval away, as if it had
        been, and nothing is counted."""
        self.tn = now + self.interval()

    def on_received(self, size: int) -> None:
        """A compound packet of `size` octets (UDP payload) counted in the average (§6.3.3)."""
        self.avg_rtcp_size = average_rtcp_size(self.avg_rtcp_size, size)

    def reverse_reconsider(self, now: float) -> None:
        """§6.3.4: the group shrank below pmembers, so bring tn and tp closer to now."""
        if self.members >= self.pmembers:
            return
        ratio = self.members / self.pmembers
        self.tn = now + ratio * (self.tn - now)
        self.tp = now - ratio * (now - self.tp)
        self.pmembers = self.members

    # -- leaving (§6.3.7) -----------------------------------------------------------------

    def leave(self, bye_size: int, now: float) -> bool:
        """We are leaving (§6.3.7); `bye_size` is the compound BYE's size (UDP payload).

        False: we never sent RTP or RTCP, so we MUST NOT send a BYE; the timer is done. True:
        send the BYE when `due` says so, then `on_sent`. With at most 50 members that is at
        once; with more, the BYE back-off: tp = now, members = pmembers = 1, senders = 0,
        we_sent false, initial true, avg_rtcp_size the BYE's size, tn = now + T; from then on
        `members` counts the BYEs heard, and timer reconsideration spaces ours out.
        """
        if self.leaving or self.left:
            raise RuntimeError("leave() was already called")
        if not self.has_sent:
            self.left = True
            return False
        self.leaving = True
        if self.members <= BYE_BACKOFF_MEMBERS:
            self._bye_at_once = True
            return True
        self.tp = now
        self.members = self.pmembers = 1
        self.initial = True
        self.we_sent = False
        self.senders = 0
        self.avg_rtcp_size = float(bye_size + UDP_IP_OVERHEAD)
        self.tn = now + self.interval()
        return True

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(members={self.members}, pmembers={self.pmembers}, "
            f"senders={self.senders}, we_sent={self.we_sent}, initial={self.initial}, "
            f"avg_rtcp_size={self.avg_rtcp_size:.1f}, tp={self.tp:.3f}, tn={self.tn:.3f})"
        )
