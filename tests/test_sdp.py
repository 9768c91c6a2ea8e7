"""SDP for one MJPEG stream: the exact text we write, SDPs that ffmpeg and GStreamer servers
write, the lines that must be well-formed, and control URLs resolved as RFC 2326 C.1.1 says."""

import pytest

from rtsplab.rtsp.sdp import RtpMap, make_sdp, parse_sdp

HD_ARGS = dict(
    session_id=1234,
    server_ip="192.0.2.1",
    uri_control="track1",
    fps=25.0,
    duration=20.0,
    width=1280,
    height=720,
    name="movie.Mjpeg",
)

HD_SDP = (
    "v=0\r\n"
    "o=- 1234 1234 IN IP4 192.0.2.1\r\n"
    "s=movie.Mjpeg\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "t=0 0\r\n"
    "a=control:*\r\n"
    "a=range:npt=0-20\r\n"
    "m=video 0 RTP/AVP 26\r\n"
    "a=rtpmap:26 JPEG/90000\r\n"
    "a=control:track1\r\n"
    "a=framerate:25\r\n"
)

UHD_ARGS = dict(
    session_id=987654321,
    server_ip="198.51.100.7",
    uri_control="rtsp://198.51.100.7:8554/city_4k.Mjpeg/track1",
    fps=30000 / 1001,
    duration=None,
    width=3840,
    height=2160,
    name="city_4k.Mjpeg",
)

UHD_SDP = (
    "v=0\r\n"
    "o=- 987654321 987654321 IN IP4 198.51.100.7\r\n"
    "s=city_4k.Mjpeg\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "t=0 0\r\n"
    "a=control:*\r\n"
    "a=range:npt=0-\r\n"  # no duration: open-ended
    "m=video 0 RTP/AVP 26\r\n"
    "a=rtpmap:26 JPEG/90000\r\n"
    "a=control:rtsp://198.51.100.7:8554/city_4k.Mjpeg/track1\r\n"
    "a=framerate:29.97\r\n"
    "a=x-dimensions:3840,2160\r\n"  # over 2040: RFC 2435's size bytes say 0
)

# What ffmpeg's RTSP muxer announces for `-c:v mjpeg -f rtsp`: no a=rtpmap for the static
# payload type 26, no session control or range.
FFMPEG_SDP = (
    "v=0\r\n"
    "o=- 0 0 IN IP4 127.0.0.1\r\n"
    "s=No Name\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "a=tool:libavformat 59.27.100\r\n"
    "m=video 0 RTP/AVP 26\r\n"
    "b=AS:20000\r\n"
    "a=control:streamid=0\r\n"
)

# What gst-rtsp-server answers for `( v4l2src ! jpegenc ! rtpjpegpay name=pay0 pt=26 )` on a
# 4K camera, plus an audio track; LF line ends as some servers (and hand-written files) use.
GSTREAMER_SDP = (
    "v=0\n"
    "o=- 1188340656180883 1 IN IP4 192.168.1.20\n"
    "s=Session streamed with GStreamer\n"
    "i=rtsp-server\n"
    "t=0 0\n"
    "a=tool:GStreamer\n"
    "a=type:broadcast\n"
    "a=control:*\n"
    "a=range:npt=now-\n"
    "m=video 0 RTP/AVP 26\n"
    "c=IN IP4 0.0.0.0\n"
    "b=AS:50000\n"
    "a=rtpmap:26 JPEG/90000\n"
    "a=framerate:30\n"
    "a=x-dimensions:3840,2160\n"
    "a=ts-refclk:local\n"
    "a=mediaclk:sender\n"
    "a=control:stream=0\n"
    "m=audio 0 RTP/AVP 96\n"
    "c=IN IP4 0.0.0.0\n"
    "a=rtpmap:96 L16/48000/2\n"
    "a=recvonly\n"
    "a=control:stream=1\n"
)


def test_hd_sdp_exact_text():
    assert make_sdp(**HD_ARGS) == HD_SDP


def test_4k_sdp_exact_text_with_x_dimensions():
    assert make_sdp(**UHD_ARGS) == UHD_SDP


@pytest.mark.parametrize(
    "size, has_x_dimensions",
    [((2040, 2040), False), ((2048, 1080), True), ((1080, 2048), True), ((640, 480), False)],
)
def test_x_dimensions_only_over_2040(size, has_x_dimensions):
    sdp = make_sdp(**{**HD_ARGS, "width": size[0], "height": size[1]})
    assert (f"a=x-dimensions:{size[0]},{size[1]}\r\n" in sdp) == has_x_dimensions


def test_ipv6_server_and_fractional_numbers():
    sdp = make_sdp(**{**HD_ARGS, "server_ip": "2001:db8::1", "fps": 12.5, "duration": 9.04})
    assert "o=- 1234 1234 IN IP6 2001:db8::1\r\n" in sdp
    assert "c=IN IP6 ::\r\n" in sdp
    assert "a=framerate:12.5\r\n" in sdp and "a=range:npt=0-9.04\r\n" in sdp


@pytest.mark.parametrize(
    "override, message",
    [
        ({"name": "movie\r\na=control:evil"}, "name"),
        ({"name": ""}, "name"),
        ({"uri_control": "track 1"}, "uri_control"),
        ({"server_ip": "example.com"}, "does not appear to be an IPv4 or IPv6 address"),
        ({"fps": 0}, "fps"),
        ({"duration": -1.0}, "duration"),
        ({"width": 0}, "size"),
        ({"session_id": -1}, "session_id"),
    ],
)
def test_make_sdp_refuses_values_that_would_break_it(override, message):
    with pytest.raises(ValueError, match=message):
        make_sdp(**{**HD_ARGS, **override})


def test_parse_what_we_write():
    session = parse_sdp(make_sdp(**UHD_ARGS))
    assert session.name == "city_4k.Mjpeg"
    assert session.origin == "- 987654321 987654321 IN IP4 198.51.100.7"
    assert session.control == "*"
    assert session.range == (0.0, None)
    [video] = session.media
    assert (video.media, video.port, video.proto, video.formats) == ("video", 0, "RTP/AVP", ["26"])
    assert video.payload_types == [26]
    assert video.control == UHD_ARGS["uri_control"]
    assert video.rtpmap == {26: RtpMap("JPEG", 90000)}
    assert video.framerate == pytest.approx(29.97)
    assert video.x_dimensions == (3840, 2160)
    hd = parse_sdp(HD_SDP)
    assert hd.range == (0.0, 20.0) and hd.media[0].x_dimensions is None


def test_parse_ffmpeg_style():
    session = parse_sdp(FFMPEG_SDP)
    assert session.name == "No Name"
    assert session.control is None and session.range is None
    assert ("tool", "libavformat 59.27.100") in session.attributes
    [video] = session.media
    assert video.control == "streamid=0"
    assert video.rtpmap == {26: RtpMap("JPEG", 90000)}  # from RFC 3551's static type 26
    assert video.framerate is None and video.x_dimensions is None


def test_parse_gstreamer_style():
    session = parse_sdp(GSTREAMER_SDP)
    assert session.control == "*"
    assert session.range == (None, None)  # npt=now-: live
    video, audio = session.media
    assert video.rtpmap == {26: RtpMap("JPEG", 90000)}
    assert video.framerate == 30.0
    assert video.x_dimensions == (3840, 2160)
    assert video.control == "stream=0"
    assert ("mediaclk", "sender") in video.attributes
    assert (audio.media, audio.payload_types, audio.control) == ("audio", [96], "stream=1")
    assert audio.rtpmap == {96: RtpMap("L16", 48000, 2)}
    assert ("recvonly", None) in audio.attributes


def test_a_dynamic_payload_type_with_its_rtpmap():
    [video] = parse_sdp("v=0\nm=video 5004 RTP/AVP 96\na=rtpmap:96 JPEG/90000\n").media
    assert video.port == 5004 and video.rtpmap == {96: RtpMap("JPEG", 90000)}


def test_an_explicit_rtpmap_wins_over_the_static_one():
    [video] = parse_sdp("m=video 0 RTP/AVP 26\na=rtpmap:26 JPEG/45000\n").media
    assert video.rtpmap == {26: RtpMap("JPEG", 45000)}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("npt=0-", (0.0, None)),
        ("npt=0-20.000", (0.0, 20.0)),
        ("npt=10.5-20", (10.5, 20.0)),
        ("npt=00:01:30.5-00:02:00", (90.5, 120.0)),
        ("npt=now-", (None, None)),
        ("npt=abc-", None),  # unreadable: ignored
        ("clock=19961108T142300Z-", None),  # not npt: not used
    ],
)
def test_ranges(value, expected):
    assert parse_sdp(f"v=0\r\na=range:{value}\r\n").range == expected


def test_unknown_and_unreadable_lines_do_not_fail():
    text = (
        "v=0\n"
        "this line is not SDP\n"
        "\n"
        "k=clear:secret\n"
        "a=x-custom:anything\n"
        "m=video 0 RTP/AVP 26\n"
        "a=framerate:thirty\n"
        "a=sendonly\n"
    )
    session = parse_sdp(text)
    assert ("x-custom", "anything") in session.attributes
    [video] = session.media
    assert video.framerate is None
    assert video.attributes == [("framerate", "thirty"), ("sendonly", None)]


@pytest.mark.parametrize(
    "line, message",
    [
        ("m=video", "malformed m= line"),
        ("m=video zero RTP/AVP 26", "malformed m= line"),
        ("m=video 0 RTP/AVP", "malformed m= line"),
        ("m=video 70000 RTP/AVP 26", "malformed m= line"),
        ("m=video 0 RTP/AVP jpeg", "RTP payload types must be integers"),
        ("m=video 0 RTP/AVP 26\na=rtpmap:26 JPEG", "malformed a=rtpmap"),
        ("m=video 0 RTP/AVP 26\na=rtpmap:x JPEG/90000", "malformed a=rtpmap"),
        ("m=video 0 RTP/AVP 26\na=x-dimensions:3840", "malformed a=x-dimensions"),
        ("m=video 0 RTP/AVP 26\na=x-dimensions:0,2160", "malformed a=x-dimensions"),
    ],
)
def test_lines_that_matter_must_be_well_formed(line, message):
    with pytest.raises(ValueError, match=message):
        parse_sdp("v=0\r\n" + line + "\r\n")


def test_port_with_a_count_is_read():
    [video] = parse_sdp("m=video 49170/2 RTP/AVP 26\n").media
    assert video.port == 49170
