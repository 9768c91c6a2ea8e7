"""The client's network half: the RTSP dialogue in the lab's dialect, and the RTP receiver.

Shared by the Tk player (`Client`) and the headless run (`ClientLauncher --headless`). The
requests are the lab's exactly, so the client also plays the lab's own server:

    SETUP movie.Mjpeg RTSP/1.0          PLAY movie.Mjpeg RTSP/1.0
    CSeq: 1                             CSeq: 2
    Transport: RTP/UDP; client_port= 25000    Session: 123456

Replies are read by header name, with CRLF or bare LF, and with or without the blank line that
ends them (the lab's server leaves it out). Each method waits for its reply; a refusal raises
`ClientError` with a one-line message and leaves the state as it was.

A thread (`listenRtp`) reads the RTP socket into an `RtpReceiver` from SETUP until `close()`,
and calls `on_frame(jpeg, rtp_timestamp)` with each complete frame, on that thread.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections.abc import Callable

from RtpReceiver import RtpReceiver
from RtspMessage import Headers, ResponseReader, RtspError, RtspRequest, RtspResponse
from RtspSession import PAUSE, PLAY, SETUP, TEARDOWN, State, next_state

log = logging.getLogger(__name__)
dialogue = logging.getLogger("rtsp")  # the lab's verbose dialogue, shown with -v

# 4K at 30 fps is ~12,000 packets/s; a few MB holds a whole frame or two while the receiving
# thread is busy. Linux caps the request at net.core.rmem_max (and reports double).
RCVBUF_BYTES = 8 * 1024 * 1024
REPLY_TIMEOUT = 5.0  # seconds to wait for an RTSP reply
# The lab's server ends a reply with no blank line: after this long with nothing more, what
# sits in the buffer is taken as the whole reply.
LAB_REPLY_QUIET = 0.25
RTP_POLL = 0.2  # how often the receiving thread looks up from the socket to check for close()
MAX_DATAGRAM = 65_535


class ClientError(Exception):
    """A failure to tell the user in one line: server down, 404, port in use..."""


FrameCallback = Callable[[bytes, int], None]


class RtspClient:
    def __init__(
        self,
        server_host: str,
        server_port: int,
        rtp_port: int,
        filename: str,
        *,
        on_frame: FrameCallback | None = None,
        rcvbuf: int = RCVBUF_BYTES,
        reply_timeout: float = REPLY_TIMEOUT,
    ) -> None:
        self.server_host = server_host
        self.server_port = server_port
        self.rtp_port = rtp_port
        self.filename = filename
        self.on_frame = on_frame
        self.rcvbuf = rcvbuf
        self.reply_timeout = reply_timeout
        self.state = State.INIT
        self.session_id: str | None = None
        self.cseq = 0
        self.receiver: RtpReceiver | None = None
        self.first_packet_at: float | None = None  # time.monotonic() of RTP arrivals
        self.last_packet_at: float | None = None
        self._rtsp: socket.socket | None = None
        self._rtp: socket.socket | None = None
        self._reader = ResponseReader()
        self._listener: threading.Thread | None = None
        self._closing = threading.Event()

    # -- the lab's four actions ----------------------------------------------------------

    def setup(self) -> None:
        """Connect if needed, open the RTP port, SETUP, and start receiving."""
        self._check(SETUP)
        if self._rtsp is None:
            self._connect()
        self._open_rtp_port()
        try:
            reply = self._request(SETUP, Transport=f"RTP/UDP; client_port= {self.rtp_port}")
        except ClientError:
            self._close_rtp()
            raise
        self.session_id = reply.session
        if not self.session_id:
            self._close_rtp()
            raise ClientError("the server's SETUP reply has no Session")
        self.receiver = RtpReceiver(self._rtsp.getpeername()[0])
        self.first_packet_at = self.last_packet_at = None
        self._closing.clear()
        self._listener = threading.Thread(target=self.listenRtp, name="rtp-listen", daemon=True)
        self._listener.start()

    def play(self) -> None:
        self._check(PLAY)
        self._request(PLAY, Session=self.session_id)

    def pause(self) -> None:
        self._check(PAUSE)
        self._request(PAUSE, Session=self.session_id)

    def teardown(self) -> None:
        self._check(TEARDOWN)
        try:
            self._request(TEARDOWN, Session=self.session_id)
        finally:
            # Refused or not, the client is done with this session.
            self.stop_receiving()
            self.session_id = None
            self.state = State.INIT

    def close(self) -> None:
        """Tear down if a session is open (best effort), then close every socket."""
        if self.state is not State.INIT and self._rtsp is not None:
            try:
                self.teardown()
            except ClientError as exc:
                log.info("TEARDOWN while closing failed: %s", exc)
        self.stop_receiving()
        if self._rtsp is not None:
            self._rtsp.close()
            self._rtsp = None

    def connection_lost(self) -> bool:
        """Whether the server has closed the RTSP connection; checked without blocking."""
        if self._rtsp is None:
            return False
        try:
            readable, _, _ = select.select([self._rtsp], [], [], 0)
            return bool(readable) and self._rtsp.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def stop_receiving(self) -> None:
        """Stop the receiving thread and close the RTP socket; the counts stay readable."""
        self._closing.set()
        if self._listener is not None and self._listener is not threading.current_thread():
            self._listener.join()
        self._listener = None
        self._close_rtp()

    def summary(self) -> dict[str, float]:
        """What was received: frames, dropped frames, packets, loss, bytes, seconds."""
        stats: dict[str, float] = dict(self.receiver.summary()) if self.receiver else {}
        first, last = self.first_packet_at, self.last_packet_at
        stats["seconds"] = round(last - first, 3) if first is not None else 0.0
        return stats

    # -- RTP -----------------------------------------------------------------------------

    def listenRtp(self) -> None:
        """Receive RTP until close(); runs on its own thread and never raises."""
        rtp, receiver = self._rtp, self.receiver
        while not self._closing.is_set():
            try:
                datagram, (source_ip, _port) = rtp.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                break  # the socket was closed
            now = time.monotonic()
            try:
                frame = receiver.receive(datagram, source_ip)
                if source_ip == receiver.server_ip:
                    self.last_packet_at = now
                    if self.first_packet_at is None:
                        self.first_packet_at = now
                if frame is not None and self.on_frame is not None:
                    self.on_frame(frame, receiver.last_timestamp)
            except Exception:
                log.exception("error handling an RTP datagram; skipped")

    def _open_rtp_port(self) -> None:
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if self.rcvbuf:  # 0 keeps the system's default, to see what it costs
            rtp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        granted = rtp.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        log.info("RTP receive buffer: asked for %d bytes, got %d", self.rcvbuf, granted)
        if granted < self.rcvbuf:
            log.warning(
                "RTP receive buffer is %d bytes; HD streams may lose packets "
                "(raise it with: sysctl -w net.core.rmem_max=%d)", granted, self.rcvbuf,
            )  # fmt: skip
        try:
            rtp.bind(("", self.rtp_port))
        except OSError as exc:
            rtp.close()
            raise ClientError(f"cannot use RTP port {self.rtp_port}: {exc.strerror}") from None
        rtp.settimeout(RTP_POLL)
        self._rtp = rtp

    def _close_rtp(self) -> None:
        if self._rtp is not None:
            self._rtp.close()
            self._rtp = None

    # -- RTSP ----------------------------------------------------------------------------

    def _check(self, method: str) -> None:
        try:
            next_state(self.state, method)
        except RtspError:
            raise ClientError(f"{method} is not possible in state {self.state.value}") from None

    def _connect(self) -> None:
        where = f"{self.server_host}:{self.server_port}"
        try:
            self._rtsp = socket.create_connection(
                (self.server_host, self.server_port), timeout=self.reply_timeout
            )
        except OSError as exc:
            raise ClientError(f"cannot connect to {where}: {exc.strerror or exc}") from None
        self._reader = ResponseReader()

    def _request(self, method: str, **headers: str) -> RtspResponse:
        """Send one request in the lab's form and wait for its reply; 200 or ClientError."""
        self.cseq += 1
        request = RtspRequest(
            method, self.filename, Headers([("CSeq", str(self.cseq)), *headers.items()])
        )
        data = request.encode()
        dialogue.debug("Data sent:\n%s", data.decode("utf-8", "replace"))
        try:
            self._rtsp.sendall(data)
            reply = self._await_reply(method)
        except OSError as exc:
            raise ClientError(f"{method} failed: {exc.strerror or exc}") from None
        if reply.status != 200:
            raise ClientError(
                f"server answered {reply.status} {reply.reason or ''} to {method} "
                f"{self.filename}".replace("  ", " ")
            )
        self.state = next_state(self.state, method)
        return reply

    def _await_reply(self, method: str) -> RtspResponse:
        deadline = time.monotonic() + self.reply_timeout
        while (remaining := deadline - time.monotonic()) > 0:
            self._rtsp.settimeout(min(remaining, LAB_REPLY_QUIET))
            try:
                try:
                    data = self._rtsp.recv(4096)
                except TimeoutError:
                    # The lab's server ends a reply without the empty line.
                    partial = self._reader.flush_partial() if self._reader.pending else None
                    replies = [partial] if partial is not None else []
                else:
                    if not data:
                        raise ClientError(f"the server closed the connection during {method}")
                    replies = self._reader.feed(data)
            except RtspError as exc:
                raise ClientError(f"bad reply to {method}: {exc}") from None
            for reply in replies:
                if self._is_ours(reply):
                    return reply
        raise ClientError(f"no reply to {method} within {self.reply_timeout:g} s")

    def _is_ours(self, reply: RtspResponse) -> bool:
        dialogue.debug("Reply received:\n%s", reply.encode().decode("utf-8", "replace"))
        if reply.cseq not in (None, self.cseq):
            log.info("ignoring a reply to CSeq %s (waiting for %d)", reply.cseq, self.cseq)
            return False
        return True
