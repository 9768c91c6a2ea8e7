"""What the class looks like, for the instructor: a snapshot of the server (its sessions with
each client's RTCP figures, its multicast groups, its limits and totals) and the two ways it
is read — JSON for the live page and the API, and Prometheus's text exposition format for
`/metrics`.

Pure: the server builds a `ServerStatus` when asked; nothing here touches a socket.

Metric names follow Prometheus's conventions: a `rtsplab_` prefix, base units in the name
(`_bytes`, `_seconds`, `_ratio`), `_total` on counters, one metric a figure with labels for
the session, never a figure in a label.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class SessionStatus:
    """One RTSP session as the server sees it, with what its client's receiver reports say
    (None until the first report)."""

    session: str  # the session id, as the Session header carries it
    client: str  # "address:port" of the RTSP connection
    file: str  # the path under the served root
    dialect: str  # "lab" or "standard"
    transport: str  # "udp", "tcp" (interleaved) or "multicast"
    state: str  # "ready" or "playing"
    packets_sent: int
    bytes_sent: int
    rate_bps: float  # bits a second, on average since SETUP
    fraction_lost: float | None = None  # 0..1, the last report's interval
    cumulative_lost: int | None = None
    jitter_seconds: float | None = None
    round_trip_seconds: float | None = None


@dataclass(frozen=True)
class GroupStatus:
    """A multicast stream: its group address and port, its file, the members its RTCP table
    counts (the server included)."""

    group: str
    file: str
    members: int


@dataclass(frozen=True)
class ServerStatus:
    started: float  # Unix seconds
    max_clients: int
    sessions_allowed: int  # what the descriptor limit allows
    connections: int  # open RTSP connections
    connections_total: int
    refused_total: int  # connections refused: over a cap
    sessions: list[SessionStatus] = field(default_factory=list)
    groups: list[GroupStatus] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # files being served now

    def as_json(self) -> dict[str, object]:
        return asdict(self)


_SESSION_LABELS = ("session", "client", "file", "dialect", "transport")

# (name, type, help, how to read it from a SessionStatus)
_SESSION_METRICS = (
    ("rtsplab_session_rtp_packets_sent_total", "counter", "RTP packets sent to the session",
     "packets_sent"),
    ("rtsplab_session_rtp_sent_bytes_total", "counter", "RTP payload bytes sent to the session",
     "bytes_sent"),
    ("rtsplab_session_rate_bits_per_second", "gauge", "The session's send rate", "rate_bps"),
    ("rtsplab_session_playing", "gauge", "1 while the session plays, 0 while it is paused",
     "playing"),
    ("rtsplab_session_fraction_lost_ratio", "gauge",
     "Fraction of packets lost in the last interval, from the client's receiver report",
     "fraction_lost"),
    ("rtsplab_session_lost_packets", "gauge",
     "Cumulative packets lost, from the client's receiver report", "cumulative_lost"),
    ("rtsplab_session_jitter_seconds", "gauge",
     "Interarrival jitter, from the client's receiver report", "jitter_seconds"),
    ("rtsplab_session_round_trip_seconds", "gauge",
     "Round-trip time to the client, from its receiver report (LSR/DLSR)",
     "round_trip_seconds"),
)  # fmt: skip


def prometheus_text(status: ServerStatus) -> str:
    """`status` in Prometheus's text exposition format (version 0.0.4)."""
    lines: list[str] = []

    def metric(
        name: str, kind: str, text: str, samples: list[tuple[dict[str, str], float]]
    ) -> None:
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{_labels(labels)} {_number(value)}" for labels, value in samples)

    metric("rtsplab_start_time_seconds", "gauge", "When the server started (Unix time)",
           [({}, status.started)])  # fmt: skip
    metric("rtsplab_max_clients", "gauge", "Connections the server takes at once",
           [({}, status.max_clients)])  # fmt: skip
    metric("rtsplab_sessions_allowed", "gauge", "Sessions the descriptor limit allows",
           [({}, status.sessions_allowed)])  # fmt: skip
    metric("rtsplab_connections", "gauge", "Open RTSP connections", [({}, status.connections)])
    metric("rtsplab_connections_total", "counter", "RTSP connections accepted",
           [({}, status.connections_total)])  # fmt: skip
    metric("rtsplab_connections_refused_total", "counter", "Connections refused over a cap",
           [({}, status.refused_total)])  # fmt: skip
    metric("rtsplab_sessions", "gauge", "RTSP sessions set up", [({}, len(status.sessions))])
    for name, kind, text, attribute in _SESSION_METRICS:
        samples = []
        for session in status.sessions:
            value = session.state == "playing" if attribute == "playing" else (
                getattr(session, attribute))  # fmt: skip
            if value is not None:
                labels = {label: str(getattr(session, label)) for label in _SESSION_LABELS}
                samples.append((labels, float(value)))
        metric(name, kind, text, samples)
    metric("rtsplab_multicast_members", "gauge", "Members of a multicast group's RTCP table",
           [({"group": g.group, "file": g.file}, g.members) for g in status.groups])  # fmt: skip
    return "\n".join(lines) + "\n"


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items()) + "}"


def _escape(value: str) -> str:
    """A label value as the text format quotes it: backslash, double quote, line feed."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))
