"""A standard session's sound, as pure decisions: what DESCRIBE offers, what SETUP of the
audio track makes, where PLAY starts it and what its RTP-Info says.

A clip has sound when its companion WAV (`rtsplab.media.sound.companion`) lies beside it
inside the served root and reads as 16-bit PCM; a broken one leaves the clip silent, with a
log line, and a silent clip is served exactly as without this module. The sound is its own
RTP stream (RFC 3550 §5.2: one medium a session): L16 at the file's rate (RFC 3551
§4.5.11), 20 ms a packet, its own SSRC, sequence numbers and timestamp origin, tied to the
video by one CNAME and by sender reports from one clock (the driver's).

Both tracks of a clip live in one RTSP session: SETUP of either first makes it, SETUP of the
other with its Session header joins it (`adds_track`), and PLAY, PAUSE and TEARDOWN act on
both. Every PLAY starts the sound at the video's position to the sample
(`start_sample`), so that both first packets are the same instant of the clip: RTP-Info's
two rtptimes name that instant (RFC 2326 §12.33), and the driver makes both due together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from RtpPacket import RTP_HEADER_SIZE, TIMESTAMP_MOD
from rtsplab.media.sound import companion
from rtsplab.payload import Payload
from rtsplab.payload.l16 import PTIME_MS, frame_bytes
from rtsplab.rtp.sender import MIN_MAX_PACKET, RtpSender
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.headers.rtp_info import RtpInfo
from rtsplab.rtsp.headers.transport import TransportSpec, rtp_and_rtcp_ports
from rtsplab.rtsp.message import RtspRequest
from rtsplab.rtsp.sdp import L16_PT, AudioOffer
from rtsplab.rtsp.state import SETUP, State
from rtsplab.server.audio_source import AudioError, AudioSource
from rtsplab.server.media_root import AUDIO_TRACK, TRACK, aggregate_uri, track_of
from rtsplab.server.shared_stream import MulticastConfig, SharedSound, SharedStream
from rtsplab.server.transports import FEEDBACK_PROFILE, LAB_PROFILE, Channels, UdpPorts

log = logging.getLogger(__name__)

PACKETS_PER_SECOND = 1000 // PTIME_MS  # the audio sender's "frame rate": 50 packets a second
IP_UDP_RTP_HEADERS = 20 + 8 + 12  # bytes a packet adds to its payload, for RTCP's share


@dataclass
class AudioSetUp:
    """What SETUP of the audio track made, until the session closes."""

    path: Path  # the clip's (the video's file)
    source: AudioSource
    sender: RtpSender
    way: UdpPorts | Channels
    first_sample: int = 0  # where the next PLAY starts the sound (`start_sample`)
    group: SharedSound | None = None  # a multicast group's: its source and sender are its
    feedback: bool = False  # RTP/AVPF over UDP, NACKs answered: its packets kept to resend

    @property
    def shared(self) -> bool:
        return self.group is not None

    @property
    def rtp_destination(self) -> tuple[str, int] | None:
        return self.way.rtp if isinstance(self.way, UdpPorts) else None

    @property
    def rtcp_destination(self) -> tuple[str, int] | None:
        return self.way.rtcp if isinstance(self.way, UdpPorts) else None

    @property
    def interleaved(self) -> tuple[int, int] | None:
        way = self.way
        return (way.rtp, way.rtcp) if isinstance(way, Channels) else None

    def close(self) -> None:
        if not self.shared:
            self.source.close()


def open_sound(root: Path, video: Path) -> AudioSource | None:
    """The sound of `video` (a file inside `root`), None when it has none, or when its
    companion is broken or lies outside the root (logged: the clip plays silent)."""
    wav = companion(video)
    try:
        real = wav.resolve()
        if not wav.is_file() or not real.is_relative_to(root.resolve()):
            return None
        return AudioSource(real)
    except (AudioError, OSError, ValueError) as exc:
        log.warning("%s: its sound is not served: %s", video.name, exc)
        return None


def audio_offer(root: Path, video: Path) -> AudioOffer | None:
    """DESCRIBE's audio section for `video`, None for a silent clip."""
    source = open_sound(root, video)
    if source is None:
        return None
    with source:
        return AudioOffer(source.rate, source.channels, AUDIO_TRACK)


def whole_packet(payload: bytes, max_payload: int) -> list[Payload]:
    """An L16 payload is one packet as it is: it carries no payload header."""
    return [(b"", payload)]


def audio_sender(source: AudioSource, make_sender: Callable[..., RtpSender]) -> RtpSender:
    """The sound's RTP numbering: one "frame" a 20 ms packet, the clock its rate."""
    largest = RTP_HEADER_SIZE + source.step * frame_bytes(source.channels)
    return make_sender(
        PACKETS_PER_SECOND, max(MIN_MAX_PACKET, largest), payloader=whole_packet,
        payload_type=L16_PT, clock_rate=source.rate, marker=False,
    )  # fmt: skip


def adds_track(state: State, request: RtspRequest, video: bool, audio: bool) -> bool:
    """A SETUP of the other track of a session set up with one: it joins the session,
    which stays READY (the state table's SETUP is the session's first)."""
    if request.method != SETUP or state is not State.READY or video == audio:
        return False
    track = track_of(request.uri)
    return track == AUDIO_TRACK if video else track in (None, TRACK)


def check_audio_transport(transport: TransportSpec) -> None:
    """The sound goes over RTP/AVP (UDP, interleaved or multicast): 461 for the lab's."""
    if transport.protocol.upper() == LAB_PROFILE:
        raise RtspError(461, f"the audio track is sent over RTP/AVP, not {transport.protocol}")


def asks_feedback(transport: TransportSpec, answering: bool) -> bool:
    """Whether the sound's SETUP asks for RTP/AVPF over UDP, to a server `answering` NACKs
    (RFC 4585): its packets are then kept for a while, to be sent again when asked."""
    avpf = transport.protocol.upper() == FEEDBACK_PROFILE
    return answering and avpf and transport.lower_transport != "TCP"


def join_group_sound(
    path: Path, group: SharedStream | None, transport: TransportSpec,
    multicast: MulticastConfig | None, source: str | None,
) -> tuple[AudioSetUp, str]:  # fmt: skip
    """SETUP of the sound of a session whose video is a member of a multicast stream
    (`group`): the group's sound, on its own port pair, and the reply's Transport. 461 for
    a multicast SETUP of a session that has no such video, or a unicast one of a session
    that has; 404 for a clip without sound. `source`: the reply's source=, as the video's."""
    if group is None or transport.unicast is not False or multicast is None:
        raise RtspError(461, "the sound goes as its video does: set up the video by "
                             "multicast first, then the sound by multicast too")  # fmt: skip
    shared = group.sound
    if shared is None:
        raise RtspError(404, f"{path.name} has no sound")
    rtp, rtcp = (multicast.group, shared.port), (multicast.group, shared.port + 1)
    setup = AudioSetUp(path, shared.source, shared.sender, UdpPorts(rtp, rtcp), group=shared)
    reply = TransportSpec(
        protocol=transport.protocol, unicast=False, destination=multicast.group,
        source=source, port=(shared.port, shared.port + 1), ttl=multicast.ttl,
        ssrc=shared.sender.ssrc,
    )  # fmt: skip
    return setup, reply.format()


def channels_beside(
    asked: tuple[int, int | None] | None, beside: UdpPorts | Channels | SharedStream | None
) -> Channels:
    """The interleaved channels of a track: those asked, or the first free pair; 461 when
    they are the other track's (`beside`, its way): each stream has its own."""
    taken = {beside.rtp, beside.rtcp} if isinstance(beside, Channels) else set()
    if asked is None:
        first = next(n for n in range(0, 256, 2) if not {n, n + 1} & taken)
        asked = (first, None)
    channels = Channels(*rtp_and_rtcp_ports(asked))
    if {channels.rtp, channels.rtcp} & taken:
        raise RtspError(461, f"interleaved={channels.rtp}-{channels.rtcp}: the other "
                             f"track's channels")  # fmt: skip
    return channels


def audio_reply(transport: TransportSpec, setup: AudioSetUp, server_port: int | None) -> str:
    """The audio SETUP's Transport: its channels or ports, and its sender's SSRC."""
    reply = TransportSpec(protocol=transport.protocol, unicast=True, ssrc=setup.sender.ssrc)
    if isinstance(setup.way, Channels):
        reply.interleaved = (setup.way.rtp, setup.way.rtcp)
    elif server_port is not None:
        reply.client_port = transport.client_port
        reply.server_port = (server_port, server_port + 1)
    return reply.format()


def start_sample(source: AudioSource, position: float) -> int:
    """The sampling instant the video's `position` (s) falls on: where PLAY starts the
    sound (past its end: its end, and the sound says BYE at once)."""
    return min(max(0, round(position * source.rate)), source.frames)


def rtptime_at(source: AudioSource, anchor: tuple[int, int], position: float) -> int:
    """The RTP timestamp of the sample at `position` (s) in a stream whose sample
    `anchor[0]` carried timestamp `anchor[1]`: the sound's timestamps run with its samples
    (a packet's step is the samples it carries, RFC 3551 §4.5.11)."""
    sample, timestamp = anchor
    return (timestamp + start_sample(source, position) - sample) % TIMESTAMP_MOD


def audio_bandwidth(source: AudioSource) -> float:
    """The sound's bandwidth in bytes/s (RFC 3550 §6.2): its samples and packet headers."""
    return source.rate * frame_bytes(source.channels) + PACKETS_PER_SECOND * IP_UDP_RTP_HEADERS


def rtp_infos(uri: str, video: tuple[int, int], audio: AudioSetUp | None, position: float) -> str:
    """PLAY's RTP-Info: the video's (seq, rtptime) and, with sound, the audio's, each at
    its track URL (RFC 2326 §12.33); a group's sound, already going, at `position`."""
    base = aggregate_uri(uri)
    infos = [RtpInfo(f"{base}/{TRACK}", *video)]
    if audio is not None:
        group = audio.group
        sound = audio.sender.play_position() if group is None else group.play_position(position)
        infos.append(RtpInfo(f"{base}/{AUDIO_TRACK}", *sound))
    return ",".join(info.format() for info in infos)
