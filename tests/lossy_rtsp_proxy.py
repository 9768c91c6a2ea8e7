"""A lossy network in front of any RTSP server, for players whose ports we cannot choose.

    with LossyRtspProxy(("127.0.0.1", server_port), seed=4585, drop=0.01) as proxy:
        play(proxy.url("/clip"))      # rtsp://127.0.0.1:PROXY/clip
    proxy.relays                      # one LossyRelay per SETUP, with its counts

`LossyRelay` needs the client to announce the relay's ports; ffmpeg and rtspsrc announce their
own. So the player talks RTSP to this proxy, which passes every message on unchanged except a
SETUP's Transport header (RFC 2326 §12.39): on the way to the server `client_port` becomes a
new relay's pair R-R+1, so the server streams to the relay; on the way back `client_port` is
the player's again and `server_port` becomes R-R+1 too, so the player sends its RTCP (its
receiver reports and NACKs) to the relay, which passes it on, untouched, from R+1 to the
server's RTCP port: the port the server was told, so a server that takes feedback only from a
session's own RTCP port takes it. RTP from the server is dropped by the relay's seeded
pattern, retransmissions as any other packet; RTCP passes both ways. Both servers of a
comparison sit behind the same relay, with the same seed.

UDP only: an interleaved (TCP) transport would carry the media past the relay. One thread
runs the listening socket and every RTSP connection (`selectors`), so the connections' state
has one owner; each relay runs its own thread.
"""

from __future__ import annotations

import contextlib
import re
import selectors
import socket
import threading

from relay import LOOPBACK, MAX_DATAGRAM, LossyRelay

RTCP_HEADER_SIZE = 4  # RFC 3550 §6.4.1: V, P, count, packet type, length
RTCP_RTPFB = 205  # RFC 4585 §6.1: transport-layer feedback
WORD_SIZE = 4  # RTCP lengths count 32-bit words minus one
POLL = 0.05  # seconds: how often the thread looks at the stop flag
READ_SIZE = 65_536
MAX_MESSAGE = 1 << 20  # bytes buffered for one RTSP message: a test's SDP is far smaller
HEADER_END = b"\r\n\r\n"
CONTENT_LENGTH = re.compile(rb"^content-length\s*:\s*(\d+)\s*$", re.IGNORECASE | re.MULTILINE)
TRANSPORT_LINE = re.compile(rb"^(transport\s*:)([^\r\n]*)", re.IGNORECASE | re.MULTILINE)
PORT_RANGE = r"=(\d+)(?:-(\d+))?"
CLIENT_PORT = re.compile(rb"client_port" + PORT_RANGE.encode())
SERVER_PORT = re.compile(rb"server_port" + PORT_RANGE.encode())


def has_nack(datagram: bytes) -> bool:
    """Whether an RTCP datagram holds a transport-layer feedback packet (RFC 4585 §6.2),
    compound or alone: the header walk of RFC 3550 §6.4, no more."""
    offset = 0
    while offset + RTCP_HEADER_SIZE <= len(datagram):
        if datagram[offset + 1] == RTCP_RTPFB:
            return True
        offset += (int.from_bytes(datagram[offset + 2 : offset + 4], "big") + 1) * WORD_SIZE
    return False


class ProxyRelay(LossyRelay):
    """A LossyRelay whose RTP socket also hears the player: rtspsrc sends a few datagrams to
    the server's RTP port to open a NAT's way; they are not the server's RTP and go no
    further. The server's RTCP port is known from the SETUP reply, so the player's first
    reports reach it even before the server has sent any RTCP. `nacks`: the player's RTCP
    datagrams with a NACK in them, passed on to the server."""

    nacks = 0

    def _forward(self, readable: list) -> None:
        if self.rtcp in readable:
            with contextlib.suppress(BlockingIOError):
                datagram, source = self.rtcp.recvfrom(MAX_DATAGRAM, socket.MSG_PEEK)
                if source == self.client_rtcp and has_nack(datagram):
                    self.nacks += 1
        super()._forward(readable)

    def _drain_rtp(self) -> None:
        for _ in range(10_000):
            try:
                datagram, source = self.rtp.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                return
            if source[1] in (self.client_rtp[1], self.client_rtcp[1]):
                continue
            self._on_rtp(datagram)

    def start(self) -> ProxyRelay:
        self._thread.start()
        return self


def complete_message(buffer: bytearray) -> bytes | None:
    """Take one whole RTSP message (head and Content-Length body) off `buffer`, or None."""
    end = buffer.find(HEADER_END)
    if end < 0:
        if len(buffer) > MAX_MESSAGE:
            raise ValueError(f"no end of RTSP head in {len(buffer)} bytes")
        return None
    head_end = end + len(HEADER_END)
    length = CONTENT_LENGTH.search(bytes(buffer[:head_end]))
    total = head_end + (int(length.group(1)) if length else 0)
    if len(buffer) < total:
        return None
    message = bytes(buffer[:total])
    del buffer[:total]
    return message


def set_ports(transport: bytes, pattern: re.Pattern[bytes], name: bytes, low: int) -> bytes:
    return pattern.sub(name + b"=%d-%d" % (low, low + 1), transport)


class LossyRtspProxy:
    def __init__(
        self, server: tuple[str, int], *, seed: int, drop: float, lifetime: float = 120.0
    ) -> None:
        self.server = server
        self.seed, self.drop, self.lifetime = seed, drop, lifetime
        self.relays: list[ProxyRelay] = []
        self._by_port: dict[int, tuple[ProxyRelay, int]] = {}  # relay port -> it, player's port
        self.listener = socket.create_server((LOOPBACK, 0))
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lossy-rtsp-proxy", daemon=True)

    def url(self, path: str) -> str:
        return f"rtsp://{LOOPBACK}:{self.port}{path}"

    def __enter__(self) -> LossyRtspProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.listener.close()
        for relay in self.relays:
            relay.stop()

    @property
    def dropped(self) -> int:
        return sum(relay.counts.dropped for relay in self.relays)

    @property
    def nacks(self) -> int:
        return sum(relay.nacks for relay in self.relays)

    @property
    def rtp_received(self) -> int:
        return sum(relay.counts.received for relay in self.relays)

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.listener, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select(POLL):
                    if key.fileobj is self.listener:
                        self._accept(selector)
                    elif not self._pump(key.fileobj, *key.data):
                        self._close(selector, key.fileobj, key.data[0])
            for key in list(selector.get_map().values()):
                if key.fileobj is not self.listener:
                    key.fileobj.close()

    def _accept(self, selector: selectors.BaseSelector) -> None:
        with contextlib.suppress(BlockingIOError):
            player, _ = self.listener.accept()
            server = socket.create_connection(self.server, timeout=5)
            # (peer, pending bytes, rewrite): each socket's data goes to its peer.
            selector.register(player, selectors.EVENT_READ, (server, bytearray(), self._request))
            selector.register(server, selectors.EVENT_READ, (player, bytearray(), self._reply))

    def _close(self, selector: selectors.BaseSelector, sock: socket.socket, peer) -> None:
        for each in (sock, peer):
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(each)
            each.close()

    def _pump(self, sock: socket.socket, peer: socket.socket, pending: bytearray, rewrite) -> bool:
        """Pass on every whole message `sock` has sent; False once it has closed."""
        try:
            data = sock.recv(READ_SIZE)
        except OSError:
            return False
        if not data:
            return False
        pending += data
        while (message := complete_message(pending)) is not None:
            try:
                peer.sendall(rewrite(message))
            except OSError:
                return False
        return True

    def _request(self, message: bytes) -> bytes:
        """A SETUP's client_port becomes a new relay's pair."""
        head, sep, body = message.partition(HEADER_END)
        found = TRANSPORT_LINE.search(head)
        ports = CLIENT_PORT.search(found.group(2)) if found else None
        if found is None or ports is None:
            return message
        player_port = int(ports.group(1))
        relay = ProxyRelay(player_port, seed=self.seed, drop=self.drop, lifetime=self.lifetime)
        self.relays.append(relay.start())
        self._by_port[relay.port] = (relay, player_port)
        transport = set_ports(found.group(2), CLIENT_PORT, b"client_port", relay.port)
        return head[: found.start(2)] + transport + head[found.end(2) :] + sep + body

    def _reply(self, message: bytes) -> bytes:
        """A SETUP reply names the player's ports again and the relay's as the server's."""
        head, sep, body = message.partition(HEADER_END)
        found = TRANSPORT_LINE.search(head)
        client = CLIENT_PORT.search(found.group(2)) if found else None
        server = SERVER_PORT.search(found.group(2)) if found else None
        if found is None or client is None or int(client.group(1)) not in self._by_port:
            return message
        relay, player_port = self._by_port[int(client.group(1))]
        transport = set_ports(found.group(2), CLIENT_PORT, b"client_port", player_port)
        if server is not None:
            relay.server_rtcp = (self.server[0], int(server.group(1)) + 1)
            transport = set_ports(transport, SERVER_PORT, b"server_port", relay.port)
        return head[: found.start(2)] + transport + head[found.end(2) :] + sep + body
