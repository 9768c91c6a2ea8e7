"""The RTCP state of one member of a multicast group: RFC 3550 §6.2, §6.3, §8.2 and A.7.

A two-party session (`timing.RtcpSchedule`, `session`) has a fixed group: two members, one or
two senders, one peer to hear from. In a multicast session the group changes as participants
join, send, fall silent and leave, and the report interval must follow it: §6.2 makes it grow
linearly with the members so that RTCP stays at 5% of the session bandwidth however many
there are. `RtcpGroup` adds what that takes:

- a member table (§6.2.1, §6.3.3) of every SSRC heard: the sender of each SR, RR, XR and APP,
  each SDES chunk's source, each RTP packet's SSRC and CSRCs. Not the SSRCs of report blocks:
  they name sources the reporter hears, and say nothing of where those are (§8.2);
- the senders among them (§6.3.3, §6.3.5, §6.3.8): whoever sent RTP, or an SR (only senders
  send one, §6.4), within the last two report intervals, ourselves included;
- timer reconsideration (§6.3.6) with the live counts, and reverse reconsideration (§6.3.4)
  when a BYE or a timeout shrinks the group;
- timeouts (§6.3.5), and the BYE back-off for leaving a large group (§6.3.7);
- SSRC collision and loop detection (§8.2), with its list of conflicting source addresses.

Pure, like `timing`: `now` is monotonic seconds passed in, the random source is injectable,
and the caller owns the sockets, builds the packets and tells the group what came and went::

    group = RtcpGroup(ssrc, RTCP_BANDWIDTH_FRACTION * session_bw, now, cname=cname)
    collision = group.on_rtcp(decode_compound(datagram), len(datagram), address, now)
    collision = group.on_rtp(packet.ssrc(), address, now)
    group.on_rtp_sent(now)                      # each RTP packet of ours
    if collision:                               # send BYE for collision.ssrc, then
        group.change_ssrc(new_random_ssrc, now)
    group.expire(now)                           # at least once per report interval
    if group.due(now):
        report = build_report()
        send(report)
        group.on_sent(len(report), now)

Three intervals, all from A.7's `rtcp_interval` with the group's counts:

- `interval()`: a fresh random draw of §6.3.1's T (random factor, compensation divided in);
- `mean_interval()`: T with the random factor at its mean 1, i.e. Td / (e - 3/2);
- `deterministic_interval()`: §6.3.1's Td = max(Tmin, n * C), neither random nor compensated.
  Reconsideration lengthens the draws back to it, so Td is also the mean spacing of the
  reports one would measure; it is the number to log as "the report interval".

Sizes are UDP payloads; the group adds UDP/IP headers to them as `timing` does (§6.2).
"""

from __future__ import annotations

import random as _random
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from rtsplab.rtcp.app import App
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.packet import RtcpPacket
from rtsplab.rtcp.reports import ReceiverReport, SenderReport
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtcp.timing import (
    AVG_SIZE_GAIN,
    COMPENSATION,
    INITIAL_AVG_RTCP_SIZE,
    RANDOM_LOW,
    UDP_IP_OVERHEAD,
    RandomSource,
    rtcp_interval,
)
from rtsplab.rtcp.xr import ExtendedReport

# A source transport address as recvfrom() gives it: (host, port) or IPv6's 4-tuple.
Address = tuple[str | int, ...]
# §8.2 keeps a data and a control address per source: their ports usually differ.
Channel = Literal["rtp", "rtcp"]
RTP: Channel = "rtp"
RTCP: Channel = "rtcp"

SSRC_LIMIT = 1 << 32  # SSRCs are 32 bits (§5.1)
# A hostile sender inventing SSRCs must not grow memory without bound: past this many entries
# (ourselves and members that said BYE included) new SSRCs are ignored and counted. Far more
# than a lab's group; a session that size would want §6.2.1's SSRC sampling instead.
MAX_MEMBERS = 4096
TIMEOUT_MULTIPLIER = 5  # M: silent for M * Td, a member times out (§6.2.1, §6.3.5)
SENDER_TIMEOUT_INTERVALS = 2  # no RTP for 2T, a sender is a sender no more (§6.3.5, §6.3.8)
# §6.2.1: a member that said BYE "SHOULD be marked ... and then deleted after an appropriate
# delay", so that RTP packets still on their way do not bring it back. The RFC gives no
# figure; two seconds outlast any reordering a network does.
BYE_HOLD_SECONDS = 2.0
BYE_BACKOFF_MEMBERS = 50  # §6.3.7: leaving a group of more than 50 backs the BYE off
# §8.2: the conflicting address list "should be short, usually empty"; an entry may go after
# "on the order of 10 RTCP report intervals" without a conflicting packet.
CONFLICT_TIMEOUT_INTERVALS = 10
MAX_CONFLICTS = 64


class _MeanDraw:
    """An rng at the middle of [0, 1): A.7's factor, random() + 0.5, is then exactly 1."""

    def random(self) -> float:
        return 1 - RANDOM_LOW


_MEAN_DRAW = _MeanDraw()


@dataclass(slots=True)
class Member:
    """One entry of the member table (§6.2.1, §8.2)."""

    ssrc: int
    cname: str | None = None  # from SDES (§6.5.1)
    is_sender: bool = False  # RTP or an SR within the last 2T (§6.3.5)
    last_heard: float = 0.0  # last RTP or RTCP packet; for a member that left, its BYE
    last_rtp: float | None = None
    last_sr: float | None = None
    bye: bool = False  # said BYE: no longer counted, deleted BYE_HOLD_SECONDS later
    # §8.2: the addresses of the first RTP and the first RTCP packet with this SSRC.
    rtp_address: Address | None = None
    rtcp_address: Address | None = None


@dataclass(frozen=True, slots=True)
class Collision:
    """Another source uses our SSRC (§8.2): send a BYE for it and take a new one."""

    ssrc: int  # ours, until `RtcpGroup.change_ssrc`
    channel: Channel
    address: Address  # where the other source's packet came from
    cname: str | None  # its CNAME, when the packet was an SDES chunk with one
    time: float


class RtcpGroup:
    """One participant's view of a multicast RTP session, for its RTCP (RFC 3550 §6.3).

    The attributes named as in §6.3 are the RFC's variables: `tp`, `tn`, `members`,
    `pmembers`, `senders`, `rtcp_bw` (octets/s), `we_sent`, `avg_rtcp_size` (octets, UDP/IP
    included), `initial`. `members` and `senders` count ourselves (§6.3.2 starts members at
    1); while leaving a large group `members` counts BYEs instead (§6.3.7), and
    `member_count` and `sender_count` still give the table's counts.

    `own_addresses` are the addresses our own packets arrive from when the host loops them
    back (multicast loopback); a packet with our SSRC from one of them is our own, not a
    collision, unless it carries another CNAME. With `reduced_minimum` the §6.2 reduced
    minimum applies while we send: in a multicast session only active senders may use it.
    """

    def __init__(
        self,
        ssrc: int,
        rtcp_bw: float,
        now: float,
        *,
        cname: str | None = None,
        avg_rtcp_size: float = INITIAL_AVG_RTCP_SIZE,
        rng: RandomSource = _random,
        reduced_minimum: bool = False,
        own_addresses: Iterable[Address] = (),
        max_members: int = MAX_MEMBERS,
    ) -> None:
        _check_ssrc(ssrc)
        if max_members < 1:
            raise ValueError(f"max_members must be at least 1 (ourselves), got {max_members}")
        self.ssrc = ssrc
        self.cname = cname
        self.rtcp_bw = rtcp_bw
        self.rng = rng
        self.reduced_minimum = reduced_minimum
        self.own_addresses = frozenset(own_addresses)
        self.max_members = max_members
        # §6.3.2, with times counted from `now` rather than from 0.
        self.tp = now
        self.members = 1
        self.pmembers = 1
        self.senders = 0
        self.we_sent = False
        self.initial = True
        self.avg_rtcp_size = float(avg_rtcp_size)
        self._table: dict[int, Member] = {ssrc: Member(ssrc, cname, last_heard=now)}
        # §8.2's conflicting address list: (channel, address) -> last conflicting packet.
        self._conflicts: OrderedDict[tuple[Channel, Address], float] = OrderedDict()
        self.pending_collision: Collision | None = None
        self.leaving = False  # leave() was called: the BYE is to go out
        self.left = False  # the BYE went out, or we left without one
        self._bye_at_once = False
        self._has_sent = False  # any RTP or RTCP of ours: §6.3.7's condition for a BYE
        # Counted, never fatal (§8.2's OPTIONAL error counters, and the table cap).
        self.ignored_members = 0  # new SSRCs past max_members
        self.collisions = 0  # other sources using our SSRC, each reported once
        self.own_loops = 0  # our SSRC again from an address already found conflicting
        self.third_party_collisions = 0  # a known SSRC with another CNAME
        self.third_party_loops = 0  # a known SSRC from another address
        self.ssrc_changes = 0
        self.tn = now + self.interval()

    # -- counts and intervals -------------------------------------------------------------

    @property
    def member_count(self) -> int:
        """Members in the table, ourselves included, those that said BYE not."""
        return sum(1 for member in self._table.values() if not member.bye)

    @property
    def sender_count(self) -> int:
        """Senders in the table, ourselves included while we send."""
        return sum(1 for member in self._table.values() if member.is_sender)

    def members_list(self) -> list[Member]:
        """Copies of the counted members' entries, by SSRC, for logging."""
        return [replace(m) for _, m in sorted(self._table.items()) if not m.bye]

    def member(self, ssrc: int) -> Member | None:
        """A copy of the entry for `ssrc` (one that said BYE included), or None."""
        member = self._table.get(ssrc)
        return None if member is None else replace(member)

    def interval(self) -> float:
        """A fresh random T for the current state (§6.3.1; one rng draw)."""
        return self._calculated(self.rng)

    def mean_interval(self) -> float:
        """T with the random factor at its mean: Td / (e - 3/2), compensation included."""
        return self._calculated(_MEAN_DRAW)

    def deterministic_interval(self) -> float:
        """§6.3.1's Td: max(Tmin, n * C), without the random factor or the compensation."""
        return self._calculated(_MEAN_DRAW) * COMPENSATION

    def member_timeout(self) -> float:
        """M * Td (§6.3.5), Td computed for a receiver (we_sent false) with the fixed 5 s
        minimum (§6.2: so that members not using the reduced one are not timed out early),
        and never the initial halved one: it spans others' reports, not our first."""
        return TIMEOUT_MULTIPLIER * self._receiver_td()

    def sender_timeout(self) -> float:
        """2T (§6.3.5, §6.3.8), T taken as Td: the mean spacing of reports, not a draw."""
        return SENDER_TIMEOUT_INTERVALS * self.deterministic_interval()

    def _calculated(self, rng: RandomSource) -> float:
        return rtcp_interval(
            self.members, self.senders, self.rtcp_bw, self.we_sent, self.avg_rtcp_size,
            self.initial, rng=rng,
            reduced_minimum=self.reduced_minimum and self.we_sent,  # §6.2, multicast
        )  # fmt: skip

    def _receiver_td(self) -> float:
        t = rtcp_interval(
            self.members, self.senders, self.rtcp_bw, False, self.avg_rtcp_size, False,
            rng=_MEAN_DRAW,
        )  # fmt: skip
        return t * COMPENSATION

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
        halved minimum is for a participant that "has not yet sent", so it is cleared first,
        as `RtcpSchedule.on_sent` does.) When leaving, this was the BYE: the group is done.
        """
        self._average(size)
        self._has_sent = True
        self._table[self.ssrc].last_heard = now
        if self.leaving:
            self.left = True
            self._bye_at_once = False
            return
        self.tp = now
        self.initial = False
        self.tn = now + self.interval()
        self.pmembers = self.members

    def leave(self, bye_size: int, now: float) -> bool:
        """We are leaving (§6.3.7); `bye_size` is the compound BYE's size (UDP payload).

        False: we never sent RTP or RTCP, so we MUST NOT send a BYE; the group is done. True:
        send the BYE when `due` says so, then `on_sent`. With at most 50 members that is at
        once; with more, the BYE back-off: tp = now, members = pmembers = 1, senders = 0,
        we_sent false, initial true, avg_rtcp_size the BYE's size, tn = now + T; from then on
        `members` counts the BYEs heard, and timer reconsideration spaces ours out.
        """
        if self.leaving or self.left:
            raise RuntimeError("leave() was already called")
        if not self._has_sent:
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
        self._table[self.ssrc].is_sender = False
        self.senders = 0
        self.avg_rtcp_size = float(bye_size + UDP_IP_OVERHEAD)
        self.tn = now + self.interval()
        return True

    # -- receiving (§6.3.3, §6.3.4, §8.2) -------------------------------------------------

    def on_rtcp(
        self, packets: Iterable[RtcpPacket], size: int, source_address: Address, now: float
    ) -> Collision | None:
        """A compound packet of `size` octets (UDP payload) from `source_address`, decoded.

        avg_rtcp_size takes it in (§6.3.3), unless it is our own looped back. The sender of
        each SR, RR, XR and APP and each SDES chunk's source is added or refreshed, with the
        chunk's CNAME; an SR marks a sender. A BYE marks its sources as gone (§6.3.4,
        §6.2.1) and reconsiders in reverse. Returns the collision with our SSRC this packet
        revealed, if not reported yet (§8.2); otherwise None.
        """
        if self.left:
            return None
        if self.leaving:
            self._count_byes(packets, size)
            return None
        packets = list(packets)
        if not (source_address in self.own_addresses and _sender(packets) == self.ssrc):
            self._average(size)  # (on_sent counted our own)
        reported = self.collisions
        shrunk = False
        for packet in packets:
            if isinstance(packet, SourceDescription):
                cnames = packet.cnames()
                for chunk in packet.chunks:
                    self._element(chunk.ssrc, RTCP, source_address, now, cnames.get(chunk.ssrc))
            elif isinstance(packet, Bye):
                for ssrc in packet.sources:
                    shrunk |= self._bye(ssrc, source_address, now)
            elif isinstance(packet, SenderReport | ReceiverReport | ExtendedReport | App):
                member = self._element(packet.ssrc, RTCP, source_address, now)
                if member is not None and isinstance(packet, SenderReport):
                    member.last_sr = now
                    self._mark_sender(member)
        if shrunk:
            self._reverse_reconsider(now)
        return self._newly_reported(reported)

    def on_rtp(
        self, ssrc: int, source_address: Address, now: float, csrcs: Iterable[int] = ()
    ) -> Collision | None:
        """A validated RTP packet (A.1's probation is the caller's): its SSRC is a member
        and a sender, each CSRC a member (§6.3.3). Returns a new collision, as `on_rtcp`."""
        if self.leaving or self.left:
            return None  # §6.3.7: senders "is NOT updated when RTP packets arrive"
        reported = self.collisions
        member = self._element(ssrc, RTP, source_address, now)
        if member is not None:
            member.last_rtp = now
            self._mark_sender(member)
        for csrc in csrcs:
            self._element(csrc, RTP, source_address, now)
        return self._newly_reported(reported)

    def on_rtp_sent(self, now: float) -> None:
        """We sent an RTP packet (§6.3.8): we are a sender, counted among the senders.

        Becoming one applies §6.3.4's reverse reconsideration, as §6.3.8 asks; its formula
        scales by members / pmembers, so it moves the timer only if the group shrank since
        the timer was last set.
        """
        me = self._table[self.ssrc]
        me.last_rtp = me.last_heard = now
        self._has_sent = True
        if self.leaving or self.left or self.we_sent:
            return
        self.we_sent = True
        self._mark_sender(me)
        self._reverse_reconsider(now)

    def change_ssrc(self, new_ssrc: int, now: float) -> None:
        """Take `new_ssrc` as ours; the caller sends (or has sent) a BYE for the old one.

        §8.2: after a collision, the old SSRC becomes an entry for the source that collided,
        with the address its packet came from. After a change without a collision, the old
        SSRC stays in the table marked BYE for a while, so that our own packets still in
        flight are not taken for a newcomer. Raises ValueError if `new_ssrc` is in the table
        (§8.2: a candidate in use must be drawn again).
        """
        _check_ssrc(new_ssrc)
        if new_ssrc in self._table:
            raise ValueError(f"SSRC {new_ssrc:#010x} is in use in this session: draw another")
        old_ssrc, collision = self.ssrc, self.pending_collision
        me = self._table.pop(old_ssrc)
        me.ssrc = self.ssrc = new_ssrc
        self._table[new_ssrc] = me
        self.pending_collision = None
        self.ssrc_changes += 1
        if collision is None:
            if len(self._table) < self.max_members:
                self._table[old_ssrc] = Member(old_ssrc, self.cname, last_heard=now, bye=True)
            return
        if len(self._table) >= self.max_members:
            self.ignored_members += 1
            return
        other = Member(old_ssrc, collision.cname, last_heard=collision.time)
        self._set_address(other, collision.channel, collision.address)
        self._table[old_ssrc] = other
        self.members += 1
        if collision.channel == RTP:
            other.last_rtp = collision.time
            self._mark_sender(other)

    # -- timeouts (§6.3.5, §6.3.8, §8.2) --------------------------------------------------

    def expire(self, now: float) -> list[int]:
        """Time out silent members, demote silent senders; returns the SSRCs removed.

        §6.3.5: a member not heard (RTP or RTCP) since now - `member_timeout()` is removed,
        and reverse reconsideration follows; a sender with no RTP (or SR) since now -
        `sender_timeout()` is a sender no more, and so are we (§6.3.8). We are never
        removed. Members that said BYE are deleted BYE_HOLD_SECONDS after it, and §8.2's
        conflicting addresses after CONFLICT_TIMEOUT_INTERVALS quiet intervals. Call it at
        least once per report interval. While leaving, `members` counts BYEs: a no-op.
        """
        if self.leaving or self.left:
            return []
        td = self._receiver_td()
        member_cutoff = now - TIMEOUT_MULTIPLIER * td
        sender_cutoff = now - self.sender_timeout()
        conflict_cutoff = now - CONFLICT_TIMEOUT_INTERVALS * td
        removed = []
        for ssrc, member in list(self._table.items()):
            if ssrc == self.ssrc:
                continue
            if member.bye:
                if now - member.last_heard >= BYE_HOLD_SECONDS:
                    del self._table[ssrc]
            elif member.last_heard < member_cutoff:
                del self._table[ssrc]
                self._uncount(member)
                removed.append(ssrc)
            elif member.is_sender and _latest(member.last_rtp, member.last_sr) < sender_cutoff:
                member.is_sender = False
                self.senders -= 1
        me = self._table[self.ssrc]
        if self.we_sent and _latest(me.last_rtp) < sender_cutoff:
            self.we_sent = me.is_sender = False
            self.senders -= 1
        for key, heard in list(self._conflicts.items()):
            if heard < conflict_cutoff:
                del self._conflicts[key]
        if removed:
            self._reverse_reconsider(now)
        return sorted(removed)

    @property
    def conflicting_addresses(self) -> list[tuple[Channel, Address]]:
        """§8.2's list, oldest conflict first."""
        return list(self._conflicts)

    # -- internals ------------------------------------------------------------------------

    def _element(
        self, ssrc: int, channel: Channel, address: Address, now: float,
        cname: str | None = None, *, create: bool = True,
    ) -> Member | None:  # fmt: skip
        """The entry one element names (an RTP SSRC or CSRC, an RTCP packet's SSRC, an SDES
        chunk), refreshed, after §8.2's checks; None when the element is to be skipped."""
        if ssrc == self.ssrc:
            self._own_ssrc(channel, address, cname, now)
            return None
        member = self._table.get(ssrc)
        if member is None:
            if not create:
                return None
            if len(self._table) >= self.max_members:
                self.ignored_members += 1
                return None
            member = Member(ssrc, cname, last_heard=now)
            self._set_address(member, channel, address)
            self._table[ssrc] = member
            self.members += 1
            return member
        if member.bye:
            return None  # §6.2.1: a straggler after BYE does not bring the entry back
        known = member.rtp_address if channel == RTP else member.rtcp_address
        if known is None:
            self._set_address(member, channel, address)  # first RTP after RTCP, or vice versa
        elif known != address:
            # §8.2: a third-party collision or loop; the established source is kept.
            if cname is not None and member.cname is not None and cname != member.cname:
                self.third_party_collisions += 1
            else:
                self.third_party_loops += 1
            return None
        if cname is not None:
            if member.cname is None:
                member.cname = cname
            elif cname != member.cname:
                # §8.2: past a translator the address is the same, the CNAMEs tell them apart.
                self.third_party_collisions += 1
                return None
        member.last_heard = now
        return member

    def _own_ssrc(self, channel: Channel, address: Address, cname: str | None, now: float) -> None:
        """§8.2 for an element carrying our SSRC."""
        other_cname = cname is not None and self.cname is not None and cname != self.cname
        if address in self.own_addresses and not other_cname:
            return  # our own packet, looped back by the host
        key = (channel, address)
        if key in self._conflicts:
            # A loop of our own packets, or the same collision again: acted on once only.
            self._conflicts[key] = now
            self._conflicts.move_to_end(key)
            if not other_cname:
                self.own_loops += 1
            pending = self.pending_collision
            if (
                pending is not None
                and pending.cname is None
                and (pending.channel, pending.address) == key
            ):
                # The SDES after the RR that showed the collision: the other source's CNAME.
                self.pending_collision = replace(pending, cname=cname)
            return
        if len(self._conflicts) >= MAX_CONFLICTS:
            self._conflicts.popitem(last=False)
        self._conflicts[key] = now  # §8.2: a new collision, listed so it is acted on once
        if self.pending_collision is None:
            self.pending_collision = Collision(self.ssrc, channel, address, cname, now)
            self.collisions += 1

    def _bye(self, ssrc: int, address: Address, now: float) -> bool:
        """§6.3.4: mark a BYE's source as gone, if it is a member and the BYE comes from its
        address (§8.2: removal is "validated by a matching source transport address")."""
        member = self._element(ssrc, RTCP, address, now, create=False)
        if member is None:
            return False
        member.bye = True
        self._uncount(member)
        return True

    def _count_byes(self, packets: Iterable[RtcpPacket], size: int) -> None:
        """§6.3.7, leaving a large group: members counts BYE packets, whoever sent them, and
        only those update avg_rtcp_size."""
        byes = sum(1 for packet in packets if isinstance(packet, Bye))
        if byes:
            self.members += byes
            self._average(size)

    def _reverse_reconsider(self, now: float) -> None:
        """§6.3.4: the group shrank below pmembers, so bring tn and tp closer to now."""
        if self.members >= self.pmembers:
            return
        ratio = self.members / self.pmembers
        self.tn = now + ratio * (self.tn - now)
        self.tp = now - ratio * (now - self.tp)
        self.pmembers = self.members

    def _mark_sender(self, member: Member) -> None:
        if not member.is_sender:
            member.is_sender = True
            self.senders += 1

    def _uncount(self, member: Member) -> None:
        self.members -= 1
        if member.is_sender:
            member.is_sender = False
            self.senders -= 1

    def _set_address(self, member: Member, channel: Channel, address: Address) -> None:
        if channel == RTP:
            member.rtp_address = address
        else:
            member.rtcp_address = address

    def _average(self, size: int) -> None:
        """§6.3.3 and §6.3.6: avg = 1/16 * size + 15/16 * avg, size with UDP/IP headers."""
        packet_size = size + UDP_IP_OVERHEAD
        self.avg_rtcp_size = AVG_SIZE_GAIN * packet_size + (1 - AVG_SIZE_GAIN) * self.avg_rtcp_size

    def _newly_reported(self, collisions_before: int) -> Collision | None:
        return self.pending_collision if self.collisions > collisions_before else None

    def __repr__(self) -> str:
        return (
            f"RtcpGroup(ssrc={self.ssrc:#010x}, members={self.members}, "
            f"pmembers={self.pmembers}, senders={self.senders}, we_sent={self.we_sent}, "
            f"initial={self.initial}, avg_rtcp_size={self.avg_rtcp_size:.1f}, "
            f"tp={self.tp:.3f}, tn={self.tn:.3f})"
        )


def _check_ssrc(ssrc: int) -> None:
    if not isinstance(ssrc, int) or not 0 <= ssrc < SSRC_LIMIT:
        raise ValueError(f"an SSRC is an integer in 0..{SSRC_LIMIT - 1}, got {ssrc!r}")


def _sender(packets: list[RtcpPacket]) -> int | None:
    """The SSRC of a compound's sender: its first packet's, an SR or RR (§6.1)."""
    first = packets[0] if packets else None
    return first.ssrc if isinstance(first, SenderReport | ReceiverReport) else None


def _latest(*times: float | None) -> float:
    """The latest of the times given; minus infinity if none is known."""
    known = [t for t in times if t is not None]
    return max(known) if known else float("-inf")
