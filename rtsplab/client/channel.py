"""The RTSP connection's socket: requests written, replies and interleaved frames read.

Used by one thread only, the one that owns the connection (`rtsplab.client.connection`): it
writes each request, reads until the reply comes, and hands every `$` frame it reads on the
way (RFC 2326 §10.12: RTP and RTCP interleaved on the connection) to `on_frame`, whether a
reply is awaited or not. With no other reader there is nothing to hand over between threads.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable

from rtsplab.client.session import ClientError
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.message import InterleavedFrame, RtspResponse
from rtsplab.rtsp.reader import ResponseReader

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

    def __init__(self, sock: socket.socket, on_frame: FrameHandler) -> None:
        """`sock`: connected. Both ends' addresses are read now: once the server has reset
        the connection, getpeername() fails, and the session's media still needs them."""
        self.sock = sock
        self.local_ip = str(sock.getsockname()[0])
        self.server_ip = str(sock.getpeername()[0])
        self.on_frame = on_frame
        self.lenient = False  # interleaved: a bad message is skipped, not the request's end
        self._reader = ResponseReader()

    @classmethod
    def connect(cls, host: str, port: int, timeout: float, on_frame: FrameHandler) -> ClientChannel:
        sock = None
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
            return cls(sock, on_frame)
        except OSError as exc:
            if sock is not None:
                sock.close()
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            raise ClientError(f"cannot connect to {where}: {exc.strerror or exc}") from None

    def send(self, data: bytes, timeout: float) -> None:
        """Write `data` whole; OSError (TimeoutError) when the server takes none of it for
        `timeout` seconds."""
        self.sock.settimeout(timeout)
        self.sock.sendall(data)

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
                data = self.sock.recv(MAX_READ)
            except TimeoutError:
                replies = self._quiet_reply() if quiet is not None else []
            else:
                if not data:
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
            data = self.sock.recv(MAX_READ)
        except (BlockingIOError, TimeoutError):
            return []
        except OSError as exc:
            raise ConnectionClosed(f"the RTSP connection failed: {exc.strerror or exc}") from None
        if not data:
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
        self.sock.close()

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
