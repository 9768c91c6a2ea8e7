"""The audio track, pure: SDPs with a video and an audio section (what gst-rtsp-server really
answers, and what our server offers), which audio the client plays, its SETUP in the video's
session, PLAY's RTP-Info for both tracks, and the L16 depacketizer."""

import logging

import pytest

from rtsplab.client.audio_track import (
    AUDIO_INTERLEAVED,
    AudioStream,
    audio_transport,
    choose_audio,
    info_for,
)
from rtsplab.client.session import ClientError, ClientSession, parse_target
from rtsplab.payload.l16 import L16Depacketizer
from rtsplab.rtsp.headers.rtp_info import RtpInfo
from rtsplab.rtsp.message import Headers, RtspResponse
from rtsplab.rtsp.sdp import RtpMap, parse_sdp
from rtsplab.rtsp.state import State

BASE = "rtsp://127.0.0.1:46719/av/"

# gst-rtsp-server's DESCRIBE reply body for `( videotestsrc ... ! jpegenc ! rtpjpegpay name=pay0
# pt=26 audiotestsrc ... ! audio/x-raw,rate=48000,channels=1 ! rtpL16pay name=pay1 pt=97 )`,
# as it came (Content-Base: rtsp://127.0.0.1:46719/av/).
GST_SDP = (
    "v=0\r\n"
    "o=- 8034556041672885047 1 IN IP4 127.0.0.1\r\n"
    "s=Session streamed with GStreamer\r\n"
    "i=rtsp-server\r\n"
    "t=0 0\r\n"
    "a=tool:GStreamer\r\n"
    "a=type:broadcast\r\n"
    "a=control:*\r\n"
    "a=range:npt=now-\r\n"
    "m=video 0 RTP/AVP 26\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtpmap:26 JPEG/90000\r\n"
    "a=framerate:25.000000\r\n"
    "a=control:stream=0\r\n"
    "a=ts-refclk:local\r\n"
    "a=mediaclk:sender\r\n"
    "a=ssrc:829105182 cname:user3573810508@host-85309ca8\r\n"
    "m=audio 0 RTP/AVP 97\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtpmap:97 L16/48000/1\r\n"
    "a=control:stream=1\r\n"
    "a=ts-refclk:local\r\n"
    "a=mediaclk:sender\r\n"
    "a=ssrc:3979508271 cname:user3573810508@host-85309ca8\r\n"
)

# What our server offers for a clip with a stereo 44.1 kHz companion WAV (RTP/AVPF with
# repair for the video, the audio's own control URL).
OUR_SDP = (
    "v=0\r\n"
    "o=- 1234 1234 IN IP4 127.0.0.1\r\n"
    "s=movie.Mjpeg\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "t=0 0\r\n"
    "a=control:*\r\n"
    "a=range:npt=0-20\r\n"
    "m=video 0 RTP/AVPF 26 97\r\n"
    "a=rtpmap:26 JPEG/90000\r\n"
    "a=rtcp-fb:26 nack\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=26;rtx-time=1000\r\n"
    "a=control:track1\r\n"
    "a=framerate:25\r\n"
    "m=audio 0 RTP/AVPF 98\r\n"
    "a=rtpmap:98 L16/44100/2\r\n"
    "a=rtcp-fb:98 nack\r\n"
    "a=ptime:20\r\n"
    "a=control:track2\r\n"
)


def test_gst_rtsp_servers_two_sections():
    sdp = parse_sdp(GST_SDP)
    video, audio = sdp.media
    assert video.rtpmap == {26: RtpMap("JPEG", 90000)} and video.control == "stream=0"
    assert (audio.media, audio.port, audio.proto, audio.payload_types) == (
        "audio", 0, "RTP/AVP", [97],
    )  # fmt: skip
    assert audio.rtpmap == {97: RtpMap("L16", 48000, 1)} and audio.ptime is None
    assert choose_audio(sdp, BASE) == AudioStream(BASE + "stream=1", 97, 48000, 1, 20)


def test_our_servers_two_sections():
    sdp = parse_sdp(OUR_SDP)
    audio = sdp.media[1]
    assert audio.rtpmap == {98: RtpMap("L16", 44100, 2)} and audio.ptime == 20.0
    assert audio.rtp_profile == "RTP/AVPF"
    base = "rtsp://127.0.0.1:8554/movie.Mjpeg"
    assert choose_audio(sdp, base) == AudioStream(base + "/track2", 98, 44100, 2, 20.0, True)
    without_nacks = parse_sdp(OUR_SDP.replace("a=rtcp-fb:98 nack\r\n", ""))
    assert not choose_audio(without_nacks, base).nack  # RTP/AVPF alone: nothing to ask for


@pytest.mark.parametrize(
    "section, expected",
    [
        ("m=audio 0 RTP/AVP 96\na=rtpmap:96 L16/16000\n", (96, 16000, 1)),  # one channel unsaid
        ("m=audio 0 RTP/AVP 11\n", (11, 44100, 1)),  # RFC 3551's static L16 types
        ("m=audio 0 RTP/AVP 10\n", (10, 44100, 2)),
        ("m=audio 0 RTP/AVP 0 96\na=rtpmap:96 l16/8000/6\n", (96, 8000, 6)),  # after PCMU
        ("m=audio 0 RTP/AVP 96\na=rtpmap:96 L16/8000/2\na=ptime:10\n", (96, 8000, 2)),
    ],
)
def test_the_l16_formats_the_client_plays(section, expected):
    audio = choose_audio(parse_sdp("v=0\nm=video 0 RTP/AVP 26\n" + section), BASE)
    assert audio is not None and (audio.payload_type, audio.rate, audio.channels) == expected


@pytest.mark.parametrize(
    "section, said",
    [
        ("m=audio 0 RTP/AVP 0\n", "payload type 0"),  # PCMU: no rtpmap, not L16
        ("m=audio 0 RTP/AVP 96\na=rtpmap:96 opus/48000/2\n", "opus/48000/2"),
        ("m=audio 0 RTP/AVP 96\na=rtpmap:96 L16/48000/9\n", "L16/48000/9"),  # over 8 channels
        ("m=audio 0 RTP/AVP 96\na=rtpmap:96 L16/0/1\n", "L16/0/1"),
    ],
)
def test_other_sound_is_skipped_and_said_once(section, said, caplog):
    sdp = parse_sdp("v=0\nm=video 0 RTP/AVP 26\n" + section)
    with caplog.at_level(logging.WARNING):
        assert choose_audio(sdp, BASE) is None
    [record] = caplog.records
    assert said in record.getMessage() and "video only" in record.getMessage()


def test_no_audio_section_says_nothing(caplog):
    with caplog.at_level(logging.WARNING):
        assert choose_audio(parse_sdp("v=0\nm=video 0 RTP/AVP 26\n"), BASE) is None
    assert not caplog.records


def test_the_audio_transport():
    assert audio_transport(tcp=False, client_port=40002) == (
        "RTP/AVP;unicast;client_port=40002-40003"
    )
    assert AUDIO_INTERLEAVED == (2, 3)
    assert audio_transport(tcp=True, client_port=0) == "RTP/AVP/TCP;unicast;interleaved=2-3"
    assert audio_transport(tcp=False, client_port=40002, feedback=True) == (
        "RTP/AVPF;unicast;client_port=40002-40003"  # the server's NACKs offered for the sound
    )
    assert audio_transport(tcp=False, client_port=0, multicast=True) == "RTP/AVP;multicast"


@pytest.mark.parametrize(
    "urls, expected",
    [
        ((BASE + "stream=0", BASE + "stream=1"), (0, 1)),  # gst-rtsp-server's, in order
        ((BASE + "stream=1", BASE + "stream=0"), (1, 0)),  # any order: by URL
        (("stream=1", "stream=0"), (1, 0)),  # the control attribute alone
        (("/av/stream=0", "/av/stream=1"), (0, 1)),  # a path
        (("rtsp://elsewhere/a", "rtsp://elsewhere/b"), (0, 1)),  # unknown URLs: in order
    ],
)
def test_each_track_finds_its_rtp_info(urls, expected):
    infos = [RtpInfo(url, seq=n, rtptime=100 * n) for n, url in enumerate(urls)]
    video = info_for(infos, BASE + "stream=0", 0)
    audio = info_for(infos, BASE + "stream=1", 1)
    assert (video.seq, audio.seq) == expected
    assert info_for(infos[:1], BASE + "stream=1", 1) in (infos[0], None)
    assert info_for([], BASE + "stream=1", 1) is None


# -- the session ---------------------------------------------------------------------------


def ok(cseq, body=b"", **headers):
    items = [("CSeq", str(cseq)), *((k.replace("_", "-"), v) for k, v in headers.items())]
    return RtspResponse(200, Headers(items), body)


def described(tcp=False, audio=True, sdp=GST_SDP):
    session = ClientSession(parse_target("127.0.0.1", 46719, BASE.rstrip("/")), 40000,
                            tcp=tcp, audio=audio)  # fmt: skip
    request = session.describe(0.0)
    session.receive(ok(request.cseq, sdp.encode(), Content_Base=BASE), 0.0)
    return session


def set_up(session):
    request = session.setup(0.0)
    transport = "RTP/AVP;unicast;client_port=40000-40001;server_port=5000-5001;ssrc=0000ABCD"
    session.receive(ok(request.cseq, Session="S1;timeout=60", Transport=transport), 0.0)


def test_the_audio_is_set_up_in_the_videos_session():
    session = described()
    set_up(session)
    request = session.setup_audio(1.0, client_port=40002)
    assert (request.method, request.uri) == ("SETUP", BASE + "stream=1")
    assert request.headers.get("Session") == "S1"
    assert request.headers.get("Transport") == "RTP/AVP;unicast;client_port=40002-40003"
    transport = "RTP/AVP;unicast;client_port=40002-40003;server_port=5002-5003;ssrc=00001234"
    session.receive(ok(request.cseq, Session="S1", Transport=transport), 1.0)
    assert session.audio_server is not None
    assert (session.audio_server.server_port, session.audio_server.ssrc) == ((5002, 5003), 0x1234)
    assert session.state is State.READY and session.server.ssrc == 0xABCD  # the video's stays
    request = session.play(2.0)
    assert request.uri == BASE.rstrip("/")  # the aggregate control: both tracks
    rtp_info = f"url={BASE}stream=0;seq=11;rtptime=900,url={BASE}stream=1;seq=22;rtptime=480"
    session.receive(ok(request.cseq, Session="S1", RTP_Info=rtp_info, Range="npt=0-"), 2.0)
    assert (session.play_seq, session.play_rtptime) == (11, 900)
    assert (session.audio_seq, session.audio_rtptime) == (22, 480)
    request = session.teardown(3.0)
    session.receive(ok(request.cseq), 3.0)
    assert session.audio_server is None and session.state is State.INIT


def test_the_audio_interleaved_after_the_video():
    session = described(tcp=True)
    set_up(session)
    request = session.setup_audio(1.0, client_port=0)
    assert request.headers.get("Transport") == "RTP/AVP/TCP;unicast;interleaved=2-3"


def test_a_refused_audio_setup_leaves_the_video_as_it_was():
    session = described()
    set_up(session)
    request = session.setup_audio(1.0, client_port=40002)
    with pytest.raises(ClientError, match="461"):
        session.receive(RtspResponse(461, Headers([("CSeq", str(request.cseq))])), 1.0)
    assert session.audio_server is None and session.state is State.READY


def test_without_audio_the_session_is_as_before():
    session = described(audio=False)
    assert session.audio is None
    set_up(session)
    with pytest.raises(ClientError, match="no audio track"):
        session.setup_audio(1.0, client_port=40002)
    request = session.play(2.0)
    rtp_info = f"url={BASE}stream=0;seq=11;rtptime=900,url={BASE}stream=1;seq=22;rtptime=480"
    session.receive(ok(request.cseq, Session="S1", RTP_Info=rtp_info), 2.0)
    assert (session.play_seq, session.audio_seq) == (11, None)


def test_a_multicast_session_sets_up_the_groups_sound_too():
    session = ClientSession(parse_target("127.0.0.1", 46719, BASE), 0, multicast=True)
    request = session.describe(0.0)
    session.receive(ok(request.cseq, GST_SDP.encode(), Content_Base=BASE), 0.0)
    request = session.setup(0.0)
    video = "RTP/AVP;multicast;destination=239.255.12.42;port=5004-5005;ttl=1;ssrc=0000ABCD"
    session.receive(ok(request.cseq, Session="S1", Transport=video), 0.0)
    request = session.setup_audio(1.0, client_port=0)
    assert request.headers.get("Transport") == "RTP/AVP;multicast"  # the group is the server's
    audio = "RTP/AVP;multicast;destination=239.255.12.42;port=5006-5007;ttl=1;ssrc=00001234"
    session.receive(ok(request.cseq, Session="S1", Transport=audio), 1.0)
    group = session.audio_server.group
    assert (group.address, group.rtp_port, group.rtcp_port) == ("239.255.12.42", 5006, 5007)
    assert session.audio_server.ssrc == 0x1234 and session.server.group.rtp_port == 5004
    request = session.setup_audio(2.0, client_port=0)
    unicast = "RTP/AVP;unicast;client_port=40002-40003;server_port=5002-5003"
    with pytest.raises(ClientError, match="not multicast"):  # no group to join: refused
        session.receive(ok(request.cseq, Session="S1", Transport=unicast), 2.0)


# -- L16 depacketizing ---------------------------------------------------------------------


def test_each_l16_packet_is_whole_as_it_comes():
    depacketizer = L16Depacketizer()
    # Two samples, network order: 0x0102 and -2 (0xFFFE).
    assert depacketizer.push(7, 960, False, b"\x01\x02\xff\xfe") == b"\x01\x02\xff\xfe"
    assert depacketizer.push(8, 1920, True, b"") is None  # nothing to play
    assert depacketizer.stats.frames == 1 and depacketizer.buffered_bytes == 0
