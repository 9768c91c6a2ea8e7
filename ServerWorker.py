"""One client's connection: the RTSP dialogue on its thread, RTP and RTCP on others.

The lab's shape: `Server` accepts a connection and starts a `ServerWorker`, whose thread reads
requests (`recvRtspRequest`) and answers them (`processRtspRequest`, `replyRtsp`). PLAY hands
the session's `RtpStream` to the server's one pacing loop (`rtsplab.server.pacing_loop`), which
sends its frames burst by burst (`sendRtp`) until PAUSE, TEARDOWN, the end of the file, or the
client going away; the frames come cut once for every session from the server's
`PayloadCache`. A multicast member plays its file's one stream to the group instead
(`rtsplab.server.multicast`), which goes on for the others when it stops. From SETUP to
TEARDOWN a unicast session's RTCP driver (`rtsplab.server.rtcp.ServerRtcp`, in the one RTCP
loop) sends sender reports and reads the client's reception reports, from the client's RTCP port
only; a multicast member has no RTCP of its own: its file's stream reports to the group
for every member, and tells when it last heard each. The decisions are the pure sessions'
(`rtsplab.server.session`, `rtsplab.rtcp.session`); this module owns sockets and threads.

Nothing escapes a thread: a malformed request is answered with its 4xx, a fault with 500, and
a socket error ends this session alone. Nothing a client holds open is unbounded in time: a
request must arrive whole within its deadline (`rtsplab.server.channel`), a connection
with no session and no request for IDLE_CONNECTION is closed, a lab session not playing and
unheard for LAB_IDLE_SESSION is ended, and a standard session unheard for its timeout
(requests, or RTCP about the session or from the member to its group) is ended; the RTSP
thread looks when that could first be (at most every IDLE_CHECK), so that a thousand
sessions do not wake a thousand threads a second. Nothing a client holds back blocks a thread
either: one writer per connection (`rtsplab.server.connection_writer`) sends replies and
interleaved frames from a bounded queue; the others enqueue, a full queue drops whole frames,
and a client that takes no byte for its deadline has its connection shut down, which ends the
session here.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from functools import partial
from typing import cast

from rtsplab.rtcp.session import PeerReport, SenderRtcp
from rtsplab.rtp.pacer import Pacer
from rtsplab.rtp.ports import bind_port_pair
from rtsplab.rtp.sender import Packet, joined
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.grammar import cseq_or_none
from rtsplab.rtsp.headers.authorization import redacted
from rtsplab.rtsp.message import RtspRequest, RtspResponse
from rtsplab.rtsp.state import PAUSE, PLAY, SETUP, TEARDOWN, State
from rtsplab.server.audio_track import AudioTrack
from rtsplab.server.channel import Item, ServerChannel
from rtsplab.server.connection_writer import ConnectionWriter
from rtsplab.server.impaired_link import ImpairedLink
from rtsplab.server.impairment import Impairment
from rtsplab.server.multicast import MulticastStream, MulticastStreams
from rtsplab.server.position import play_moves
from rtsplab.server.repair import Repair
from rtsplab.server.rtcp import ServerRtcp, server_cname, session_bandwidth
from rtsplab.server.session import ServerSession, StreamConfig
from rtsplab.server.stream import RtpStream, Streaming
from rtsplab.server.transports import UdpPorts
from rtsplab.server.udp_out import UdpOut
from rtsplab.server.ways_out import way_out

__all__ = ["ServerWorker"]

log = logging.getLogger(__name__)
dialogue = logging.getLogger("rtsp")  # the lab's verbose dialogue, shown with -v

IDLE_CONNECTION = 60  # seconds a connection may stay without a session and without a word
# From a connection's first byte to its first session, however it trickles (OPTIONS, DESCRIBE
# and SETUP take well under a second).
NO_SESSION_LIMIT = 60.0
# A lab session not playing and unheard: two minutes to press Play (its client is silent while
# it plays, so this counts from the end of the file).
LAB_IDLE_SESSION = 120.0
MAX_BAD_REQUESTS = 10  # malformed requests on one connection: past this, it is closed
IDLE_CHECK = 1.0  # seconds: the least between two looks at a session's idleness or silence
CLOSE_LINGER = 1.0  # s for the last replies and BYE to leave: a half-closed client reads them


class ServerWorker:
    def __init__(
        self, connection: socket.socket, address: tuple[str, int], config: StreamConfig,
        streaming: Streaming, groups: MulticastStreams | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:  # fmt: skip
        """`streaming` is what every session of the server shares; `groups` its multicast
        streams (with --multicast); `tls` the server's TLS (rtsps://), None for plain RTSP."""
        self.connection = connection
        self.rtsp = ServerChannel(connection, address, tls)  # its reader and its one writer
        self.streaming = streaming
        self.address = self.rtsp.address
        self.rtp_socket, self.rtcp_socket = bind_port_pair(self.rtsp.local[0])
        # A clip's sound: its sockets, stream and RTCP (`rtsplab.server.audio_track`).
        self.audio = AudioTrack(self.rtsp.local[0], streaming, self.send_interleaved,
                                lambda: self.link)  # fmt: skip
        self.groups = groups
        self._member_id = ""  # the session id it joined its multicast stream with
        self.session = ServerSession(config, self.address[0], self.rtp_socket.getsockname()[1],
                                   server_address=self.rtsp.local, groups=groups,
                                   secure=tls is not None,
                                   audio_port=self.audio.port)  # fmt: skip
        self.thread = threading.Thread(
            target=self.recvRtspRequest, name=f"rtsp-{address[0]}:{address[1]}", daemon=True
        )
        self.stream: RtpStream | None = None  # from PLAY to PAUSE or the end
        self.repair: Repair | None = None  # the answers to its NACKs, from SETUP on
        self._udp_out: UdpOut | None = None  # RTP's way out, when it is plain UDP
        self.rtcp: ServerRtcp | None = None  # unicast, from SETUP to TEARDOWN, in the RTCP loop
        self.link: ImpairedLink | None = None  # the lab's impaired network, from SETUP on
        self.last_heard = time.monotonic()  # a request or RTCP: the session is alive
        self.set_up_at = time.monotonic()  # the last SETUP's time, for its average rate
        self.bad_requests = 0
        self._stream_stopped = time.monotonic()  # when the streamer last ended
        self.finished = threading.Event()  # set when the connection is closed and freed

    @property
    def writer(self) -> ConnectionWriter:
        """The connection's one writer: replies and interleaved frames."""
        return self.rtsp.writer

    @property
    def group(self) -> MulticastStream | None:
        """The multicast stream this session is a member of (the one `groups` made)."""
        return cast("MulticastStream | None", self.session.group)

    def run(self) -> None:
        self.rtsp.start()
        self.thread.start()

    # -- RTSP ----------------------------------------------------------------------------

    def recvRtspRequest(self) -> None:
        """Read requests until the client closes the connection (or says nothing for long)."""
        log.info("connection from %s:%d", *self.address)
        try:
            while (items := self._next_requests()) is not None:
                self.handle_requests(items)
        except OSError as exc:
            log.info("connection from %s:%d lost: %s", *self.address, exc)
        except Exception:
            log.exception("RTSP worker for %s:%d failed", *self.address)
        finally:
            self.close()

    def _next_requests(self) -> Sequence[Item] | None:
        """What the client sends next (perhaps nothing yet); None when the connection ends:
        the client closed it, or let a deadline pass."""
        rtsp, session = self.rtsp, self.session
        first = rtsp.first_byte_at
        if session.state is State.INIT and first and time.monotonic() - first > NO_SESSION_LIMIT:
            log.info("connection from %s:%d: no session %g s after its first byte: closing",
                     *self.address, NO_SESSION_LIMIT)  # fmt: skip
            return None
        if rtsp.request_overdue(time.monotonic()):
            log.info("connection from %s:%d: a request not whole within %g s: closing",
                     *self.address, rtsp.request_deadline)  # fmt: skip
            return None
        limit = self._quiet_limit()
        if limit is not None and time.monotonic() > limit:
            why = (f"unheard for {LAB_IDLE_SESSION:g} s while not playing" if session.timeout
                   is None else f"nothing heard for {session.timeout} s")  # fmt: skip
            log.info("session %s: %s: ending it", session.session_id, why)
            return None
        if rtsp.readable(self._read_timeout()):
            return rtsp.read()
        if rtsp.pending and not session.standard:
            # The lab's client ends a request without the empty line: quiet for a moment
            # with a request half-read, it is taken as it is.
            return rtsp.take_partial()
        if session.state is State.INIT:
            log.info("connection from %s:%d idle for %d s: closing", *self.address,
                     IDLE_CONNECTION)  # fmt: skip
            return None
        return ()

    def _read_timeout(self) -> float | None:
        """How long to wait for the client: as a request in progress allows; a while with
        no session (an idle connection is closed); with a session, till its quiet limit
        (`_quiet_limit`), at least IDLE_CHECK."""
        session, now = self.session, time.monotonic()
        request = self.rtsp.request_wait(not session.standard, now)
        waits = [] if request is None else [request]
        if session.state is State.INIT:
            waits.append(IDLE_CONNECTION)
        else:
            limit = self._quiet_limit()  # none while a lab session plays: look again later
            waits.append(max(IDLE_CHECK, LAB_IDLE_SESSION if limit is None else limit - now))
        return min(waits)

    def _quiet_limit(self) -> float | None:
        """When (monotonic s) the session is to end if it stays quiet: a standard one unheard
        for its timeout (no request, no RTCP about it, to the session or from the member to
        its group), a lab one past SETUP, not streaming and unheard for LAB_IDLE_SESSION."""
        session, group, rtcp, stream = self.session, self.group, self.rtcp, self.stream
        if session.timeout is not None:
            heard = [self.last_heard]
            if group is not None:
                heard.append(group.heard_since(session.client_ip) or 0.0)
            if rtcp is not None:
                heard.append(rtcp.peer_heard or 0.0)
            return max(heard) + session.timeout
        if session.standard or session.state is State.INIT or self._streaming():
            return None
        ended = stream.ended_at if stream is not None and stream.ended_at else 0.0
        return max(self.last_heard, self._stream_stopped, ended) + LAB_IDLE_SESSION

    def _streaming(self) -> bool:
        stream = self.stream
        return stream is not None and stream.active and not stream.at_end

    def handle_requests(self, items: Sequence[Item]) -> None:
        for item in items:
            if isinstance(item, RtspRequest):
                self.last_heard = time.monotonic()
                self.processRtspRequest(item)
            elif isinstance(item, RtspError):
                self.replyRtsp(self.session.error_response(item))
                self.bad_requests += 1
                if self.bad_requests >= MAX_BAD_REQUESTS:
                    log.info("connection from %s:%d: malformed requests: closing", *self.address)
                    self.rtsp.shutdown()
                    return
            else:  # interleaved: RTCP counts only if it is the session's
                self.receive_rtcp(item.data, interleaved_channel=item.channel)

    def processRtspRequest(self, request: RtspRequest) -> None:
        if dialogue.isEnabledFor(logging.DEBUG):
            dialogue.debug("Data received:\n%s", redacted(request.encode().decode("latin-1")))
        refused = self._refused(request)
        if refused is not None:
            self.replyRtsp(refused)
            return
        stopped = False
        try:
            if self.group is None and play_moves(request, self.session.media):
                # A seek, or PLAY from the start again: the stream stops first, so the
                # media is never moved under it. (A group's stream moves under its lock.)
                self.stop_stream()
                stopped = True
            response = self._carry_out(request)
        except Exception:
            log.exception("fault answering %s", request.method)
            cseq = request.headers.get("CSeq")
            response = self.session.error_response(
                RtspError(500, "server fault", cseq_or_none(cseq))
            )
        self.replyRtsp(response)
        played = request.method == PLAY and response.status == 200
        if self.session.state is State.PLAYING and (played or stopped):
            # After PLAY, or after a refused seek that stopped it; never after a keep-alive,
            # which would play a stream that has ended over again.
            self.start_stream()

    def _refused(self, request: RtspRequest) -> RtspResponse | None:
        """The refusal of a request the server's gate does not let through (credentials
        wanted, or wrong; the lab's dialect off), before anything about a file is said."""
        gate = self.session.config.gate
        refusal = (
            None
            if gate is None
            else gate.refusal(
                request, self.address[0], time.monotonic(), secure=self.rtsp.tls is not None
            )
        )
        return None if refusal is None else refusal.reply(self.session, request)

    def _carry_out(self, request: RtspRequest) -> RtspResponse:
        """The session's answer, and what a successful one means for streams and threads."""
        group = self.group
        response = self.session.handle(request)
        if response.status == 200 and request.method in (PAUSE, TEARDOWN):
            self.stop_stream()  # not one packet after the reply that says it stopped
            if request.method == TEARDOWN:
                self.stop_rtcp("teardown")
                self.leave_group(group, "teardown")
                self.session.close()
        elif response.status == 200 and request.method == SETUP:
            if group is not None and group is not self.group:
                self.leave_group(group, "a new SETUP")
            setup, joined_group = self.session.setup, self.group
            if setup is not None and joined_group is not None:
                self._member_id = setup.session_id
                joined_group.add(self._member_id, self.session.client_ip)
            self.set_up_at = time.monotonic()
            self.start_rtcp()
            self.audio.start_rtcp(self.session, server_cname(self.rtsp.local[0]))
            self.start_repair()
        return response

    def replyRtsp(self, response: RtspResponse) -> None:
        data = response.encode()
        if dialogue.isEnabledFor(logging.DEBUG):
            dialogue.debug("Reply sent:\n%s", data.decode("utf-8", "replace"))
        self.rtsp.send_reply(data)  # never dropped; written in turn with queued frames

    def send_interleaved(self, channel: int, data: bytes) -> None:
        """RTP or RTCP on the RTSP connection, framed with `$` (RFC 2326 §10.12)."""
        self.rtsp.send_interleaved(channel, data)

    # -- RTP -----------------------------------------------------------------------------

    def start_stream(self) -> None:
        """Start streaming, unless it already runs (PLAY while playing changes nothing);
        a multicast member plays its group's stream."""
        group = self.group
        if group is not None:
            group.play(self._member_id)
            return
        if self._streaming():
            return
        self.stop_stream()  # past the last frame, about to say BYE: start again instead
        setup = self.session.setup
        if setup is None:
            return
        way, plain_udp = setup.way, self.link is None
        self._udp_out = UdpOut(self.rtp_socket, way.rtp, gso=self.streaming.gso) if (
            isinstance(way, UdpPorts) and plain_udp
        ) else None  # fmt: skip
        pacer = Pacer(setup.sender.fps, burst=self.session.config.burst)
        stream = RtpStream(setup.session_id, setup.media, setup.sender, pacer,
                           self.streaming.cache, self.sendRtp, self._say_bye,
                           self.repair)  # fmt: skip
        self.stream = stream
        now = time.monotonic()  # the video's first frame and the sound's first packet
        self.streaming.loop.add(stream, stream.start(now))
        self.audio.start(self.session, now)

    def stop_stream(self) -> None:
        """Stop streaming: the frame in progress leaves whole, nothing after it. A
        multicast member stops playing; its group's stream goes on for the others."""
        group = self.group
        if group is not None:
            group.pause(self._member_id)  # the group's sender is its own to pause
            return
        self.audio.stop(self.session)
        stream, self.stream = self.stream, None
        if stream is not None:
            self.streaming.loop.remove(stream)
            self._stream_stopped = time.monotonic()
        if self.session.sender is not None:
            self.session.sender.pause()  # the RTP clock stops with the stream (SR)

    def sendRtp(self, packets: Sequence[Packet], segment: int | None = None) -> None:
        """Send a burst of RTP packets to the client (the pacing loop calls it when due):
        by UDP, in one system call when UDP GSO pays (`udp_out.Gso`); else one at a time through
        the lab's impaired network or on the interleaved channel. `segment`: the packets'
        size, all but the last (`rtsplab.rtp.sender.CutFrame.segment`)."""
        if self._udp_out is not None:
            self._udp_out.send(packets, segment)
            return
        session, link = self.session, self.link
        deliver = way_out(self.send_interleaved, session.interleaved, 0, self.rtp_socket,
                                session.rtp_destination)  # fmt: skip
        for packet in packets:
            if link is None:
                deliver(joined(packet))
            else:
                link.send(joined(packet), deliver)  # leaves when the impairment says

    def leave_group(self, group: MulticastStream | None, why: str) -> None:
        """The member's session ends (TEARDOWN, or the client gone)."""
        if group is not None and self.groups is not None:
            log.info("session %s leaves its multicast stream: %s", self._member_id, why)
            self.groups.leave(group, self._member_id)

    def _say_bye(self, reason: str) -> None:
        """The stream is past its last frame (or its file changed): BYE, with why."""
        rtcp = self.rtcp
        if rtcp is not None:
            rtcp.say_bye(reason)

    # -- RTCP ----------------------------------------------------------------------------

    def start_rtcp(self) -> None:
        """A unicast session's RTCP (`rtsplab.server.rtcp.ServerRtcp`), from SETUP to
        TEARDOWN. A multicast member has none: its file's stream reports for every member."""
        session = self.session
        media, sender = session.media, session.sender
        if media is None or sender is None or self.group is not None or self.rtcp is not None:
            return
        # RTCP is taken from the client's RTCP port only (its channel, when interleaved).
        peer = session.rtcp_destination or (session.client_ip, None)
        engine = SenderRtcp(sender, server_cname(self.rtsp.local[0]),
                            session_bandwidth(media, session.config.fps), time.monotonic(),
                            reduced_minimum=session.config.rtcp_reduced_minimum,
                            peer_rtcp=peer)  # fmt: skip
        impairment = session.config.impairment
        if impairment is not None and impairment.active:
            if session.interleaved is not None:
                impairment = impairment.for_tcp()  # TCP loses nothing: delay and rate only
            self.link = ImpairedLink(Impairment(impairment), str(session.session_id))
        rtcp_out = way_out(self.send_interleaved, session.interleaved, 1, self.rtcp_socket,
                           session.rtcp_destination)  # fmt: skip
        link = self.link
        send = rtcp_out if link is None else partial(link.send, deliver=rtcp_out)
        self.rtcp = ServerRtcp(
            engine, str(session.session_id),
            None if session.interleaved is not None else self.rtcp_socket, send,
            quiet=self._past_the_end, on_peer_report=self._client_reports,
            on_nacks=self._nacked,
        )  # fmt: skip
        try:
            self.rtcp.start()
        except RuntimeError as exc:  # no thread to be had: the stream goes on without RTCP,
            # and the session ends on its timeout all the same (`_quiet_limit`)
            log.error("session %s: RTCP cannot start (%s): going on without it",
                      session.session_id, exc)  # fmt: skip
            self.rtcp = None

    def start_repair(self) -> None:
        """Its stream's answers, kept across PLAYs, when the client NACKs over UDP."""
        setup = self.session.setup
        wanted = setup and setup.feedback and self.session.rtp_destination is not None
        self.repair = Repair.negotiated(setup.rtx) if setup and wanted else None

    def _nacked(self, nacks: list[list[int]], round_trip: float | None) -> None:
        """The client's NACKs (the RTCP loop), posted to the stream's answers; a UDP client
        NACKing unasked (ffmpeg's SETUP says RTP/AVP) is answered from then on, as it was."""
        repair, stream, session = self.repair, self.stream, self.session
        if repair is None and stream and session.config.retransmission and session.rtp_destination:
            repair = self.repair = stream.repair = Repair.negotiated(rtx=False)
        if repair is not None:
            repair.post(nacks, round_trip)

    def stop_rtcp(self, reason: str) -> None:
        """The session ends: say BYE and stop its RTCP (the sound's first: the link, if
        any, still carries its BYE)."""
        self.audio.stop_rtcp(reason)
        rtcp, self.rtcp = self.rtcp, None
        if rtcp is not None:
            rtcp.stop(reason)
        repair, self.repair = self.repair, None
        if rtcp is not None and repair is not None and repair.counts.nacks:
            log.info("session %s: %s", rtcp.name, repair.counts)
        if self.link is not None:  # (also when RTCP could not start: RTP used it)
            self.link.close()  # after the BYE, which it still carries
            self._log_impairment("at the end", None if rtcp is None else rtcp.peer)
            self.link = None

    def receive_rtcp(self, datagram: bytes, interleaved_channel: int) -> None:
        """A report from the client on the interleaved channel; anything else is ignored."""
        session, rtcp = self.session, self.rtcp
        if self.audio.receive(session, datagram, interleaved_channel):
            return
        if rtcp is None or session.interleaved is None:
            return
        if interleaved_channel == session.interleaved[1]:
            rtcp.receive(datagram)  # (a client has no business sending RTP here)

    def _past_the_end(self) -> bool:
        """Our stream is past its end and has said BYE: quiet until a PLAY."""
        stream = self.stream
        return stream is not None and stream.at_end

    def _client_reports(self, peer: PeerReport) -> None:
        log.debug("session %s: client reports %s", self.session.session_id, peer)
        if self.link is not None:
            self._log_impairment("as the client reports", peer)

    def _log_impairment(self, when: str, peer: PeerReport | None) -> None:
        """-v: what the impairment did beside what the client's reports say, so that an
        instructor can see RTCP tell the truth."""
        if log.isEnabledFor(logging.DEBUG) and self.link is not None:
            log.debug("session %s %s: %s", self.link.name, when, self.link.beside(peer))

    # -- the end -------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the stream and free everything: TEARDOWN or not, the client is gone. Every
        step runs whatever the one before did, so nothing leaks."""
        try:
            self.stop_stream()
            self.stop_rtcp("client gone")
            self.audio.close(self.session)
            self.leave_group(self.group, "client gone")
        except Exception:
            log.exception("stopping the session of %s:%d", *self.address)
        finally:
            self.rtsp.close(linger=CLOSE_LINGER)
            self.session.close()
            for sock in (self.rtp_socket, self.rtcp_socket):
                sock.close()
            log.info("connection from %s:%d closed", *self.address)
            self.finished.set()
