"""Joining a multicast session's group, on the client (RFC 2326 §12.39, RFC 3550 §6.3).

After the SETUP reply has named the group, the client binds the group's RTP and RTCP ports,
shared with the other members on this host, and joins the group on an interface
(`rtsplab.rtp.ports.bind_multicast_ports`). RTP is still taken only from one address and the
SETUP reply's SSRC (the group's port is not the server's): the RTSP peer's, or the reply's
`source=` when it names one (`media_source`: a server with two interfaces sends the group's
stream from another than the one the client reached it at). RTCP is the group's
(`ClientRtcp` with an `RtcpGroup`): reports go to the group on its schedule, every member's
are read, and the server's SR and BYE count as in unicast, from that same address.
"""

from __future__ import annotations

import logging
import secrets
import time

from rtsplab.client.media import MediaSockets
from rtsplab.client.rtcp import NOMINAL_SESSION_BANDWIDTH, ClientRtcp
from rtsplab.client.transport_reply import GroupTransport
from rtsplab.errors import ClientError
from rtsplab.rtcp.group import RtcpGroup
from rtsplab.rtcp.session import ReceiverRtcp
from rtsplab.rtcp.timing import RTCP_BANDWIDTH_FRACTION
from rtsplab.rtp.ports import bind_multicast_ports, multicast_source_address
from rtsplab.rtp.reception import ReceptionStatistics

log = logging.getLogger(__name__)

CNAME_TOKEN_BYTES = 4  # a multicast CNAME's random part: 8 hex digits tell members apart


def media_source(group: GroupTransport | None, server_ip: str) -> str:
    """The address the session's RTP and the server's RTCP come from: the group's `source=`
    when the SETUP reply named one (RFC 2326 §12.39), else the RTSP server's. The reply came
    on the RTSP connection, so the source is the server's word, as its ports and SSRC are."""
    return server_ip if group is None or group.source is None else group.source


def join_group(group: GroupTransport, interface: str, rcvbuf: int) -> MediaSockets:
    """The group's RTP and RTCP ports, bound and joined on `interface`; ClientError naming
    the group, its ports and the interface when that fails."""
    try:
        rtp, rtcp = bind_multicast_ports(
            group.address, group.rtp_port, group.rtcp_port, interface, rcvbuf, group.ttl
        )
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ClientError(
            f"cannot join {group.address} ports {group.rtp_port}-{group.rtcp_port} on "
            f"interface {interface}: {why}"
        ) from None
    return MediaSockets(rtp, rtcp)


def group_rtcp(
    reception: ReceptionStatistics, group: GroupTransport, sockets: MediaSockets, *,
    media_ssrc: int | None, interface: str, fallback_ip: str, server_ip: str,
    reduced_minimum: bool, cname: str | None = None,
) -> ClientRtcp:  # fmt: skip
    """RTCP as a member of the group: reports to the group's RTCP port on the group's
    schedule. The CNAME names this client alone (§6.5.1), not just its host: members sharing
    a host also share the address their RTCP comes from, and only the CNAME then tells a
    collision of SSRCs from our own packets looped back (§8.2). `fallback_ip` names us when
    the host has no route to the group. `cname`: the one the session's other stream's
    reports carry (one participant, RFC 3550 §6.5.1), else a new one."""
    source_ip = _source_address(group, interface, fallback_ip)
    now = time.monotonic()
    cname = cname or f"client-{secrets.token_hex(CNAME_TOKEN_BYTES)}@{source_ip}"
    members = RtcpGroup(
        secrets.randbits(32), RTCP_BANDWIDTH_FRACTION * NOMINAL_SESSION_BANDWIDTH, now,
        cname=cname, reduced_minimum=reduced_minimum,
        own_addresses=[(source_ip, group.rtcp_port)],
    )  # fmt: skip
    engine = ReceiverRtcp(reception, cname, NOMINAL_SESSION_BANDWIDTH, now, group=members,
                          media_address=server_ip)  # fmt: skip
    engine.media_ssrc = media_ssrc
    send = sockets.rtcp_sender((group.address, group.rtcp_port))
    log.info("joined %s: RTP on %d from %s, RTCP on %d, as %s (SSRC %08X)", group.address,
             group.rtp_port, server_ip, group.rtcp_port, cname, engine.ssrc)  # fmt: skip
    return ClientRtcp(engine, send)


def _source_address(group: GroupTransport, interface: str, fallback_ip: str) -> str:
    """The address our datagrams to the group leave from (`multicast_source_address`), or
    `fallback_ip` when the host has no route to the group."""
    try:
        return multicast_source_address(group.address, group.rtcp_port, interface)
    except OSError as exc:  # no route to the group: what we send will not get far either
        log.warning("no route to %s: %s", group.address, exc.strerror or exc)
        return fallback_ip
