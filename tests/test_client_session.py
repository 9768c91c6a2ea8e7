"""The pure client session: requests out, replies in, time passed in, no sockets."""

import logging

import pytest

from rtsplab.client.session import (
    ClientError,
    ClientSession,
    Stream,
    Target,
    choose_stream,
    parse_target,
    transport_conflict,
)
from rtsplab.rtsp.message import Headers, RtspResponse
from rtsplab.rtsp.sdp import parse_sdp
from rtsplab.rtsp.state import State

URL = "rtsp://127.0.0.1:8554/movie.Mjpeg"


def ok(cseq, body=b"", **headers):
    items = [("CSeq", str(cseq)), *((k.replace("_", "-"), v) for k, v in headers.items())]
    return RtspResponse(200, Headers(items), body)


def lab_session():
    return ClientSession(parse_target("127.0.0.1", 8554, "movie.Mjpeg"), 25000)


SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=movie\r\nt=0 0\r\na=control:*\r\n"
    "a=range:npt=0-20\r\n"
    "m=audio 0 RTP/AVP 0\r\na=control:track0\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 JPEG/90000\r\na=control:track1\r\n"
    "a=framerate:25\r\na=x-dimensions:3840,2160\r\n"
)


def standard_session(tcp=False):
    return ClientSession(parse_target("127.0.0.1", 8554, URL), 5000, tcp=tcp)


def describe(session, sdp=SDP, now=0.0):
    request = session.options(now)
    session.receive(ok(request.cseq, Public="OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER"), now)
    request = session.describe(now)
    session.receive(ok(request.cseq, sdp.encode(), Content_Base=URL + "/"), now)


# -- where and what -------------------------------------------------------------------------


def test_a_bare_name_is_the_labs_dialect_at_the_positional_address():
    target = parse_target("10.0.0.1", 1025, "movie.Mjpeg")
    assert target == Target(
        "10.0.0.1", 1025, "movie.Mjpeg", False, "rtsp://10.0.0.1:1025/movie.Mjpeg"
    )
    assert parse_target("10.0.0.1", 1025, "movie.Mjpeg", standard=True).standard


def test_a_url_names_its_own_host_and_port_and_says_so_once(caplog):
    with caplog.at_level(logging.WARNING):
        target = parse_target("127.0.0.1", 9999, "rtsp://127.0.0.2:8554/clip.mjpeg")
    assert (target.host, target.port, target.standard) == ("127.0.0.2", 8554, True)
    assert [r.getMessage() for r in caplog.records] == [
        "the URL names 127.0.0.2:8554, the arguments 127.0.0.1:9999: using the URL's"
    ]
    assert parse_target("h", 1, "rtsp://h/clip").port == 554  # RFC 2326's default port


def test_an_ipv6_literal_url():
    target = parse_target("::1", 8554, "rtsp://[::1]:8554/clip.mjpeg")
    assert (target.host, target.port, target.path) == ("::1", 8554, "/clip.mjpeg")
    assert parse_target("::1", 8554, "clip.mjpeg").url == "rtsp://[::1]:8554/clip.mjpeg"


@pytest.mark.parametrize("url", ["rtsp://h:99999/x", "rtsp://:8554/x", "rtsp://h:port/x"])
def test_a_url_that_names_no_usable_place_is_a_one_line_error(url):
    with pytest.raises(ClientError):
        parse_target("h", 1, url)


def test_tcp_needs_standard_rtsp():
    with pytest.raises(ClientError, match="--tcp needs standard RTSP"):
        ClientSession(parse_target("h", 1, "movie.Mjpeg"), 5000, tcp=True)


@pytest.mark.parametrize(
    ("standard", "tcp", "multicast", "conflict"),
    [
        (False, False, False, None),
        (True, True, False, None),
        (True, False, True, None),
        (False, True, False, "--tcp needs standard RTSP: an rtsp:// URL or --standard"),
        (False, False, True, "--multicast needs standard RTSP: an rtsp:// URL or --standard"),
        (True, True, True, "--multicast and --tcp exclude each other: a group is UDP"),
    ],
)
def test_one_rule_for_tcp_and_multicast_serves_the_command_line_and_the_session(
    standard, tcp, multicast, conflict
):
    assert transport_conflict(standard, tcp=tcp, multicast=multicast) == conflict
    video = URL if standard else "movie.Mjpeg"
    if conflict is None:
        ClientSession(parse_target("h", 1, video), 5000, tcp=tcp, multicast=multicast)
        return
    with pytest.raises(ClientError) as refused:
        ClientSession(parse_target("h", 1, video), 5000, tcp=tcp, multicast=multicast)
    assert str(refused.value) == conflict


@pytest.mark.parametrize(
    ("transport", "server_port"),
    [
        ("RTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001", (6000, 6001)),
        ("RTP/AVP;unicast;client_port=5000-5001;server_port=6000", (6000, 6001)),
        ("RTP/AVP;unicast;client_port=5000-5001", None),
        ("RTP/AVP;unicast;server_port=99999", None),  # does not parse: no port at all
    ],
)
def test_the_servers_rtp_and_rtcp_ports_from_a_setup_reply(transport, server_port):
    session = standard_session()
    describe(session)
    request = session.setup(0.0)
    session.receive(ok(request.cseq, Session="1234", Transport=transport), 0.0)
    assert session.state is State.READY and session.server.server_port == server_port


# -- the lab's dialect, to the byte ---------------------------------------------------------


def test_a_lab_setup_asks_for_repair_after_the_labs_own_lines():
    session = lab_session()
    assert session.setup(0.0).encode() == (
        b"SETUP movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/UDP; client_port= 25000\r\n"
        b"Supported: x-rtx\r\n\r\n"  # after Transport: the lab's server reads lines 1-3 only
    )
    session.receive(ok(1, Session="123456", Supported="x-rtx"), 0.1)
    assert session.feedback and session.rtx_payload_type == 97
    refused = lab_session()
    refused.setup(0.0)
    refused.receive(ok(1, Session="123456"), 0.1)  # the lab's own server: no repair
    assert not refused.feedback and refused.rtx_payload_type is None


def test_the_labs_requests_are_the_labs_exactly():
    session = lab_session()
    session.repair = False
    assert session.setup(0.0).encode() == (
        b"SETUP movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/UDP; client_port= 25000\r\n\r\n"
    )
    session.receive(ok(1, Session="123456"), 0.1)
    assert (
        session.play(0.2).encode()
        == b"PLAY movie.Mjpeg RTSP/1.0\r\nCSeq: 2\r\nSession: 123456\r\n\r\n"
    )
    assert session.reply_may_end_quietly  # the lab's server leaves out the blank line


def test_the_session_moves_as_the_table_says_and_learns_from_each_reply():
    session = lab_session()
    assert session.state is State.INIT
    session.receive(ok(session.setup(0.0).cseq, Session="77;timeout=30",
                       Transport="RTP/UDP;unicast;client_port=25000-25001;server_port=6000-6001;ssrc=1A2B3C4D"),
                    0.0)  # fmt: skip
    assert (session.state, session.session_id, session.timeout) == (State.READY, "77", 30)
    assert session.server.server_port == (6000, 6001) and session.server.ssrc == 0x1A2B3C4D
    info = "url=rtsp://h/movie.Mjpeg;seq=4812;rtptime=2930811"
    session.receive(ok(session.play(1.0).cseq, Range="npt=2.500-", RTP_Info=info), 1.5)
    assert session.state is State.PLAYING
    assert (session.play_position, session.play_seq, session.play_rtptime) == (2.5, 4812, 2930811)
    assert session.played_at == 1.5
    session.receive(ok(session.pause(2.0).cseq), 2.0)
    assert session.state is State.READY
    session.receive(ok(session.teardown(3.0).cseq), 3.0)
    assert (session.state, session.session_id) == (State.INIT, None)


def test_a_refusal_is_a_one_line_error_and_changes_nothing():
    session = lab_session()
    session.receive(ok(session.setup(0.0).cseq, Session="77"), 0.0)
    request = session.play(1.0)
    with pytest.raises(
        ClientError, match="server answered 454 Session Not Found to PLAY movie.Mjpeg"
    ):
        refusal = RtspResponse(
            454, Headers([("CSeq", str(request.cseq))]), b"", "Session Not Found"
        )
        session.receive(refusal, 1.0)
    assert (session.state, session.session_id) == (State.READY, "77")


def test_a_reply_to_another_request_is_not_taken():
    session = lab_session()
    request = session.setup(0.0)
    assert not session.is_reply(ok(request.cseq + 5, Session="1"))
    assert session.is_reply(ok(request.cseq, Session="1"))
    assert session.is_reply(RtspResponse(200, Headers([("Session", "1")])))  # no CSeq at all
    with pytest.raises(ClientError):
        session.receive(ok(request.cseq + 5, Session="1"), 0.0)


def test_a_request_the_table_does_not_allow_is_not_made():
    session = lab_session()
    for action in (session.play, session.pause, session.teardown):
        with pytest.raises(ClientError, match="not possible in state INIT"):
            action(0.0)
    assert session.cseq == 0


def test_a_setup_reply_without_a_session_is_refused():
    session = lab_session()
    with pytest.raises(ClientError, match="no Session"):
        session.receive(ok(session.setup(0.0).cseq), 0.0)
    assert session.state is State.INIT


def test_an_abandoned_teardown_still_ends_the_session_here():
    session = lab_session()
    session.receive(ok(session.setup(0.0).cseq, Session="9"), 0.0)
    session.teardown(1.0)
    session.abandon()
    assert (session.state, session.session_id) == (State.INIT, None)


def test_the_end_of_the_stream_is_ready_again():
    session = lab_session()
    session.receive(ok(session.setup(0.0).cseq, Session="9"), 0.0)
    session.receive(ok(session.play(0.0).cseq), 0.0)
    session.stream_ended()
    assert session.state is State.READY
    session.stream_ended()  # not PLAYING any more: nothing to end
    assert session.state is State.READY


# -- standard RTSP ---------------------------------------------------------------------------


def test_describe_takes_the_jpeg_stream_and_all_of_it_from_one_section():
    session = standard_session()
    describe(session)
    assert session.stream == Stream(URL + "/track1", 96, 90000, 25.0, (3840, 2160))
    assert session.duration == 20.0 and session.base_url == URL
    request = session.setup(0.0)
    assert (request.uri, request.headers["Transport"]) == (
        URL + "/track1",
        "RTP/AVP;unicast;client_port=5000-5001",
    )
    assert not session.reply_may_end_quietly


def test_tcp_asks_for_interleaved_channels():
    session = standard_session(tcp=True)
    assert session.transport() == "RTP/AVP/TCP;unicast;interleaved=0-1"


@pytest.mark.parametrize(
    ("media", "offered"),
    [
        ("m=video 0 RTP/AVP 96\r\na=rtpmap:96 RAW/90000\r\n", "RAW/90000"),
        ("m=audio 0 RTP/AVP 26\r\n", "JPEG/90000"),  # JPEG, but not in a video section
        ("m=video 0 RTP/AVP 97\r\na=rtpmap:97 JPEG/8000\r\n", "JPEG/8000"),
        ("m=video 0 RTP/AVP 98\r\n", "video payload type 98"),
        ("", "no media"),
    ],
)
def test_a_stream_with_nothing_this_client_plays_is_refused_naming_what_it_offers(media, offered):
    sdp = parse_sdp("v=0\r\ns=x\r\nt=0 0\r\n" + media)
    with pytest.raises(ClientError) as raised:
        choose_stream(sdp, URL)
    assert str(raised.value) == f"the stream offers {offered}; this client plays JPEG (RFC 2435)"


def test_the_static_jpeg_type_needs_no_rtpmap_and_a_later_jpeg_section_is_found():
    sdp = parse_sdp(
        "v=0\r\ns=x\r\nt=0 0\r\n"
        "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:h264\r\na=framerate:60\r\n"
        "m=video 0 RTP/AVP 26\r\na=control:mjpeg\r\na=framerate:12.5\r\n"
    )
    assert choose_stream(sdp, URL + "/") == Stream(URL + "/mjpeg", 26, 90000, 12.5, None)


def test_keepalive_is_due_at_half_the_timeout_and_uses_get_parameter_when_listed():
    session = standard_session()
    describe(session, now=0.0)
    session.receive(ok(session.setup(0.0).cseq, Session="s1;timeout=20"), 0.0)
    assert not session.keepalive_due(9.9)
    assert session.keepalive_due(10.1)
    request = session.keepalive(10.1)
    assert (request.method, request.headers["Session"]) == ("GET_PARAMETER", "s1")
    session.receive(ok(request.cseq), 10.2)
    assert not session.keepalive_due(20.0) and session.keepalive_due(20.2)
    session.public.discard("GET_PARAMETER")
    assert session.keepalive(20.2).method == "OPTIONS"


def test_the_labs_dialect_needs_no_keepalive():
    session = lab_session()
    session.receive(ok(session.setup(0.0).cseq, Session="1"), 0.0)
    assert not session.keepalive_due(1000.0)


def test_udp_fallback_is_due_only_while_playing_over_udp_with_nothing_received():
    session = standard_session()
    describe(session)
    session.receive(ok(session.setup(0.0).cseq, Session="s"), 0.0)
    assert not session.fallback_due(100.0, rtp_seen=False, interleaved=False)  # not playing
    session.receive(ok(session.play(1.0).cseq), 1.0)
    assert not session.fallback_due(3.9, rtp_seen=False, interleaved=False)
    assert session.fallback_due(4.1, rtp_seen=False, interleaved=False)
    assert not session.fallback_due(4.1, rtp_seen=True, interleaved=False)
    assert not session.fallback_due(4.1, rtp_seen=False, interleaved=True)


def test_a_garbled_sdp_is_a_one_line_error():
    session = standard_session()
    request = session.describe(0.0)
    with pytest.raises(ClientError, match="bad SDP from the server"):
        session.receive(ok(request.cseq, b"v=0\r\nm=video x RTP/AVP 26\r\n"), 0.0)


def test_a_refusal_says_why_when_the_server_does_in_a_text_plain_body():
    session = lab_session()
    request = session.setup(0.0)
    headers = Headers([("CSeq", str(request.cseq)), ("Content-Type", "text/plain; charset=utf-8")])
    refusal = RtspResponse(
        415, headers, b"x.Mjpeg: not an MJPEG file\nmore", "Unsupported Media Type"
    )
    with pytest.raises(ClientError) as raised:
        session.receive(refusal, 0.0)
    assert str(raised.value) == (
        "server answered 415 Unsupported Media Type to SETUP movie.Mjpeg: "
        "x.Mjpeg: not an MJPEG file"
    )
    request = session.setup(0.0)
    bare = RtspResponse(404, Headers([("CSeq", str(request.cseq))]), b"", "Not Found")
    with pytest.raises(ClientError) as raised:
        session.receive(bare, 0.0)
    assert str(raised.value) == "server answered 404 Not Found to SETUP movie.Mjpeg"


# -- loss repair (RFC 4585 NACKs, RFC 4588 retransmission) -----------------------------------

REPAIR_SDP = SDP.replace(
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 JPEG/90000\r\n",
    "m=video 0 RTP/AVPF 96 97\r\na=rtpmap:96 JPEG/90000\r\na=rtcp-fb:96 nack\r\n"
    "a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96;rtx-time=1000\r\n",
)


@pytest.mark.parametrize(
    "sdp, granted, asks, feedback, rtx_pt",
    [
        (REPAIR_SDP, True, True, True, 97),  # ours: NACKs answered with RFC 4588 packets
        (REPAIR_SDP, False, True, True, 97),  # AVPF, no x-rtx: it may send them (gst-rtsp-server)
        (REPAIR_SDP.replace("a=rtcp-fb:96 nack\r\n", ""), False, True, False, None),
        (SDP, False, False, False, None),  # plain RTP/AVP: nothing asked, nothing sent
    ],
)
def test_repair_is_asked_for_where_offered_and_taken_as_granted(sdp, granted, asks, feedback,
                                                                 rtx_pt):  # fmt: skip
    session = standard_session()
    describe(session, sdp)
    request = session.setup(0.0)
    assert (request.headers.get("Supported") == "x-rtx") == asks
    assert request.headers["Transport"].startswith("RTP/AVPF" if "AVPF" in sdp else "RTP/AVP;")
    extra = {"Supported": "x-rtx"} if granted else {}
    session.receive(ok(request.cseq, Session="1", Transport="RTP/AVPF;unicast", **extra), 0.0)
    assert (session.feedback, session.rtx_payload_type) == (feedback, rtx_pt)


def test_a_client_told_not_to_repair_asks_for_nothing():
    session = ClientSession(parse_target("127.0.0.1", 8554, URL), 5000, repair=False)
    describe(session, REPAIR_SDP)
    request = session.setup(0.0)
    assert "Supported" not in request.headers
    session.receive(ok(request.cseq, Session="1", Supported="x-rtx"), 0.0)
    assert not session.feedback
