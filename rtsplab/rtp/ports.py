"""UDP ports for a session's RTP and RTCP: RTP on an even port, RTCP on the next (RFC 3550 §11)."""

from __future__ import annotations

import logging
import socket

log = logging.getLogger(__name__)

PORT_PAIR_ATTEMPTS = 64  # ephemeral ports are even half the time; the next one is usually free
MAX_PORT = 0xFFFF


def bind_port_pair(host: str) -> tuple[socket.socket, socket.socket]:
    """A UDP socket on an even ephemeral port for RTP, and one on the next port for RTCP,
    on `host` (an IPv4 or IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(PORT_PAIR_ATTEMPTS):
        rtp = socket.socket(family, socket.SOCK_DGRAM)
        rtp.bind((host, 0))
        port = rtp.getsockname()[1]
        if port % 2 == 0 and port < MAX_PORT:
            rtcp = socket.socket(family, socket.SOCK_DGRAM)
            try:
                rtcp.bind((host, port + 1))
                return rtp, rtcp
            except OSError:
                rtcp.close()
        rtp.close()
    raise OSError("no free pair of UDP ports for RTP and RTCP")


def bind_receiver_ports(
    port: int, rcvbuf: int, family: int = socket.AF_INET
) -> tuple[socket.socket, socket.socket | None]:
    """The receiver's RTP socket on `port`, non-blocking, its receive buffer asked to be
    `rcvbuf` bytes (0 keeps the system's), and its RTCP socket on `port + 1`, or None when
    that port is taken: RTCP is worth having, not worth failing for. OSError when the RTP
    port cannot be had. `family` is the server's: AF_INET, or AF_INET6."""
    rtp = socket.socket(family, socket.SOCK_DGRAM)
    if rcvbuf:
        rtp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    granted = rtp.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    log.info("RTP receive buffer: asked for %d bytes, got %d", rcvbuf, granted)
    if granted < rcvbuf:
        log.warning(
            "RTP receive buffer is %d bytes; HD streams may lose packets "
            "(raise it with: sysctl -w net.core.rmem_max=%d)", granted, rcvbuf,
        )  # fmt: skip
    try:
        rtp.bind(("", port))
    except OSError:
        rtp.close()
        raise
    rtp.setblocking(False)  # read in batches until empty; select() does the waiting
    rtcp = socket.socket(family, socket.SOCK_DGRAM)
    try:
        rtcp.bind(("", port + 1))
    except OSError as exc:
        rtcp.close()
        log.warning("no RTCP: cannot use port %d: %s", port + 1, exc.strerror)
        return rtp, None
    return rtp, rtcp
