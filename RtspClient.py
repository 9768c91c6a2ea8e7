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
and calls `on_frame(jpeg, rtp_timestamp)` with each complete frame, on that thread. It also
serves RTCP on the port above (RFC 3550 §11): receiver reports to the server's RTCP port when
the SETUP reply names one (`server_port=`; the lab's server does not, and gets none), the
server's sender reports, and its BYE, which calls `on_end()` — the end of the video.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections.abc import Callable

from RtcpSession import ReceiverRtcp
from RtpReceiver import RtpReceiver
from RtspMessage import (
    Headers,
    ResponseReader,
    RtspError,
    RtspRequest,
    RtspResponse,
    parse_transport,
)
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
RTP_POLL = 0.2  # how often the receiving thread looks up from its sockets (close, RTCP timer)
MAX_DATAGRAM = 65_535
RTP_BATCH = 256  # datagrams read per wake-up: a 4K frame is ~540; RTCP gets a look in between
MAX_DRAIN = 100_000  # what can sit in an 8 MiB receive buffer, and then some
# RTCP's share is 5% of the session bandwidth (RFC 3550 §6.2); the client does not know the
# stream's before it starts, and at any real rate the 5 s minimum decides anyway.
NOMINAL_SESSION_BANDWIDTH = 2_000_000 / 8  # bytes/s: the lab's movie is about 2 Mbit/s


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
        on_end: Callable[[], None] | None = None,
        rcvbuf: int = RCVBUF_BYTES,
        reply_timeout: float = REPLY_TIMEOUT,
        rtcp_reduced_minimum: bool = False,
        announce_port: int | None = None,
    ) -> None:
        self.server_host = server_host
        self.server_port = server_port
        self.rtp_port = rtp_port
        self.filename = filename
        self.on_frame = on_frame
        self.on_end = on_end
        self.rcvbuf = rcvbuf
        self.reply_timeout = reply_timeout
        self.rtcp_reduced_minimum = rtcp_reduced_minimum
        # The client_port told to the server, when something relays between (tests, NAT).
        self.announce_port = announce_port or rtp_port
        self.state = State.INIT
        self.session_id: str | None = None
        self.cseq = 0
        self.receiver: RtpReceiver | None = None
        self.first_packet_at: float | None = None  # time.monotonic() of RTP arrivals
        self.last_packet_at: float | None = None
        self.rtcp: ReceiverRtcp | None = None
        self.ended = threading.Event()  # the server said BYE
        self._rtsp: socket.socket | None = None
        self._rtp: socket.socket | None = None
        self._rtcp: socket.socket | None = None
        self._rtcp_destination: tuple[str, int] | None = None
        self._rtcp_lock = threading.Lock()
        self._reader = ResponseReader()
        self._listener: threading.Thread | None = None
        self._closing = threading.Event()

    # -- the lab's four actions ----------------------------------------------------------

    def setup(self) -> None:
        """Connect if needed, open the RTP and RTCP ports, SETUP, and start receiving."""
        self._check(SETUP)
        if self._rtsp is None:
            self._connect()
        self._open_rtp_ports()
        try:
            reply = self._request(SETUP, Transport=f"RTP/UDP; client_port= {self.announce_port}")
            self.session_id = reply.session
            if not self.session_id:
                raise ClientError("the server's SETUP reply has no Session")
        except ClientError:
            self._close_rtp()
            raise
        server_ip = self._rtsp.getpeername()[0]
        self.receiver = RtpReceiver(server_ip)
        self.rtcp = ReceiverRtcp(self.receiver.reception, f"client@{self._local_ip()}",
                                 NOMINAL_SESSION_BANDWIDTH, time.monotonic(),
                                 reduced_minimum=self.rtcp_reduced_minimum)  # fmt: skip
        self._rtcp_destination = self._server_rtcp(reply, server_ip)
        self.first_packet_at = self.last_packet_at = None
        self.ended.clear()
        self._closing.clear()
        self._listener = threading.Thread(target=self.listenRtp, name="rtp-listen", daemon=True)
        self._listener.start()

    def play(self) -> None:
        self._check(PLAY)
        self._request(PLAY, Session=self.session_id)
        if self.receiver is not None:
            self.receiver.reception.resume()  # a pause is not jitter

    def pause(self) -> None:
        self._check(PAUSE)
        self._request(PAUSE, Session=self.session_id)

    def teardown(self) -> None:
        self._check(TEARDOWN)
        self._send_rtcp(lambda rtcp, now, wall: rtcp.bye(now, wall, "teardown"))
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

    def stream_ended(self) -> None:
        """The server's BYE has been played out: the session is READY again (Play restarts)."""
        if self.state is State.PLAYING:
            self.state = State.READY

    def stop_receiving(self) -> None:
        """Stop the receiving thread and close the RTP socket; the counts stay readable."""
        self._closing.set()
        if self._listener is not None and self._listener is not threading.current_thread():
            self._listener.join()
        self._listener = None
        self._close_rtp()

    def summary(self) -> dict[str, float | None]:
        """What was received: frames, dropped frames, packets, loss, bytes, seconds, and the
        RTCP figures: fraction lost, jitter, round-trip time, bit rate."""
        stats: dict[str, float | None] = dict(self.receiver.summary()) if self.receiver else {}
        first, last = self.first_packet_at, self.last_packet_at
        seconds = last - first if first is not None else 0.0
        stats["seconds"] = round(seconds, 3)
        if self.receiver is not None:
            reception = self.receiver.reception
            rtt = self.rtcp.rtt if self.rtcp else None
            stats.update(
                fraction_lost=round(reception.loss_rate, 6),
                jitter_ms=round(reception.jitter_ms, 3),
                rtt_ms=None if rtt is None else round(rtt * 1000, 3),
                bitrate_kbps=round(stats["bytes"] * 8 / seconds / 1000, 1) if seconds else 0.0,
            )
        return stats

    # -- RTP -----------------------------------------------------------------------------

    def listenRtp(self) -> None:
        """Receive RTP and RTCP until close(); runs on its own thread and never raises."""
        rtp, rtcp, receiver = self._rtp, self._rtcp, self.receiver
        sockets = [rtp] if rtcp is None else [rtp, rtcp]
        while not self._closing.is_set():
            try:
                if self.rtcp.due(time.monotonic()):
                    self._send_rtcp(lambda r, now, wall: r.report(now, wall))
                readable, _, _ = select.select(sockets, [], [], RTP_POLL)
                if rtp in readable:
                    self._drain_rtp(RTP_BATCH)
                if rtcp in readable:
                    datagram, (source_ip, _port) = rtcp.recvfrom(MAX_DATAGRAM)
                    if source_ip == receiver.server_ip:
                        self._on_rtcp(datagram)
            except (OSError, ValueError):
                break  # a socket was closed
            except Exception:
                log.exception("error handling a datagram; skipped")

    def _drain_rtp(self, limit: int) -> None:
        """Handle up to `limit` RTP datagrams that are waiting, without blocking."""
        for _ in range(limit):
            try:
                datagram, (source_ip, _port) = self._rtp.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                return
            self._on_rtp(datagram, source_ip)

    def _on_rtp(self, datagram: bytes, source_ip: str) -> None:
        now = time.monotonic()
        receiver = self.receiver
        frame = receiver.receive(datagram, source_ip, now)
        if source_ip == receiver.server_ip:
            self.last_packet_at = now
            if self.first_packet_at is None:
                self.first_packet_at = now
            self.rtcp.media_ssrc = receiver.ssrc
        if frame is not None and self.on_frame is not None:
            self.on_frame(frame, receiver.last_timestamp)

    def _on_rtcp(self, datagram: bytes) -> None:
        with self._rtcp_lock:
            self.rtcp.receive(datagram, time.monotonic(), time.time())
        if self.rtcp.peer_left and not self.ended.is_set():
            log.info("the server said BYE: end of the video")
            self._drain_rtp(MAX_DRAIN)  # the last frame's packets, sent before the BYE
            self.ended.set()
            if self.on_end is not None:
                self.on_end()

    def _send_rtcp(self, build) -> None:
        """Build a compound packet with `build(rtcp, now, wall)` and send it to the server."""
        with self._rtcp_lock:
            if self.rtcp is None or self._rtcp is None or self._rtcp_destination is None:
                return
            datagram = build(self.rtcp, time.monotonic(), time.time())
            try:
                self._rtcp.sendto(datagram, self._rtcp_destination)
            except OSError as exc:
                log.debug("RTCP not sent: %s", exc)

    def _server_rtcp(self, reply: RtspResponse, server_ip: str) -> tuple[str, int] | None:
        """The server's RTCP port from the SETUP reply's `server_port=a-b`, if it says."""
        header = reply.headers.get("Transport")
        try:
            specs = parse_transport(header) if header else []
        except RtspError:
            specs = []
        for spec in specs:
            if spec.server_port is not None:
                rtp_port, rtcp_port = spec.server_port
                return server_ip, rtcp_port or rtp_port + 1
        return None

    def _local_ip(self) -> str:
        return self._rtsp.getsockname()[0]

    def _open_rtp_ports(self) -> None:
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
        rtp.setblocking(False)  # read in batches until empty; select() does the waiting
        self._rtp = rtp
        rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            rtcp.bind(("", self.rtp_port + 1))
            self._rtcp = rtcp
        except OSError as exc:  # RTCP is worth having, not worth failing for
            rtcp.close()
            log.warning("no RTCP: cannot use port %d: %s", self.rtp_port + 1, exc.strerror)

    def _close_rtp(self) -> None:
        for sock in (self._rtp, self._rtcp):
            if sock is not None:
                sock.close()
        self._rtp = self._rtcp = None

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
