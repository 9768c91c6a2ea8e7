"""The client's driver: the sockets and threads around the pure `ClientSession`.

Shared by the Tk player (`Client`) and the headless run (`ClientLauncher --headless`), so
both have one end-of-stream rule (`stream_over`) and one summary (`summary`).

Each RTSP method asks the session for its request, sends it, waits for the reply (up to
`reply_timeout`) and hands it back; a refusal raises `ClientError` with a one-line message and
leaves the state as it was. The methods block: the player runs them off its Tk thread. A
thread (`listen_rtp`) receives RTP from SETUP until `close()` and calls
`on_frame(jpeg, rtp_timestamp)` with each complete frame, on that thread; it serves RTCP too
(`ClientRtcp`), and the server's BYE for the session's SSRC calls `on_end()`. In standard
RTSP a second thread keeps the session alive and falls back from UDP to TCP.

Media and RTCP are taken only from the server: RTP from the RTSP peer's address, from the
port and SSRC its SETUP reply names when it names them (`RtpReceiver` checks), and RTCP only
from the server's address and RTCP port.

With `multicast` the session is a group's (RFC 2326 §12.39): after SETUP the client binds the
group's RTP and RTCP ports, shared with the other members on this host, and joins the group
on `multicast_interface` (`rtsplab.rtp.ports.bind_multicast_ports`). RTP is still taken only
from the RTSP peer's address and the SETUP reply's SSRC (the group's port is not the
server's); RTCP is the group's (`ClientRtcp` with an `RtcpGroup`): reports go to the group on
its schedule, every member's are read, and the server's SR and BYE count as in unicast.
"""

from __future__ import annotations

import logging
import queue
import secrets
import select
import socket
import threading
import time
from collections.abc import Callable
from functools import partial

from rtsplab.client.rtcp import ClientRtcp
from rtsplab.client.session import (
    INTERLEAVED_CHANNELS,
    UDP_FALLBACK,
    ClientError,
    ClientSession,
    parse_target,
)
from rtsplab.payload.rfc2435.depacketizer import JpegDepacketizer
from rtsplab.rtcp.group import RtcpGroup
from rtsplab.rtcp.session import ReceiverRtcp
from rtsplab.rtcp.timing import RTCP_BANDWIDTH_FRACTION
from rtsplab.rtp.ports import (
    ANY_INTERFACE,
    bind_multicast_ports,
    bind_receiver_ports,
    multicast_source_address,
)
from rtsplab.rtp.receiver import RtpReceiver
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.message import InterleavedFrame, RtspRequest, RtspResponse
from rtsplab.rtsp.reader import ResponseReader
from rtsplab.rtsp.sdp import SessionDescription
from rtsplab.rtsp.state import PAUSE, PLAY, SETUP, TEARDOWN, State, is_allowed

__all__ = ["IDLE_END", "RCVBUF_BYTES", "ClientError", "RtspClient"]

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
IDLE_END = 2.0  # seconds without a packet that mean the stream has ended (the lab's server)
WATCH_POLL = 0.25  # how often the session thread checks keep-alive and fallback
MAX_PENDING_REPLIES = 16
CNAME_TOKEN_BYTES = 4  # a multicast CNAME's random part: 8 hex digits tell members apart

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
        multicast: bool = False,
        multicast_interface: str = ANY_INTERFACE,
    ) -> None:
        """`filename` is the lab's bare name or an `rtsp://` URL, whose host and port win.
        `announce_port` is the port pair a relay between server and client listens on
        (tests, a NAT): SETUP names it, and media is then taken from the relay's pair.
        `multicast` asks for the stream on a group (standard RTSP; `rtp_port` is then not
        used: the group's ports are the server's choice), joined on `multicast_interface`,
        an IPv4 address of this host (0.0.0.0: the one the host's routes give the group)."""
        self.target = parse_target(server_host, server_port, filename, standard)
        self.session = ClientSession(
            self.target, announce_port or rtp_port, tcp=tcp, udp_fallback=udp_fallback,
            multicast=multicast,
        )  # fmt: skip
        self.multicast_interface = multicast_interface
        self.rtp_port = rtp_port
        self.relay_port = announce_port if announce_port not in (None, rtp_port) else None
        self.on_frame = on_frame
        self.on_end = on_end
        self.rcvbuf = rcvbuf
        self.reply_timeout = reply_timeout
        self.rtcp_reduced_minimum = rtcp_reduced_minimum
        self.receiver: RtpReceiver | None = None
        self.rtcp: ReceiverRtcp | None = None
        self.rtcp_source: tuple[str, int] | None = None  # where the server's RTCP comes from
        self.rtcp_destination: tuple[str, int] | None = None  # the server's RTCP port
        self.foreign_rtcp = 0  # RTCP datagrams from anywhere but the server's RTCP port
        self.first_packet_at: float | None = None  # time.monotonic() of RTP arrivals
        self.last_packet_at: float | None = None
        self.ended = threading.Event()  # the server said BYE
        self._rtsp: socket.socket | None = None
        self._rtp: socket.socket | None = None
        self._rtcp: socket.socket | None = None
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

    # -- what the session knows ----------------------------------------------------------

    @property
    def state(self) -> State:
        return self.session.state

    @property
    def standard(self) -> bool:
        return self.session.standard

    @property
    def tcp(self) -> bool:
        return self.session.tcp

    @property
    def multicast(self) -> bool:
        return self.session.multicast

    @property
    def public(self) -> set[str]:
        return self.session.public

    @property
    def sdp(self) -> SessionDescription | None:
        return self.session.sdp

    @property
    def duration(self) -> float | None:
        return self.session.duration

    @property
    def fps(self) -> float | None:
        return self.session.fps

    @property
    def play_position(self) -> float:
        return self.session.play_position

    @property
    def play_rtptime(self) -> int | None:
        return self.session.play_rtptime

    # -- the lab's four actions ----------------------------------------------------------

    def setup(self) -> None:
        """Connect if needed (and DESCRIBE, in standard RTSP), open the RTP and RTCP ports,
        SETUP, and start receiving."""
        self._check(SETUP)
        if self._rtsp is None:
            self._connect()
        if self.standard and self.session.stream is None:
            self.describe()
        interleaved = self.standard and self.tcp
        if not interleaved and not self.multicast:
            self._open_rtp_ports()
        try:
            self._exchange(self.session.setup)
        except ClientError:
            self._close_rtp()
            raise
        if self.multicast:
            self._join_group()  # the ports are known now: the reply named the group
        self._start_receiving(interleaved)

    def play(self, start: float | None = None) -> None:
        """PLAY; `start` (seconds) seeks there first (standard RTSP: `Range: npt=start-`)."""
        self._check(PLAY)
        if self.receiver is not None:
            self.receiver.reception.resume()  # a pause is not jitter
        self._exchange(partial(self.session.play, start=start))
        # A group's stream does not start at our PLAY: what went to the group before we
        # joined was never ours to lose (and gst-rtsp-server's RTP-Info for a shared media
        # names the sequence number the media started at). Loss counts from the first
        # packet heard, as RFC 3550 A.1 does without RTP-Info.
        if self.receiver is not None and self.session.play_seq is not None and not self.multicast:
            self.receiver.expect_first_seq(self.session.play_seq)
        self.ended.clear()  # after the end of the file, PLAY starts it again: a new end to come
        if self.rtcp is not None:
            self.rtcp.peer_left = False
        if self._rtcp_link is not None:
            self._rtcp_link.playing_again()

    def pause(self) -> None:
        self._check(PAUSE)
        self._exchange(self.session.pause)

    def teardown(self) -> None:
        self._check(TEARDOWN)
        if self._rtcp_link is not None:
            self._rtcp_link.leave("teardown")
        try:
            self._exchange(self.session.teardown)
        finally:
            # Refused or not, the client is done with this session.
            self.stop_receiving()
            self.session.ended_by_teardown()

    def describe(self) -> SessionDescription:
        """OPTIONS and DESCRIBE: which methods the server has, and what the stream is;
        ClientError, before any SETUP, when it offers nothing this client plays."""
        if self._rtsp is None:
            self._connect()
        self._exchange(self.session.options)
        self._exchange(self.session.describe)
        assert self.session.sdp is not None  # a DESCRIBE that succeeded has set it
        return self.session.sdp

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

    # -- the stream, as both front ends see it --------------------------------------------

    def stream_over(self, now: float, idle: float = IDLE_END) -> bool:
        """The end of the stream, one rule for the headless run and the player: the server's
        BYE, or (the lab's server says nothing) no packet for `idle` seconds since the last
        one, or since PLAY when none came (plus the UDP fallback's wait, when it applies)."""
        if self.ended.is_set():
            return True
        last = self.last_packet_at or self.session.played_at
        if last is None or self.state is not State.PLAYING:
            return False
        if self.first_packet_at is None and self.standard and not self._interleaved:
            idle += self.session.udp_fallback
        return now - last > idle

    def stream_ended(self) -> None:
        """The server's BYE has been played out: the session is READY again (Play restarts)."""
        self.session.stream_ended()

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
        RTCP figures: fraction lost, jitter, round-trip time, bit rate, and the RTCP session's
        members (§6.3's count, this client included: 2 in unicast, a two-party session; a
        group's as the stream ended in multicast) and report interval (Td, §6.3.1)."""
        stats: dict[str, float | None] = dict(self.receiver.summary()) if self.receiver else {}
        first, last = self.first_packet_at, self.last_packet_at
        seconds = last - first if first is not None and last is not None else 0.0
        stats["seconds"] = round(seconds, 3)
        link = self._rtcp_link
        # In a group, the RTCP from others that spoke for the stream's source (ClientRtcp).
        stats["foreign_rtcp"] = self.foreign_rtcp + (link.foreign if link is not None else 0)
        if self.receiver is not None:
            reception = self.receiver.reception
            rtt = self.rtcp.rtt if self.rtcp else None
            received = stats.get("bytes") or 0
            stats.update(
                fraction_lost=round(reception.loss_rate, 6),
                jitter_ms=round(reception.jitter_ms, 3),
                rtt_ms=None if rtt is None else round(rtt * 1000, 3),
                bitrate_kbps=round(received * 8 / seconds / 1000, 1) if seconds else 0.0,
            )
        stats["members"] = None if link is None else link.members
        stats["rtcp_interval_s"] = None if link is None else round(link.interval, 3)
        return stats

    # -- RTP and RTCP --------------------------------------------------------------------

    def _start_receiving(self, interleaved: bool) -> None:
        server_ip = self._rtsp.getpeername()[0]
        server = self.session.server
        # Where media comes from: the server's ports, or a relay's between us.
        media_ports = server.server_port
        if self.relay_port is not None:
            media_ports = (self.relay_port, self.relay_port + 1)
        if server.group is not None:
            media_ports = None  # RTP comes to the group, from a port the reply need not name
        assembler = JpegDepacketizer(self.session.dimensions) if self.standard else None
        self.receiver = RtpReceiver(
            server_ip, assembler, server_port=None if interleaved or media_ports is None
            else media_ports[0], ssrc=server.ssrc, payload_type=self.session.payload_type,
        )  # fmt: skip
        now = time.monotonic()
        if server.group is not None:
            self._start_group_rtcp(server_ip, now)
        else:
            self.rtcp = ReceiverRtcp(self.receiver.reception, f"client@{self._local_ip()}",
                                     NOMINAL_SESSION_BANDWIDTH, now,
                                     reduced_minimum=self.rtcp_reduced_minimum)  # fmt: skip
            self.rtcp.media_ssrc = server.ssrc
            self.rtcp_source = None if media_ports is None else (server_ip, media_ports[1])
            rtcp_port = None if interleaved or server.server_port is None else server.server_port[1]
            if self.relay_port is not None and not interleaved:
                rtcp_port = self.relay_port + 1  # a relay carries RTCP both ways
            self.rtcp_destination = None if rtcp_port is None else (server_ip, rtcp_port)
            self._rtcp_link = ClientRtcp(self.rtcp, self._rtcp_sender(interleaved),
                                         on_source_change=self.receiver.follow)  # fmt: skip
        self.first_packet_at = self.last_packet_at = None
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

    def _start_group_rtcp(self, server_ip: str, now: float) -> None:
        """RTCP as a member of the group: reports to the group's RTCP port on the group's
        schedule. The CNAME names this client alone (§6.5.1), not just its host: members
        sharing a host also share the address their RTCP comes from, and only the CNAME then
        tells a collision of SSRCs from our own packets looped back (§8.2)."""
        group = self.session.server.group
        try:
            source_ip = multicast_source_address(group.address, group.rtcp_port,
                                                 self.multicast_interface)  # fmt: skip
        except OSError as exc:  # no route to the group: what we send will not get far either
            log.warning("no route to %s: %s", group.address, exc.strerror or exc)
            source_ip = self._local_ip()
        cname = f"client-{secrets.token_hex(CNAME_TOKEN_BYTES)}@{source_ip}"
        self.rtcp = ReceiverRtcp(self.receiver.reception, cname, NOMINAL_SESSION_BANDWIDTH, now)
        self.rtcp.media_ssrc = self.session.server.ssrc
        members = RtcpGroup(
            self.rtcp.ssrc, RTCP_BANDWIDTH_FRACTION * NOMINAL_SESSION_BANDWIDTH, now,
            cname=cname, reduced_minimum=self.rtcp_reduced_minimum,
            own_addresses=[(source_ip, group.rtcp_port)],
        )  # fmt: skip
        self.rtcp_source = None  # every member's RTCP is heard; the server's by its address
        self.rtcp_destination = (group.address, group.rtcp_port)
        self._rtcp_link = ClientRtcp(self.rtcp, self._rtcp_sender(False), group=members,
                                     server_ip=server_ip,
                                     on_source_change=self.receiver.follow)  # fmt: skip
        log.info("joined %s: RTP on %d, RTCP on %d, as %s (SSRC %08X)", group.address,
                 group.rtp_port, group.rtcp_port, cname, self.rtcp.ssrc)  # fmt: skip

    def listen_rtp(self) -> None:
        """Receive RTP and RTCP by UDP until close(); its own thread; never raises."""
        rtp, rtcp = self._rtp, self._rtcp
        sockets = [rtp] if rtcp is None else [rtp, rtcp]
        while not self._closing.is_set():
            self._rtcp_link.report_if_due()
            try:
                readable, _, _ = select.select(sockets, [], [], RTP_POLL)
            except (OSError, ValueError):
                break  # a socket was closed (select raises ValueError for a closed one)
            if rtp in readable:
                self._drain_rtp(RTP_BATCH)
            if rtcp in readable:
                try:
                    datagram, source = rtcp.recvfrom(MAX_DATAGRAM)
                except BlockingIOError:
                    continue  # a datagram select saw, gone (a checksum error): nothing to read
                except OSError:
                    break
                if self.multicast:
                    self._guarded(self._on_group_rtcp, datagram, source)
                elif self._from_server_rtcp(source[0], source[1]):
                    self._guarded(self._on_rtcp, datagram)
                else:
                    self.foreign_rtcp += 1

    def _from_server_rtcp(self, ip: str, port: int) -> bool:
        """RTCP is taken from the server's RTCP port only (from its address, when the SETUP
        reply named no port, as the lab's server does not)."""
        if self.rtcp_source is not None:
            return (ip, port) == self.rtcp_source
        return ip == self.receiver.server_ip

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
                        self._guarded(self._on_rtp, item.data, server_ip, None)
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
                datagram, source = self._rtp.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, OSError):
                return
            self._guarded(self._on_rtp, datagram, source[0], source[1])

    @staticmethod
    def _guarded(handle: Callable[..., None], *args: object) -> None:
        """One datagram's handling: whatever goes wrong with it (a callback's full disk...)
        is logged, and the receiving thread goes on with the next."""
        try:
            handle(*args)
        except Exception:
            log.exception("error handling a datagram; skipped")

    def _on_rtp(self, datagram: bytes, source_ip: str, source_port: int | None) -> None:
        now = time.monotonic()
        receiver = self.receiver
        accepted = receiver.counts.packets
        frames = receiver.receive_frames(datagram, source_ip, now, source_port)
        if receiver.counts.packets != accepted:  # the session's own stream, not a stranger's
            self.last_packet_at = now
            if self.first_packet_at is None:
                self.first_packet_at = now
            if receiver.ssrc is not None:
                self.rtcp.media_ssrc = receiver.ssrc  # the source RTCP reports on and its BYE
                if self.multicast:  # the server is a member and a sender of the group
                    self._rtcp_link.heard_rtp(receiver.ssrc, (source_ip, source_port or 0))
        if self.on_frame is not None:
            for frame in frames:
                self.on_frame(frame.data, frame.timestamp)

    def _on_rtcp(self, datagram: bytes) -> None:
        self._rtcp_link.receive(datagram)
        self._after_rtcp()

    def _on_group_rtcp(self, datagram: bytes, source: tuple[str, int]) -> None:
        self._rtcp_link.receive_from_group(datagram, source)
        self._after_rtcp()

    def _after_rtcp(self) -> None:
        """The server's BYE for the stream ends the video, once."""
        if self.rtcp.peer_left and not self.ended.is_set():
            log.info("the server said BYE: end of the video")
            self._drain_rtp(MAX_DRAIN)  # the last frame's packets, sent before the BYE
            if self.rtcp.media_ssrc is not None:
                self.receiver.source_left(self.rtcp.media_ssrc)  # RFC 3550 §8.2: it may go
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
            self._rtp, self._rtcp = bind_receiver_ports(
                self.rtp_port, self.rcvbuf, self._rtsp.family
            )
        except OSError as exc:
            raise ClientError(f"cannot use RTP port {self.rtp_port}: {exc.strerror}") from None

    def _join_group(self) -> None:
        """Bind the group's ports and join it (after SETUP: the reply names them). If that
        fails, the session the server has just set up is torn down, best effort."""
        group = self.session.server.group
        try:
            self._rtp, self._rtcp = bind_multicast_ports(
                group.address, group.rtp_port, group.rtcp_port, self.multicast_interface,
                self.rcvbuf, group.ttl,
            )  # fmt: skip
        except (OSError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            try:
                self._exchange(self.session.teardown)
            except ClientError as teardown_error:
                log.info("TEARDOWN after a failed join: %s", teardown_error)
            self.session.ended_by_teardown()
            raise ClientError(
                f"cannot join {group.address} ports {group.rtp_port}-{group.rtcp_port} on "
                f"interface {self.multicast_interface}: {why}"
            ) from None

    def _close_rtp(self) -> None:
        for sock in (self._rtp, self._rtcp):
            if sock is not None:
                sock.close()
        self._rtp = self._rtcp = None

    # -- keep-alive and the UDP fallback (standard RTSP) ---------------------------------

    def _watch(self) -> None:
        """Keep the session alive, and switch to TCP when UDP does not get through."""
        while not self._closing.wait(WATCH_POLL):
            try:
                now = time.monotonic()
                rtp_seen = self.first_packet_at is not None
                if self.session.fallback_due(now, rtp_seen, self._interleaved):
                    self._fall_back_to_tcp()
                elif self.session.keepalive_due(now):
                    self._exchange(self.session.keepalive)
            except ClientError as exc:
                log.warning("%s", exc)

    def _fall_back_to_tcp(self) -> None:
        log.warning("no RTP over UDP %g s after PLAY: trying TCP", self.session.udp_fallback)
        with self._request_lock:
            self.teardown()
            self.session.tcp = True
            self.setup()
            self.play()

    # -- RTSP ----------------------------------------------------------------------------

    def _check(self, method: str) -> None:
        if not is_allowed(self.state, method):
            raise ClientError(f"{method} is not possible in state {self.state.value}")

    def _connect(self) -> None:
        host, port = self.target.host, self.target.port
        try:
            self._rtsp = socket.create_connection((host, port), timeout=self.reply_timeout)
        except OSError as exc:
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            raise ClientError(f"cannot connect to {where}: {exc.strerror or exc}") from None
        self._reader = ResponseReader()
        self._lost = False

    def _exchange(self, build: Callable[[float], RtspRequest]) -> RtspResponse:
        """Send the request `build(now)` makes and hand the session its reply."""
        with self._request_lock:
            request = build(time.monotonic())
            data = request.encode()
            if dialogue.isEnabledFor(logging.DEBUG):
                dialogue.debug("Data sent:\n%s", data.decode("utf-8", "replace"))
            try:
                with self._send_lock:
                    self._rtsp.sendall(data)
                reply = self._await_reply(request.method)
            except OSError as exc:
                self.session.abandon()
                raise ClientError(f"{request.method} failed: {exc.strerror or exc}") from None
            except ClientError:
                self.session.abandon()
                raise
            return self.session.receive(reply, time.monotonic())

    def _await_reply(self, method: str) -> RtspResponse:
        deadline = time.monotonic() + self.reply_timeout
        quiet = LAB_REPLY_QUIET if self.session.reply_may_end_quietly else None
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
            self._rtsp.settimeout(remaining if quiet is None else min(remaining, quiet))
            try:
                try:
                    data = self._rtsp.recv(MAX_DATAGRAM)
                except TimeoutError:
                    # Only the lab's server ends a reply without the empty line.
                    pending = quiet is not None and self._reader.pending
                    partial_reply = self._reader.flush_partial() if pending else None
                    replies: list[RtspResponse | InterleavedFrame] = (
                        [partial_reply] if partial_reply is not None else []
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
        if not self.session.is_reply(reply):
            log.info("ignoring a reply to CSeq %s (waiting for %d)", reply.cseq, self.session.cseq)
            return False
        return True
