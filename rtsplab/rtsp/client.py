"""The client's RTSP dialogue, for the Tk player and the headless run alike.

**The lab's dialect** (a bare file name): the requests are the lab's exactly, so the client
also plays the lab's own server, and the payload is the JPEG's bytes cut into packets:

    SETUP movie.Mjpeg RTSP/1.0          PLAY movie.Mjpeg RTSP/1.0
    CSeq: 1                             CSeq: 2
    Transport: RTP/UDP; client_port= 25000    Session: 123456

Replies are read by header name, with CRLF or bare LF, and with or without the blank line that
ends them (the lab's server leaves it out).

**Standard RTSP** (an `rtsp://` URL, or `standard=True`), as ffplay and VLC speak it (RFC
2326): OPTIONS, DESCRIBE (the SDP gives the track's control URL, frame rate, range and, above
2040 pixels, the size), SETUP with `RTP/AVP;unicast;client_port=a-b` — or interleaved on the
RTSP connection with `tcp=True`, or by itself when no UDP arrives within 3 s — PLAY (with a
Range to seek), a keep-alive before the session times out (GET_PARAMETER when the server lists
it, else OPTIONS), TEARDOWN. The payload is RTP/JPEG (RFC 2435), rebuilt into whole JPEGs.

Each method waits for its reply; a refusal raises `ClientError` with a one-line message and
leaves the state as it was. A thread (`listen_rtp`) receives RTP from SETUP until `close()` and
calls `on_frame(jpeg, rtp_timestamp)` with each complete frame, on that thread; it serves RTCP
too (`ClientRtcp`), and the server's BYE calls `on_end()`: the end of the video.
"""

from __future__ import annotations

import logging
import queue
import select
import socket
import threading
import time
from collections.abc import Callable
from functools import partial
from urllib.parse import urlsplit

from rtsplab.errors import LabError, SdpError
from rtsplab.payload.rfc2435.depacketizer import JpegDepacketizer
from rtsplab.rtcp.session import ReceiverRtcp
from rtsplab.rtp.ports import bind_receiver_ports
from rtsplab.rtp.receiver import RtpReceiver
from rtsplab.rtsp.client_rtcp import ClientRtcp
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.headers.range import format_npt_range, npt_start
from rtsplab.rtsp.headers.rtp_info import first_rtptime
from rtsplab.rtsp.headers.session import parse_session
from rtsplab.rtsp.headers.transport import server_rtcp_port
from rtsplab.rtsp.message import Headers, InterleavedFrame, RtspRequest, RtspResponse
from rtsplab.rtsp.reader import ResponseReader
from rtsplab.rtsp.sdp import SessionDescription, parse_sdp, resolve_control
from rtsplab.rtsp.state import (
    END,
    GET_PARAMETER,
    PAUSE,
    PLAY,
    SETUP,
    TEARDOWN,
    State,
    is_allowed,
    next_state,
)

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
UDP_FALLBACK = 3.0  # seconds after PLAY with no RTP over UDP before trying TCP
DEFAULT_SESSION_TIMEOUT = 60  # RFC 2326 §12.37, when the Session header gives none
WATCH_POLL = 0.25  # how often the session thread checks keep-alive and fallback
INTERLEAVED_CHANNELS = (0, 1)  # RTP, RTCP
USER_AGENT = "rtsp-rtp-lab"
MAX_PENDING_REPLIES = 16


class ClientError(LabError):
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
        standard: bool | None = None,
        tcp: bool = False,
        udp_fallback: float = UDP_FALLBACK,
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
        is_url = filename.lower().startswith("rtsp://")
        self.standard = is_url if standard is None else standard
        self.tcp = tcp
        self.udp_fallback = udp_fallback
        # Standard RTSP: the URL asked for, and what DESCRIBE says of it.
        path = urlsplit(filename).path if is_url else "/" + filename.lstrip("/")
        self.url = filename if is_url else f"rtsp://{server_host}:{server_port}{path}"
        self.sdp: SessionDescription | None = None
        self.base_url = self.url  # aggregate control: PLAY, PAUSE, TEARDOWN, keep-alive
        self.control_url = self.url  # the track's: SETUP
        self.public: set[str] = set()  # methods the server lists in OPTIONS
        self.state = State.INIT
        self.session_id: str | None = None
        self.session_timeout = DEFAULT_SESSION_TIMEOUT
        self.cseq = 0
        self.receiver: RtpReceiver | None = None
        self.first_packet_at: float | None = None  # time.monotonic() of RTP arrivals
        self.last_packet_at: float | None = None
        self.played_at: float | None = None
        self.play_position = 0.0  # seconds into the stream where the last PLAY started
        self.play_rtptime: int | None = None  # and the RTP timestamp it started at
        self.rtcp: ReceiverRtcp | None = None
        self.ended = threading.Event()  # the server said BYE
        self._rtsp: socket.socket | None = None
        self._rtp: socket.socket | None = None
        self._rtcp: socket.socket | None = None
        self.rtcp_destination: tuple[str, int] | None = None  # the server's RTCP port
        self._rtcp_link: ClientRtcp | None = None
        self._request_lock = threading.RLock()  # one request at a time, from any thread
        self._send_lock = threading.Lock()  # requests and interleaved RTCP share the socket
        self._reader = ResponseReader()
        # Interleaved mode: replies handed from the listener to the waiting request. Bounded:
        # a server sending replies no one asked for cannot fill the client's memory.
        self._replies: queue.Queue[RtspResponse | None] = queue.Queue(MAX_PENDING_REPLIES)
        self._interleaved = False  # the listener reads the RTSP socket (RTP on it too)
        self._lost = False  # the server closed the RTSP connection
        self._listener: threading.Thread | None = None
        self._watcher: threading.Thread | None = None
        self._closing = threading.Event()
        self._last_request = time.monotonic()

    # -- the lab's four actions ----------------------------------------------------------

    def setup(self) -> None:
        """Connect if needed (and DESCRIBE, in standard RTSP), open the RTP and RTCP ports,
        SETUP, and start receiving."""
        self._check(SETUP)
        if self._rtsp is None:
            self._connect()
        if self.standard and self.sdp is None:
            self.describe()
        interleaved = self.standard and self.tcp
        if not interleaved:
            self._open_rtp_ports()
        try:
            reply = self._request(SETUP, self.control_url, Transport=self._transport())
            self.session_id = reply.session
            if not self.session_id:
                raise ClientError("the server's SETUP reply has no Session")
        except ClientError:
            self._close_rtp()
            raise
        _, timeout = parse_session(reply.headers["Session"])
        self.session_timeout = timeout or DEFAULT_SESSION_TIMEOUT
        server_ip = self._rtsp.getpeername()[0]
        assembler = None
        if self.standard:
            dimensions = self.sdp.media[0].x_dimensions if self.sdp and self.sdp.media else None
            assembler = JpegDepacketizer(dimensions)
        self.receiver = RtpReceiver(server_ip, assembler)
        self.rtcp = ReceiverRtcp(self.receiver.reception, f"client@{self._local_ip()}",
                                 NOMINAL_SESSION_BANDWIDTH, time.monotonic(),
                                 reduced_minimum=self.rtcp_reduced_minimum)  # fmt: skip
        port = None if interleaved else server_rtcp_port(reply.headers.get("Transport"))
        self.rtcp_destination = None if port is None else (server_ip, port)
        self._rtcp_link = ClientRtcp(self.rtcp, self._rtcp_sender(interleaved))
        self.first_packet_at = self.last_packet_at = self.played_at = None
        self.ended.clear()
        self._closing.clear()
        self._interleaved = interleaved
        while not self._replies.empty():  # the end marker of an earlier TCP session
            self._replies.get_nowait()
        target = self._listen_interleaved if interleaved else self.listen_rtp
        self._listener = threading.Thread(target=target, name="rtp-listen", daemon=True)
        self._listener.start()
        if self.standard and (self._watcher is None or not self._watcher.is_alive()):
            self._watcher = threading.Thread(target=self._watch, name="rtsp-watch", daemon=True)
            self._watcher.start()

    def play(self, start: float | None = None) -> None:
        """PLAY; `start` (seconds) seeks there first (standard RTSP: `Range: npt=start-`)."""
        self._check(PLAY)
        headers = {"Session": self.session_id}
        if start is not None:
            headers["Range"] = format_npt_range(start)
        if self.receiver is not None:
            self.receiver.reception.resume()  # a pause is not jitter
        reply = self._request(PLAY, self.base_url, **headers)
        self.play_position = npt_start(reply.headers.get("Range")) or start or 0.0
        self.play_rtptime = first_rtptime(reply.headers.get("RTP-Info"))
        self.played_at = time.monotonic()
        self.ended.clear()  # after the end of the file, PLAY starts it again: a new end to come
        if self.rtcp is not None:
            self.rtcp.peer_left = False

    def pause(self) -> None:
        self._check(PAUSE)
        self._request(PAUSE, self.base_url, Session=self.session_id)

    def teardown(self) -> None:
        self._check(TEARDOWN)
        if self._rtcp_link is not None:
            self._rtcp_link.send(lambda rtcp, now, wall: rtcp.bye(now, wall, "teardown"))
        try:
            self._request(TEARDOWN, self.base_url, Session=self.session_id)
        finally:
            # Refused or not, the client is done with this session.
            self.stop_receiving()
            self.session_id = None
            if self.state is not State.INIT:
                self.state = next_state(self.state, TEARDOWN)

    def describe(self) -> SessionDescription:
        """OPTIONS and DESCRIBE: which methods the server has, and what the stream is."""
        if self._rtsp is None:
            self._connect()
        options = self._request("OPTIONS", self.url)
        self.public = {m.strip().upper() for m in options.headers.get("Public", "").split(",")}
        reply = self._request("DESCRIBE", self.url, Accept="application/sdp")
        try:
            sdp = parse_sdp(reply.body.decode("utf-8", "replace"))
        except SdpError as exc:
            raise ClientError(f"bad SDP from the server: {exc}") from None
        video = [m for m in sdp.media if m.media == "video"]
        if not video:
            raise ClientError("the server's SDP has no video stream")
        base = reply.headers.get("Content-Base") or reply.headers.get("Content-Location")
        base = base or self.url
        self.control_url = resolve_control(base, video[0].control or "*")
        self.base_url = resolve_control(base, sdp.control or "*").rstrip("/") or self.url
        self.sdp = sdp
        return sdp

    @property
    def duration(self) -> float | None:
        """The stream's length in seconds, from the SDP's range (standard RTSP)."""
        if self.sdp is None or self.sdp.range is None:
            return None
        return self.sdp.range[1]

    @property
    def fps(self) -> float | None:
        return self.sdp.media[0].framerate if self.sdp and self.sdp.media else None

    def close(self) -> None:
        """Tear down if a session is open (best effort), then close every socket."""
        if self.state is not State.INIT and self._rtsp is not None:
            try:
                self.teardown()
            except ClientError as exc:
                log.info("TEARDOWN while closing failed: %s", exc)
        self.stop_receiving()
        self._closing.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join()
        self._watcher = None
        if self._rtsp is not None:
            self._rtsp.close()
            self._rtsp = None

    def connection_lost(self) -> bool:
        """Whether the server has closed the RTSP connection; checked without blocking."""
        if self._rtsp is None:
            return False
        if self._interleaved:
            return self._lost  # the listener reads the socket and saw its end
        try:
            readable, _, _ = select.select([self._rtsp], [], [], 0)
            return bool(readable) and self._rtsp.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def stream_ended(self) -> None:
        """The server's BYE has been played out: the session is READY again (Play restarts)."""
        if is_allowed(self.state, END):
            self.state = next_state(self.state, END)

    def stop_receiving(self) -> None:
        """Stop the receiving thread and close the RTP socket; the counts stay readable."""
        self._closing.set()
        if self._listener is not None and self._listener is not threading.current_thread():
            if self._interleaved and self._rtsp is not None:
                self._rtsp.settimeout(0)  # wake the listener from recv
            self._listener.join()
        self._listener = None
        self._interleaved = False
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

    # -- RTP and RTCP --------------------------------------------------------------------

    def listen_rtp(self) -> None:
        """Receive RTP and RTCP by UDP until close(); its own thread; never raises."""
        rtp, rtcp, receiver = self._rtp, self._rtcp, self.receiver
        sockets = [rtp] if rtcp is None else [rtp, rtcp]
        while not self._closing.is_set():
            self._rtcp_link.report_if_due()
            try:
                readable, _, _ = select.select(sockets, [], [], RTP_POLL)
                if rtp in readable:
                    self._drain_rtp(RTP_BATCH)
                report = rtcp.recvfrom(MAX_DATAGRAM) if rtcp in readable else None
            except (OSError, ValueError):
                break  # a socket was closed
            if report is not None and report[1][0] == receiver.server_ip:
                self._guarded(self._on_rtcp, report[0])

    def _listen_interleaved(self) -> None:
        """Read the RTSP connection: RTP and RTCP in `$` frames, and replies (RFC 2326 §10.12)."""
        sock, server_ip = self._rtsp, self.receiver.server_ip
        sock.settimeout(RTP_POLL)
        try:
            while not self._closing.is_set():
                self._rtcp_link.report_if_due()
                try:
                    data = sock.recv(MAX_DATAGRAM)
                except (TimeoutError, BlockingIOError):
                    continue
                if not data:
                    self._lost = True
                    break
                try:
                    items = self._reader.feed(data)
                except RtspError as exc:
                    log.warning("bad reply skipped: %s", exc)
                    items = getattr(exc, "responses", [])
                for item in items:
                    if not isinstance(item, InterleavedFrame):
                        self._hand_over(item)
                    elif item.channel == INTERLEAVED_CHANNELS[0]:
                        self._guarded(self._on_rtp, item.data, server_ip)
                    elif item.channel == INTERLEAVED_CHANNELS[1]:
                        self._guarded(self._on_rtcp, item.data)
        except OSError:
            self._lost = True
        except Exception:
            log.exception("error reading the RTSP connection")
        finally:
            self._hand_over(None)  # wake a request waiting for its reply
            if self._rtsp is not None and not self._lost:
                try:
                    self._rtsp.settimeout(self.reply_timeout)
                except OSError:
                    pass

    def _hand_over(self, reply: RtspResponse | None) -> None:
        """Give a reply read from the connection to the request waiting for it."""
        while True:
            try:
                self._replies.put_nowait(reply)
                return
            except queue.Full:  # unasked-for replies pile up: the oldest goes
                self._replies.get_nowait()

    def _drain_rtp(self, limit: int) -> None:
        """Handle up to `limit` RTP datagrams that are waiting, without blocking."""
        if self._rtp is None:
            return
        for _ in range(limit):
            try:
                datagram, (source_ip, _port) = self._rtp.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                return
            self._guarded(self._on_rtp, datagram, source_ip)

    @staticmethod
    def _guarded(handle: Callable[..., None], *args: object) -> None:
        """One datagram's handling: whatever goes wrong with it (a callback's full disk...)
        is logged, and the receiving thread goes on with the next."""
        try:
            handle(*args)
        except Exception:
            log.exception("error handling a datagram; skipped")

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
        self._rtcp_link.receive(datagram)
        if self.rtcp.peer_left and not self.ended.is_set():
            log.info("the server said BYE: end of the video")
            self._drain_rtp(MAX_DRAIN)  # the last frame's packets, sent before the BYE
            self.ended.set()
            if self.on_end is not None:
                self.on_end()

    def _rtcp_sender(self, interleaved: bool) -> Callable[[bytes], object] | None:
        """How RTCP reaches the server: its channel on the RTSP connection, or UDP to the
        RTCP port the SETUP reply named (`server_port=a-b`), if it named one."""
        if interleaved:
            return partial(self._send_interleaved, INTERLEAVED_CHANNELS[1])
        rtcp, destination = self._rtcp, self.rtcp_destination
        if rtcp is None or destination is None:
            return None
        return lambda datagram: rtcp.sendto(datagram, destination)

    def _send_interleaved(self, channel: int, data: bytes) -> None:
        with self._send_lock:
            self._rtsp.sendall(InterleavedFrame(channel, data).encode())

    def _local_ip(self) -> str:
        return self._rtsp.getsockname()[0]

    def _open_rtp_ports(self) -> None:
        try:
            self._rtp, self._rtcp = bind_receiver_ports(self.rtp_port, self.rcvbuf)
        except OSError as exc:
            raise ClientError(f"cannot use RTP port {self.rtp_port}: {exc.strerror}") from None

    def _close_rtp(self) -> None:
        for sock in (self._rtp, self._rtcp):
            if sock is not None:
                sock.close()
        self._rtp = self._rtcp = None

    def _transport(self) -> str:
        if not self.standard:
            return f"RTP/UDP; client_port= {self.announce_port}"  # the lab's, to the letter
        if self.tcp:
            return "RTP/AVP/TCP;unicast;interleaved={}-{}".format(*INTERLEAVED_CHANNELS)
        return f"RTP/AVP;unicast;client_port={self.announce_port}-{self.announce_port + 1}"

    # -- keep-alive and the UDP fallback (standard RTSP) ---------------------------------

    def _watch(self) -> None:
        """Keep the session alive, and switch to TCP when UDP does not get through."""
        while not self._closing.wait(WATCH_POLL):
            try:
                now = time.monotonic()
                if (
                    self.state is State.PLAYING
                    and not self._interleaved
                    and self.played_at is not None
                    and self.first_packet_at is None
                    and now - self.played_at > self.udp_fallback
                ):
                    self._fall_back_to_tcp()
                elif (
                    self.state is not State.INIT
                    and now - self._last_request > self.session_timeout / 2
                ):
                    method = GET_PARAMETER if GET_PARAMETER in self.public else "OPTIONS"
                    self._request(method, self.base_url, Session=self.session_id)
            except ClientError as exc:
                log.warning("%s", exc)

    def _fall_back_to_tcp(self) -> None:
        log.warning("no RTP over UDP %g s after PLAY: trying TCP", self.udp_fallback)
        with self._request_lock:
            self.teardown()
            self.tcp = True
            self.setup()
            self.play()

    # -- RTSP ----------------------------------------------------------------------------

    def _check(self, method: str) -> None:
        if not is_allowed(self.state, method):
            raise ClientError(f"{method} is not possible in state {self.state.value}")

    def _connect(self) -> None:
        where = f"{self.server_host}:{self.server_port}"
        try:
            self._rtsp = socket.create_connection(
                (self.server_host, self.server_port), timeout=self.reply_timeout
            )
        except OSError as exc:
            raise ClientError(f"cannot connect to {where}: {exc.strerror or exc}") from None
        self._reader = ResponseReader()
        self._lost = False

    def _request(self, method: str, url: str | None = None, **headers: str) -> RtspResponse:
        """Send one request and wait for its reply; 200 or ClientError. The lab's dialect
        names the file bare and sends only what the lab's client sends."""
        with self._request_lock:
            self.cseq += 1
            items = [("CSeq", str(self.cseq)), *headers.items()]
            if self.standard:
                items.append(("User-Agent", USER_AGENT))
            target = url if self.standard and url else self.filename
            data = RtspRequest(method, target, Headers(items)).encode()
            if dialogue.isEnabledFor(logging.DEBUG):
                dialogue.debug("Data sent:\n%s", data.decode("utf-8", "replace"))
            self._last_request = time.monotonic()
            try:
                with self._send_lock:
                    self._rtsp.sendall(data)
                reply = self._await_reply(method)
            except OSError as exc:
                raise ClientError(f"{method} failed: {exc.strerror or exc}") from None
            if reply.status != 200:
                raise ClientError(
                    f"server answered {reply.status} {reply.reason or ''} to {method} "
                    f"{target}".replace("  ", " ")
                )
            if method in (SETUP, PLAY, PAUSE, TEARDOWN):
                self.state = next_state(self.state, method)
            return reply

    def _await_reply(self, method: str) -> RtspResponse:
        deadline = time.monotonic() + self.reply_timeout
        while (remaining := deadline - time.monotonic()) > 0:
            if self._interleaved:  # the listener reads the socket and hands replies over
                try:
                    reply = self._replies.get(timeout=remaining)
                except queue.Empty:
                    break
                if reply is None:
                    raise ClientError(f"the server closed the connection during {method}")
                if self._is_ours(reply):
                    return reply
                continue
            self._rtsp.settimeout(min(remaining, LAB_REPLY_QUIET))
            try:
                try:
                    data = self._rtsp.recv(MAX_DATAGRAM)
                except TimeoutError:
                    # The lab's server ends a reply without the empty line.
                    partial = self._reader.flush_partial() if self._reader.pending else None
                    replies: list[RtspResponse | InterleavedFrame] = (
                        [partial] if partial is not None else []
                    )
                else:
                    if not data:
                        raise ClientError(f"the server closed the connection during {method}")
                    replies = self._reader.feed(data)
            except RtspError as exc:
                raise ClientError(f"bad reply to {method}: {exc}") from None
            for item in replies:
                if isinstance(item, RtspResponse) and self._is_ours(item):
                    return item
        raise ClientError(f"no reply to {method} within {self.reply_timeout:g} s")

    def _is_ours(self, reply: RtspResponse) -> bool:
        if dialogue.isEnabledFor(logging.DEBUG):
            dialogue.debug("Reply received:\n%s", reply.encode().decode("utf-8", "replace"))
        if reply.cseq not in (None, self.cseq):
            log.info("ignoring a reply to CSeq %s (waiting for %d)", reply.cseq, self.cseq)
            return False
        return True
