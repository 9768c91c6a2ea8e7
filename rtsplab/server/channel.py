"""One RTSP connection as the server holds it: requests read with deadlines, one writer.

The server's counterpart of the client's RTSP socket (`rtsplab.client.channel`): bytes in
are cut into requests and interleaved frames (`RequestReader`), bytes out leave through the
connection's one writer (`rtsplab.server.connection_writer`), so that no client that stops
reading blocks a thread.

What a client holds open is bounded in time here: a request must arrive whole within
REQUEST_DEADLINE of its first byte. The lab's client ends a request without the empty line,
so with part of a lab request read, LAB_REQUEST_QUIET of silence makes it whole.

Over TLS (rtsps://, `rtsplab.rtsp.tls`) the bytes read are records: their plaintext is what
the reader cuts, and the handshake's replies leave through the writer. A peer that does not
speak TLS, or fails it, ends the connection like a close.

Waiting uses `poll` where the platform has it: `select()` cannot watch a descriptor numbered
above 1023, and a busy server has many. (Windows has only `select`, whose sets there are
counted, not bounded by the descriptor's number.)
"""

from __future__ import annotations

import logging
import selectors
import socket
import ssl
import time
from collections.abc import Sequence

from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.message import InterleavedFrame, RtspRequest
from rtsplab.rtsp.reader import RequestReader
from rtsplab.rtsp.tls import TlsError, TlsLayer
from rtsplab.server.connection_writer import ConnectionWriter, Selector

log = logging.getLogger(__name__)

RECV_SIZE = 4096
LAB_REQUEST_QUIET = 0.2  # seconds of silence after which a request without its end is whole
REQUEST_DEADLINE = 10.0  # seconds from a request's first byte to its last (slow senders)

V4_MAPPED_PREFIX = "::ffff:"  # ::ffff:0:0/96, IPv4 addresses as IPv6 (RFC 4291 §2.5.5.2)

Item = RtspRequest | RtspError | InterleavedFrame


def unmapped(ip: str) -> str:
    """`ip`, or the IPv4 address it maps ("::ffff:127.0.0.1" -> "127.0.0.1")."""
    if ip.lower().startswith(V4_MAPPED_PREFIX) and "." in ip:
        return ip[len(V4_MAPPED_PREFIX) :]
    return ip


class ServerChannel:
    """An accepted RTSP connection: the client's and our address, its reader, its writer."""

    def __init__(
        self, sock: socket.socket, address: tuple[str, int], tls: ssl.SSLContext | None = None
    ) -> None:
        self.sock = sock
        self.tls = None if tls is None else TlsLayer(tls, server_side=True)
        # An IPv4 client of a dual-stack listener is "::ffff:a.b.c.d": its RTP and RTCP go by
        # IPv4, from sockets of that family, as to any IPv4 client.
        self.address = (unmapped(address[0]), address[1])
        local_ip, local_port = sock.getsockname()[:2]
        self.local = (unmapped(local_ip), local_port)
        self.name = f"connection from {address[0]}:{address[1]}"
        self.reader = RequestReader()
        # Replies and interleaved RTP/RTCP share the connection: one thread writes them all,
        # the others enqueue and never wait on a client that does not read.
        self.writer = ConnectionWriter(sock, self.name, tls=self.tls)
        # The socket's own timeout stays as it is: the writer sends on it too. The selector
        # does the waiting.
        self._selector = Selector()
        self._selector.register(sock, selectors.EVENT_READ)
        self._request_started: float | None = None  # the first byte of a request in progress
        self.first_byte_at: float | None = None  # the connection's first byte
        self.request_deadline = REQUEST_DEADLINE  # read now, not at import: tests lower it

    def start(self) -> None:
        self.writer.start()

    @property
    def pending(self) -> bool:
        """Part of a request has been read."""
        return self.reader.pending

    def request_wait(self, lab: bool, now: float) -> float | None:
        """How long the request in progress may keep us waiting: briefly for half a lab
        request, else until its deadline; None with no request in progress."""
        if not self.reader.pending:
            return None
        waits = [LAB_REQUEST_QUIET] if lab else []
        if self._request_started is not None:
            waits.append(max(0.0, self._request_started + self.request_deadline - now))
        return min(waits) if waits else None

    def request_overdue(self, now: float) -> bool:
        """A request begun more than its deadline ago is still not whole."""
        if not self.reader.pending:
            self._request_started = None
            return False
        started = self._request_started
        return started is not None and now - started > self.request_deadline

    def readable(self, timeout: float | None) -> bool:
        """Wait up to `timeout` seconds (None: for ever) for bytes, or the end."""
        return bool(self._selector.select(timeout))

    def read(self) -> Sequence[Item] | None:
        """What the bytes waiting make (maybe nothing yet); None when the client closed."""
        received = self.sock.recv(RECV_SIZE)
        if received and self.first_byte_at is None:  # a TLS handshake's bytes count too
            self.first_byte_at = time.monotonic()
        data = received if self.tls is None else self._unsealed(received)
        if data is None or not received:
            return None
        if not data:
            return []  # records that carried no request yet (the handshake)
        if not self.reader.pending:
            self._request_started = time.monotonic()
        items = self.reader.feed(data)
        if items and self.reader.pending:
            self._request_started = time.monotonic()  # the next request began here
        return items

    def _unsealed(self, records: bytes) -> bytes | None:
        """The plaintext of the records read (b"": none yet); None when the peer said
        close_notify, or does not speak TLS."""
        assert self.tls is not None
        try:
            data = self.tls.receive(records)
        except TlsError as exc:
            log.info("%s: %s", self.name, exc)
            return None
        if self.tls.pending:
            self.writer.flush()
        return None if not data and self.tls.closed else data

    def take_partial(self) -> Sequence[Item]:
        """The lab's request read so far, taken as whole (it never sends the empty line)."""
        return self.reader.flush_partial()

    def send_reply(self, data: bytes) -> None:
        """An RTSP message: never dropped; written in turn with queued frames."""
        self.writer.send_reply(data)

    def send_interleaved(self, channel: int, data: bytes) -> None:
        """RTP or RTCP on the RTSP connection, framed with `$` (RFC 2326 §10.12). Queued,
        never waited for: a client too slow to read loses whole frames (counted)."""
        self.writer.send_frame(InterleavedFrame(channel, data).encode())

    def shutdown(self) -> None:
        """End the connection from any thread: its reader sees the end and cleans up."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self, linger: float) -> None:
        """Let what is queued leave for up to `linger` seconds, then close the socket. The
        writer is joined first: no write to a reused descriptor."""
        self.writer.close(linger=linger)
        self._selector.close()
        self.sock.close()
