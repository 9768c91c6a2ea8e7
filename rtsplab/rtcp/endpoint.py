"""One participant's RTCP, both roles, unicast and multicast: the reporting session (RFC 3550 §6).

`RtcpEndpoint` is fed datagrams (with the address they came from) and time — `now`,
monotonic seconds, for timers and delays, and `wall`, Unix seconds, for the NTP timestamps
on the wire — and returns the datagrams to send; the driver owns the socket and the thread
and sends what it is given. It holds the member table and the A.7 timer
(`rtsplab.rtcp.group.RtcpGroup`: a group of two in unicast), and:

- builds each compound once: SR (with an `RtpSender`: the sender role, the server) or RR
  (the receiver role, the client; with a report block about the media source when
  `reception` has one), SDES CNAME, and XR — an RRTR from a receiver, which sends no RTP and
  so gets no report block to time its round trip by (RFC 3611 §4.4), and the DLRR answering
  the last RRTR heard (§4.5); BYE (§6.6);
- reads each compound once: a report block about our stream becomes a `PeerReport` (loss,
  jitter, RTT from LSR/DLSR, §6.4.1), the media source's SR gives `reception` its LSR, a DLRR
  for us the RTT;
- resolves a collision with our SSRC once (§8.2): a new SSRC from an injectable source, in at
  most SSRC_DRAWS draws, and a compound that introduces it and says BYE for the old one. Our
  RTP takes the new SSRC once the driver has sent that compound (`take_new_ssrc`, or the
  next call): receivers hear of the change before any packet under the new SSRC;
- follows the media source by its CNAME (§6.5.1, §8.2): when the media source's address
  introduces a new SSRC with the media source's CNAME beside a BYE for the old one, the new
  one is the same source (`source_changes`), and the BYE does not end the stream;
- takes RTCP only from its anchors: in unicast, from the peer's announced RTCP port
  (`peer_rtcp`; the rest is counted in `forged`); in a group, whatever speaks for the media
  source from anywhere but the media source's address and port (the port learnt from its
  first SR) is struck out and counted in `foreign`;
- under RTP/AVPF (RFC 4585), sends generic NACKs early (`feedback`) as the timer allows,
  and keeps those about our stream for the driver to answer (`take_nacks`);
- takes feedback alone too (RFC 5506's reduced-size RTCP: ffmpeg sends its NACKs so);
- counts what is not RTCP in `malformed`, and never raises on a datagram.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Callable

from rtsplab.ntp import MAX_U32, NTP_SHORT_UNITS, ntp_from_unix, ntp_middle32
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.compound import decode_compound, encode_compound
from rtsplab.rtcp.feedback import GenericNack
from rtsplab.rtcp.group import Address, Collision, RtcpGroup
from rtsplab.rtcp.packet import RtcpError, RtcpPacket
from rtsplab.rtcp.reports import PeerReport, ReceiverReport, ReportBlock, SenderReport
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtcp.timing import RTCP_BANDWIDTH_FRACTION
from rtsplab.rtcp.xr import DlrrItem, ExtendedReport
from rtsplab.rtp.reception import ReceptionStatistics
from rtsplab.rtp.sender import RtpSender

log = logging.getLogger(__name__)

# §8.2: a new SSRC already in the member table is drawn again; 32 random bits collide with
# a lab's group about never, so a few draws are plenty and the loop is bounded.
SSRC_DRAWS = 16
BYE_REASON_COLLISION = "SSRC collision"
# Where a datagram "came from" when the driver does not say (a unicast peer it has checked).
PEER: Address = ("peer", 0)
# §6.3.5 asks for timeouts "at least once per RTCP report interval"; the drivers tick far more
# often (the client on every wake-up of its receiving thread), so between reports the member
# table is scanned at most this often.
EXPIRE_SPACING = 1.0
MAX_NACK_ITEMS = 250  # a NACK's words in one packet: 1,000 octets, within any MTU
MAX_NACKS = 64  # NACKs waiting for the driver, each read to MAX_NACK_ITEMS words: past, a storm


def send_each(send: Callable[[bytes], object], datagrams: list[bytes], name: str) -> None:
    """The drivers' way to send what the engine returns: each datagram by `send`; one that
    cannot go (OSError) is logged, and the rest still go."""
    for datagram in datagrams:
        try:
            send(datagram)
        except OSError as exc:
            log.debug("%s: RTCP not sent: %s", name, exc)


class RtcpEndpoint:
    """One participant's RTCP for one session; the role is what it is given.

    `sender`: our RTP source (the server); its SSRC is ours and follows a collision.
    `reception`: the statistics of the media we receive (the client). `group`: a multicast
    session's member table (our SSRC is its); without one, a group of two is made.
    `media_address`: in a group, the address the media source speaks from (the server's).
    `peer_rtcp`: the only address (host, port) RTCP is taken from in unicast; a port of None
    takes any port of the host. `new_ssrc`: the SSRC source after a collision.
    `regular_spacing`: RTP/AVPF's T_rr_interval (RFC 4585), for a session that negotiated
    feedback; None for plain RTP/AVP (a given group brings its own).
    """

    def __init__(
        self, cname: str, session_bandwidth: float, now: float, *,
        sender: RtpSender | None = None, reception: ReceptionStatistics | None = None,
        ssrc: int | None = None, group: RtcpGroup | None = None,
        reduced_minimum: bool = False, rng: random.Random | None = None,
        new_ssrc: Callable[[], int] | None = None,
        peer_rtcp: tuple[str, int | None] | None = None, media_address: str | None = None,
        regular_spacing: float | None = None,
    ) -> None:  # fmt: skip
        if sender is not None:
            ssrc = sender.ssrc
        elif ssrc is None:
            ssrc = secrets.randbits(32) if group is None else group.ssrc
        self.cname = cname
        self.sender = sender
        self.reception = reception
        self.group = group or RtcpGroup(
            ssrc, RTCP_BANDWIDTH_FRACTION * session_bandwidth, now, cname=cname,
            reduced_minimum=reduced_minimum, rng=rng or random.Random(), two_party=True,
            regular_spacing=regular_spacing,
        )  # fmt: skip
        if self.group.ssrc != ssrc:
            raise ValueError("the group and the endpoint must have one SSRC")
        self.peer_rtcp = peer_rtcp
        self.new_ssrc = new_ssrc or (lambda: secrets.randbits(32))
        # The receiver's media source: its SSRC (the driver sets it from the SETUP reply or
        # the RTP source locked), its CNAME once heard, and in a group the address it speaks
        # from (`media_address`, the server's) and the port learnt from its first compound.
        self.media_ssrc: int | None = None
        self.media_cname: str | None = None
        self.media_address = media_address
        self._media_rtcp: Address | None = None
        self.source_changes: list[tuple[int, int]] = []  # (old, new), followed by CNAME
        # What the peers' reports say: the last one about our stream, and each reporter's.
        self.peer: PeerReport | None = None
        self.peer_ssrc: int | None = None  # the reporter whose blocks are about our stream
        self.reports: dict[int, PeerReport] = {}
        self.peer_heard: float | None = None  # RTCP about this session last came then
        self.rtt: float | None = None  # seconds, from the last DLRR for us
        self._rrtr: tuple[int, int, float] | None = None  # (reporter, LRR, arrival)
        self._rtp_counted = 0  # the sender's packets when we last told the group
        self._sender_ssrc: int | None = None  # our new SSRC, for our RTP once announced
        self._expired_at: float | None = None  # when the member table was last scanned
        self.peer_left = False  # the peer (the media source, for a receiver) said BYE
        self.malformed = 0  # datagrams that were not valid RTCP
        self.forged = 0  # datagrams from another address or port than the peer's RTCP
        self.foreign = 0  # compounds that spoke for the media source from elsewhere
        self.foreign_byes = 0  # BYEs not naming the media source, or before it was known
        self.nacks: list[list[int]] = []  # generic NACKs about our stream, for the driver
        self.nacks_dropped = 0  # past MAX_NACKS waiting: a storm

    @property
    def ssrc(self) -> int:
        return self.group.ssrc

    # -- time ----------------------------------------------------------------------------

    def due(self, now: float) -> bool:
        """Whether a report is due at `now` (§6.3.6, `RtcpTimer.due`)."""
        self._count_rtp_sent(now)
        return self.group.due(now)

    def deterministic_interval(self) -> float:
        """§6.3.1's Td: the mean spacing of the reports (`RtcpTimer.deterministic_interval`)."""
        return self.group.deterministic_interval()

    def tick(self, now: float, wall: float, *, quiet: bool = False) -> list[bytes]:
        """What to send at `now`: a report when one is due, after timing out the members gone
        silent (§6.3.5: when a report is due, and at most every EXPIRE_SPACING seconds
        between). `quiet`: our source has said BYE and waits; the report due is let go, and
        the next is an interval away."""
        self.take_new_ssrc()
        if (
            now >= self.group.tn
            or self._expired_at is None
            or (now - self._expired_at >= EXPIRE_SPACING)
        ):
            self._expire(now)
        if not self.due(now):
            return []
        if quiet or not self.group.regular_due(now):
            self.group.postpone(now)
            return []
        return [self.report(now, wall)]

    def _expire(self, now: float) -> None:
        self._expired_at = now
        gone = self.group.expire(now)
        if gone:
            log.info("RTCP members timed out: %s", ", ".join(f"{s:08X}" for s in gone))
            self.reports = {s: r for s, r in self.reports.items() if s not in gone}

    # -- building (§6.4, §6.5, §6.6; RFC 3611 §4.4, §4.5) ----------------------------------

    def report(self, now: float, wall: float) -> bytes:
        """SR or RR + SDES CNAME + XR (RRTR from a receiver, DLRR answering an RRTR)."""
        extra: list[RtcpPacket] = []
        rrtr = None if self.sender is not None else ntp_from_unix(wall)
        dlrr = self._dlrr(now)
        if rrtr is not None or dlrr:
            extra.append(ExtendedReport(self.ssrc, rrtr=rrtr, dlrr=dlrr))
        return self._sent(self._compound(self.ssrc, now, wall, *extra), now)

    def may_send_feedback(self) -> bool:
        """Whether an early packet may go now (RTP/AVPF negotiated, the media source known,
        and none sent since the timer last fired: RFC 4585 §3.5.2)."""
        return self.group.allow_early and self.media_ssrc is not None

    def feedback(self, lost: list[int], now: float, wall: float) -> bytes | None:
        """An early packet asking the media source again for the packets `lost` (16-bit
        sequence numbers, in RTP order): RR, SDES CNAME and a generic NACK (RFC 4585 §6.2.1),
        as many of them as MAX_NACK_ITEMS words carry. None when feedback may not go now."""
        media = self.media_ssrc
        if not lost or media is None or not self.may_send_feedback():
            return None
        nack = GenericNack.for_lost(self.ssrc, media, lost)
        del nack.items[MAX_NACK_ITEMS:]
        datagram = self._compound(self.ssrc, now, wall, nack)
        self.group.on_early_sent(len(datagram))
        return datagram

    def take_nacks(self) -> list[list[int]]:
        """What each NACK about our stream since the last call asked for (its first
        MAX_NACK_ITEMS words), to be answered by the driver."""
        nacks, self.nacks = self.nacks, []
        return nacks

    def bye(self, now: float, wall: float, reason: str | None = None) -> bytes:
        """SR or RR + SDES + BYE: our source leaves (end of file, TEARDOWN). A later PLAY
        goes on with the same SSRC; to leave the session for good, `leave`."""
        self.take_new_ssrc()
        return self._sent(self._compound(self.ssrc, now, wall, Bye([self.ssrc], reason)), now)

    def leave(self, now: float, wall: float, reason: str | None = None) -> bytes | None:
        """We leave the session (§6.3.7): the BYE to send, or None. No BYE if we never sent
        RTP or RTCP; at once in a group of at most 50; in a larger one the BYE would wait out
        a back-off longer than a TEARDOWN should, so we leave without it (logged)."""
        self.take_new_ssrc()
        group = self.group
        if group.leaving or group.left:
            return None
        bye = self._compound(self.ssrc, now, wall, Bye([self.ssrc], reason))
        if not group.leave(len(bye), now):
            return None
        if not group.due(now):
            log.info("leaving an RTCP group of %d members without a BYE (RFC 3550 §6.3.7's "
                     "back-off): they will time us out", group.member_count)  # fmt: skip
            return None
        return self._sent(bye, now)

    def _compound(
        self, ssrc: int, now: float, wall: float, *extra: RtcpPacket, before: int | None = None
    ) -> bytes:
        """SR or RR under `ssrc`, SDES CNAME (for `before` too: our SSRC until now), `extra`."""
        head: SenderReport | ReceiverReport
        blocks = self._blocks(now)
        if self.sender is not None:
            s = self.sender
            head = SenderReport(ssrc, ntp_from_unix(wall), s.timestamp_at(now),
                                s.packets_sent & MAX_U32, s.octets_sent & MAX_U32,
                                blocks)  # fmt: skip
        else:
            head = ReceiverReport(ssrc, blocks)
        sdes = SourceDescription.cname(ssrc, self.cname)
        if before is not None:
            sdes.chunks += SourceDescription.cname(before, self.cname).chunks
        return encode_compound([head, sdes, *extra])

    def _blocks(self, now: float) -> list[ReportBlock]:
        reception, media = self.reception, self.media_ssrc
        if reception is None or media is None or not reception.valid:
            return []
        return [ReportBlock.from_reception(media, reception.report(now))]

    def _dlrr(self, now: float) -> list[DlrrItem]:
        if self._rrtr is None:
            return []
        reporter, lrr, arrival = self._rrtr
        delay = round((now - arrival) * NTP_SHORT_UNITS) & MAX_U32
        return [DlrrItem(reporter, lrr, delay)]

    def _sent(self, datagram: bytes, now: float) -> bytes:
        self.group.on_sent(len(datagram), now)
        return datagram

    def _count_rtp_sent(self, now: float) -> None:
        """Our sender's RTP since we last looked makes us a sender of the group (§6.3.8)."""
        if self.sender is not None and self.sender.packets_sent != self._rtp_counted:
            self._rtp_counted = self.sender.packets_sent
            self.group.on_rtp_sent(now)

    # -- reading ---------------------------------------------------------------------------

    def receive(
        self, datagram: bytes, now: float, wall: float, source: Address | None = None
    ) -> list[bytes]:
        """Take one datagram from `source` (None: the peer, checked by the driver); return
        the datagrams to send because of it (after a collision with our SSRC)."""
        self.take_new_ssrc()
        if not self._from_peer(source):
            self.forged += 1
            if self.forged == 1:
                log.warning("ignoring RTCP from %s: the peer's RTCP port is %s", source,
                            self.peer_rtcp)  # fmt: skip
            return []
        try:
            packets = decode_compound(datagram, strict=False)
            if not packets[0].is_report() and not all(p.is_feedback() for p in packets):
                decode_compound(datagram)  # the compound's own error (RFC 3550 §6.1)
        except RtcpError as exc:
            self.count_malformed(exc)
            return []
        address = PEER if source is None else source
        from_media = self._from_media(packets, address)
        if not from_media:
            packets = self._without_media(packets, address)
            if not packets:
                return []
        collision = self.group.on_rtcp(packets, len(datagram), address, now)
        self._read(packets, now, wall, from_media)
        return [] if collision is None else self._resolve(collision, now, wall)

    def heard_rtp(self, ssrc: int, source: Address, now: float, wall: float) -> list[bytes]:
        """An RTP packet of the session's stream: its source is a member and a sender
        (§6.3.3). Returns what to send after a collision with our SSRC."""
        self.take_new_ssrc()
        collision = self.group.on_rtp(ssrc, source, now)
        return [] if collision is None else self._resolve(collision, now, wall)

    def count_malformed(self, exc: RtcpError) -> None:
        """A datagram that is not RTCP: counted, and the first one logged."""
        self.malformed += 1
        if self.malformed == 1:
            log.warning("skipping a malformed RTCP datagram: %s", exc)

    def _from_peer(self, source: Address | None) -> bool:
        anchor = self.peer_rtcp
        if anchor is None or source is None:
            return True
        return source[0] == anchor[0] and anchor[1] in (None, source[1])

    def _from_media(self, packets: list[RtcpPacket], source: Address) -> bool:
        """Whether the compound comes from where the media source speaks: in unicast the
        peer (checked); in a group the server's address, from the port its first SR under
        the media SSRC came from. Only an SR anchors the port: the media source is a sender
        and only senders send one (§6.4), while an RR in its name from another process on
        the server's host (a member beside it) would otherwise take its place."""
        if self.media_address is None:
            return True
        if source[0] != self.media_address:
            return False
        if self._media_rtcp is not None:
            return source == self._media_rtcp
        media = self.media_ssrc
        if media is None:
            return True
        head = packets[0] if packets else None
        if head is None or head.sender_ntp() is None:
            return False
        # Its SR, or the SR of its new SSRC beside the BYE for the media SSRC: the source
        # changing SSRC (§8.2) before we heard it under the old one.
        if head.speaks_for()[:1] != [media] and not any(media in p.leaving() for p in packets):
            return False
        self._media_rtcp = source
        return True

    def _without_media(self, packets: list[RtcpPacket], source: Address) -> list[RtcpPacket]:
        """`packets` with whatever speaks for the media source struck out (counted): only it
        speaks for itself. What others say about it (report blocks) stays."""
        media = self.media_ssrc
        if media is None:
            return packets
        kept = [k for p in packets if (k := p.without_source(media)) is not None]
        if len(kept) != len(packets) or any(a is not b for a, b in zip(kept, packets, strict=True)):
            self.foreign += 1
            if self.foreign == 1:
                log.warning("ignoring RTCP from %s in the name of the stream's source %08X",
                            source, media)  # fmt: skip
        return kept

    def _read(self, packets: list[RtcpPacket], now: float, wall: float, from_media: bool) -> None:
        """Each packet's news: reports about our stream, the media source's SR and CNAME, an
        RRTR to answer, a DLRR for us, a BYE."""
        successor = self._successor(packets) if from_media else None
        for packet in packets:
            speaker = packet.speaks_for()
            for block in packet.report_blocks():
                if block.ssrc == self.ssrc:
                    self._peer_report(speaker[0], block, now, wall)
            if self.peer_ssrc is not None and self.peer_ssrc in speaker:
                self.peer_heard = now
            ntp = packet.sender_ntp()
            if ntp is not None and from_media and speaker == [self.media_ssrc]:
                if self.reception is not None:
                    self.reception.on_sender_report(ntp, now)
            if from_media and self.media_ssrc is not None:
                self.media_cname = packet.cnames().get(self.media_ssrc, self.media_cname)
            rrtr = packet.reference_time()
            if rrtr is not None:
                self._rrtr = (speaker[0], ntp_middle32(rrtr), now)
            self._read_dlrr(packet, wall)
            self._read_nack(packet)
            leaving = packet.leaving()
            if leaving:
                self._heard_bye(leaving, from_media, successor)
        if successor is not None:
            self._follow(successor)

    def _peer_report(self, reporter: int, block: ReportBlock, now: float, wall: float) -> None:
        self.peer = PeerReport.from_block(block, ntp_from_unix(wall))
        self.peer_ssrc = reporter
        self.peer_heard = now
        if reporter in self.reports or len(self.reports) < self.group.max_members:
            self.reports[reporter] = self.peer

    def _read_dlrr(self, packet: RtcpPacket, wall: float) -> None:
        for item in packet.dlrr_items():
            if item.ssrc == self.ssrc and item.lrr:
                arrival = ntp_middle32(ntp_from_unix(wall))
                delay = (arrival - item.lrr - item.dlrr) & MAX_U32
                if delay <= MAX_U32 // 2:  # a small negative result is rounding: ignore it
                    self.rtt = delay / NTP_SHORT_UNITS

    def _read_nack(self, packet: RtcpPacket) -> None:
        lost = packet.nacked(self.ssrc, MAX_NACK_ITEMS) if self.sender is not None else []
        if lost and len(self.nacks) < MAX_NACKS:
            self.nacks.append(lost)
        elif lost:
            self.nacks_dropped += 1

    def _successor(self, packets: list[RtcpPacket]) -> int | None:
        """A new SSRC of the media source's, in a compound from it: one with its CNAME, other
        than the media SSRC (§6.5.1: the CNAME stays when the SSRC changes, §8.2). The CNAME
        is the one heard before, or the one the compound gives the media SSRC."""
        media = self.media_ssrc
        if media is None:
            return None
        named = {ssrc: name for packet in packets for ssrc, name in packet.cnames().items()}
        cname = self.media_cname or named.get(media)
        if cname is None:
            return None
        for ssrc, name in named.items():
            if name == cname and ssrc != media:
                return ssrc
        return None

    def _follow(self, successor: int) -> None:
        old = self.media_ssrc
        assert old is not None
        self.media_ssrc = successor
        self.source_changes.append((old, successor))
        log.info("the media source %s changed its SSRC from %08X to %08X: following it",
                 self.media_cname, old, successor)  # fmt: skip

    def _heard_bye(self, leaving: list[int], from_media: bool, successor: int | None) -> None:
        """The sender's peer leaving ends its session (the driver checked where it came
        from); a receiver's ends only on the media source's BYE (§6.6: BYE names the SSRCs
        that leave), unless the same compound gave the source's new SSRC."""
        if self.sender is not None and self.reception is None:
            self.peer_left = True
            return
        media = self.media_ssrc
        if from_media and media is not None and media in leaving:
            if successor is None:
                self.peer_left = True
            return
        self.foreign_byes += 1
        if self.foreign_byes == 1:
            named = ", ".join(f"{ssrc:08X}" for ssrc in leaving)
            known = "not known yet" if media is None else f"{media:08X}"
            log.warning("ignoring an RTCP BYE for SSRC %s: the media source is %s", named, known)

    # -- collisions (§8.2) ------------------------------------------------------------------

    def _resolve(self, collision: Collision, now: float, wall: float) -> list[bytes]:
        """Another source uses our SSRC: a new random one that no member uses (at most
        SSRC_DRAWS draws), and one compound that introduces it (SR or RR and SDES with our
        CNAME, so that receivers follow us) and says BYE for the old one. The SDES gives the
        old SSRC our CNAME too: a receiver that has not heard our RTCP yet (it joined a moment
        ago) learns from this compound alone that both are one source."""
        old = self.ssrc
        for _ in range(SSRC_DRAWS):
            new = self.new_ssrc()
            try:
                self.group.change_ssrc(new, now)
            except ValueError:
                continue  # in use (or not 32 bits): draw again
            if self.sender is not None:
                self._sender_ssrc = new  # once the compound below has gone: `take_new_ssrc`
            log.warning("RTCP: our SSRC %08X is also used by %s (%s): now %08X", old,
                        collision.address[0], collision.cname or "no CNAME", new)  # fmt: skip
            bye = Bye([old], BYE_REASON_COLLISION)
            return [self._sent(self._compound(new, now, wall, bye, before=old), now)]
        log.error("RTCP: no free SSRC in %d draws after a collision; keeping %08X",
                  SSRC_DRAWS, old)  # fmt: skip
        return []

    def take_new_ssrc(self) -> None:
        """After a collision, once the driver has sent the compound that introduced our new
        SSRC, our RTP takes it: a driver says so as soon as it has sent what a call returned,
        and every call does it first (the driver sends what a call returns before the next)."""
        new, self._sender_ssrc = self._sender_ssrc, None
        if new is not None and self.sender is not None:
            self.sender.change_ssrc(new)

    def __repr__(self) -> str:
        role = "sender" if self.sender is not None else "receiver"
        return f"RtcpEndpoint({role}, ssrc={self.ssrc:08X}, cname={self.cname!r}, {self.group!r})"
