"""The client's RTCP driver for one session: the engine (`ReceiverRtcp`, an `RtcpEndpoint`)
under one lock, the clocks, and the way its packets reach the server: a UDP socket to the
server's RTCP port, the RTSP connection's interleaved channel, or the group.

The receiving thread feeds it (`receive`, `receive_from_group`, `heard_rtp`, `report_if_due`)
and the thread that tears down says BYE (`leave`); each call takes the lock, so the engine is
never used by two threads at once. The engine decides; this only sends what it returns.

In a multicast session (`group` given) the client is one member of a group (RFC 3550 §6.3),
and its reports go to the group's RTCP port, where every member hears them: the group's
timer with the real member and sender counts, members timed out and removed on BYE; the
server's compounds (from its address and RTCP port) feed the reception statistics, and what
another address says in the stream source's name is struck out and counted (`foreign`). When
the server changes SSRC (a collision, §8.2) and introduces the new one with its CNAME, the
stream goes on under it (`on_source_change` tells the RTP side).

`members` and `interval` are the group's as the stream ended: live while it plays, and kept
from the moment the server's BYE arrives (counted before it leaves) or we leave, so that the
members leaving after the end do not make the figure depend on who tore down first.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

from rtsplab.rtcp.endpoint import SSRC_DRAWS, Address, send_each
from rtsplab.rtcp.group import RtcpGroup
from rtsplab.rtcp.session import ReceiverRtcp

__all__ = ["SSRC_DRAWS", "ClientRtcp"]

Build = Callable[[ReceiverRtcp, float, float], bytes]  # (rtcp, now, wall) -> compound packet


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
        on_source_change: Callable[[int, int], object] | None = None,
    ) -> None:
        """`send` carries a compound packet to the server, or to the group; None when there
        is no way (the client's RTCP port was taken, or the server named no RTCP port).
        `group`: a multicast session's member state, whose SSRC is `session`'s; `server_ip`
        is the RTSP server's address, where its RTCP comes from. The clocks (monotonic and
        Unix seconds) and the SSRC source are injectable for tests. `on_source_change(old,
        new)`: the media source changed SSRC and is followed (the RTP side follows too)."""
        if group is not None:
            session.join_group(group, server_ip)
        session.new_ssrc = new_ssrc
        self.session = session
        self.group = group
        self.server_ip = server_ip
        self._send = send
        self._clock, self._wall = clock, wall_clock
        self._on_source_change = on_source_change
        self._lock = threading.Lock()
        self._kept: tuple[int, float] | None = None  # members and Td as the stream ended

    # -- what the session is -------------------------------------------------------------

    @property
    def foreign(self) -> int:
        """Group compounds from elsewhere that spoke for the stream's source."""
        return self.session.foreign

    @property
    def members(self) -> int:
        """The group's size as §6.3 counts it, ourselves included (2 in unicast)."""
        with self._lock:
            if self.group is None:
                return max(2, self.session.group.members)
            return self._kept[0] if self._kept else self.group.members

    @property
    def interval(self) -> float:
        """The report interval Td (§6.3.1, deterministic), the group's as kept."""
        with self._lock:
            return self._kept[1] if self._kept else self.session.deterministic_interval()

    def playing_again(self) -> None:
        """A PLAY after the end of the stream: the figures follow the group live again."""
        with self._lock:
            if self.group is not None and not (self.group.leaving or self.group.left):
                self._kept = None

    # -- sending -------------------------------------------------------------------------

    def send(self, build: Build) -> None:
        """Build a compound packet with `build(rtcp, now, wall)` and send it."""
        with self._lock:
            if self._send is not None:
                self._transmit([build(self.session, self._clock(), self._wall())])

    def report_if_due(self) -> None:
        """Send a report if one is due (after timing out the members gone silent)."""
        with self._lock:
            if self._send is not None:
                self._transmit(self.session.tick(self._clock(), self._wall()))

    def leave(self, reason: str | None = None) -> None:
        """TEARDOWN: our BYE, to the server or the group (§6.3.7 in a group)."""
        with self._lock:
            if self.group is not None and self._kept is None:
                self._keep()  # not kept at the server's BYE: the group as we leave it
            if self._send is None:
                return
            now, wall = self._clock(), self._wall()
            if self.group is None:
                self._transmit([self.session.bye(now, wall, reason)])
                return
            bye = self.session.leave(now, wall, reason)
            self._transmit([] if bye is None else [bye])

    # -- receiving -----------------------------------------------------------------------

    def receive(self, datagram: bytes) -> None:
        """A datagram from the server's RTCP port (unicast)."""
        with self._lock:
            self._after(self.session.receive(datagram, self._clock(), self._wall()))

    def receive_from_group(self, datagram: bytes, source: Address) -> None:
        """A datagram from the group's RTCP port, from any member (multicast)."""
        if self.group is None:
            raise RuntimeError("receive_from_group needs a group")
        with self._lock:
            ended = self.session.peer_left
            group = self.session.group
            before = (group.members, group.deterministic_interval())
            self._after(self.session.receive(datagram, self._clock(), self._wall(), source))
            if self.session.peer_left and not ended and self._kept is None:
                self._kept = before  # the group as the stream ended, the server still in it

    def heard_rtp(self, ssrc: int, source: Address) -> None:
        """An RTP packet of the session's stream (multicast): its source is a member and a
        sender (§6.3.3), which the report interval counts."""
        if self.group is None:
            return
        with self._lock:
            self._after(self.session.heard_rtp(ssrc, source, self._clock(), self._wall()))

    # -- inside --------------------------------------------------------------------------

    def _after(self, datagrams: list[bytes]) -> None:
        """Send what the engine returned, and pass on the source changes it followed."""
        self._transmit(datagrams)
        changes = self.session.source_changes
        while changes:
            old, new = changes.pop(0)
            if self._on_source_change is not None:
                self._on_source_change(old, new)

    def _keep(self) -> None:
        group = self.session.group
        self._kept = (group.members, group.deterministic_interval())

    def _transmit(self, datagrams: list[bytes]) -> None:
        if self._send is not None:
            send_each(self._send, datagrams, "client")
