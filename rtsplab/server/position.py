"""Where a session's PLAY starts, and at what rate: one rule for every stream the server sends.

Pure: a `VideoStream` and a request, no stream, no thread. The unicast worker, the pure session
and a file's multicast stream all ask here, before the PLAY's reply is built, so that the
reply's Range says where the stream really starts.
"""

from __future__ import annotations

import logging

from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.headers.range import parse_npt_start
from rtsplab.rtsp.headers.scale import format_rate, parse_scale, parse_speed
from rtsplab.rtsp.message import Headers, RtspRequest
from rtsplab.rtsp.state import PLAY
from VideoStream import VideoStream

log = logging.getLogger(__name__)

PLAYED_RATE = 1.0  # the only Scale and Speed served: the file at its frame rate


def played_to_end(media: VideoStream) -> bool:
    """Every frame has been read: the next PLAY starts the video again (`rewind_if_played`)."""
    return media.frameNbr() >= media.frame_count


def rewind_if_played(media: VideoStream) -> bool:
    """PLAY after the end starts the video again, from its first frame (the lab's client
    has no other way to see it twice); True when it did. Call it with no stream running on
    `media`."""
    if not played_to_end(media):
        return False
    media.seek(0)
    return True


def play_moves(request: RtspRequest, media: VideoStream | None) -> bool:
    """A PLAY that moves the media: a seek (a `Range` with a start), or PLAY after the end.
    The stream running on it must stop first, so that the media is never moved under it. A
    Range the session will refuse (457) moves nothing, and stops nothing."""
    if request.method != PLAY or media is None:
        return False
    try:
        start = parse_npt_start(request.headers.get("Range"))
    except RtspError:
        start = None
    return start is not None or played_to_end(media)


def played_rates(headers: Headers) -> dict[str, str]:
    """The reply's Scale and Speed for a PLAY asking for them: the rates actually used, 1,
    whatever was asked (RtspError 400 for a value that does not parse).

    The server plays at the file's frame rate only. RFC 2326 §12.34 lets it answer a Scale
    it does not offer with the scale it chose, in the reply, where a 456 would refuse the
    PLAY: a player asking for fast forward then still plays, and reads from the reply that
    it plays at normal rate. Speed (§12.35) is answered the same way."""
    rates = {}
    for name, parse in (("Scale", parse_scale), ("Speed", parse_speed)):
        value = headers.get(name)
        if value is not None:
            if parse(value) != PLAYED_RATE:
                log.info("%s %s asked; playing at %g", name, value.strip(), PLAYED_RATE)
            rates[name] = format_rate(PLAYED_RATE)
    return rates
