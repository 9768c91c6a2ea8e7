"""Every number a peer writes in an RTSP header is read with bounds: known answers at each
limit and one past it, for CSeq, Content-Length, Session, Range, RTP-Info, Transport (ports,
channels, ttl, ssrc, source), Scale and Speed; and the server session's answers to Scale,
Speed and an empty or reversed Range, refused before anything moves."""

from __future__ import annotations

import pytest

from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.grammar import MAX_CSEQ, bounded_int, cseq_or_none
from rtsplab.rtsp.headers.range import npt_start, parse_npt_range, parse_npt_start
from rtsplab.rtsp.headers.rtp_info import parse_rtp_info
from rtsplab.rtsp.headers.scale import format_rate, parse_scale, parse_speed
from rtsplab.rtsp.headers.session import MAX_SESSION_ID, format_session, parse_session
from rtsplab.rtsp.headers.transport import TransportSpec, parse_transport, rtp_and_rtcp_ports
from rtsplab.rtsp.message import Headers, RtspRequest
from rtsplab.rtsp.reader import MAX_CONTENT_LENGTH, RequestReader
from rtsplab.rtsp.state import State
from rtsplab.server.position import play_moves
from rtsplab.server.session import ServerSession, StreamConfig

HUGE = "9" * 400  # the number from the report: no float holds it


@pytest.mark.parametrize(
    ("text", "high", "expected"),
    [
        ("0", 9, 0),
        ("9", 9, 9),
        ("10", 9, None),  # past the bound
        (" 65535 ", 65535, 65535),
        ("065535", 65535, None),  # longer than the bound is written: refused unread
        ("65536", 65535, None),
        ("", 9, None),
        ("-1", 9, None),
        ("+1", 9, None),
        ("1.0", 9, None),
        ("\u0661", 9, None),  # an Arabic-Indic one: a digit to str.isdigit, not to RTSP
        (HUGE, 2**64, None),
    ],
)
def test_bounded_int_known_answers(text, high, expected):
    assert bounded_int(text, high) == expected


def test_bounded_int_has_a_low_bound_too():
    assert bounded_int("0", 65535, low=1) is None
    assert bounded_int("1", 65535, low=1) == 1


def test_cseq_is_a_32_bit_counter():
    assert cseq_or_none(str(MAX_CSEQ)) == MAX_CSEQ
    assert cseq_or_none(str(MAX_CSEQ + 1)) is None
    assert cseq_or_none(HUGE) is None
    with pytest.raises(RtspError) as refused:
        RtspRequest("OPTIONS", "*", Headers([("CSeq", HUGE)])).cseq  # noqa: B018
    assert refused.value.status == 400


@pytest.mark.parametrize(
    ("length", "status"),
    [
        (str(MAX_CONTENT_LENGTH), 413),  # a length, just too long a body: skipped
        (str(MAX_CONTENT_LENGTH + 1), 400),  # no length a peer means
        (HUGE, 400),
        ("-5", 400),
    ],
)
def test_a_content_length_past_its_bound_is_refused(length, status):
    reader = RequestReader()
    events = reader.feed(
        f"OPTIONS * RTSP/1.0\r\nCSeq: 7\r\nContent-Length: {length}\r\n\r\n".encode()
    )
    assert len(events) == 1 and isinstance(events[0], RtspError)
    assert (events[0].status, events[0].cseq) == (status, 7)


def test_after_an_unreadable_content_length_the_reader_goes_on():
    """The body's extent is unknown: what follows, up to the next empty line, is taken as
    that body and dropped; the request after it is read."""
    reader = RequestReader()
    events = reader.feed(
        f"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: {HUGE}\r\n\r\n"
        "the body\r\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n".encode()
    )
    assert [type(e).__name__ for e in events] == ["RtspError", "RtspRequest"]
    assert events[1].cseq == 2


def test_session_ids_and_timeouts_have_bounds():
    longest = "a" * MAX_SESSION_ID
    assert parse_session(f"{longest};timeout={2**31 - 1}") == (longest, 2**31 - 1)
    for bad in (longest + "a", f"abc;timeout={2**31}", f"abc;timeout={HUGE}", "abc;timeout=-1"):
        with pytest.raises(RtspError) as refused:
            parse_session(bad)
        assert refused.value.status == 400
    with pytest.raises(ValueError):
        format_session("abc", 2**31)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("npt=999999999-", (999999999.0, None)),
        ("npt=999999999:59:59.999999999-", (999999999 * 3600 + 3599.999999999, None)),
        ("npt=0.123456789-", (0.123456789, None)),
        ("npt=1000000000-", None),  # ten digits of seconds: no stream is that long
        (f"npt={HUGE}:00:00-", None),  # the report's: an OverflowError once
        (f"npt={HUGE}-", None),
        (f"npt=0-{HUGE}", None),
        ("npt=0.1234567890-", None),  # ten digits of fraction
        ("npt=\u0661-", None),
    ],
)
def test_npt_times_have_bounds(text, expected):
    assert parse_npt_range(text) == expected


@pytest.mark.parametrize(
    "value",
    [f"npt={HUGE}:00:00-", f"npt={HUGE}-", "npt=5-3", "npt=3-3", "npt=-", "npt=", "", "npt=0-0"],
)
def test_a_requests_unreadable_empty_or_reversed_range_is_457(value):
    with pytest.raises(RtspError) as refused:
        parse_npt_start(value)
    assert refused.value.status == 457
    assert len(refused.value.message) < 200  # the 400 digits are not echoed whole


def test_a_replys_unreadable_range_is_ignored_not_raised():
    assert npt_start(f"npt={HUGE}:00:00-") is None
    assert parse_npt_start("npt=3-5") == 3.0 and parse_npt_start("npt=now-5") is None


def test_rtp_info_numbers_are_left_out_past_their_fields():
    info = parse_rtp_info(f"url=a;seq=65535;rtptime=4294967295,url=b;seq=65536;rtptime={HUGE}")
    assert [(i.url, i.seq, i.rtptime) for i in info] == [
        ("a", 65535, 4294967295),
        ("b", None, None),
    ]


@pytest.mark.parametrize(
    "transport",
    [
        "RTP/AVP;unicast;client_port=65535-0",  # the report's: RTCP at 65536 killed a thread
        "RTP/AVP;unicast;client_port=0-1",
        "RTP/AVP;unicast;client_port=0",
        "RTP/AVP;unicast;client_port=65535",  # no port above it for RTCP
        "RTP/AVP;unicast;client_port=5000-65536",
        "RTP/AVP;unicast;client_port=050000-50001",
        "RTP/AVP;unicast;server_port=65535",
        "RTP/AVP;multicast;port=0-1",
        "RTP/AVP/TCP;unicast;interleaved=255",  # no channel above it for RTCP
        "RTP/AVP/TCP;unicast;interleaved=0-256",
        "RTP/AVP;multicast;ttl=256",
        "RTP/AVP;multicast;ttl=0001",
        "RTP/AVP;unicast;ssrc=123456789",
        f"RTP/AVP;unicast;client_port={HUGE}",
    ],
)
def test_transport_numbers_past_their_bounds_are_400(transport):
    with pytest.raises(RtspError) as refused:
        parse_transport(transport)
    assert refused.value.status == 400


@pytest.mark.parametrize(
    ("transport", "rtp_rtcp"),
    [
        ("RTP/AVP;unicast;client_port=1-2", (1, 2)),
        ("RTP/AVP;unicast;client_port=65534", (65534, 65535)),
        ("RTP/AVP;unicast;client_port=65534-65535", (65534, 65535)),
        ("RTP/AVP;unicast;client_port=25001", (25001, 25002)),  # odd: the lab's client may
        ("RTP/AVP/TCP;unicast;interleaved=254", (254, 255)),
    ],
)
def test_transport_numbers_at_their_bounds_are_taken(transport, rtp_rtcp):
    spec = parse_transport(transport)[0]
    assert rtp_and_rtcp_ports(spec.client_port or spec.interleaved) == rtp_rtcp
    assert TransportSpec.parse(spec.format()) == spec


def test_a_transport_that_would_not_parse_is_never_written():
    with pytest.raises(ValueError):
        TransportSpec(client_port=(65535, None)).format()
    with pytest.raises(ValueError):
        TransportSpec(client_port=(0, 1)).format()


@pytest.mark.parametrize(
    ("text", "scale"),
    [
        ("1", 1.0),
        ("2", 2.0),
        ("-1", -1.0),
        ("0.5", 0.5),
        (" 1.000 ", 1.0),
        ("999999.999999999", 999999.999999999),
    ],
)
def test_scales_known_answers(text, scale):
    assert parse_scale(text) == scale


@pytest.mark.parametrize(
    "text", ["", "0", "-0.0", "1e9", "1000000", "1.0000000001", "+1", "x", "1,5", HUGE]
)
def test_bad_scales_are_400(text):
    with pytest.raises(RtspError) as refused:
        parse_scale(text)
    assert refused.value.status == 400


def test_speed_has_no_sign_and_rates_are_written_short():
    assert parse_speed("2.5") == 2.5
    with pytest.raises(RtspError):
        parse_speed("-1")
    assert [format_rate(r) for r in (1.0, 2.5, -1.0, 0.25)] == ["1", "2.5", "-1", "0.25"]
    with pytest.raises(ValueError):
        format_rate(0.0)


# -- the server session: Scale, Speed and Range, refused before anything moves --------------


@pytest.fixture
def playing(tmp_path):
    from MakeVideo import make_clip

    make_clip(tmp_path / "clip.mjpeg", 64, 48, 100, fmt="mjpeg")  # 5 s at 20 fps
    session = ServerSession(StreamConfig(tmp_path, 20.0), "127.0.0.1", 40000)
    session.handle(request("SETUP", Transport="RTP/AVP;unicast;client_port=6000-6001"))
    assert session.handle(request("PLAY", Session=session.session_id)).status == 200
    session.media.seek(10)  # half a second played
    return session


def request(method, **headers):
    return RtspRequest(
        method, "rtsp://127.0.0.1/clip.mjpeg", Headers([("CSeq", "5"), *headers.items()])
    )


def test_scale_2_is_answered_with_the_scale_used_1(playing):
    reply = playing.handle(request("PLAY", Session=playing.session_id, Scale="2"))
    assert reply.status == 200 and reply.headers["Scale"] == "1"
    assert "Speed" not in reply.headers
    reply = playing.handle(request("PLAY", Session=playing.session_id, Speed="2.5", Scale="-1"))
    assert (reply.status, reply.headers["Speed"], reply.headers["Scale"]) == (200, "1", "1")
    plain = playing.handle(request("PLAY", Session=playing.session_id))
    assert "Scale" not in plain.headers  # asked for nothing: nothing to say


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Range": "npt=4-3"}, 457),
        ({"Range": "npt=2-2"}, 457),
        ({"Range": f"npt={HUGE}:00:00-"}, 457),
        ({"Range": "npt=1-", "Scale": "fast"}, 400),  # the Range is good: still nothing moves
        ({"Range": "npt=1-", "Speed": "0"}, 400),
    ],
)
def test_a_refused_play_moves_nothing(playing, headers, status):
    reply = playing.handle(request("PLAY", Session=playing.session_id, **headers))
    assert (reply.status, reply.cseq, reply.session) == (status, 5, playing.session_id)
    assert playing.state is State.PLAYING and playing.media.frameNbr() == 10
    assert "Scale" not in reply.headers


def test_only_a_range_with_a_start_it_can_serve_stops_the_stream_first(playing):
    def moves(**headers):
        return play_moves(request("PLAY", **headers), playing.media)

    assert moves(Range="npt=1-") and moves(Range="npt=1-2")
    assert not moves(Range="npt=4-3") and not moves(Range=f"npt={HUGE}-")
    assert not moves(Range="npt=now-") and not moves(Scale="2")
