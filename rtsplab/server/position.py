"""Where a session's PLAY starts: one rule for every stream the server sends.

Pure: a `VideoStream` and a request, no stream, no thread. The unicast worker, the pure session
and a file's multicast stream all ask here, before the PLAY's reply is built, so that the
reply's Range says where the stream really starts.
"""

from __future__ import annotations

from rtsplab.rtsp.message import RtspRequest
from rtsplab.rtsp.state import PLAY
from VideoStream import VideoStream


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
    """A PLAY that moves the media: a seek (`Range`), or PLAY after the end. The stream
    running on it must stop first, so that the media is never moved under it."""
    if request.method != PLAY or media is None:
        return False
    return "Range" in request.headers or played_to_end(media)
