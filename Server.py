"""The RTSP server: `python Server.py <rtsp_port> [--root DIR] [--fps N] [--mtu BYTES] ...`
(`--help` lists every option).

It accepts RTSP connections and gives each one a `ServerWorker` thread (the lab's shape), which
streams MJPEG files from the served root as RTP over UDP to that client.
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import logging
import secrets
import socket
import ssl
import sys
import threading
import time
from pathlib import Path

from rtsplab.cli import int_in, positive, setup_logging
from rtsplab.rtp.pacer import BURST_PACKETS
from rtsplab.rtp.sender import DEFAULT_MAX_PACKET, MAX_MAX_PACKET, MIN_MAX_PACKET
from rtsplab.rtsp.message import RtspResponse
from rtsplab.rtsp.tls import server_context
from rtsplab.server.auth import Authenticator, Gate
from rtsplab.server.channel import unmapped
from rtsplab.server.impairment import ImpairmentConfig
from rtsplab.server.limits import describe as describe_limits
from rtsplab.server.limits import process_limits, sessions_allowed
from rtsplab.server.multicast import MulticastStreams
from rtsplab.server.pacing_loop import PacingLoop
from rtsplab.server.payload_cache import DEFAULT_CACHE_BYTES, PayloadCache
from rtsplab.server.session import MulticastConfig, StreamConfig
from rtsplab.server.snapshot import server_status
from rtsplab.server.status import ServerStatus
from rtsplab.server.status_http import StatusServer
from rtsplab.server.stream import Streaming
from rtsplab.server.udp_out import AUTO, MODES, OFF, Gso, gso_available
from rtsplab.server.users import UserDigests, read_users
from rtsplab.server.users import add_user as store_user
from ServerWorker import ServerWorker

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 16
# Each connection holds four descriptors (its TCP socket, its UDP pair, the file it plays;
# every wait is a poll(), which holds none) and two threads of its own: its RTSP thread and
# its writer, and a third, the lab's impaired link, while --loss and the like are on. Every
# session's RTP leaves from the server's one pacing loop, and every session's RTCP (a
# multicast stream's for all its members too) is one RTCP loop's; a multicast stream holds
# its file and three sockets. Capped, so that no client can exhaust the server's threads and
# descriptors and no one address can take every slot. At start the server raises its soft
# descriptor limit to the hard one and says how many sessions its limits hold
# (`rtsplab.server.limits`); past them accept() fails, and the server goes on.
MAX_CLIENTS = 256
MAX_PER_ADDRESS = 32  # 0: no limit
ACCEPT_RETRY = 0.1  # seconds to wait after a failed accept() before the next
REFUSAL_LOG_INTERVAL = 60.0  # seconds: a refused address is logged once a minute at most
REFUSAL_SEND_TIMEOUT = 1.0  # seconds the 503 may take to leave; the client may not read
SERVICE_UNAVAILABLE = 503
MIB = 2**20


class Server:
    """Listens on `host:port` and runs one worker per connection until `close()`."""

    def __init__(
        self, port: int, config: StreamConfig, host: str = "", *,
        max_clients: int = MAX_CLIENTS, max_per_address: int = MAX_PER_ADDRESS,
        gso: str = AUTO, cache_bytes: int = DEFAULT_CACHE_BYTES,
        tls: ssl.SSLContext | None = None,
    ) -> None:  # fmt: skip
        """At most `max_clients` connections, and `max_per_address` from one address (0: no
        limit); past either the client is told 503 and the connection closed. RTP bursts
        leave with UDP GSO where the kernel has it and `gso` says: on, off, or auto (when the
        load needs it: `rtsplab.server.udp_out.batching_pays`); frames are cut once for all
        sessions into a cache of `cache_bytes`. With `tls` the port speaks rtsps:// (RTSP over
        TLS, the media interleaved on the connection)."""
        self.config = config
        self.tls = tls
        rule = Gso(gso, None if gso == OFF else gso_available())
        log.info("%s", rule.describe())
        self.streaming = Streaming(PacingLoop(on_load=rule.update), PayloadCache(cache_bytes),
                                   rule)  # fmt: skip
        self.groups = None
        if config.multicast is not None:
            self.groups = MulticastStreams(config, self.streaming, host or "0.0.0.0")
            m = config.multicast
            log.info("multicast streams to %s from port %d, TTL %d, from interface %s",
                     m.group, m.port, m.ttl, m.interface)  # fmt: skip
        self.max_clients = max_clients
        self.max_per_address = max_per_address
        self._refusals_logged: dict[str, float] = {}  # address -> when last logged
        self.started = time.time()
        self.accepted = self.refused = 0  # connections, for the status page
        self.sessions_allowed = max_clients  # what the descriptor limit allows (main says)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET  # "::1", "::": IPv6
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and host == "::":
            # Dual stack: IPv4 clients too, as v4-mapped addresses (RFC 4291 §2.5.5.2), whatever
            # the system's net.ipv6.bindv6only says.
            self.listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        try:
            self.listener.bind((host, port))
        except OSError:
            self.listener.close()
            raise
        self.listener.listen(LISTEN_BACKLOG)
        self.port = self.listener.getsockname()[1]
        self.workers: list[ServerWorker] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.streaming.loop.start()  # last: nothing above can fail and leave it running

    def serve_forever(self) -> None:
        log.info(
            "serving %s on %s port %d at %g fps, RTP packets up to %d bytes",
            self.config.root, "RTSPS (TLS)" if self.tls else "RTSP", self.port,
            self.config.fps, self.config.max_packet,
        )  # fmt: skip
        while not self._closed.is_set():
            try:
                connection, address = self.listener.accept()
            except OSError as exc:
                if self._closed.is_set():
                    break  # close() shut the listener
                # Out of file descriptors (EMFILE, ENFILE) or a connection reset before it
                # was accepted: the server goes on.
                log.warning("accept failed: %s", exc)
                self._closed.wait(ACCEPT_RETRY)
                continue
            ip = unmapped(address[0])
            full = self._over_cap(ip)
            if full is not None:
                self.refused += 1
                self._refuse(connection, ip, full)
                continue
            try:
                worker = ServerWorker(connection, address, self.config, self.streaming,
                                      self.groups, self.tls)  # fmt: skip
            except OSError as exc:
                log.warning("cannot serve %s:%d: %s", *address, exc)
                connection.close()
                continue
            with self._lock:  # close() sees every worker started, and none starts after it
                if self._closed.is_set():
                    worker.close()
                    break
                self.workers = [w for w in self.workers if not w.finished.is_set()]
                self.workers.append(worker)
                self.accepted += 1
                worker.run()

    def _over_cap(self, ip: str) -> str | None:
        """Why a new connection from `ip` is refused, or None when it may be served."""
        active = self.active_workers()
        if len(active) >= self.max_clients:
            return f"{self.max_clients} connections already"
        if self.max_per_address:
            mine = sum(1 for w in active if w.address[0] == ip)
            if mine >= self.max_per_address:
                return f"{mine} connections from it already"
        return None

    def _refuse(self, connection: socket.socket, ip: str, why: str) -> None:
        """503 written raw on the connection (no request read: CSeq unknown), then close."""
        now = time.monotonic()
        logged = self._refusals_logged
        if now - logged.get(ip, -REFUSAL_LOG_INTERVAL) >= REFUSAL_LOG_INTERVAL:
            log.warning("refusing connections from %s: %s", ip, why)
            logged[ip] = now
            for stale in [a for a, t in logged.items() if now - t >= REFUSAL_LOG_INTERVAL]:
                del logged[stale]  # bounded by the addresses refused in the last minute
        try:
            connection.settimeout(REFUSAL_SEND_TIMEOUT)
            connection.sendall(RtspResponse(SERVICE_UNAVAILABLE).encode())
            connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            connection.close()

    def status(self) -> ServerStatus:
        """What the status page shows (`rtsplab.server.snapshot`)."""
        return server_status(self.active_workers(), self.groups, started=self.started,
                             max_clients=self.max_clients,
                             sessions_allowed=self.sessions_allowed, accepted=self.accepted,
                             refused=self.refused)  # fmt: skip

    def active_workers(self) -> list[ServerWorker]:
        with self._lock:
            return [w for w in self.workers if not w.finished.is_set()]

    def close(self) -> None:
        """Stop accepting and end every session."""
        self._closed.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for worker in self.active_workers():
            try:
                worker.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            worker.thread.join(timeout=5)
        if self.groups is not None:
            self.groups.close()
        self.streaming.loop.close()


DEFAULT_MULTICAST_PORT = 5004  # RTP's default port (RFC 3551 §8)


def multicast_address(text: str) -> str:
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv4 address") from None
    if not address.is_multicast:
        raise argparse.ArgumentTypeError(f"{text} is not a multicast group (224.0.0.0/4)")
    return text


def even_port(text: str) -> int:
    port = int_in(1024, 65534)(text)
    if port % 2:
        raise argparse.ArgumentTypeError(f"{port} is odd: RTP takes an even port (RFC 3550 §11)")
    return port


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="RTSP server streaming MJPEG as RTP over UDP.")
    parser.add_argument("rtsp_port", type=int, nargs="?",
                        help="TCP port for RTSP (the lab uses 1025+)")  # fmt: skip
    parser.add_argument(
        "--root", type=Path, default=Path.cwd(),
        help="folder served (default: the current one; its video/ too); a clip's .wav: its sound",
    )  # fmt: skip
    parser.add_argument("--fps", type=positive, default=20.0, help="frames per second (20)")
    parser.add_argument(
        "--mtu", type=int_in(MIN_MAX_PACKET, MAX_MAX_PACKET), default=DEFAULT_MAX_PACKET,
        help=f"largest RTP packet sent, in bytes ({DEFAULT_MAX_PACKET})",
    )  # fmt: skip
    parser.add_argument(
        "--burst", type=int_in(0), default=BURST_PACKETS, metavar="N",
        help=f"packets sent back to back, the bursts spread over the frame interval "
        f"({BURST_PACKETS}; 0: each frame at once, as the lab does)",
    )  # fmt: skip
    parser.add_argument(
        "--rtcp-reduced-minimum", action="store_true",
        help="send sender reports more often than every 5 s: RFC 3550 6.2's 360/kbit/s minimum",
    )  # fmt: skip
    parser.add_argument("--host", default="", help="address to listen on (default: all)")
    parser.add_argument(
        "--max-clients", type=int_in(1), default=MAX_CLIENTS, metavar="N",
        help=f"connections served at once; more are told 503 ({MAX_CLIENTS})",
    )  # fmt: skip
    parser.add_argument(
        "--max-per-address", type=int_in(0), default=MAX_PER_ADDRESS, metavar="N",
        help=f"connections from one address at once ({MAX_PER_ADDRESS}; 0: no limit)",
    )  # fmt: skip
    parser.add_argument(
        "--gso", choices=MODES, default=AUTO,
        help="send a burst of RTP packets in one system call with UDP GSO: on, off, or auto "
        "(from many sessions, or a busy server, on: a capture on loopback sees a GSO burst "
        "as one datagram) (auto)",
    )  # fmt: skip
    parser.add_argument(
        "--cache-mb", type=int_in(0), default=DEFAULT_CACHE_BYTES // MIB, metavar="MB",
        help="frames kept cut into packets for every session to share "
        f"({DEFAULT_CACHE_BYTES // MIB}; 0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--no-retransmission", dest="retransmission", action="store_false",
        help="neither offer nor answer NACKs (RTP/AVPF, RFC 4585) with packets sent again "
        "(RFC 4588): to show in class what loss does without repair",
    )  # fmt: skip
    access = parser.add_argument_group("who may watch")
    access.add_argument(
        "--users", type=Path, metavar="FILE",
        help="standard RTSP (and the status page) needs a name and password of this file "
        "(Digest SHA-256 or MD5; Basic over TLS)",
    )  # fmt: skip
    access.add_argument(
        "--add-user", nargs=2, metavar=("FILE", "NAME"),
        help="add or replace NAME in FILE (made if missing), the password read from standard "
        "input, or asked for without echo on a terminal; then exit",
    )  # fmt: skip
    access.add_argument(
        "--allow-basic",
        action="store_true",
        help="take Basic credentials without TLS too (they go in the clear)",
    )
    access.add_argument(
        "--lab-dialect", choices=("on", "off"), default="on",
        help="serve the lab's dialect, whose client sends no credentials (on); off keeps a "
        "server with --users private",
    )  # fmt: skip
    access.add_argument(
        "--http", type=int_in(0, 65535), metavar="PORT",
        help="a live status page on this port (/, /metrics for Prometheus, /api/sessions), "
        "read-only, on --host, behind --users' credentials",
    )  # fmt: skip
    access.add_argument(
        "--tls-cert",
        type=Path,
        metavar="FILE",
        help="serve rtsps:// (RTSP over TLS) with this certificate (PEM)",
    )
    access.add_argument(
        "--tls-key",
        type=Path,
        metavar="FILE",
        help="the certificate's private key (PEM), with --tls-cert",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print the RTSP dialogue")
    multicast = parser.add_argument_group(
        "multicast (standard RTSP: a client asking for RTP/AVP;multicast gets the stream the "
        "server sends once to the group for every member)"
    )
    multicast.add_argument("--multicast", type=multicast_address, metavar="GROUP",
                           help="IPv4 group, e.g. 239.255.12.42 (off by default)")  # fmt: skip
    multicast.add_argument(
        "--multicast-port", type=even_port, default=DEFAULT_MULTICAST_PORT, metavar="PORT",
        help=f"even RTP port of the first file streamed (RTCP on the next; the next file on "
        f"the next pair) ({DEFAULT_MULTICAST_PORT})",
    )  # fmt: skip
    multicast.add_argument("--ttl", type=int_in(0, 255), default=1, metavar="N",
                           help="routers the stream may cross (1: the local link)")  # fmt: skip
    multicast.add_argument("--multicast-interface", default="0.0.0.0", metavar="ADDR",
                           help="address of the interface to send from (the route's)")  # fmt: skip
    network = parser.add_argument_group(
        "the lab's network, on purpose (off by default; applied to each session's RTP and "
        "RTCP over UDP; over TCP only --delay and --rate)"
    )
    network.add_argument(
        "--loss", type=float, default=0.0, metavar="PERCENT", help="datagrams lost"
    )
    network.add_argument(
        "--loss-burst",
        type=float,
        default=1.0,
        metavar="N",
        help="mean length of a loss burst, in datagrams (1: independent loss)",
    )
    network.add_argument("--delay", type=float, default=0.0, metavar="MS", help="one-way delay")
    network.add_argument(
        "--jitter",
        type=float,
        default=0.0,
        metavar="MS",
        help="each datagram's delay varies by up to ±MS around --delay",
    )
    network.add_argument(
        "--reorder",
        type=float,
        default=0.0,
        metavar="PERCENT",
        help="datagrams allowed to overtake (else order is kept)",
    )
    network.add_argument(
        "--duplicate", type=float, default=0.0, metavar="PERCENT", help="datagrams sent twice"
    )
    network.add_argument(
        "--rate",
        type=float,
        default=None,
        metavar="KBIT",
        help="the link's rate in kbit/s (a token bucket)",
    )
    network.add_argument(
        "--queue",
        type=float,
        default=200.0,
        metavar="MS",
        help="what the link's queue holds at --rate before it drops (200)",
    )
    network.add_argument("--seed", type=int, default=None, metavar="N",
                         help="the same seed gives the same drops")  # fmt: skip
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    if args.rtsp_port is None and args.add_user is None:
        parser.error("the RTSP port is needed (except with --add-user)")
    try:
        args.impairment = ImpairmentConfig(
            loss=args.loss, loss_burst=args.loss_burst, delay=args.delay, jitter=args.jitter,
            reorder=args.reorder, duplicate=args.duplicate, rate=args.rate, queue=args.queue,
            seed=args.seed,
        )  # fmt: skip
    except ValueError as exc:
        parser.error(str(exc))
    return args


def add_user(path: Path, name: str) -> int:
    """`--add-user FILE NAME`: the password from standard input (one line), or asked for
    without echo on a terminal; only its digests are written."""
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {name}: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("error: an empty password", file=sys.stderr)
        return 2
    try:
        replaced = store_user(path, UserDigests.from_password(name, password))
    except (OSError, ValueError) as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 1
    print(f"{'replaced' if replaced else 'added'} {name} in {path}")
    return 0


def make_gate(args: argparse.Namespace) -> Gate | None:
    """Who may watch, from --users, --allow-basic and --lab-dialect (None: anyone).
    Raises OSError or ValueError for a users file that cannot be read."""
    lab = args.lab_dialect == "on"
    if args.users is None:
        return None if lab else Gate(None, lab_dialect=False)
    users = read_users(args.users)
    guard = Authenticator(users, secrets.token_bytes(32), basic=args.allow_basic)
    log.info("%d users may watch (%s); standard RTSP needs their credentials", len(users),
             args.users)  # fmt: skip
    if lab:
        log.warning("the lab's dialect needs no credentials (its client has none to give): "
                    "--lab-dialect off keeps this server private")  # fmt: skip
    return Gate(guard, lab_dialect=lab)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose, logging.INFO)
    if args.add_user is not None:
        return add_user(Path(args.add_user[0]), args.add_user[1])
    if not args.root.is_dir():
        print(f"error: --root {args.root} is not a folder", file=sys.stderr)
        return 2
    impairment = args.impairment if args.impairment.active else None
    multicast = None
    if args.multicast is not None:
        multicast = MulticastConfig(args.multicast, args.multicast_port, args.ttl,
                                    args.multicast_interface)  # fmt: skip
    config = StreamConfig(args.root.resolve(), args.fps, args.mtu, args.burst,
                          args.rtcp_reduced_minimum, impairment=impairment,
                          multicast=multicast, retransmission=args.retransmission)  # fmt: skip
    if impairment is not None:
        log.info("the lab's network: %s", impairment.describe())
    try:
        tls = None if args.tls_cert is None else server_context(args.tls_cert, args.tls_key)
        config.gate = make_gate(args)
    except (OSError, ValueError, ssl.SSLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return serve(args, config, tls)


def serve(args: argparse.Namespace, config: StreamConfig, tls: ssl.SSLContext | None) -> int:
    """Listen, with the status page beside when asked, until interrupted."""
    limits = process_limits()
    level, line = describe_limits(limits, args.max_clients, config.impairment is not None)
    log.log(level, "%s", line)
    try:
        server = Server(args.rtsp_port, config, args.host, max_clients=args.max_clients,
                        max_per_address=args.max_per_address, gso=args.gso,
                        cache_bytes=args.cache_mb * MIB, tls=tls)  # fmt: skip
    except OSError as exc:
        print(f"error: cannot listen on port {args.rtsp_port}: {exc.strerror}", file=sys.stderr)
        return 1
    server.sessions_allowed = sessions_allowed(limits)[0]
    status = None
    try:
        if args.http is not None:
            guard = config.gate.guard if config.gate is not None else None
            if guard is None:
                log.warning("the status page shows every client's address to anyone who "
                            "reaches port %d: --users puts it behind credentials",
                            args.http)  # fmt: skip
            status = StatusServer(args.host, args.http, server.status, guard)
            status.start()
        server.serve_forever()
    except OSError as exc:
        print(f"error: cannot serve the status page on {args.http}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        if status is not None:
            status.close()
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
