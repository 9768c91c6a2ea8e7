"""The client's RTCP driver for one session: the engine (`ReceiverRtcp`, an `RtcpEndpoint`)
under one lock, the clocks, and the way its packets reach the server: a UDP socket to the
server's RTCP port, the RTSP connection's interleaved channel, or the group.

The receiving thread feeds it (`receive`, `heard_rtp`, `report_if_due`) and the thread that
tears down says BYE (`leave`); each call, and each figure read, takes the lock, so the engine
is never used by two threads at once. It calls nothing back: what the engine followed is
returned to the caller (`ClientMedia`, which takes its own lock first). The engine decides;
this only sends what it returns.

In unicast, RTCP is taken only from the server's RTCP port (`peer_rtcp`, the engine's rule;
the rest is counted, `foreign`). In a multicast session (the engine's group is not a group of
two) the client is one member of a group (RFC 3550 §6.3), and its reports go to the group's
RTCP port, where every member hears them: the group's timer with the real member and sender
counts, members timed out and removed on BYE; the server's compounds (from its address and
RTCP port) feed the reception statistics, and what another address says in the stream
source's name is struck out and counted (`foreign`). When the server changes SSRC (a
collision, §8.2) and introduces the new one with its CNAME, the stream goes on under it
(`receive` returns the change, for the RTP side to follow).

`members` and `interval` are the group's as the stream ended: live while it plays, and kept
from the moment the server's BYE arrives (counted before it leaves) or we leave, so that the
members leaving after the end do not make the figure depend on who tore down first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from RtpPacket import SEQ_MOD
from rtsplab.rtcp.endpoint import MAX_NACK_ITEMS, Address, send_each
from rtsplab.rtcp.session import ReceiverRtcp
from rtsplab.rtp.nack import NackList
from rtsplab.rtp.reception import ReceptionStatistics

__all__ = ["NOMINAL_SESSION_BANDWIDTH", "ClientRtcp", "SourceChange", "unicast_rtcp"]

# RTCP's share is 5% of the session bandwidth (RFC 3550 §6.2); the client does not know the
# stream's before it starts, and at any real rate the 5 s minimum decides anyway.
NOMINAL_SESSION_BANDWIDTH = 2_000_000 / 8  # bytes/s: the lab's movie is about 2 Mbit/s

# RTP/AVPF's T_rr_interval (RFC 4585 §3.5.3), the spacing of regular reports while feedback
# may go early as often as the RTCP bandwidth allows: a report a second keeps the server's
# figures fresh at a few hundred bytes a second.
AVPF_REGULAR_SPACING = 1.0

T = TypeVar("T")
SourceChange = tuple[int, int]  # (old SSRC, new SSRC) of the media source, followed by CNAME


class ClientRtcp:
    def __init__(
        self,
        engine: ReceiverRtcp,
        send: Callable[[bytes], object] | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """`send` carries a compound packet to the server, or to the group; None when there
        is no way (the client's RTCP port was taken, or the server named no RTCP port).
        The clocks (monotonic and Unix seconds) are injectable for tests."""
        self.engine = engine
        self.multicast = not engine.group.two_party
        self._send = send
        self._clock, self._wall = clock, wall_clock
        self._lock = threading.Lock()
        self._kept: tuple[int, float] | None = None  # members and Td as the stream ended
        # Under RTP/AVPF: the packets missing, and how long a repair can still be shown.
        self.nacks: NackList | None = None
        self.repair_horizon = 0.0
        self.nacks_sent = 0  # early feedback packets sent

    # -- what the session is -------------------------------------------------------------

    @property
    def foreign(self) -> int:
        """RTCP not taken: datagrams from anywhere but the server's RTCP port (unicast), and
        compounds from elsewhere that spoke for the stream's source (a group)."""
        return self._read(lambda engine: engine.forged + engine.foreign)

    @property
    def malformed(self) -> int:
        """Datagrams that were not RTCP."""
        return self._read(lambda engine: engine.malformed)

    @property
    def rtt(self) -> float | None:
        """The round-trip time to the server, seconds (its DLRR for our RRTR), if known."""
        return self._read(lambda engine: engine.rtt)

    @property
    def media_ssrc(self) -> int | None:
        """The stream's source, as the reports name it."""
        return self._read(lambda engine: engine.media_ssrc)

    @property
    def peer_left(self) -> bool:
        """The stream's source said BYE (and no new SSRC of its took its place)."""
        return self._read(lambda engine: engine.peer_left)

    @property
    def reported(self) -> bool:
        """Whether a report of ours has gone out: only then may we say BYE (§6.3.7)."""
        return self._read(lambda engine: not engine.group.initial)

    @property
    def members(self) -> int:
        """The group's size as §6.3 counts it, ourselves included (2 in unicast)."""
        with self._lock:
            if not self.multicast:
                return max(2, self.engine.group.members)
            return self._kept[0] if self._kept else self.engine.group.members

    @property
    def interval(self) -> float:
        """The report interval Td (§6.3.1, deterministic), the group's as kept."""
        with self._lock:
            return self._kept[1] if self._kept else self.engine.deterministic_interval()

    def playing_again(self) -> None:
        """A PLAY after the end of the stream: a BYE is to come again, and the figures follow
        the group live again."""
        with self._lock:
            self.engine.peer_left = False
            group = self.engine.group
            if self.multicast and not (group.leaving or group.left):
                self._kept = None

    # -- sending -------------------------------------------------------------------------

    def report_if_due(self) -> None:
        """Send a report if one is due (after timing out the members gone silent)."""
        with self._lock:
            if self._send is not None:
                self._transmit(self.engine.tick(self._clock(), self._wall()))

    def leave(self, reason: str | None = None) -> None:
        """TEARDOWN: we leave the session (§6.3.7), with a BYE to the server or the group
        (at once in a group of two; none if we never reported). No report follows it."""
        with self._lock:
            if self.multicast and self._kept is None:
                self._keep()  # not kept at the server's BYE: the group as we leave it
            if self._send is None:
                return
            bye = self.engine.leave(self._clock(), self._wall(), reason)
            self._transmit([] if bye is None else [bye])

    def ask_for_repairs(self, horizon: float) -> None:
        """From now on, ask the server again for lost packets (RFC 4585 generic NACKs)
        while a repair can arrive within `horizon` seconds of the loss: the cache's depth."""
        with self._lock:
            self.nacks, self.repair_horizon = NackList(), horizon

    def heard_seq(self, seq: int) -> bool:
        """An RTP packet of the stream arrived: its extended sequence number (RFC 3550
        A.1), from which the missing ones are found. True when it was asked for again."""
        with self._lock:
            if self.nacks is None:
                return False
            now = self._clock()
            return self.nacks.arrived(seq, now, now + self.repair_horizon)

    def awaiting_repairs(self, now: float) -> bool:
        """Whether a packet asked for again may still come at `now` (its deadline ahead)."""
        with self._lock:
            return self.nacks is not None and self.nacks.awaiting(now)

    def repair_figures(self) -> dict[str, int]:
        """NACKs sent, and the packets they asked for: recovered, and given up."""
        with self._lock:
            counts = self.nacks.counts if self.nacks is not None else None
            return {
                "nacks_sent": self.nacks_sent,
                "recovered_packets": counts.recovered if counts else 0,
                "given_up_packets": counts.given_up if counts else 0,
            }

    def feedback_if_due(self) -> None:
        """Send a NACK of what is missing and due, when the timer lets feedback go early."""
        with self._lock:
            nacks, engine = self.nacks, self.engine
            if nacks is None or self._send is None or not engine.may_send_feedback():
                return
            now = self._clock()
            due = nacks.due(now, engine.rtt, MAX_NACK_ITEMS)
            if not due:
                return
            datagram = engine.feedback([seq % SEQ_MOD for seq in due], now, self._wall())
            if datagram is not None:
                self.nacks_sent += 1
                self._transmit([datagram])

    # -- receiving -----------------------------------------------------------------------

    def receive(self, datagram: bytes, source: Address | None = None) -> list[SourceChange]:
        """A datagram from `source` (None: interleaved on the RTSP connection, the server's):
        in unicast taken only from the server's RTCP port, in a group from any member.
        Returns the SSRC changes of the stream's source it announced."""
        with self._lock:
            engine = self.engine
            ended = engine.peer_left
            before = (engine.group.members, engine.group.deterministic_interval())
            changes = self._after(engine.receive(datagram, self._clock(), self._wall(), source))
            if self.multicast and engine.peer_left and not ended and self._kept is None:
                self._kept = before  # the group as the stream ended, the server still in it
            return changes

    def heard_rtp(self, ssrc: int, source: Address) -> None:
        """An RTP packet of the session's stream, from `ssrc`: the source the reports are
        about and whose BYE ends the stream; in a group, also a member and a sender (§6.3.3),
        which the report interval counts."""
        with self._lock:
            self.engine.media_ssrc = ssrc
            if self.multicast:
                self._after(self.engine.heard_rtp(ssrc, source, self._clock(), self._wall()))

    # -- inside --------------------------------------------------------------------------

    def _after(self, datagrams: list[bytes]) -> list[SourceChange]:
        """Send what the engine returned; the source changes it followed, handed over."""
        self._transmit(datagrams)
        changes, self.engine.source_changes = self.engine.source_changes, []
        return changes

    def _read(self, figure: Callable[[ReceiverRtcp], T]) -> T:
        with self._lock:
            return figure(self.engine)

    def _keep(self) -> None:
        group = self.engine.group
        self._kept = (group.members, group.deterministic_interval())

    def _transmit(self, datagrams: list[bytes]) -> None:
        if self._send is not None:
            send_each(self._send, datagrams, "client")


def unicast_rtcp(
    reception: ReceptionStatistics, cname: str, send: Callable[[bytes], object] | None, *,
    media_ssrc: int | None, reduced_minimum: bool, peer_rtcp: tuple[str, int | None] | None,
    feedback: bool = False,
) -> ClientRtcp:  # fmt: skip
    """RTCP with the server alone: a two-party session (RFC 3550 §6.3), taken only from
    `peer_rtcp` (the server's host, and its RTCP port when known; None: interleaved).
    `feedback`: the session is RTP/AVPF (RFC 4585): early feedback, regular reports every
    AVPF_REGULAR_SPACING."""
    engine = ReceiverRtcp(reception, cname, NOMINAL_SESSION_BANDWIDTH, time.monotonic(),
                          reduced_minimum=reduced_minimum, peer_rtcp=peer_rtcp,
                          regular_spacing=AVPF_REGULAR_SPACING if feedback else None)  # fmt: skip
    engine.media_ssrc = media_ssrc
    return ClientRtcp(engine, send)
