"""The audio track a standard RTSP session may carry beside its video: which one the SDP offers
that the client plays, how its SETUP asks for it, and which RTP-Info entry is its. Pure.

The client plays L16 (RFC 3551 §4.5.11: 16-bit PCM in network byte order, any rate, 1 to
`MAX_CHANNELS` channels), under a dynamic payload type its rtpmap maps to `L16/<rate>[/<ch>]`
or the static types 10 and 11. An audio section in any other format is skipped: the video
plays alone, and the session says so once. The audio track is set up after the video, in the
same RTSP session (RFC 2326 §10.4: a SETUP naming the Session adds a stream to it), over a
second UDP port pair, on interleaved channels 2-3 of the RTSP connection, or on the group
the server names for it beside its video's (a multicast session); PLAY, PAUSE and
TEARDOWN then go to the aggregate URL and move both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from rtsplab.payload.l16 import MAX_CHANNELS, PTIME_MS
from rtsplab.rtsp.headers.rtp_info import RtpInfo
from rtsplab.rtsp.sdp import AVP, AVPF, SessionDescription, resolve_control

__all__ = [
    "AUDIO_INTERLEAVED",
    "AudioStream",
    "audio_transport",
    "choose_audio",
    "info_for",
]

log = logging.getLogger(__name__)

L16_ENCODING = "L16"
AUDIO_INTERLEAVED = (2, 3)  # RTP, RTCP: the channels after the video's 0-1
MAX_RATE = 192_000  # Hz: the highest rate a sound device plays; above it a stream is refused


@dataclass(frozen=True)
class AudioStream:
    """What the client takes from the SDP's audio section."""

    control: str  # the track's URL, for its SETUP
    payload_type: int
    rate: int  # the RTP clock, and the sampling rate (RFC 3551 §4.5.11)
    channels: int
    ptime: float = PTIME_MS  # a=ptime, ms: a hint, packets of any length are played
    nack: bool = False  # offered under RTP/AVPF with generic NACKs: what is lost is asked for


def choose_audio(sdp: SessionDescription, base: str) -> AudioStream | None:
    """The first audio section carrying L16; None when there is none (logged when an audio
    section in another format is skipped: the video then plays alone)."""
    skipped = []
    for media in sdp.media:
        if media.media != "audio":
            continue
        for pt in media.payload_types:
            rtpmap = media.rtpmap.get(pt)
            if rtpmap is None:
                skipped.append(f"payload type {pt}")
                continue
            channels = rtpmap.channels or 1  # RFC 4566 §6: one channel when unsaid
            playable = 0 < rtpmap.clock_rate <= MAX_RATE and 1 <= channels <= MAX_CHANNELS
            if rtpmap.encoding.upper() == L16_ENCODING and playable:
                control = resolve_control(base, media.control or "*")
                ptime = media.ptime if media.ptime and media.ptime > 0 else PTIME_MS
                nack = media.proto.upper() == AVPF and media.nack(pt)
                return AudioStream(control, pt, rtpmap.clock_rate, channels, ptime, nack)
            skipped.append(f"{rtpmap.encoding}/{rtpmap.clock_rate}/{channels}")
    if skipped:
        log.warning("the stream's sound is %s: this client plays L16 (RFC 3551); video only",
                    ", ".join(skipped))  # fmt: skip
    return None


def audio_transport(
    *, tcp: bool, client_port: int, multicast: bool = False, feedback: bool = False
) -> str:
    """The audio SETUP's Transport: unicast UDP to `client_port` and the next, interleaved
    on AUDIO_INTERLEAVED, or the server's group, as the video's. RTP/AVPF when `feedback`
    (UDP only: what is lost is NACKed, RFC 4585), else RTP/AVP (what is lost is concealed)."""
    if multicast:
        return f"{AVP};multicast"
    if tcp:
        return "{}/TCP;unicast;interleaved={}-{}".format(AVP, *AUDIO_INTERLEAVED)
    profile = AVPF if feedback else AVP
    return f"{profile};unicast;client_port={client_port}-{client_port + 1}"


def info_for(infos: list[RtpInfo], control: str, index: int) -> RtpInfo | None:
    """The RTP-Info entry of the track whose URL is `control` (RFC 2326 §12.33): the one
    whose url is that URL, or ends it (a server may write the control attribute alone, or a
    path), else the `index`-th entry (the order the tracks were set up in), else None."""
    for info in infos:
        if info.url and info.url == control:
            return info
    for info in infos:
        url = info.url.rstrip("/")
        tail = url.rsplit("/", 1)[-1] if "://" in url else url.lstrip("/")
        if tail and control.rstrip("/").endswith("/" + tail):
            return info
    return infos[index] if 0 <= index < len(infos) else None
