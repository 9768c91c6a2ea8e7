"""The audio track's share of the driver (`rtsplab.client.connection.RtspClient`): its SETUP
after the video's, its media and the thread that receives it, its RTCP, and what each PLAY
says of it. Every method runs on the connection's owner thread, as the video's media does.

The track is optional in every way: a server that offers no L16 sound, or refuses the audio
SETUP, or a second port pair that cannot be had, leaves the video playing alone (logged once).
Over UDP the audio has its own port pair (the video's + 2, or any free pair) and listener
thread; over TCP it comes interleaved on channels 2-3, read by the owner thread, which hands
each `$` frame to the track it belongs to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from rtsplab.client.audio_track import AUDIO_INTERLEAVED
from rtsplab.client.channel import ClientChannel
from rtsplab.client.media import (
    ClientMedia,
    ClockCallback,
    Delivery,
    MediaSockets,
    UdpListener,
    guarded,
)
from rtsplab.client.media_setup import MediaOptions, bind_ports, open_audio_media
from rtsplab.client.multicast import join_group
from rtsplab.client.session import ClientError, ClientSession
from rtsplab.rtsp.message import InterleavedFrame, RtspRequest, RtspResponse

__all__ = ["AudioLink"]

log = logging.getLogger(__name__)

Exchange = Callable[[Callable[[float], RtspRequest]], RtspResponse]
PlayedCallback = Callable[[ClientSession], None]
AUDIO_PORT_STEP = 2  # the audio's RTP port after the video's pair (RFC 3550 §11: even, then odd)


class AudioLink:
    def __init__(
        self, delivery: Delivery, on_played: PlayedCallback | None = None,
        video_reports: ClockCallback | None = None,
    ) -> None:  # fmt: skip
        """`delivery`: where the audio packets go (`on_frame(payload, timestamp)`), its SRs
        and its BYE; `on_played(session)` after each PLAY, with the RTP-Info of both tracks;
        `video_reports`: where the video's SRs go (the driver's video delivery takes it)."""
        self.delivery = delivery
        self.on_played = on_played
        self.video_reports = video_reports
        self.media: ClientMedia | None = None  # the last SETUP's, kept for its figures
        self._listener: UdpListener | None = None
        self._interleaved: ClientMedia | None = None

    def set_up(
        self, session: ClientSession, channel: ClientChannel, exchange: Exchange,
        options: MediaOptions, ports: tuple[int, int],
    ) -> None:  # fmt: skip
        """SETUP the audio track, if the SDP offered one the client plays, and start
        receiving it; the video goes on alone when that fails. `ports`: the video's RTP
        port asked for, and the receive buffer size."""
        if session.audio is None:
            return
        sockets = None if session.tcp or session.multicast else self._bind(channel, *ports)
        try:
            port = 0 if sockets is None else sockets.rtp.getsockname()[1]
            exchange(partial(session.setup_audio, client_port=port))
            group = None if session.audio_server is None else session.audio_server.group
            if group is not None:  # the reply named the group's ports: joined now
                sockets = join_group(group, options.multicast_interface, ports[1])
            media = open_audio_media(
                session, (channel.server_ip, channel.local_ip), sockets, self.delivery,
                options, partial(self._send_rtcp, channel),
            )  # fmt: skip
        except ClientError as exc:
            if sockets is not None:
                sockets.close()
            session.audio_server = None
            log.warning("no sound: the audio track's SETUP failed (%s); video only", exc)
            return
        self.media = media
        if sockets is None:
            self._interleaved = media
        else:
            self._listener = UdpListener(sockets, media)
            self._listener.start()

    def _bind(self, channel: ClientChannel, video_port: int, rcvbuf: int) -> MediaSockets | None:
        port = video_port + AUDIO_PORT_STEP if video_port else 0
        family = channel.sock.family
        try:
            return bind_ports(port, rcvbuf, family)
        except ClientError:
            try:
                return bind_ports(0, rcvbuf, family)  # any free pair will do
            except ClientError as exc:
                log.warning("no sound: %s; video only", exc)
                return None

    def _send_rtcp(self, channel: ClientChannel, datagram: bytes) -> None:
        channel.send(InterleavedFrame(AUDIO_INTERLEAVED[1], datagram).encode(), 5.0)

    def on_interleaved(self, frame: InterleavedFrame) -> bool:
        """A `$` frame off the connection: True when it was the audio's."""
        media = self._interleaved
        if media is None or frame.channel not in AUDIO_INTERLEAVED:
            return False
        guarded(media.receive_interleaved, frame.channel, frame.data)
        return True

    def tick(self) -> None:
        """The audio's RTCP reports, when interleaved (a listener sends its own over UDP)."""
        if self._interleaved is not None:
            guarded(self._interleaved.report_if_due)

    def resume(self) -> None:
        if self.media is not None:
            self.media.resume()

    def played(self, session: ClientSession) -> None:
        """After a PLAY: loss counts from the audio's RTP-Info seq; the player hears of both
        tracks' RTP-Info."""
        if self.media is not None and session.audio_server is not None:
            # A group's stream does not start at our PLAY: its seq says nothing of loss.
            self.media.played(None if session.multicast else session.audio_seq)
        if self.on_played is not None:
            guarded(self.on_played, session)

    def leave(self, reason: str) -> None:
        if self.media is not None:
            self.media.leave(reason)

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        self._interleaved = None

    def summary(self) -> dict[str, float | None]:
        """The audio's reception figures, each named `audio_...`; none without a track."""
        media = self.media
        if media is None:
            return {}
        keep = ("packets", "lost_packets", "fraction_lost", "jitter_ms", "foreign", "malformed",
                "nacks_sent", "recovered_packets")  # fmt: skip
        return {f"audio_{key}": value for key, value in media.summary().items() if key in keep}
