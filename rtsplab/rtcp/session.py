"""Each side's RTCP for one session (RFC 3550 §6): what to send, when, and what came back.

Pure: the caller owns the socket and passes in two clocks — `now`, monotonic seconds, for
timers and delays, and `wall`, Unix seconds, for the NTP timestamps on the wire.

The server is the sender. It sends SR + SDES CNAME at the §6.2 interval, and BYE at the end of
the file and at TEARDOWN; it reads the client's RR for loss and jitter, and the RTT from the
RR's LSR/DLSR (§6.4.1).

The client is a receiver. It sends RR + SDES CNAME at the same rules, and BYE at TEARDOWN. A
receiver gets no report block about itself (it sends no RTP), so for its own round-trip time
it adds an XR RRTR block (RFC 3611 §4.4) to its reports; the server answers with XR DLRR, and
RTT = arrival − LRR − DLRR, the same arithmetic as LSR/DLSR.

A datagram that is not valid RTCP, or comes from anyone but the peer, is counted and skipped.

In a multicast session the client is one member of a group: when to report is the group's
(`rtsplab.rtcp.group.RtcpGroup`, with the real member and sender counts), and the driver,
which decodes each compound from the group once, hands the server's to `receive_packets`.
"""

from __future__ import annotations

import logging
import random
import secrets
from dataclasses import dataclass

from RtpPacket import JPEG_CLOCK_RATE
from rtsplab.ntp import MAX_U32, NTP_SHORT_UNITS, ntp_from_unix, ntp_middle32
from rtsplab.rtcp.app import App
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.compound import decode_compound, encode_compound
from rtsplab.rtcp.packet import RtcpError, RtcpPacket
from rtsplab.rtcp.reports import (
    FRACTION_LOST_UNITS,
    ReceiverReport,
    ReportBlock,
    SenderReport,
    round_trip_time,
)
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtcp.timing import (
    COMPENSATION,
    RANDOM_LOW,
    RTCP_BANDWIDTH_FRACTION,
    TWO_PARTY_MEMBERS,
    RtcpSchedule,
    rtcp_interval,
)
from rtsplab.rtcp.xr import DlrrItem, ExtendedReport
from rtsplab.rtp.reception import ReceptionStatistics
from rtsplab.rtp.sender import RtpSender

log = logging.getLogger(__name__)


@dataclass
class PeerReport:
    """What the last reception report from the client says, for the server's log."""

    fraction_lost: float  # in the last interval, 0..1
    cumulative_lost: int
    highest_seq: int
    jitter_ms: float
    rtt_ms: float | None

    def __str__(self) -> str:
        rtt = "?" if self.rtt_ms is None else f"{self.rtt_ms:.2f}"
        return (
            f"loss {self.fraction_lost:.1%} (cumulative {self.cumulative_lost}), "
            f"jitter {self.jitter_ms:.2f} ms, RTT {rtt} ms"
        )


class _MeanDraw:
    """An rng at the middle of [0, 1): A.7's random factor, random() + 0.5, is exactly 1."""

    def random(self) -> float:
        return 1 - RANDOM_LOW


_MEAN_DRAW = _MeanDraw()


class _Endpoint:
    """What both sides share: an SSRC, a CNAME, a timer, and a count of bad datagrams."""

    def __init__(
        self, ssrc: int, cname: str, session_bandwidth: float, now: float, *, we_sent: bool,
        reduced_minimum: bool, rng: random.Random | None,
    ) -> None:  # fmt: skip
        self.ssrc = ssrc
        self.cname = cname
        self.schedule = RtcpSchedule(
            RTCP_BANDWIDTH_FRACTION * session_bandwidth, now, we_sent=we_sent,
            reduced_minimum=reduced_minimum, rng=rng or random.Random(),
        )  # fmt: skip
        self.malformed = 0  # datagrams that were not valid RTCP
        self.peer_left = False  # the peer sent BYE

    def due(self, now: float) -> bool:
        """Whether a report is due at `now` (RFC 3550 §6.3.6, see `RtcpSchedule.due`)."""
        return self.schedule.due(now)

    def deterministic_interval(self) -> float:
        """§6.3.1's Td for this two-party session: max(Tmin, n * C) with members = 2, without
        the random factor or A.7's compensation: the mean spacing of the reports, as
        `RtcpGroup.deterministic_interval` gives it for a group."""
        s = self.schedule
        t = rtcp_interval(
            TWO_PARTY_MEMBERS, s.senders, s.rtcp_bw, s.we_sent, s.avg_rtcp_size, s.initial,
            rng=_MEAN_DRAW, reduced_minimum=s.reduced_minimum,
        )  # fmt: skip
        return t * COMPENSATION

    def receive(self, datagram: bytes, now: float, wall: float) -> list[RtcpPacket]:
        """Decode a compound datagram from the peer; [] (and counted) when it is not RTCP."""
        try:
            packets = decode_compound(datagram)
        except RtcpError as exc:
            self.count_malformed(exc)
            return []
        return self.receive_packets(packets, len(datagram), now, wall)

    def count_malformed(self, exc: RtcpError) -> None:
        """A datagram that is not RTCP: counted, and the first one logged."""
        self.malformed += 1
        if self.malformed == 1:
            log.warning("skipping a malformed RTCP datagram: %s", exc)

    def receive_packets(
        self, packets: list[RtcpPacket], size: int, now: float, wall: float
    ) -> list[RtcpPacket]:
        """Take a compound of `size` octets from the peer, already decoded."""
        self.schedule.on_received(size)
        for packet in packets:
            if isinstance(packet, Bye):
                self._heard_bye(packet)
        return packets

    def _heard_bye(self, bye: Bye) -> None:
        """The peer is leaving (RFC 3550 §6.6); the client's side checks whom BYE names."""
        self.peer_left = True

    def _compound(
        self, report: SenderReport | ReceiverReport, now: float, *extra: RtcpPacket
    ) -> bytes:
        data = encode_compound([report, SourceDescription.cname(self.ssrc, self.cname), *extra])
        self.schedule.on_sent(len(data), now)
        return data


class SenderRtcp(_Endpoint):
    """The server's RTCP for one session: the RTP source is `sender`."""

    def __init__(
        self, sender: RtpSender, cname: str, session_bandwidth: float, now: float, *,
        reduced_minimum: bool = False, rng: random.Random | None = None,
    ) -> None:  # fmt: skip
        super().__init__(sender.ssrc, cname, session_bandwidth, now, we_sent=True,
                         reduced_minimum=reduced_minimum, rng=rng)  # fmt: skip
        self.sender = sender
        self.peer: PeerReport | None = None
        # The client's SSRC: the reporter whose report blocks are about our stream.
        self.peer_ssrc: int | None = None
        self._rrtr: tuple[int, int, float] | None = None  # (peer SSRC, LRR, arrival)

    def report(self, now: float, wall: float) -> bytes:
        """SR + SDES, and a DLRR answering the client's last RRTR."""
        return self._compound(self._sender_report(now, wall), now, *self._dlrr(now))

    def bye(self, now: float, wall: float, reason: str | None = None) -> bytes:
        """SR + SDES + BYE: the source leaves (end of file, TEARDOWN)."""
        return self._compound(self._sender_report(now, wall), now, Bye([self.ssrc], reason))

    def receive(self, datagram: bytes, now: float, wall: float) -> list[RtcpPacket]:
        """Read the client's reports: its report block about us, and its RRTR to answer."""
        packets = super().receive(datagram, now, wall)
        for packet in packets:
            if isinstance(packet, ReceiverReport | SenderReport):
                for block in packet.reports:
                    if block.ssrc == self.sender.ssrc:
                        self.peer = self._peer_report(block, wall)
                        self.peer_ssrc = packet.ssrc
            elif isinstance(packet, ExtendedReport) and packet.rrtr is not None:
                self._rrtr = (packet.ssrc, ntp_middle32(packet.rrtr), now)
        return packets

    def names_session(self, packets: list[RtcpPacket]) -> bool:
        """Whether packets `receive` returned belong to this session, and so show the client
        alive: a report block about our stream, or any packet from the client's SSRC (the
        reporter that has sent one). Valid RTCP about other sources is no sign of life."""
        for packet in packets:
            if isinstance(packet, ReceiverReport | SenderReport) and any(
                block.ssrc == self.sender.ssrc for block in packet.reports
            ):
                return True
            if self.peer_ssrc is not None and self.peer_ssrc in _sources(packet):
                return True
        return False

    def _sender_report(self, now: float, wall: float) -> SenderReport:
        s = self.sender
        return SenderReport(self.ssrc, ntp_from_unix(wall), s.timestamp_at(now),
                            s.packets_sent & MAX_U32, s.octets_sent & MAX_U32)  # fmt: skip

    def _dlrr(self, now: float) -> list[ExtendedReport]:
        if self._rrtr is None:
            return []
        peer, lrr, arrival = self._rrtr
        delay = round((now - arrival) * NTP_SHORT_UNITS) & MAX_U32
        return [ExtendedReport(self.ssrc, dlrr=[DlrrItem(peer, lrr, delay)])]

    def _peer_report(self, block: ReportBlock, wall: float) -> PeerReport:
        rtt = round_trip_time(block, ntp_from_unix(wall))
        return PeerReport(
            fraction_lost=block.fraction_lost / FRACTION_LOST_UNITS,
            cumulative_lost=block.cumulative_lost,
            highest_seq=block.highest_seq,
            jitter_ms=block.jitter * 1000 / JPEG_CLOCK_RATE,
            rtt_ms=None if rtt is None else rtt * 1000,
        )


def _sources(packet: RtcpPacket) -> list[int]:
    """The SSRCs a packet speaks for: its sender's, each SDES chunk's, each leaving one's."""
    if isinstance(packet, SenderReport | ReceiverReport | ExtendedReport | App):
        return [packet.ssrc]
    if isinstance(packet, SourceDescription):
        return [chunk.ssrc for chunk in packet.chunks]
    if isinstance(packet, Bye):
        return list(packet.sources)
    return []


class ReceiverRtcp(_Endpoint):
    """The client's RTCP for one session; `reception` is fed by the RTP path."""

    def __init__(
        self, reception: ReceptionStatistics, cname: str, session_bandwidth: float, now: float, *,
        ssrc: int | None = None, reduced_minimum: bool = False, rng: random.Random | None = None,
    ) -> None:  # fmt: skip
        super().__init__(secrets.randbits(32) if ssrc is None else ssrc, cname,
                         session_bandwidth, now, we_sent=False,
                         reduced_minimum=reduced_minimum, rng=rng)  # fmt: skip
        self.reception = reception
        # The server's SSRC: the driver sets it from the SETUP reply's ssrc=, or from the RTP
        # source `rtsplab.rtp.receiver.RtpReceiver` locked onto.
        self.media_ssrc: int | None = None
        self.rtt: float | None = None  # seconds, from the last DLRR
        self.foreign_byes = 0  # BYEs not naming media_ssrc, or heard before it was known

    def report(self, now: float, wall: float) -> bytes:
        """RR + SDES + XR RRTR (so that the server's DLRR gives us the round trip)."""
        return self._compound(self._receiver_report(now), now,
                              ExtendedReport(self.ssrc, rrtr=ntp_from_unix(wall)))  # fmt: skip

    def bye(self, now: float, wall: float, reason: str | None = None) -> bytes:
        """RR + SDES + BYE: the client leaves (TEARDOWN)."""
        return self._compound(self._receiver_report(now), now, Bye([self.ssrc], reason))

    def receive_packets(
        self, packets: list[RtcpPacket], size: int, now: float, wall: float
    ) -> list[RtcpPacket]:
        """Read the server's SR (for LSR/DLSR) and its DLRR answering our RRTR (for RTT)."""
        packets = super().receive_packets(packets, size, now, wall)
        for packet in packets:
            if isinstance(packet, SenderReport) and packet.ssrc == self.media_ssrc:
                self.reception.on_sender_report(packet.ntp_timestamp, now)
            elif isinstance(packet, ExtendedReport):
                for item in packet.dlrr:
                    if item.ssrc == self.ssrc and item.lrr:
                        arrival = ntp_middle32(ntp_from_unix(wall))
                        delay = (arrival - item.lrr - item.dlrr) & MAX_U32
                        if delay <= MAX_U32 // 2:  # a small negative result is rounding: ignore it
                            self.rtt = delay / NTP_SHORT_UNITS
        return packets

    def _heard_bye(self, bye: Bye) -> None:
        """Only the session's media source leaving ends it (§6.6: BYE names the SSRCs that
        leave): a BYE naming others, or heard before the source is known, is ignored."""
        if self.media_ssrc is not None and self.media_ssrc in bye.sources:
            self.peer_left = True
            return
        self.foreign_byes += 1
        if self.foreign_byes == 1:
            named = ", ".join(f"{ssrc:08X}" for ssrc in bye.sources) or "none"
            media = "not known yet" if self.media_ssrc is None else f"{self.media_ssrc:08X}"
            log.warning("ignoring an RTCP BYE for SSRC %s: the media source is %s", named, media)

    def _receiver_report(self, now: float) -> ReceiverReport:
        if self.media_ssrc is None or not self.reception.valid:
            return ReceiverReport(self.ssrc)
        block = ReportBlock.from_reception(self.media_ssrc, self.reception.report(now))
        return ReceiverReport(self.ssrc, [block])
