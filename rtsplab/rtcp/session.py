"""The two roles of the RTCP engine (`rtsplab.rtcp.endpoint.RtcpEndpoint`), named for who
plays them in a session (RFC 3550 §6).

`SenderRtcp` is the server's: its RTP source is an `RtpSender`, it sends SR + SDES CNAME at
the §6.2 interval and BYE at the end of the file and at TEARDOWN, and reads its client's RR
for loss, jitter and the RTT (LSR/DLSR, §6.4.1), answering an RRTR with a DLRR.

`ReceiverRtcp` is the client's: it sends RR + SDES CNAME + XR RRTR (RFC 3611 §4.4: a receiver
gets no report block about itself, so the server's DLRR gives it its round trip), BYE at
TEARDOWN, and feeds the server's SR to its `ReceptionStatistics` for the LSR/DLSR it reports.

Both are the same engine configured differently: nothing here but the configuration.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from rtsplab.rtcp.endpoint import RtcpEndpoint
from rtsplab.rtcp.group import RtcpGroup
from rtsplab.rtcp.reports import PeerReport
from rtsplab.rtp.reception import ReceptionStatistics
from rtsplab.rtp.sender import RtpSender

__all__ = ["PeerReport", "ReceiverRtcp", "SenderRtcp"]


class SenderRtcp(RtcpEndpoint):
    """The server's RTCP for one session (or one multicast stream): the RTP source is
    `sender`; `peer_rtcp` is the client's RTCP address, when it announced one."""

    def __init__(
        self, sender: RtpSender, cname: str, session_bandwidth: float, now: float, *,
        reduced_minimum: bool = False, rng: random.Random | None = None,
        group: RtcpGroup | None = None, new_ssrc: Callable[[], int] | None = None,
        peer_rtcp: tuple[str, int | None] | None = None, regular_spacing: float | None = None,
    ) -> None:  # fmt: skip
        super().__init__(cname, session_bandwidth, now, sender=sender, group=group,
                         reduced_minimum=reduced_minimum, rng=rng, new_ssrc=new_ssrc,
                         peer_rtcp=peer_rtcp, regular_spacing=regular_spacing)  # fmt: skip


class ReceiverRtcp(RtcpEndpoint):
    """The client's RTCP for one session; `reception` is fed by the RTP path. Unicast:
    `peer_rtcp` is the server's RTCP address, when its SETUP reply named one (else its host
    and any port). Multicast: `group` is the member table, `media_address` the server's."""

    def __init__(
        self, reception: ReceptionStatistics, cname: str, session_bandwidth: float, now: float,
        *, ssrc: int | None = None, reduced_minimum: bool = False,
        rng: random.Random | None = None, new_ssrc: Callable[[], int] | None = None,
        group: RtcpGroup | None = None, media_address: str | None = None,
        peer_rtcp: tuple[str, int | None] | None = None, regular_spacing: float | None = None,
    ) -> None:  # fmt: skip
        super().__init__(cname, session_bandwidth, now, reception=reception, ssrc=ssrc,
                         reduced_minimum=reduced_minimum, rng=rng, new_ssrc=new_ssrc,
                         group=group, media_address=media_address, peer_rtcp=peer_rtcp,
                         regular_spacing=regular_spacing)  # fmt: skip
