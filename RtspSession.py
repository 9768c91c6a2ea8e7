"""The server side of one RTSP session, as a pure object: requests in, responses out.

No sockets and no threads: `ServerWorker` feeds it parsed requests and carries out what a
successful one means (start or stop the stream, close it). Tests drive it directly.

The session's life is the lab's diagram, kept as a table (RFC 2326 Appendix A.2):

    INIT --SETUP--> READY --PLAY--> PLAYING --PAUSE--> READY
    READY or PLAYING --TEARDOWN--> INIT;   PLAYING --PLAY--> PLAYING

A request the table does not allow gets 455 and changes nothing. Every other refusal is
decided before anything changes too, so a bad request leaves the session as it was.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from MediaRoot import resolve
from Pacer import BURST_PACKETS
from RtpSender import RtpSender
from RtspMessage import (
    Headers,
    RtspError,
    RtspRequest,
    RtspResponse,
    TransportSpec,
    parse_transport,
)
from VideoStream import VideoError, VideoStream

log = logging.getLogger(__name__)


class State(Enum):
    INIT = "INIT"
    READY = "READY"
    PLAYING = "PLAYING"


SETUP, PLAY, PAUSE, TEARDOWN, OPTIONS = "SETUP", "PLAY", "PAUSE", "TEARDOWN", "OPTIONS"

TRANSITIONS: dict[tuple[State, str], State] = {
    (State.INIT, SETUP): State.READY,
    (State.READY, PLAY): State.PLAYING,
    (State.PLAYING, PLAY): State.PLAYING,
    (State.PLAYING, PAUSE): State.READY,
    (State.READY, TEARDOWN): State.INIT,
    (State.PLAYING, TEARDOWN): State.INIT,
}
# Methods answered in any state, without a session.
STATELESS = (OPTIONS,)
IMPLEMENTED = (OPTIONS, SETUP, PLAY, PAUSE, TEARDOWN)

# The lab's `RTP/UDP` and the standard `RTP/AVP` (= RTP/AVP/UDP), unicast over UDP.
UDP_PROFILES = ("RTP/UDP", "RTP/AVP", "RTP/AVP/UDP")


def next_state(state: State, method: str) -> State:
    """The state after `method` in `state`; RtspError(455) where the table has no entry."""
    try:
        return TRANSITIONS[(state, method)]
    except KeyError:
        raise RtspError(455, f"{method} is not valid in state {state.value}") from None


def new_session_id() -> str:
    """An unguessable session id, all digits: the lab's client reads it with int()."""
    return str(secrets.randbelow(9 * 10**17) + 10**17)  # 18 digits, 59 bits of randomness


@dataclass
class StreamConfig:
    root: Path
    fps: float = 20.0
    max_packet: int = 1400
    burst: int = BURST_PACKETS  # packets sent back to back; 0: each frame at once
    rtcp_reduced_minimum: bool = False  # RFC 3550 §6.2's 360/kbps minimum instead of 5 s


class RtspSession:
    """One client's session: its state, its media and its RTP numbering."""

    def __init__(
        self,
        config: StreamConfig,
        client_ip: str,
        server_rtp_port: int,
        *,
        make_session_id: Callable[[], str] = new_session_id,
        make_sender: Callable[[float, int], RtpSender] = RtpSender,
    ) -> None:
        self.config = config
        self.client_ip = client_ip
        self.server_rtp_port = server_rtp_port
        self._make_session_id = make_session_id
        self._make_sender = make_sender
        self.state = State.INIT
        self.session_id: str | None = None
        self.media: VideoStream | None = None
        self.sender: RtpSender | None = None
        self.path: Path | None = None
        # Where RTP goes: always the RTSP peer's own address, whatever the request says, so
        # that no one can point a stream at a third party.
        self.rtp_destination: tuple[str, int] | None = None
        self.rtcp_destination: tuple[str, int] | None = None  # the port above RTP's

    def handle(self, request: RtspRequest) -> RtspResponse:
        """Answer one request. Anything refused leaves the session exactly as it was."""
        try:
            cseq = request.cseq
        except RtspError as exc:
            return self.error_response(exc)
        try:
            return self._dispatch(request, cseq)
        except RtspError as exc:
            exc.cseq = cseq
            return self.error_response(exc)

    def error_response(self, error: RtspError) -> RtspResponse:
        log.info("answering %s", error)
        headers = Headers()
        if error.cseq is not None:
            headers["CSeq"] = str(error.cseq)
        if self.session_id is not None:
            headers["Session"] = self.session_id
        return RtspResponse(error.status, headers)

    def close(self) -> None:
        """Free the media: after TEARDOWN, or when the client went away."""
        if self.media is not None:
            self.media.close()
        self.media = self.sender = self.path = None
        self.rtp_destination = self.rtcp_destination = None
        self.session_id = None
        self.state = State.INIT

    # -- methods -------------------------------------------------------------------------

    def _dispatch(self, request: RtspRequest, cseq: int) -> RtspResponse:
        method = request.method
        if method not in IMPLEMENTED:
            raise RtspError(501, f"method {method!r} is not implemented")
        if method in STATELESS:
            return self._ok(cseq, Public=", ".join(IMPLEMENTED))
        new_state = next_state(self.state, method)
        if self.state is not State.INIT and request.session != self.session_id:
            raise RtspError(454, f"unknown session {request.session!r}")
        if method == SETUP:
            return self._setup(request, cseq)
        if method == TEARDOWN:
            # The media stays open until the caller has stopped the stream and calls close().
            session_id, self.session_id = self.session_id, None
            self.state = new_state
            return self._ok(cseq, session_id)
        self.state = new_state
        return self._ok(cseq)

    def _setup(self, request: RtspRequest, cseq: int) -> RtspResponse:
        transport = self._choose_transport(request.headers.get("Transport"))
        path = resolve(self.config.root, request.uri)
        try:
            media = VideoStream(path)
        except (VideoError, OSError) as exc:
            raise RtspError(415, f"{path.name}: {exc}") from None
        # Everything checked: commit.
        self.close()
        self.path = path
        self.media = media
        self.sender = self._make_sender(self.config.fps, self.config.max_packet)
        self.session_id = self._make_session_id()
        rtp_port, rtcp_port = transport.client_port
        self.rtp_destination = (self.client_ip, rtp_port)
        self.rtcp_destination = (self.client_ip, rtcp_port or rtp_port + 1)
        self.state = State.READY
        log.info(
            "session %s: %s (%d frames, %s) to %s:%d",
            self.session_id, path.name, media.frame_count, media.format, *self.rtp_destination,
        )  # fmt: skip
        reply = TransportSpec(
            protocol=transport.protocol,
            unicast=True,
            client_port=transport.client_port,
            server_port=(self.server_rtp_port, self.server_rtp_port + 1),
            ssrc=self.sender.ssrc,
        )
        return self._ok(cseq, Transport=reply.format())

    @staticmethod
    def _choose_transport(header: str | None) -> TransportSpec:
        """The first transport offered that this server supports: unicast RTP over UDP."""
        if header is None:
            raise RtspError(461, "SETUP without a Transport header")
        for spec in parse_transport(header):
            if (
                spec.protocol.upper() in UDP_PROFILES
                and spec.unicast is not False
                and spec.client_port is not None
            ):
                return spec
        raise RtspError(461, f"no supported transport in {header!r}")

    def _ok(self, cseq: int, session_id: str | None = None, **extra: str) -> RtspResponse:
        # CSeq then Session, in that order: the lab's client reads them by line number.
        headers = Headers([("CSeq", str(cseq))])
        session_id = session_id or self.session_id
        if session_id is not None:
            headers["Session"] = session_id
        for name, value in extra.items():
            headers[name] = value
        return RtspResponse(200, headers)
