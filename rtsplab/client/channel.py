"""The RTSP connection's socket: requests written, replies and interleaved frames read.

Used by one thread only, the one that owns the connection (`rtsplab.client.connection`): it
writes each request, reads until the reply comes, and hands every `$` frame it reads on the
way (RFC 2326 §10.12: RTP and RTCP interleaved on the connection) to `on_frame`, whether a
reply is awaited or not. With no other reader there is nothing to hand over between threads.

Over TLS (rtsps://) the same thread seals what it writes and opens what it reads
(`rtsplab.rtsp.tls`, the handshake done in `connect`): everything read is decrypted at once,
so the socket's readiness still says whether anything waits.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Callable

from rtsplab.client.session import ClientError
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.message import InterleavedFrame, RtspResponse
from rtsplab.rtsp.reader import ResponseReader
from rtsplab.rtsp.tls import TlsError, TlsLayer

log = logging.getLogger(__name__)
dialogue = logging.getLogger("rtsp")  # the lab's verbose dialogue, shown with -v

MAX_READ = 65_535  # bytes read from the connection at once
# The lab's server ends a reply with no blank line: after this long with nothing more, what
# sits in the buffer is taken as the whole reply.
LAB_REPLY_QUIET = 0.25

FrameHandler = Callable[[InterleavedFrame], None]


class ConnectionClosed(ClientError):
    """The server closed the RTSP connection."""


class ClientChannel:
    """One RTSP connection to the server, read and written by its owner thread alone."""

    def __init__(
        self, sock: socket.socket, on_frame: FrameHandler, tls: TlsLayer | None = None
    ) -> None:
        """`sock`: connected (and `tls`'s handshake done). Both ends' addresses are read now:
        once the server has reset the connection, getpeername() fails, and the session's
        media still needs them."""
        self.sock = sock
        self.tls = tls
        self.local_ip = str(sock.getsockname()[0])
        self.server_ip = str(sock.getpeername()[0])
        self.on_frame = on_frame
        self.lenient = False  # interleaved: a bad message is skipped, not the request's end
        self._reader = ResponseReader()

    @classmethod
    def connect(
        cls, host: str, port: int, timeout: float, on_frame: FrameHandler,
        tls: ssl.SSLContext | None = None,
    ) -> ClientChannel:  # fmt: skip
        """Connect, and over TLS shake hands within `timeout` (the server's certificate
        checked as `tls` says)."""
        sock = None
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
            layer = None if tls is None else _handshake(sock, tls, host, timeout)
            return cls(sock, on_frame, layer)
        except (OSError, TlsError) as exc:
            if sock is not None:
                sock.close()
            why = exc if isinstance(exc, TlsError) else exc.strerror or exc
            raise ClientError(f"cannot connect to {where}: {why}") from None

    def send(self, data: bytes, timeout: float) -> None:
        """Write `data` whole; OSError (TimeoutError) when the server takes none of it for
        `timeout` seconds."""
        self.sock.settimeout(timeout)
        self.sock.sendall(self.tls.seal(data) if self.tls is not None else data)

    def await_reply(
        self, method: str, is_ours: Callable[[RtspResponse], bool], timeout: float,
        quiet: float | None,
    ) -> RtspResponse:  # fmt: skip
        """Read until the reply `is_ours` accepts; ClientError when none comes in `timeout`
        seconds or the server closes the connection. `quiet`: the lab's server ends its
        replies without the blank line, so a pause that long ends what was read."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            self.sock.settimeout(remaining if quiet is None else min(remaining, quiet))
            try:
                data = self._recv()
            except TimeoutError:
                replies = self._quiet_reply() if quiet is not None else []
            else:
                if data is None:
                    raise ConnectionClosed(f"the server closed the connection during {method}")
                replies = self._replies(data, method)
            for reply in replies:
                if is_ours(reply):
                    return reply
        raise ClientError(f"no reply to {method} within {timeout:g} s")

    def read_available(self) -> list[RtspResponse]:
        """Read what has come (the socket was seen readable): frames go to `on_frame`,
        replies no request awaits are returned. ConnectionClosed at the end of the stream."""
        self.sock.settimeout(0)
        try:
            data = self._recv()
        except (BlockingIOError, TimeoutError):
            return []
        except OSError as exc:
            raise ConnectionClosed(f"the RTSP connection failed: {exc.strerror or exc}") from None
        if data is None:
            raise ConnectionClosed("the server closed the connection")
        try:
            return self._replies(data, "no request")
        except ClientError as exc:
            log.warning("%s", exc)
            return []

    def drained(self) -> bool:
        """Whether nothing waits unread on the connection (its end included)."""
        self.sock.settimeout(0)  # a socket with a timeout would wait for data first
        try:
            return not self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except OSError:  # BlockingIOError: nothing waiting; any other: nothing to read
            return True

    def close(self) -> None:
        if self.tls is not None and self.tls.established:
            try:  # close_notify, so that the server sees an end and not a truncation
                self.sock.settimeout(0)
                self.sock.send(self.tls.close())
            except OSError:
                pass
        self.sock.close()

    def _recv(self) -> bytes | None:
        """What the server sent (over TLS, its plaintext: maybe nothing yet); None at the end
        of the connection (over TLS, close_notify or a record that fails its check)."""
        data = self.sock.recv(MAX_READ)
        if self.tls is None:
            return data or None
        try:
            plain = self.tls.receive(data)
        except TlsError as exc:
            log.warning("the RTSP connection's TLS failed: %s", exc)
            return None
        if self.tls.pending:  # TLS 1.3's messages after the handshake, answered in turn
            self.sock.sendall(self.tls.seal())
        return None if not plain and (self.tls.closed or not data) else plain

    def _replies(self, data: bytes, method: str) -> list[RtspResponse]:
        """Feed the reader: frames to `on_frame`, the replies returned in order."""
        try:
            items = self._reader.feed(data)
        except RtspError as exc:
            if not self.lenient:
                raise ClientError(f"bad reply to {method}: {exc}") from None
            log.warning("bad reply skipped: %s", exc)
            items = getattr(exc, "responses", [])
        replies = []
        for item in items:
            if isinstance(item, InterleavedFrame):
                self.on_frame(item)
            else:
                replies.append(item)
        return replies

    def _quiet_reply(self) -> list[RtspResponse]:
        """Only the lab's server ends a reply without the empty line: a pause ends it."""
        reply = self._reader.flush_partial() if self._reader.pending else None
        return [reply] if isinstance(reply, RtspResponse) else []


def _handshake(sock: socket.socket, context: ssl.SSLContext, host: str, timeout: float) -> TlsLayer:
    """The client's TLS handshake over a connected socket, within `timeout` seconds."""
    layer = TlsLayer(context, server_side=False, server_hostname=host)
    layer.start()
    deadline = time.monotonic() + timeout
    while not layer.established:
        if layer.pending:
            sock.sendall(layer.seal())
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no TLS handshake within {timeout:g} s")
        sock.settimeout(left)
        data = sock.recv(MAX_READ)
        if not data:
            raise TlsError("the server closed the connection during the TLS handshake")
        layer.receive(data)
    if layer.pending:
        sock.sendall(layer.seal())
    return layer
