"""The server as the status page shows it (`rtsplab.server.status`): each connection's
session with what its client's receiver reports say, each multicast group with its members,
the limits and the totals. Read from the workers without stopping them: every figure is one
read of a value the worker's threads keep current.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rtsplab.server.status import GroupStatus, ServerStatus, SessionStatus
from rtsplab.server.transports import Channels

if TYPE_CHECKING:
    from rtsplab.server.multicast import MulticastStreams
    from ServerWorker import ServerWorker


def session_status(worker: ServerWorker, now: float) -> SessionStatus | None:
    """One worker's session, None before SETUP."""
    session = worker.session
    setup = session.setup
    if setup is None or session.session_id is None:
        return None
    sender = setup.sender
    if setup.group is not None:
        transport = "multicast"
    else:
        transport = "tcp" if isinstance(setup.way, Channels) else "udp"
    seconds = max(1e-3, now - worker.set_up_at)
    rtcp = worker.rtcp  # once: the session may end its RTCP meanwhile
    peer = rtcp.peer if rtcp is not None else None
    ip, port = worker.address
    return SessionStatus(
        session=session.session_id, client=f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}",
        file=setup.path.name, dialect="standard" if setup.standard else "lab",
        transport=transport, state=session.state.name.lower(),
        packets_sent=sender.packets_sent, bytes_sent=sender.octets_sent,
        rate_bps=8 * sender.octets_sent / seconds,
        fraction_lost=None if peer is None else peer.fraction_lost,
        cumulative_lost=None if peer is None else peer.cumulative_lost,
        jitter_seconds=None if peer is None else peer.jitter_ms / 1000,
        round_trip_seconds=None if peer is None or peer.rtt_ms is None else peer.rtt_ms / 1000,
    )  # fmt: skip


def server_status(
    workers: list[ServerWorker], groups: MulticastStreams | None, *, started: float,
    max_clients: int, sessions_allowed: int, accepted: int, refused: int,
) -> ServerStatus:  # fmt: skip
    now = time.monotonic()
    sessions = [s for w in workers if (s := session_status(w, now)) is not None]
    group_list = [] if groups is None else [
        GroupStatus(f"{g.group}:{g.port}", g.path.name, g.rtcp.rtcp.group.members)
        for g in groups.streams()
    ]  # fmt: skip
    return ServerStatus(
        started=started, max_clients=max_clients, sessions_allowed=sessions_allowed,
        connections=len(workers), connections_total=accepted, refused_total=refused,
        sessions=sessions, groups=group_list, files=sorted({s.file for s in sessions}),
    )  # fmt: skip
