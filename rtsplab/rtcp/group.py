"""The member table of one participant's RTCP: RFC 3550 §6.2.1, §6.3, §8.2 and A.7.

`RtcpGroup` is the report timer (`rtsplab.rtcp.timer.RtcpTimer`: A.7, §6.3.4, §6.3.6,
§6.3.7) with the table its counts come from. One serves both kinds of session: a multicast
group, whose members join, send, fall silent and leave, and a unicast session, which is a
group of two (`two_party`: the peer is counted before it is heard). It keeps:

- a member table (§6.2.1, §6.3.3) of every SSRC heard: each SSRC a packet speaks for
  (`RtcpPacket.speaks_for`: the sender of an SR, RR, XR and APP, each SDES chunk's source),
  each RTP packet's SSRC and CSRCs. Not the SSRCs a packet speaks about (report blocks):
  they name sources the reporter hears, and say nothing of where those are (§8.2);
- the senders among them (§6.3.3, §6.3.5, §6.3.8): whoever sent RTP, or an SR (only senders
  send one, §6.4), within the last two report intervals, ourselves included;
- timeouts (§6.3.5), and members that said BYE held a moment (§6.2.1);
- SSRC collision and loop detection (§8.2), with its list of conflicting source addresses
  (`rtsplab.rtcp.members.ConflictList`), a collision acted on once per host;
- bounded work per source address: at most NEW_MEMBERS_PER_ADDRESS new members per report
  interval from one host, and MAX_MEMBERS in all.

Pure: `now` is monotonic seconds passed in, the random source is injectable, and the caller
(`rtsplab.rtcp.endpoint.RtcpEndpoint`) owns nothing but what it is told::

    group = RtcpGroup(ssrc, RTCP_BANDWIDTH_FRACTION * session_bw, now, cname=cname)
    collision = group.on_rtcp(decode_compound(datagram), len(datagram), address, now)
    collision = group.on_rtp(packet.ssrc(), address, now)
    group.on_rtp_sent(now)                      # we sent RTP
    if collision:                               # send BYE for collision.ssrc, then
        group.change_ssrc(new_random_ssrc, now)
    group.expire(now)                           # at least once per report interval
    if group.due(now):
        report = build_report()
        send(report)
        group.on_sent(len(report), now)
"""

from __future__ import annotations

import random as _random
from collections.abc import Iterable
from dataclasses import replace

from rtsplab.rtcp.members import (
    CONFLICT_TIMEOUT_INTERVALS,
    MAX_CONFLICTS,
    RTCP,
    RTP,
    Address,
    Channel,
    Collision,
    ConflictList,
    Member,
    NewMemberLimit,
)
from rtsplab.rtcp.packet import RtcpPacket
from rtsplab.rtcp.timer import TIMEOUT_MULTIPLIER, RtcpTimer
from rtsplab.rtcp.timing import INITIAL_AVG_RTCP_SIZE, RandomSource

__all__ = [
    "BYE_HOLD_SECONDS", "MAX_CONFLICTS", "MAX_MEMBERS", "RTCP", "RTP", "Address", "Channel",
    "Collision", "Member", "RtcpGroup",
]  # fmt: skip

SSRC_LIMIT = 1 << 32  # SSRCs are 32 bits (§5.1)
# A hostile sender inventing SSRCs must not grow memory without bound: past this many entries
# (ourselves and members that said BYE included) new SSRCs are ignored and counted. Far more
# than a lab's group; a session that size would want §6.2.1's SSRC sampling instead.
MAX_MEMBERS = 4096
# §6.2.1: a member that said BYE "SHOULD be marked ... and then deleted after an appropriate
# delay", so that RTP packets still on their way do not bring it back. The RFC gives no
# figure; two seconds outlast any reordering a network does.
BYE_HOLD_SECONDS = 2.0


class RtcpGroup(RtcpTimer):
    """One participant's view of an RTP session, for its RTCP (RFC 3550 §6.3).

    The timer's attributes are §6.3's variables (see `RtcpTimer`). `members` and `senders`
    count ourselves (§6.3.2 starts members at 1); while leaving a large group `members`
    counts BYEs instead (§6.3.7), and `member_count` and `sender_count` still give the
    table's counts.

    `own_addresses` are the addresses our own packets arrive from when the host loops them
    back (multicast loopback); a packet with our SSRC from one of them is our own, not a
    collision, unless it carries another CNAME. With `reduced_minimum` the §6.2 reduced
    minimum applies while we send (in a group of two, always). With `regular_spacing` the
    timer follows RTP/AVPF (`RtcpTimer`).
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
        two_party: bool = False,
        regular_spacing: float | None = None,
    ) -> None:
        _check_ssrc(ssrc)
        if max_members < 1:
            raise ValueError(f"max_members must be at least 1 (ourselves), got {max_members}")
        self.ssrc = ssrc
        self.cname = cname
        self.own_addresses = frozenset(own_addresses)
        self.max_members = max_members
        self._table: dict[int, Member] = {ssrc: Member(ssrc, cname, last_heard=now)}
        self._conflicts = ConflictList()  # §8.2's conflicting address list
        self.new_members = NewMemberLimit()
        self.pending_collision: Collision | None = None
        # Counted, never fatal (§8.2's OPTIONAL error counters, and the table's bounds).
        self.ignored_members = 0  # new SSRCs past max_members, or past an address's share
        self.collisions = 0  # other sources using our SSRC, each reported once
        self.own_loops = 0  # our SSRC again from an address already found conflicting
        self.third_party_collisions = 0  # a known SSRC with another CNAME
        self.third_party_loops = 0  # a known SSRC from another address
        self.ssrc_changes = 0
        super().__init__(rtcp_bw, now, avg_rtcp_size=avg_rtcp_size, rng=rng,
                         reduced_minimum=reduced_minimum, two_party=two_party,
                         regular_spacing=regular_spacing)  # fmt: skip

    # -- counts ---------------------------------------------------------------------------

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

    def cname_of(self, ssrc: int) -> str | None:
        member = self._table.get(ssrc)
        return None if member is None else member.cname

    # -- the timer's hooks ----------------------------------------------------------------

    def on_sent(self, size: int, now: float) -> None:
        """A compound of ours went out (`RtcpTimer.on_sent`); we were heard at `now`."""
        self._table[self.ssrc].last_heard = now
        super().on_sent(size, now)

    def leave(self, bye_size: int, now: float) -> bool:
        """`RtcpTimer.leave`; leaving, we are a sender no more."""
        leaving = super().leave(bye_size, now)
        if self.leaving and self.senders == 0:
            self._table[self.ssrc].is_sender = False
        return leaving

    # -- receiving (§6.3.3, §6.3.4, §8.2) -------------------------------------------------

    def on_rtcp(
        self, packets: Iterable[RtcpPacket], size: int, source_address: Address, now: float
    ) -> Collision | None:
        """A compound packet of `size` octets (UDP payload) from `source_address`, decoded.

        avg_rtcp_size takes it in (§6.3.3), unless it is our own looped back. Each SSRC a
        packet speaks for is added or refreshed, with its SDES CNAME; an SR marks a sender.
        A BYE marks its sources as gone (§6.3.4, §6.2.1) and reconsiders in reverse. Returns
        the collision with our SSRC this packet revealed, if not reported yet (§8.2).
        """
        if self.left:
            return None
        packets = list(packets)
        if self.leaving:
            self._count_byes(packets, size)
            return None
        if not (source_address in self.own_addresses and _sender(packets) == self.ssrc):
            self.on_received(size)  # (on_sent counted our own)
        reported = self.collisions
        shrunk = False
        for packet in packets:
            leaving = packet.leaving()
            if leaving:
                for ssrc in leaving:
                    shrunk |= self._bye(ssrc, source_address, now)
                continue
            cnames = packet.cnames()
            for ssrc in packet.speaks_for():
                member = self._element(ssrc, RTCP, source_address, now, cnames.get(ssrc))
                if member is not None and packet.sender_ntp() is not None:
                    member.last_sr = now
                    self._mark_sender(member)
        if shrunk:
            self.reverse_reconsider(now)
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
        self.has_sent = True
        if self.leaving or self.left or self.we_sent:
            return
        self.we_sent = True
        self._mark_sender(me)
        self.reverse_reconsider(now)

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
        other.set_address(collision.channel, collision.address)
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
        td = self.receiver_td()
        member_cutoff = now - TIMEOUT_MULTIPLIER * td
        sender_cutoff = now - self.sender_timeout()
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
        self._conflicts.expire(now - CONFLICT_TIMEOUT_INTERVALS * td)
        if removed:
            self.reverse_reconsider(now)
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
            return self._new_member(ssrc, channel, address, now, cname) if create else None
        if member.bye:
            return None  # §6.2.1: a straggler after BYE does not bring the entry back
        known = member.address(channel)
        if known is None:
            member.set_address(channel, address)  # first RTP after RTCP, or vice versa
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

    def _new_member(
        self, ssrc: int, channel: Channel, address: Address, now: float, cname: str | None
    ) -> Member | None:
        """A new entry, within the table's bound and the address's share of new members."""
        if len(self._table) >= self.max_members or not self.new_members.allow(
            address, now, self.receiver_td()
        ):
            self.ignored_members += 1
            return None
        member = Member(ssrc, cname, last_heard=now)
        member.set_address(channel, address)
        self._table[ssrc] = member
        self.members += 1
        return member

    def _own_ssrc(self, channel: Channel, address: Address, cname: str | None, now: float) -> None:
        """§8.2 for an element carrying our SSRC."""
        other_cname = cname is not None and self.cname is not None and cname != self.cname
        if address in self.own_addresses and not other_cname:
            return  # our own packet, looped back by the host
        key = self._conflicts.listed(channel, address)
        if key is not None:
            # A loop of our own packets, or the same collision again: acted on once only.
            self._conflicts.refresh(key, now)
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
        self._conflicts.add(channel, address, now)  # §8.2: listed so it is acted on once
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

    def _count_byes(self, packets: list[RtcpPacket], size: int) -> None:
        """§6.3.7, leaving a large group: members counts BYE packets, whoever sent them, and
        only those update avg_rtcp_size."""
        byes = sum(1 for packet in packets if packet.leaving())
        if byes:
            self.members += byes
            self.on_received(size)

    def _mark_sender(self, member: Member) -> None:
        if not member.is_sender:
            member.is_sender = True
            self.senders += 1

    def _uncount(self, member: Member) -> None:
        self.members -= 1
        if member.is_sender:
            member.is_sender = False
            self.senders -= 1

    def _newly_reported(self, collisions_before: int) -> Collision | None:
        return self.pending_collision if self.collisions > collisions_before else None

    def __repr__(self) -> str:
        return f"RtcpGroup(ssrc={self.ssrc:#010x}, " + super().__repr__().split("(", 1)[1]


def _check_ssrc(ssrc: int) -> None:
    if not isinstance(ssrc, int) or not 0 <= ssrc < SSRC_LIMIT:
        raise ValueError(f"an SSRC is an integer in 0..{SSRC_LIMIT - 1}, got {ssrc!r}")


def _sender(packets: list[RtcpPacket]) -> int | None:
    """The SSRC of a compound's sender: its first packet's, an SR or RR (§6.1)."""
    first = packets[0] if packets else None
    return first.speaks_for()[0] if first is not None and first.is_report() else None


def _latest(*times: float | None) -> float:
    """The latest of the times given; minus infinity if none is known."""
    known = [t for t in times if t is not None]
    return max(known) if known else float("-inf")
