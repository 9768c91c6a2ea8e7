"""UDP ports for a session's RTP and RTCP: RTP on an even port, RTCP on the next (RFC 3550 §11).

A unicast receiver binds its own pair (`bind_receiver_ports`). A member of a multicast group
(RFC 2326 §12.39 `RTP/AVP;multicast`) binds the group's pair, shared with every other member
on the same host, and joins the group on one interface (`bind_multicast_ports`).
"""

from __future__ import annotations

import errno
import logging
import socket
import sys

log = logging.getLogger(__name__)

PORT_PAIR_ATTEMPTS = 64  # ephemeral ports are even half the time; the next one is usually free
MAX_PORT = 0xFFFF
ANY_INTERFACE = "0.0.0.0"  # INADDR_ANY as IP_ADD_MEMBERSHIP's interface: the kernel's choice
# Linux and Windows share a multicast port among sockets that all set SO_REUSEADDR; the BSDs
# and macOS want SO_REUSEPORT for that. On Linux SO_REUSEPORT means something else (load
# balancing unicast among the sockets), so it is set only where it is what sharing takes.
_SHARE_WITH_REUSEPORT = sys.platform != "linux" and hasattr(socket, "SO_REUSEPORT")


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
    _ask_receive_buffer(rtp, rcvbuf)
    try:
        rtp.bind(("", port))
    except OSError:
        rtp.close()
        raise
    rtp.setblocking(False)  # read in batches until empty; a selector does the waiting
    rtcp = socket.socket(family, socket.SOCK_DGRAM)
    try:
        rtcp.bind(("", port + 1))
    except OSError as exc:
        rtcp.close()
        log.warning("no RTCP: cannot use port %d: %s", port + 1, exc.strerror)
        return rtp, None
    return rtp, rtcp


def _ask_receive_buffer(sock: socket.socket, rcvbuf: int) -> None:
    """Ask for a receive buffer of `rcvbuf` bytes (0 keeps the system's) and log what came."""
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    log.info("RTP receive buffer: asked for %d bytes, got %d", rcvbuf, granted)
    if granted < rcvbuf:
        log.warning(
            "RTP receive buffer is %d bytes; HD streams may lose packets "
            "(raise it with: sysctl -w net.core.rmem_max=%d)", granted, rcvbuf,
        )  # fmt: skip


def bind_multicast_socket(
    group: str, port: int, interface: str = ANY_INTERFACE, rcvbuf: int = 0,
    ttl: int | None = None,
) -> socket.socket:  # fmt: skip
    """A non-blocking UDP socket that receives what is sent to `group`:`port` (IPv4).

    The port is shared with the other members on this host (SO_REUSEADDR). The socket is
    bound to the group's address, so that it gets only that group's datagrams and no unicast
    ones to the same port (where the system cannot bind a multicast address, Windows, to all
    addresses instead), and it joins the group on `interface`: one of this host's IPv4
    addresses, or 0.0.0.0 for the interface the host's routes give the group. What it sends
    leaves by that interface with `ttl` (None keeps the system's, 1), and is looped back to
    the members on this host (IP_MULTICAST_LOOP): they hear each other's RTCP.

    OSError when the port cannot be had or the group cannot be joined; `group` and
    `interface` must be IPv4 address literals (ValueError otherwise).
    """
    group_bytes, interface_bytes = _ipv4(group, "group"), _ipv4(interface, "interface")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if _SHARE_WITH_REUSEPORT:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if rcvbuf:
            _ask_receive_buffer(sock, rcvbuf)
        try:
            sock.bind((group, port))
        except OSError as exc:
            if exc.errno not in (errno.EADDRNOTAVAIL, errno.EINVAL):
                raise
            sock.bind(("", port))  # a system that binds no multicast address
        # struct ip_mreq: the group, then the local interface's address (RFC 1112 §7.1).
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group_bytes + interface_bytes)
        _send_to_groups(sock, interface_bytes, ttl)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def multicast_sending_socket(interface: str, ttl: int | None = None) -> socket.socket:
    """A socket that sends to multicast groups by `interface` with `ttl` (None keeps the
    system's, 1), looped back to the members on this host; it joins no group."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        _send_to_groups(sock, _ipv4(interface, "interface"), ttl)
    except OSError:
        sock.close()
        raise
    return sock


def _send_to_groups(sock: socket.socket, interface: bytes, ttl: int | None) -> None:
    """The multicast sending options, written once: interface, loopback, TTL."""
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, interface)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)  # members on this host
    if ttl is not None:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)


def bind_multicast_ports(
    group: str, rtp_port: int, rtcp_port: int, interface: str = ANY_INTERFACE, rcvbuf: int = 0,
    ttl: int | None = None,
) -> tuple[socket.socket, socket.socket | None]:  # fmt: skip
    """A group member's RTP and RTCP sockets (`bind_multicast_socket`); the RTP socket's
    receive buffer asked to be `rcvbuf`. OSError when the RTP port cannot be had; the RTCP
    socket is None when its port cannot be (logged): RTCP is worth having, not worth failing
    for, as for `bind_receiver_ports`."""
    rtp = bind_multicast_socket(group, rtp_port, interface, rcvbuf, ttl)
    try:
        rtcp = bind_multicast_socket(group, rtcp_port, interface, 0, ttl)
    except OSError as exc:
        log.warning("no RTCP: cannot use %s port %d: %s", group, rtcp_port, exc.strerror or exc)
        return rtp, None
    return rtp, rtcp


def multicast_source_address(group: str, port: int, interface: str = ANY_INTERFACE) -> str:
    """The address this host's datagrams to `group`:`port` leave from, by `interface`: where
    our own packets, looped back, are heard from. Asked of the kernel with a UDP socket
    connected to the group (which sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, _ipv4(interface, "interface"))
        probe.connect((group, port))
        return str(probe.getsockname()[0])


def _ipv4(address: str, what: str) -> bytes:
    try:
        return socket.inet_pton(socket.AF_INET, address)
    except (OSError, TypeError):
        raise ValueError(f"the multicast {what} must be an IPv4 address, got {address!r}") from None
