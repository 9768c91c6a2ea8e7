"""The client's RTCP endpoint for one session: the pure `ReceiverRtcp`, shared by the thread
that receives and the one that tears down, and the way its packets reach the server: a UDP
socket to the server's RTCP port, or the RTSP connection's interleaved channel.

In a multicast session (`group` given) the client is one member of a group (RFC 3550 §6.3),
and its reports go to the group's RTCP port, where every member hears them:

- when to report is the group's: `RtcpGroup` with the real member and sender counts (A.7),
  timer reconsideration, members timed out (`expire`) and removed on BYE;
- every compound heard on the group's port fills the member table; the server's (from its
  address, sent by the stream's source) also goes to `ReceiverRtcp`, for the SR's LSR/DLSR
  and the RTT, and for its BYE, which ends the stream as in unicast;
- the stream's source speaks only from the server's address, in RTCP as in RTP: what another
  address says in its name (an SR, an SDES chunk, a BYE naming it) is struck out before the
  member table sees it, and counted (`foreign`), so that no member can make the others
  drop the server from their tables;
- each RTP packet of the stream makes the server a member and a sender (`heard_rtp`);
- another source using our SSRC (§8.2) gets a BYE for it, and we go on with a new one;
- at TEARDOWN the BYE goes to the group (`leave`, §6.3.7).

`members` and `interval` are the group's as the stream ended: live while it plays, and kept
from the moment the server's BYE arrives (counted before it leaves) or we leave, so that the
members leaving after the end do not make the figure depend on who tore down first.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable

from rtsplab.rtcp.app import App
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.compound import decode_compound
from rtsplab.rtcp.group import Address, Collision, RtcpGroup
from rtsplab.rtcp.packet import RtcpError, RtcpPacket
from rtsplab.rtcp.reports import ReceiverReport, SenderReport
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtcp.session import ReceiverRtcp
from rtsplab.rtcp.timing import TWO_PARTY_MEMBERS
from rtsplab.rtcp.xr import ExtendedReport

log = logging.getLogger(__name__)

Build = Callable[[ReceiverRtcp, float, float], bytes]  # (rtcp, now, wall) -> compound packet
# §8.2: a new SSRC already in the member table is drawn again; 32 random bits collide with
# a lab's group about never, so a few draws are plenty and the loop is bounded.
SSRC_DRAWS = 16
BYE_REASON_COLLISION = "SSRC collision"


class ClientRtcp:
    def __init__(
        self,
        session: ReceiverRtcp,
        send: Callable[[bytes], object] | None,
        *,
        group: RtcpGroup | None = None,
        server_ip: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        new_ssrc: Callable[[], int] = lambda: secrets.randbits(32),
    ) -> None:
        """`send` carries a compound packet to the server, or to the group; None when there
        is no way (the client's RTCP port was taken, or the server named no RTCP port).
        `group`: a multicast session's member state, whose SSRC is `session`'s; `server_ip`
        is the RTSP server's address, where its RTCP comes from. The clocks (monotonic and
        Unix seconds) and the SSRC source are injectable for tests."""
        if group is not None and group.ssrc != session.ssrc:
            raise ValueError("the group and the session must have one SSRC")
        self.session = session
        self.group = group
        self.server_ip = server_ip
        self._send = send
        self._clock, self._wall = clock, wall_clock
        self._new_ssrc = new_ssrc
        self._lock = threading.Lock()
        self._kept: tuple[int, float] | None = None  # members and Td as the stream ended
        self.foreign = 0  # group compounds from elsewhere that spoke for the stream's source

    # -- what the session is -------------------------------------------------------------

    @property
    def members(self) -> int:
        """The group's size as §6.3 counts it, ourselves included (2 in unicast)."""
        if self.group is None:
            return TWO_PARTY_MEMBERS
        with self._lock:
            return self._kept[0] if self._kept else self.group.members

    @property
    def interval(self) -> float:
        """The report interval Td (§6.3.1, deterministic): the group's or the schedule's."""
        with self._lock:
            if self.group is None:
                return self.session.deterministic_interval()
            return self._kept[1] if self._kept else self.group.deterministic_interval()

    def playing_again(self) -> None:
        """A PLAY after the end of the stream: the figures follow the group live again."""
        with self._lock:
            if self.group is not None and not (self.group.leaving or self.group.left):
                self._kept = None

    # -- sending -------------------------------------------------------------------------

    def send(self, build: Build) -> None:
        """Build a compound packet with `build(rtcp, now, wall)` and send it."""
        with self._lock:
            if self._send is None:
                return
            self._transmit(build(self.session, self._clock(), self._wall()))

    def report_if_due(self) -> None:
        """Send a report if one is due: the group's timer in multicast (after timing out
        the members gone silent), the two-party schedule otherwise."""
        group = self.group
        if group is None:
            if self.session.due(self._clock()):
                self.send(lambda rtcp, now, wall: rtcp.report(now, wall))
            return
        with self._lock:
            now = self._clock()
            gone = group.expire(now)
            if gone:
                log.info("RTCP members timed out: %s", ", ".join(f"{s:08X}" for s in gone))
            if self._send is None or not group.due(now):
                return
            report = self.session.report(now, self._wall())
            self._transmit(report)
            group.on_sent(len(report), now)

    def leave(self, reason: str | None = None) -> None:
        """TEARDOWN: our BYE, to the server or the group. §6.3.7 in a group: no BYE if we
        never sent RTCP; at once in a group of at most 50; in a larger one the BYE would wait
        out a back-off longer than a TEARDOWN should, so we leave without it and the members
        time us out (logged)."""
        group = self.group
        if group is None:
            self.send(lambda rtcp, now, wall: rtcp.bye(now, wall, reason))
            return
        with self._lock:
            if group.leaving or group.left:
                return
            if self._kept is None:  # not kept at the server's BYE: the group as we leave it
                self._keep()
            if self._send is None:
                return
            now = self._clock()
            bye = self.session.bye(now, self._wall(), reason)
            if not group.leave(len(bye), now):
                return  # never sent anything: a BYE MUST NOT be sent (§6.3.7)
            if group.due(now):
                self._transmit(bye)
                group.on_sent(len(bye), now)
            else:
                log.info(
                    "leaving an RTCP group of %d members without a BYE (RFC 3550 §6.3.7's "
                    "back-off): they will time us out", group.member_count,
                )  # fmt: skip

    # -- receiving -----------------------------------------------------------------------

    def receive(self, datagram: bytes) -> None:
        """A datagram from the server's RTCP port (unicast)."""
        with self._lock:
            self.session.receive(datagram, self._clock(), self._wall())

    def receive_from_group(self, datagram: bytes, source: Address) -> None:
        """A datagram from the group's RTCP port, from any member (multicast)."""
        group = self.group
        if group is None:
            raise RuntimeError("receive_from_group needs a group")
        with self._lock:
            try:
                packets = decode_compound(datagram)
            except RtcpError as exc:
                self.session.count_malformed(exc)
                return
            now, wall = self._clock(), self._wall()
            if self._from_server(packets, source):
                ended = self.session.peer_left
                self.session.receive_packets(packets, len(datagram), now, wall)
                if self.session.peer_left and not ended and self._kept is None:
                    self._keep()  # the group as the stream ended, the server still in it
            elif source[0] != self.server_ip and self.session.media_ssrc is not None:
                honest, struck = _without_source(packets, self.session.media_ssrc)
                if struck:
                    self.foreign += 1
                    if self.foreign == 1:
                        log.warning("ignoring RTCP from %s:%s in the name of the stream's "
                                    "source %08X", source[0], source[1],
                                    self.session.media_ssrc)  # fmt: skip
                    if not honest:
                        return
                    packets = honest
            collision = group.on_rtcp(packets, len(datagram), source, now)
            if collision is not None:
                self._resolve(collision, now, wall)

    def heard_rtp(self, ssrc: int, source: Address) -> None:
        """An RTP packet of the session's stream (multicast): its source is a member and a
        sender (§6.3.3), which the report interval counts."""
        group = self.group
        if group is None:
            return
        with self._lock:
            now = self._clock()
            collision = group.on_rtp(ssrc, source, now)
            if collision is not None:
                self._resolve(collision, now, self._wall())

    # -- inside --------------------------------------------------------------------------

    def _from_server(self, packets: list[RtcpPacket], source: Address) -> bool:
        """A compound the server sent: from its address, and by the stream's source when
        that is known (other members may share the server's host)."""
        if self.server_ip is None or not packets or source[0] != self.server_ip:
            return False
        media, first = self.session.media_ssrc, packets[0]
        sender = first.ssrc if isinstance(first, SenderReport | ReceiverReport) else None
        return media is None or sender == media

    def _resolve(self, collision: Collision, now: float, wall: float) -> None:
        """§8.2: another source uses our SSRC. A BYE for it, then a new random one that no
        member uses; the old one becomes the other source's entry."""
        assert self.group is not None
        old = self.session.ssrc
        self._transmit(self.session.bye(now, wall, BYE_REASON_COLLISION))
        for _ in range(SSRC_DRAWS):
            new = self._new_ssrc()
            try:
                self.group.change_ssrc(new, now)
            except ValueError:
                continue  # in use (or not 32 bits): draw again
            self.session.ssrc = new
            log.warning("RTCP: SSRC %08X is also used by %s (%s): now %08X", old,
                        collision.address, collision.cname or "no CNAME", new)  # fmt: skip
            return
        log.error("RTCP: no free SSRC in %d draws after a collision; keeping %08X",
                  SSRC_DRAWS, old)  # fmt: skip

    def _keep(self) -> None:
        assert self.group is not None
        self._kept = (self.group.members, self.group.deterministic_interval())

    def _transmit(self, datagram: bytes) -> None:
        if self._send is None:
            return
        try:
            self._send(datagram)
        except OSError as exc:
            log.debug("RTCP not sent: %s", exc)


def _without_source(packets: list[RtcpPacket], ssrc: int) -> tuple[list[RtcpPacket], bool]:
    """`packets` with whatever speaks for `ssrc` struck out: its SR, RR, XR and APP, its SDES
    chunks, and its SSRC in a BYE; and whether anything was. Report blocks about it stay:
    they are others' news of it, not its own word."""
    kept: list[RtcpPacket] = []
    for packet in packets:
        if isinstance(packet, SenderReport | ReceiverReport | ExtendedReport | App):
            if packet.ssrc != ssrc:
                kept.append(packet)
        elif isinstance(packet, SourceDescription):
            chunks = [chunk for chunk in packet.chunks if chunk.ssrc != ssrc]
            if len(chunks) == len(packet.chunks):
                kept.append(packet)
            elif chunks:
                kept.append(SourceDescription(chunks))
        elif isinstance(packet, Bye):
            sources = [source for source in packet.sources if source != ssrc]
            if len(sources) == len(packet.sources):
                kept.append(packet)
            elif sources:
                kept.append(Bye(sources, packet.reason))
        else:
            kept.append(packet)
    unchanged = len(kept) == len(packets) and all(
        a is b for a, b in zip(kept, packets, strict=True)
    )
    return kept, not unchanged
