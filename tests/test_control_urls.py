"""Control URLs resolved as ffmpeg, live555 and GStreamer resolve them (RFC 2326 C.1.1 read
their way): an absolute URL as it is, "*" the base, anything else appended to the base with
one "/". The base is Content-Base, else the request URL.

The SDPs below are DESCRIBE replies as the servers sent them on loopback (the base line is
the Content-Base header, None where the server sent none), except live555's: live555 is not
packaged in Debian, so its reply is written in the form live555MediaServer gives (a
Content-Base ending in "/" and `a=control:track1`).
"""

import pytest

from rtsplab.client.session import ClientSession, parse_target
from rtsplab.rtsp.message import Headers, RtspResponse
from rtsplab.rtsp.sdp import parse_sdp, resolve_control

# ffmpeg 5.1 publishing `-c:v copy -f rtsp` MJPEG and PCMU into rtsp-server-perl 0.06 and
# into npm rtsp-streaming-server 2.1.0: both relays forward ffmpeg's ANNOUNCE SDP verbatim
# and send no Content-Base. (The a=tool line is ffmpeg's own, as sent.)
FFMPEG_RELAYED = """\
v=0
o=- 0 0 IN IP4 127.0.0.1
s=No Name
c=IN IP4 127.0.0.1
t=0 0
a=tool:libavformat LIBAVFORMAT_VERSION
m=video 0 RTP/AVP 26
a=control:streamid=0
m=audio 0 RTP/AVP 0
b=AS:64
a=control:streamid=1
"""

# gst-rtsp-server 1.22 offering RTP/AVPF alone with retransmission (gst_rtsp_server.py --avpf).
GST_AVPF = """\
v=0
o=- 8572955073499554276 1 IN IP4 127.0.0.1
s=Session streamed with GStreamer
i=rtsp-server
t=0 0
a=tool:GStreamer
a=type:broadcast
a=control:*
a=range:npt=0-
m=video 0 RTP/AVPF 26 96
c=IN IP4 0.0.0.0
a=rtpmap:26 JPEG/90000
a=framerate:25.000000
a=control:stream=0
a=ts-refclk:local
a=mediaclk:sender
a=rtpmap:96 rtx/90000
a=fmtp:96 apt=26;rtx-time=200
a=ssrc:1996193883 cname:user1331738475@host-ad79eee1
"""

# VLC 3.0.24: cvlc clip --sout '#rtp{sdp=rtsp://127.0.0.1:19554/s}'. Absolute controls, and a
# Content-Base without the final "/".
VLC = """\
v=0
o=- 17203963663004000538 17203963663004000538 IN IP4 vm
s=Unnamed
i=N/A
c=IN IP4 0.0.0.0
t=0 0
a=tool:vlc 3.0.24
a=recvonly
a=type:broadcast
a=charset:UTF-8
a=control:rtsp://127.0.0.1:19554/s
m=video 0 RTP/AVP 26
b=RR:0
a=rtpmap:26 JPEG/90000
a=control:rtsp://127.0.0.1:19554/s/trackID=0
"""

# live555MediaServer's form for a file it streams (see the module docstring).
LIVE555 = """\
v=0
o=- 1707000000000000 1 IN IP4 127.0.0.1
s=MJPEG video, streamed by the LIVE555 Media Server
i=clip.mjpeg
t=0 0
a=tool:LIVE555 Streaming Media
a=type:broadcast
a=control:*
a=range:npt=0-
m=video 0 RTP/AVP 26
c=IN IP4 0.0.0.0
b=AS:5000
a=control:track1
"""

# (name, request URL, Content-Base or None, SDP, the track URL SETUP names, the aggregate URL)
PEERS = [
    ("perl relay", "rtsp://127.0.0.1:6555/s", None, FFMPEG_RELAYED,
     "rtsp://127.0.0.1:6555/s/streamid=0", "rtsp://127.0.0.1:6555/s"),
    ("npm relay", "rtsp://127.0.0.1:6554/s", None, FFMPEG_RELAYED,
     "rtsp://127.0.0.1:6554/s/streamid=0", "rtsp://127.0.0.1:6554/s"),
    ("gst-rtsp-server", "rtsp://127.0.0.1:18554/clip", "rtsp://127.0.0.1:18554/clip/", GST_AVPF,
     "rtsp://127.0.0.1:18554/clip/stream=0", "rtsp://127.0.0.1:18554/clip"),
    ("vlc", "rtsp://127.0.0.1:19554/s", "rtsp://127.0.0.1:19554/s", VLC,
     "rtsp://127.0.0.1:19554/s/trackID=0", "rtsp://127.0.0.1:19554/s"),
    ("live555", "rtsp://127.0.0.1:8554/clip.mjpeg", "rtsp://127.0.0.1:8554/clip.mjpeg/", LIVE555,
     "rtsp://127.0.0.1:8554/clip.mjpeg/track1", "rtsp://127.0.0.1:8554/clip.mjpeg"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("request_url", "base", "sdp", "track", "aggregate"),
    [peer[1:] for peer in PEERS],
    ids=[peer[0] for peer in PEERS],
)
def test_the_client_sets_up_the_track_each_server_means(request_url, base, sdp, track, aggregate):
    session = ClientSession(parse_target("127.0.0.1", 554, request_url), 25000)
    session.describe(0.0)
    items = [("CSeq", "1"), ("Content-Type", "application/sdp")]
    items += [("Content-Base", base)] if base is not None else []
    session.receive(RtspResponse(200, Headers(items), sdp.encode()), 0.0)
    assert session.setup(0.0).uri == track
    assert session.base_url == aggregate


def test_ffmpeg_relayed_sdp_names_one_url_per_track():
    """Without Content-Base each track is under the request URL, the audio too (the client
    ignores it, but a relay knows it by this URL)."""
    sdp = parse_sdp(FFMPEG_RELAYED)
    urls = [resolve_control("rtsp://h:6555/s", media.control or "*") for media in sdp.media]
    assert urls == ["rtsp://h:6555/s/streamid=0", "rtsp://h:6555/s/streamid=1"]


@pytest.mark.parametrize(
    ("base", "control", "expected"),
    [
        # A base without "/" keeps its last segment: RFC 3986 would give rtsp://h:8554/track1.
        ("rtsp://h:8554/movie.Mjpeg", "track1", "rtsp://h:8554/movie.Mjpeg/track1"),
        ("rtsp://h:8554/movie.Mjpeg/", "track1", "rtsp://h:8554/movie.Mjpeg/track1"),
        ("rtsp://h:8554/s", "streamid=0", "rtsp://h:8554/s/streamid=0"),
        ("rtsp://h:8554", "trackID=1", "rtsp://h:8554/trackID=1"),  # a base with no path
        # One "/" between them, however many each side brings.
        ("rtsp://h/a/", "/track1", "rtsp://h/a/track1"),
        ("rtsp://h/a//", "//track1", "rtsp://h/a/track1"),
        # Appended as written: dot segments and the base's query stay (as ffmpeg and live555).
        ("rtsp://h/a/b/", "../c", "rtsp://h/a/b/../c"),
        ("rtsp://cam/live?channel=1", "trackID=1", "rtsp://cam/live?channel=1/trackID=1"),
        # "*" and nothing: the base itself (RFC 2326 C.1.1).
        ("rtsp://h/movie.Mjpeg/", "*", "rtsp://h/movie.Mjpeg/"),
        ("rtsp://h/movie.Mjpeg", "", "rtsp://h/movie.Mjpeg"),
        ("rtsp://h/movie.Mjpeg", "  *  ", "rtsp://h/movie.Mjpeg"),
        # An absolute URL (a scheme, RFC 3986 §3.1) stays as it is, whatever the base.
        ("rtsp://h/a/", "rtsp://other:554/x/trackID=1", "rtsp://other:554/x/trackID=1"),
        ("rtsp://h/a", "RTSPS://H/B", "RTSPS://H/B"),
        ("rtsp://h/a", "rtspu://h/a/t", "rtspu://h/a/t"),
        # A "=" or a digit before ":" is no scheme: still relative.
        ("rtsp://h/a", "stream=0:1", "rtsp://h/a/stream=0:1"),
        ("rtsp://h/a", "1track:x", "rtsp://h/a/1track:x"),
        ("rtsps://h:322/cam/", "stream=0", "rtsps://h:322/cam/stream=0"),
    ],
)
def test_resolve_control(base, control, expected):
    assert resolve_control(base, control) == expected


@pytest.mark.parametrize(
    ("proto", "profile"),
    [("RTP/AVP", "RTP/AVP"), ("RTP/AVPF", "RTP/AVPF"), ("rtp/avpf", "RTP/AVPF"),
     ("RTP/SAVP", "RTP/AVP"), ("RTP/AVP/TCP", "RTP/AVP")],
)  # fmt: skip
def test_the_profile_setup_asks_for_is_the_media_lines(proto, profile):
    [media] = parse_sdp(f"m=video 0 {proto} 26\r\n").media
    assert media.rtp_profile == profile


@pytest.mark.parametrize(
    ("tcp", "multicast", "transport"),
    [
        (False, False, "RTP/AVPF;unicast;client_port=25000-25001"),
        (True, False, "RTP/AVPF/TCP;unicast;interleaved=0-1"),
        (False, True, "RTP/AVPF;multicast"),
    ],
    ids=["udp", "tcp", "multicast"],
)
def test_setup_asks_for_avpf_where_the_sdp_offers_it(tcp, multicast, transport):
    target = parse_target("127.0.0.1", 18554, "rtsp://127.0.0.1:18554/clip")
    session = ClientSession(target, 25000, tcp=tcp, multicast=multicast)
    session.describe(0.0)
    headers = Headers([("CSeq", "1"), ("Content-Base", "rtsp://127.0.0.1:18554/clip/")])
    session.receive(RtspResponse(200, headers, GST_AVPF.encode()), 0.0)
    setup = session.setup(0.0)
    assert setup.headers["Transport"] == transport
    assert setup.uri == "rtsp://127.0.0.1:18554/clip/stream=0"
