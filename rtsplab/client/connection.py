"""The client's driver: one thread owns the RTSP connection and the pure `ClientSession`.

Shared by the Tk player (`Client`) and the headless run (`ClientLauncher --headless`), so
both have one end-of-stream rule (`stream_over`), one account of what ended a session
against our will (`failure`) and one summary (`summary`).

The thread model. `RtspClient` starts one thread, the connection's owner ("rtsp-connection"):
it alone writes and reads the RTSP socket (`ClientChannel`), changes the session, opens and
closes the media, sends the keep-alives, asks a quiet server whether it is there, falls back
from UDP to TCP, and notices the server closing the connection; RTP and RTCP interleaved on
the connection are read by it too. Every public method (`setup`, `play`, `pause`,
`teardown`, `describe`, `disconnect`, `close`) posts a job to it and waits on the job's
future; the owner runs jobs one at a time, in the order posted, so nothing re-enters it and
no lock guards the session. Over UDP a second thread, the session's `UdpListener`
("rtp-listen"), receives RTP and RTCP into `ClientMedia` under that object's small lock.
`on_frame(jpeg, rtp_timestamp)` is called with each complete frame and `on_end()` at the
server's BYE on the thread that received them (the listener, or the owner when
interleaved): they must not call the client back and wait. Each thread has its own stop
signal: the owner's ends the connection at `close()`, the listener's ends one session's
media at TEARDOWN. Any thread may read what the session and the media say (`state`,
`session`, `summary()`, `stream_over()`, `failure()`, `connection_lost()`) without waiting.

Each RTSP job asks the session for its request, sends it, waits for the reply (up to
`reply_timeout`), checks its numbers (`reply_bounds`) and hands it back; a refusal raises
`ClientError` with a one-line message and leaves the state as it was. The calls block their
caller, never the Tk thread: the player makes them from its action runner's thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from rtsplab.client.audio_link import AudioLink
from rtsplab.client.auth import ClientAuth, Login
from rtsplab.client.channel import ClientChannel, ConnectionClosed
from rtsplab.client.end_of_stream import Heard, Verdict, judge
from rtsplab.client.exchange import exchange
from rtsplab.client.media import (
    ClientMedia,
    Delivery,
    FrameCallback,
    MediaSockets,
    UdpListener,
    guarded,
    no_media_summary,
)
from rtsplab.client.media_setup import MediaOptions, bind_ports, open_media
from rtsplab.client.multicast import join_group
from rtsplab.client.owner import OwnerThread
from rtsplab.client.session import (
    INTERLEAVED_CHANNELS,
    UDP_FALLBACK,
    ClientError,
    ClientSession,
    parse_target,
)
from rtsplab.client.transport_reply import GroupTransport, ServerTransport
from rtsplab.rtp.ports import ANY_INTERFACE
from rtsplab.rtsp.message import InterleavedFrame, RtspRequest, RtspResponse
from rtsplab.rtsp.sdp import SessionDescription
from rtsplab.rtsp.state import PLAY, SETUP, TEARDOWN, State
from rtsplab.rtsp.tls import client_context

__all__ = ["IDLE_END", "RCVBUF_BYTES", "ClientError", "RtspClient"]

log = logging.getLogger(__name__)
dialogue = logging.getLogger("rtsp")  # the lab's verbose dialogue, shown with -v

# 4K at 30 fps is ~12,000 packets/s; a few MB holds a whole frame or two while the receiving
# thread is busy. Linux caps the request at net.core.rmem_max (and reports double).
RCVBUF_BYTES = 8 * 1024 * 1024
REPLY_TIMEOUT = 5.0  # seconds to wait for an RTSP reply
IDLE_END = 2.0  # seconds without a packet that mean the stream has ended (the lab's server)
# How often the owner looks up from its socket between jobs: keep-alive, UDP fallback, and
# the RTCP report timer when RTP is interleaved.
OWNER_POLL = 0.2
# How often a quiet server is asked whether it is there (each ask waits up to the reply
# timeout): a few asks within any session timeout.
PROBE_INTERVAL = 2.0

T = TypeVar("T")


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
        idle: float = IDLE_END,
        strict_ports: bool = False,
        login: Login | None = None,
        insecure: bool = False,
        repair: bool = True,
        audio: AudioLink | None = None,
    ) -> None:
        """`filename` is the lab's bare name or an `rtsp://` URL, whose host and port win.
        `announce_port` is the port pair a relay between server and client listens on
        (tests, a NAT): SETUP names it, and media is then taken from the relay's pair.
        `multicast` asks for the stream on a group (standard RTSP; `rtp_port` is then not
        used: the group's ports are the server's choice), joined on `multicast_interface`,
        an IPv4 address of this host (0.0.0.0: the one the host's routes give the group).
        `idle`: seconds of quiet that end the stream of a server that says nothing else (the
        lab's), and after which any other is asked whether it is there (`stream_over`).
        `strict_ports`: RTP only from the port the SETUP reply names (`RtpReceiver`).
        `login`: the name and password a 401 is answered with (else the URL's, if any);
        `insecure`: over rtsps://, take any certificate (a lab's self-signed one); `repair`:
        ask for lost packets again where the server offers (RFC 4585, RFC 4588); `audio`:
        where the SDP's sound goes (None: the video alone, as the lab's client)."""
        self.target = target = parse_target(server_host, server_port, filename, standard)
        self.session = ClientSession(
            target, announce_port or rtp_port, tcp=tcp or target.secure,
            udp_fallback=udp_fallback, multicast=multicast, repair=repair, audio=bool(audio),
        )  # fmt: skip
        self.audio = audio
        if login is None and target.user is not None:
            login = Login(target.user, target.password or "")
        verified = target.secure and not insecure  # only then may a password go in Basic
        self.auth = None if login is None else ClientAuth(login, basic=verified)
        self.tls = client_context(verify=not insecure) if target.secure else None
        self.multicast_interface = multicast_interface
        self.rtp_port = rtp_port
        self.relay_port = announce_port if announce_port not in (None, rtp_port) else None
        self.rcvbuf = rcvbuf
        self.reply_timeout = reply_timeout  # the owner's: close() may shorten it
        self.rtcp_reduced_minimum = rtcp_reduced_minimum
        self.ended = threading.Event()  # the server said BYE
        self.delivery = Delivery(
            self.ended, on_frame, on_end, audio.video_reports if audio else None
        )
        self.media: ClientMedia | None = None  # the last SETUP's, kept for its figures
        self._channel: ClientChannel | None = None
        self._listener: UdpListener | None = None
        self._fed_by_owner: ClientMedia | None = None  # the media interleaved on _channel
        self._lost = threading.Event()  # the server closed the RTSP connection
        self.idle = idle
        self.strict_ports = strict_ports
        self._failure: ClientError | None = None  # the owner's: what ended the session
        self._answered_at: float | None = None  # a reply came, to the probe sent then
        self._probed_at: float | None = None  # the last probe of a quiet server
        self._replied_at: float | None = None  # the server's latest reply to a request
        self._owner = OwnerThread("rtsp-connection", self._tick, OWNER_POLL, self._shut_down)
        self._owner.start()

    # -- any thread ----------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self.session.state

    def setup(self) -> None:
        """Connect if needed (and DESCRIBE, in standard RTSP), open the RTP and RTCP ports,
        SETUP, and start receiving."""
        self._call(self._setup)

    def play(self, start: float | None = None) -> None:
        """PLAY; `start` (seconds) seeks there first (standard RTSP: `Range: npt=start-`)."""
        self._call(partial(self._play, start))

    def pause(self) -> None:
        self._call(self._pause)

    def teardown(self) -> None:
        self._call(self._teardown)

    def describe(self) -> SessionDescription:
        """OPTIONS and DESCRIBE: which methods the server has, and what the stream is;
        ClientError, before any SETUP, when it offers nothing this client plays."""
        return self._call(self._describe)

    def stream_ended(self, wait: bool = True) -> None:
        """The server's BYE has been played out: the session is READY again (Play restarts).
        `wait=False` posts it and returns at once (the Tk thread never waits)."""
        future = self._owner.submit(self.session.stream_ended)
        if wait:
            future.result()

    def disconnect(self, reply_timeout: float | None = None) -> None:
        """Tear down if a session is open (best effort, each reply awaited `reply_timeout`
        seconds when given), stop receiving and close the connection; a later `setup()`
        connects again."""
        self._call(partial(self._disconnect, reply_timeout))

    def close(self, reply_timeout: float | None = None) -> None:
        """`disconnect()`, then stop the owner thread: the client is done. Bounded: the
        TEARDOWN's reply timeout, plus a poll of the receiving thread."""
        try:
            self.disconnect(reply_timeout)
        except ClientError as exc:  # closed already, or the job failed: close anyway
            log.debug("closing: %s", exc)
        self._owner.stop()

    def stream_over(self, now: float, idle: float | None = None) -> bool:
        """The end of the stream (`rtsplab.client.end_of_stream`'s rule; `idle` None: the
        client's own), once no packet asked for again may still come at `now`."""
        return self._verdict(idle) is Verdict.OVER and not ClientMedia.awaits(self.media, now)

    def failure(self) -> ClientError | None:
        """Why the session cannot go on, when it cannot: the server closed the RTSP
        connection while a session was open, the fallback to TCP failed, or nothing came
        from the server for the session's timeout. Never waits."""
        state = self.session.state
        if self._failure is None and self._lost.is_set() and state is not State.INIT:
            doing = "playing" if state is State.PLAYING else "the session was open"
            return ClientError(f"the server closed the connection while {doing}")
        if self._failure is None and self._verdict() is Verdict.GONE:
            return ClientError(f"nothing from the server for {self.session.timeout:g} s "
                               "(its session timeout): it is gone")  # fmt: skip
        return self._failure

    def connection_lost(self) -> bool:
        """Whether the server has closed the RTSP connection; never waits."""
        return self._lost.is_set()

    def _verdict(self, idle: float | None = None) -> Verdict:
        session, media = self.session, self.media
        if self.ended.is_set() or session.state is not State.PLAYING:
            return Verdict.OVER if self.ended.is_set() else Verdict.PLAYING
        udp = session.standard and not (media is not None and media.interleaved)
        last, caught_up = (None, None) if media is None else media.quiet_since()
        more = session.standard or session.server != ServerTransport()
        heard = Heard(session.played_at, last, caught_up, self._answered_at, more_than_rtp=more)
        first_wait = session.udp_fallback if udp else 0.0
        idle = self.idle if idle is None else idle
        return judge(heard, idle=idle, first_wait=first_wait, timeout=session.timeout)

    def summary(self) -> dict[str, float | None]:
        """What was received (`ClientMedia.summary`); the figures stay after TEARDOWN."""
        media, audio = self.media, self.audio.summary() if self.audio else {}
        return {**(media.summary() if media is not None else no_media_summary()), **audio}

    def _call(self, call: Callable[[], T]) -> T:
        return self._owner.call(call)

    # -- the owner thread ----------------------------------------------------------------

    def _read_connection(self, channel: ClientChannel) -> None:
        """Between requests: interleaved media, stray replies (logged), or the end."""
        try:
            for reply in channel.read_available():
                log.info("ignoring a reply to CSeq %s: no request awaits one", reply.cseq)
        except ConnectionClosed as exc:
            self._connection_closed(exc)

    def _tick(self, now: float) -> None:
        """RTCP when it is interleaved; then ask a quiet server whether it is there; in
        standard RTSP, keep the session alive, and switch to TCP when UDP does not get
        through."""
        fed = self._fed_by_owner
        if fed is not None and not self._lost.is_set():
            guarded(fed.report_if_due)
            if self.audio is not None:
                self.audio.tick()
            if self._channel is not None and self._channel.drained():
                fed.caught_up(now)  # read as soon as it came: nothing waits unread
        if self._channel is None or self._lost.is_set():
            return
        media = self.media
        rtp_seen = media is not None and media.first_packet_at is not None
        try:
            if self.session.fallback_due(now, rtp_seen, fed is not None):
                self._fall_back_to_tcp()
            elif self._verdict() is Verdict.PROBE:
                self._probe(now)
            elif self.session.standard and self.session.keepalive_due(now):
                self._exchange(self.session.keepalive)
        except ClientError as exc:
            log.warning("%s", exc)

    def _probe(self, now: float) -> None:
        """The RTP has gone quiet: a keep-alive asks whether the server is there. Any reply,
        a refusal too, says it is; none says the network is out (`end_of_stream`)."""
        if self._probed_at is not None and now - self._probed_at < PROBE_INTERVAL:
            return
        self._probed_at = now
        log.info("no RTP for %g s: asking the server whether it is there", self.idle)
        replied = self._replied_at
        try:
            self._exchange(self.session.keepalive)
        except ClientError as exc:
            if self._replied_at == replied:
                log.warning("no answer from the server (%s): waiting for the stream", exc)
        if self._replied_at != replied:
            self._answered_at = self._replied_at

    def _fall_back_to_tcp(self) -> None:
        log.warning("no RTP over UDP %g s after PLAY: trying TCP", self.session.udp_fallback)
        try:
            self._teardown()
            self.session.tcp = True
            self._setup()
            self._play(None)
        except ClientError as exc:
            self.session.tcp = False  # the next session tries UDP again, as asked
            self._failure = ClientError(f"no RTP over UDP, and over TCP: {exc}")
            raise self._failure from None

    def _shut_down(self) -> None:
        self._stop_media()
        self._close_channel()

    # -- the jobs ------------------------------------------------------------------------

    def _setup(self) -> None:
        session = self.session
        session.check(SETUP)
        self._failure = None  # a new session: what ended the last one is told already
        if self._lost.is_set():
            self._close_channel()  # the server closed it: a new session needs a new one
        channel = self._channel or self._connect()
        if session.standard and session.stream is None:
            self._describe()
        interleaved = session.standard and session.tcp
        sockets = None
        if not interleaved and not session.multicast:
            sockets = bind_ports(self.rtp_port, self.rcvbuf, channel.sock.family)
        try:
            self._exchange(session.setup)
            group = session.server.group
            if group is not None:
                sockets = self._join(group)  # the ports are known now: the reply named the group
            self._start_media(channel, sockets)
        except Exception as exc:
            if sockets is not None:
                sockets.close()  # whatever failed, the ports are not left bound
            if isinstance(exc, OSError):
                raise ClientError(f"SETUP failed: {exc.strerror or exc}") from None
            raise

    def _play(self, start: float | None) -> None:
        self.session.check(PLAY)
        media = self.media
        for track in (media, self.audio):
            if track is not None:
                track.resume()
        self._exchange(partial(self.session.play, start=start))
        # A group's stream does not start at our PLAY: what went to the group before we
        # joined was never ours to lose (and gst-rtsp-server's RTP-Info for a shared media
        # names the sequence number the media started at). Loss counts from the first
        # packet heard, as RFC 3550 A.1 does without RTP-Info.
        first_seq = None if self.session.multicast else self.session.play_seq
        self.ended.clear()  # after the end of the file, PLAY starts it again: a new end to come
        if media is not None:
            media.played(first_seq)
        if self.audio is not None:
            self.audio.played(self.session)

    def _pause(self) -> None:
        self._exchange(self.session.pause)

    def _teardown(self) -> None:
        self.session.check(TEARDOWN)
        for track in (self.media, self.audio):
            if track is not None:
                track.leave("teardown")
        try:
            self._exchange(self.session.teardown)
        finally:
            # Refused or not, the client is done with this session.
            self._stop_media()
            self.session.ended_by_teardown()

    def _describe(self) -> SessionDescription:
        if self._lost.is_set():
            self._close_channel()
        if self._channel is None:
            self._connect()
        self._exchange(self.session.options)
        self._exchange(self.session.describe)
        sdp = self.session.sdp
        if sdp is None:  # a DESCRIBE that succeeded has set it
            raise ClientError("DESCRIBE gave no session description")
        return sdp

    def _disconnect(self, reply_timeout: float | None) -> None:
        if reply_timeout is not None:
            self.reply_timeout = reply_timeout
        if self._lost.is_set():
            self.session.ended_by_teardown()  # no server to tell
        elif self.session.state is not State.INIT and self._channel is not None:
            try:
                self._teardown()
            except ClientError as exc:
                log.info("TEARDOWN while closing failed: %s", exc)
        self._stop_media()
        self._close_channel()

    # -- media ---------------------------------------------------------------------------

    def _join(self, group: GroupTransport) -> MediaSockets:
        """Bind the group's ports and join it. If that fails, the session the server has
        just set up is torn down, best effort."""
        try:
            return join_group(group, self.multicast_interface, self.rcvbuf)
        except ClientError:
            try:
                self._exchange(self.session.teardown)
            except ClientError as teardown_error:
                log.info("TEARDOWN after a failed join: %s", teardown_error)
            self.session.ended_by_teardown()
            raise

    def _start_media(self, channel: ClientChannel, sockets: MediaSockets | None) -> None:
        """The session's receiving: over `sockets` on a listener thread, or (None) on the
        RTSP connection, read by this thread."""
        options = MediaOptions(self.relay_port, self.strict_ports, self.multicast_interface,
                               self.rtcp_reduced_minimum)  # fmt: skip
        media = open_media(self.session, (channel.server_ip, channel.local_ip), sockets,
                           self.delivery, options,
                           partial(self._send_interleaved_rtcp, channel))  # fmt: skip
        self.ended.clear()
        self.media = media
        channel.lenient = sockets is None
        if sockets is None:
            self._fed_by_owner = media
        else:
            self._listener = UdpListener(sockets, media)
            self._listener.start()
        if self.audio is not None:
            self.audio.set_up(self.session, channel, self._exchange, options,
                              (self.rtp_port, self.rcvbuf))  # fmt: skip

    def _send_interleaved_rtcp(self, channel: ClientChannel, datagram: bytes) -> None:
        channel.send(InterleavedFrame(INTERLEAVED_CHANNELS[1], datagram).encode(),
                     self.reply_timeout)  # fmt: skip

    def _on_interleaved(self, frame: InterleavedFrame) -> None:
        """A `$` frame read off the connection: the session's media, when it is interleaved."""
        media = self._fed_by_owner
        if self.audio is not None and self.audio.on_interleaved(frame):
            return
        if media is not None:
            guarded(media.receive_interleaved, frame.channel, frame.data)

    def _stop_media(self) -> None:
        if self.audio is not None:
            self.audio.stop()
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        self._fed_by_owner = None
        if self._channel is not None:
            self._channel.lenient = False

    # -- RTSP ----------------------------------------------------------------------------

    def _connect(self) -> ClientChannel:
        host, port = self.target.host, self.target.port
        channel = ClientChannel.connect(host, port, self.reply_timeout, self._on_interleaved,
                                        self.tls)  # fmt: skip
        self._channel = channel
        self._owner.watch(channel.sock, partial(self._read_connection, channel))
        self._lost.clear()
        return channel

    def _close_channel(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            self._owner.unwatch(channel.sock)
            channel.close()

    def _connection_closed(self, exc: ClientError) -> None:
        if not self._lost.is_set():
            log.info("%s", exc)
        self._lost.set()
        if self._channel is not None:
            self._owner.unwatch(self._channel.sock)

    def _exchange(self, build: Callable[[float], RtspRequest]) -> RtspResponse:
        """Send the request `build(now)` makes and hand the session its reply
        (`rtsplab.client.exchange`: signed, and sent again, when the server asks)."""
        channel = self._channel
        if channel is None:
            raise ClientError("not connected to the server")
        try:
            reply, self._replied_at = exchange(channel, self.session, build,
                                               self.reply_timeout, self.auth)  # fmt: skip
        except OSError as exc:
            raise ClientError(f"request failed: {exc.strerror or exc}") from None
        except ConnectionClosed as exc:
            self._connection_closed(exc)
            raise
        return reply
