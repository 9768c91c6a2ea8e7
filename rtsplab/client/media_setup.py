"""A session's media, built from what its SETUP reply said: the `RtpReceiver` (whose source
it takes: the server's address, its SSRC, the port rule), the RTCP driver and where it
sends, and the `ClientMedia` holding them. Called by the connection's owner after SETUP
(`rtsplab.client.connection`); nothing here starts a thread.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable
from dataclasses import dataclass

from rtsplab.client.audio_track import AUDIO_INTERLEAVED
from rtsplab.client.media import ClientMedia, Delivery, MediaSockets
from rtsplab.client.multicast import group_rtcp, media_source
from rtsplab.client.rtcp import ClientRtcp, unicast_rtcp
from rtsplab.client.session import ClientError, ClientSession
from rtsplab.payload.assembler import MAX_OPEN_FRAMES, FrameAssembler
from rtsplab.payload.l16 import L16Depacketizer
from rtsplab.payload.lab import LabAssembler
from rtsplab.payload.rfc2435.depacketizer import JpegDepacketizer
from rtsplab.rtp.ports import bind_receiver_ports
from rtsplab.rtp.receiver import RtpReceiver
from rtsplab.rtp.reception import ReceptionStatistics

__all__ = ["MediaOptions", "bind_ports", "open_audio_media", "open_media"]

Send = Callable[[bytes], object]

LAB_FPS = 20.0  # the lab's server sends a frame every 50 ms (its dialect names no rate)
MAX_REPAIR_WINDOW = 64  # frames an assembler keeps open for repairs, at most


@dataclass(frozen=True)
class MediaOptions:
    """What the client was asked for that shapes its media (`RtspClient`'s arguments)."""

    relay_port: int | None  # a relay between server and client listens on it (and +1)
    strict_ports: bool  # RTP only from the port the SETUP reply names
    multicast_interface: str
    rtcp_reduced_minimum: bool
    repair_horizon: float = 1.0  # s: how long after a loss a repair can still be shown


def open_media(
    session: ClientSession, addresses: tuple[str, str], sockets: MediaSockets | None,
    delivery: Delivery, options: MediaOptions, send_interleaved: Send,
) -> ClientMedia:  # fmt: skip
    """The media of the session just set up: over `sockets`, or (None) interleaved on the
    RTSP connection, whose RTCP goes out by `send_interleaved`. `addresses`: the server's
    and ours, as the RTSP connection has them."""
    server = session.server
    server_ip = media_source(server.group, addresses[0])  # the group's source= when named
    addresses = (server_ip, addresses[1])
    # Where media comes from: the server's ports, or a relay's between us.
    media_ports = server.server_port
    if options.relay_port is not None:
        media_ports = (options.relay_port, options.relay_port + 1)
    if server.group is not None:
        media_ports = None  # RTP comes to the group, from a port the reply need not name
    assembler: FrameAssembler = (
        JpegDepacketizer(session.dimensions) if session.standard else LabAssembler()
    )
    receiver = RtpReceiver(
        server_ip, assembler, ssrc=server.ssrc, payload_type=session.payload_type,
        server_port=None if sockets is None or media_ports is None else media_ports[0],
        strict_ports=options.strict_ports,
    )  # fmt: skip
    receiver.rtx_payload_type = session.rtx_payload_type
    # RTCP from the server's RTCP port (any port of its host when the reply named none).
    rtcp_port = None if media_ports is None else media_ports[1]
    peer_rtcp = None if sockets is None else (server_ip, rtcp_port)
    rtcp, destination = _rtcp(session, addresses, receiver, sockets, peer_rtcp, options,
                              send_interleaved)  # fmt: skip
    if session.feedback and sockets is not None:  # over TCP nothing is lost to ask for
        rtcp.ask_for_repairs(options.repair_horizon)
        receiver.on_seq = rtcp.heard_seq
        frames = math.ceil(options.repair_horizon * (session.fps or LAB_FPS))
        assembler.repair_window = min(MAX_REPAIR_WINDOW, max(MAX_OPEN_FRAMES, frames))
    return ClientMedia(server_ip, receiver, rtcp, delivery,
                       rtcp_destination=destination, interleaved=sockets is None)  # fmt: skip


def _rtcp(
    session: ClientSession, addresses: tuple[str, str], receiver: RtpReceiver,
    sockets: MediaSockets | None, peer_rtcp: tuple[str, int | None] | None,
    options: MediaOptions, send_interleaved: Send,
) -> tuple[ClientRtcp, tuple[str, int] | None]:  # fmt: skip
    """The session's RTCP and where it sends: the group, the server's RTCP port the
    SETUP reply named (`server_port=a-b`), the connection's RTCP channel, or nowhere.
    In unicast it is taken from `peer_rtcp` alone (None: interleaved)."""
    server_ip, local_ip = addresses
    server, reduced = session.server, options.rtcp_reduced_minimum
    group = server.group
    if group is not None and sockets is not None:
        rtcp = group_rtcp(
            receiver.reception, group, sockets, media_ssrc=server.ssrc,
            interface=options.multicast_interface, fallback_ip=local_ip,
            server_ip=server_ip, reduced_minimum=reduced,
        )  # fmt: skip
        session.group_cname = rtcp.engine.cname  # the sound's reports carry it too
        return rtcp, (group.address, group.rtcp_port)
    destination = None
    send: Send | None
    if sockets is None:
        send = send_interleaved
    else:
        if server.server_port is not None:
            destination = (server_ip, server.server_port[1])
        if options.relay_port is not None:
            destination = (server_ip, options.relay_port + 1)  # it carries RTCP too
        send = None if destination is None else sockets.rtcp_sender(destination)
    rtcp = unicast_rtcp(receiver.reception, f"client@{local_ip}", send,
                        media_ssrc=server.ssrc, reduced_minimum=reduced,
                        peer_rtcp=peer_rtcp, feedback=session.feedback)  # fmt: skip
    return rtcp, destination


def open_audio_media(
    session: ClientSession, addresses: tuple[str, str], sockets: MediaSockets | None,
    delivery: Delivery, options: MediaOptions, send_interleaved: Send,
) -> ClientMedia:  # fmt: skip
    """The media of the audio track just set up (over `sockets`, a group's or a unicast
    pair, or interleaved on AUDIO_INTERLEAVED): its own receiver (the same source rules as
    the video's), statistics on the sampling rate's clock, and RTCP reports under the
    video's CNAME (RFC 3550 §6.5.1: one participant, two streams). Over unicast UDP, where
    the server offers it, a lost packet is NACKed (RFC 4585), else concealed."""
    audio, server = session.audio, session.audio_server
    if audio is None or server is None:
        raise ClientError("no audio track set up")
    server_ip, local_ip = media_source(server.group, addresses[0]), addresses[1]
    ports = None if server.group is not None else server.server_port
    receiver = RtpReceiver(
        server_ip, L16Depacketizer(), ssrc=server.ssrc, payload_type=audio.payload_type,
        server_port=None if sockets is None or ports is None else ports[0],
        strict_ports=options.strict_ports,
    )  # fmt: skip
    receiver.reception = ReceptionStatistics(audio.rate)  # jitter in the audio's clock
    send: Send | None = send_interleaved
    peer_rtcp: tuple[str, int | None] | None = None
    destination = None
    if server.group is not None and sockets is not None:
        rtcp = group_rtcp(
            receiver.reception, server.group, sockets, media_ssrc=server.ssrc,
            interface=options.multicast_interface, fallback_ip=local_ip, server_ip=server_ip,
            reduced_minimum=options.rtcp_reduced_minimum, cname=session.group_cname,
        )  # fmt: skip
        to_group = (server.group.address, server.group.rtcp_port)
        return ClientMedia(server_ip, receiver, rtcp, delivery, rtcp_destination=to_group,
                           interleaved=False)  # fmt: skip
    if sockets is not None:
        peer_rtcp = (server_ip, None if ports is None else ports[1])
        destination = None if ports is None else (server_ip, ports[1])
        send = None if destination is None else sockets.rtcp_sender(destination)
    feedback = session.audio_feedback and sockets is not None
    rtcp = unicast_rtcp(receiver.reception, f"client@{local_ip}", send,
                        media_ssrc=server.ssrc, reduced_minimum=options.rtcp_reduced_minimum,
                        peer_rtcp=peer_rtcp, feedback=feedback)  # fmt: skip
    if feedback:  # a lost packet is asked for while it can still be played
        rtcp.ask_for_repairs(options.repair_horizon)
        receiver.on_seq = rtcp.heard_seq
    return ClientMedia(server_ip, receiver, rtcp, delivery, rtcp_destination=destination,
                       interleaved=sockets is None, channels=AUDIO_INTERLEAVED)  # fmt: skip


def bind_ports(port: int, rcvbuf: int, family: socket.AddressFamily) -> MediaSockets:
    """A track's RTP port and RTCP's next to it (any free pair for 0), RTCP non-blocking."""
    try:
        rtp, rtcp = bind_receiver_ports(port, rcvbuf, family)
    except OSError as exc:
        raise ClientError(f"cannot use RTP port {port}: {exc.strerror}") from None
    if rtcp is not None:
        rtcp.setblocking(False)  # read when the selector says: never wait on it
    return MediaSockets(rtp, rtcp)
