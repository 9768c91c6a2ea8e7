"""The sound of one connection's session, as its driver (`ServerWorker`) runs it: its own
pair of UDP sockets, its stream on the server's one pacing loop, its own RTCP.

The decisions are the pure session's (`rtsplab.server.session`, `audio_setup`); this owns
what they need on the wire. The sockets are bound when a SETUP of the sound over UDP first
asks for its port (`port`), so a silent session binds nothing more. The stream starts at the
same monotonic instant as the video's (`start(session, now)`) and stops with it. Its RTCP
(`rtsplab.server.rtcp.ServerRtcp`, a thread of its own, on its own socket or channel) sends
sender reports from the same clocks as the video's, under the same CNAME (RFC 3550 §6.5.1:
one source, two SSRCs), and BYE at the end of the sound and at TEARDOWN. On the lab's
impaired network its datagrams take the session's one link, as the video's do.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from functools import partial

from rtsplab.rtcp.session import SenderRtcp
from rtsplab.rtp.ports import bind_port_pair
from rtsplab.rtsp.state import State
from rtsplab.server import audio_setup as sound
from rtsplab.server.audio_stream import AudioStream
from rtsplab.server.impaired_link import ImpairedLink
from rtsplab.server.repair import Repair
from rtsplab.server.rtcp import ServerRtcp
from rtsplab.server.session import ServerSession
from rtsplab.server.stream import Streaming
from rtsplab.server.ways_out import RTCP, RTP, SendInterleaved, through, way_out

log = logging.getLogger(__name__)


class AudioTrack:
    def __init__(
        self, host: str, streaming: Streaming, send_interleaved: SendInterleaved,
        link: Callable[[], ImpairedLink | None],
    ) -> None:  # fmt: skip
        """`host`: the address the sockets are bound on (the RTSP connection's); `link()`
        the session's impaired link, if any, when a datagram leaves."""
        self._host = host
        self._streaming = streaming
        self._send_interleaved = send_interleaved
        self._link = link
        self.rtp_socket: socket.socket | None = None
        self.rtcp_socket: socket.socket | None = None
        self.stream: AudioStream | None = None  # from PLAY to PAUSE or the end
        self.rtcp: ServerRtcp | None = None  # from SETUP to TEARDOWN
        self.repair: Repair | None = None  # the answers to its NACKs, from the first one on

    def port(self) -> int:
        """The sound's server RTP port (RTCP on the next), its sockets bound the first time."""
        if self.rtp_socket is None:
            self.rtp_socket, self.rtcp_socket = bind_port_pair(self._host)
        port: int = self.rtp_socket.getsockname()[1]
        return port

    @property
    def playing(self) -> bool:
        stream = self.stream
        return stream is not None and stream.active and not stream.at_end

    def start(self, session: ServerSession, now: float) -> None:
        """PLAY: the sound from where the session's PLAY put it, its first packet due at
        `now`, the instant the video's first frame is."""
        audio = session.audio
        playing = session.setup is not None and session.state is State.PLAYING
        if audio is None or audio.shared or not playing:  # a group's plays with the group
            return
        self.stop(session)
        if audio.feedback and self.repair is None:  # kept from the first packet on
            self.repair = Repair.negotiated(rtx=False)
        send = way_out(self._send_interleaved, audio.interleaved, RTP, self.rtp_socket,
                       audio.rtp_destination)  # fmt: skip
        stream = AudioStream(str(session.session_id), audio.source, audio.sender,
                             audio.first_sample, through(self._link, send),
                             self._say_bye, self.repair)  # fmt: skip
        self.stream = stream
        self._streaming.loop.add(stream, stream.start(now))

    def stop(self, session: ServerSession) -> None:
        """PAUSE, a seek, TEARDOWN: nothing leaves after this; the RTP clock stops (SR)."""
        stream, self.stream = self.stream, None
        if stream is not None:
            self._streaming.loop.remove(stream)
        if session.audio is not None and not session.audio.shared:  # a group's is the group's
            session.audio.sender.pause()

    def start_rtcp(self, session: ServerSession, cname: str) -> None:
        """The sound's RTCP, once set up (SETUP of either track may come first); a group's
        sound has the group's (`rtsplab.server.multicast_sound`)."""
        audio = session.audio
        if audio is None or audio.shared or self.rtcp is not None:
            return
        peer = audio.rtcp_destination or (session.client_ip, None)
        bandwidth = sound.audio_bandwidth(audio.source)
        engine = SenderRtcp(audio.sender, cname, bandwidth, time.monotonic(),
                            reduced_minimum=session.config.rtcp_reduced_minimum,
                            peer_rtcp=peer)  # fmt: skip
        send = way_out(self._send_interleaved, audio.interleaved, RTCP, self.rtcp_socket,
                       audio.rtcp_destination)  # fmt: skip
        sock = None if audio.interleaved is not None else self.rtcp_socket
        name = f"{session.session_id}-audio"
        self.rtcp = ServerRtcp(engine, name, sock, through(self._link, send), quiet=self._ended,
                               on_nacks=partial(self._nacked, session))  # fmt: skip
        try:
            self.rtcp.start()
        except RuntimeError as exc:
            log.error("session %s: its sound's RTCP cannot start (%s)", name, exc)
            self.rtcp = None

    def _nacked(
        self, session: ServerSession, nacks: list[list[int]], round_trip: float | None
    ) -> None:
        """The client's NACKs of the sound (the RTCP loop): answered from the first on,
        with the packets as they were, over UDP and where the server answers NACKs."""
        audio, repair = session.audio, self.repair
        if repair is None and audio is not None and audio.rtp_destination is not None:
            if session.config.retransmission:
                repair = self.repair = Repair.negotiated(rtx=False)
                stream = self.stream
                if stream is not None:
                    stream.repair = repair
        if repair is not None:
            repair.post(nacks, round_trip)

    def stop_rtcp(self, reason: str) -> None:
        """The session ends: BYE for the sound, and its RTCP stopped."""
        rtcp, self.rtcp = self.rtcp, None
        repair, self.repair = self.repair, None
        if rtcp is not None and repair is not None:
            log.info("session %s: %s", rtcp.name, repair.counts)
        if rtcp is not None:
            rtcp.stop(reason)

    def receive(self, session: ServerSession, datagram: bytes, channel: int) -> bool:
        """Interleaved RTCP from the client on the sound's channel: True when it was."""
        audio, rtcp = session.audio, self.rtcp
        interleaved = None if audio is None else audio.interleaved
        if interleaved is None or channel != interleaved[RTCP]:
            return False
        if rtcp is not None:
            rtcp.receive(datagram)
        return True

    def close(self, session: ServerSession) -> None:
        """The client is gone: stop everything and free the sockets."""
        try:
            self.stop(session)
            self.stop_rtcp("client gone")
        finally:
            for sock in (self.rtp_socket, self.rtcp_socket):
                if sock is not None:
                    sock.close()

    def _say_bye(self, reason: str) -> None:
        rtcp = self.rtcp
        if rtcp is not None:
            rtcp.say_bye(reason)

    def _ended(self) -> bool:
        stream = self.stream
        return stream is not None and stream.at_end
