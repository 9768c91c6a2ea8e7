"""Range and RTP-Info as parse/format pairs, and the RTP and RTCP ports of a Transport's range."""

import pytest

from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.headers.range import (
    format_npt_range,
    npt_start,
    parse_npt_range,
    parse_npt_start,
)
from rtsplab.rtsp.headers.rtp_info import RtpInfo, first_rtptime, format_rtp_info, parse_rtp_info
from rtsplab.rtsp.headers.transport import parse_transport, rtp_and_rtcp_ports


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("npt=0-", (0.0, None)),
        ("npt=0-20.5", (0.0, 20.5)),
        ("npt=now-", (None, None)),
        ("npt=00:01:00-", (60.0, None)),
        ("npt=1:02:03.5-1:02:04", (3723.5, 3724.0)),
        (" NPT = 7 - ", (7.0, None)),
        ("smpte=0:10:20-", None),
        ("npt=abc-", None),
        ("npt=5-xyz", None),
        ("npt=5", None),
        ("npt=0:61:00-", None),
    ],
)
def test_npt_ranges_parse_or_are_refused(text, expected):
    assert parse_npt_range(text) == expected


@pytest.mark.parametrize(("start", "end"), [(0.0, None), (1.5, None), (12.25, 20.0)])
def test_npt_ranges_round_trip(start, end):
    assert parse_npt_range(format_npt_range(start, end)) == (start, end)


def test_npt_range_format_is_the_one_players_send():
    assert format_npt_range(1.5) == "npt=1.500-"
    assert format_npt_range(0, 20) == "npt=0.000-20.000"


def test_a_requests_range_start_or_457():
    assert parse_npt_start(None) is None
    assert parse_npt_start("npt=now-") is None
    assert parse_npt_start("npt=2.5-") == 2.5
    for bad in ("smpte=0:00:01-", "clock=19961108T142300Z-", "npt=junk-"):
        with pytest.raises(RtspError) as raised:
            parse_npt_start(bad)
        assert raised.value.status == 457


def test_a_replys_range_start_is_none_when_unreadable():
    assert npt_start("npt=3.000-") == 3.0
    assert npt_start(None) is None
    assert npt_start("npt=now-") is None
    assert npt_start("garbage") is None


def test_rtp_info_known_answer_and_round_trip():
    text = "url=rtsp://h/movie.mjpeg/track1;seq=4812;rtptime=2930811"
    (info,) = parse_rtp_info(text)
    assert info == RtpInfo("rtsp://h/movie.mjpeg/track1", 4812, 2930811)
    assert info.format() == text
    two = [RtpInfo("rtsp://h/a/track1", 1, 2), RtpInfo("rtsp://h/a/track2", 65535, 2**32 - 1)]
    assert parse_rtp_info(format_rtp_info(two)) == two


def test_rtp_info_garbled_numbers_are_left_out():
    (info,) = parse_rtp_info("url=x;seq=12a;rtptime=-5")
    assert (info.seq, info.rtptime) == (None, None)
    assert first_rtptime("url=x;seq=1, url=y;rtptime=77") == 77
    assert first_rtptime("url=x;seq=1") is None
    assert first_rtptime(None) is None
    assert first_rtptime("rtptime=²") is None  # a Unicode digit is not a number on the wire


@pytest.mark.parametrize(
    ("transport", "ports"),
    [
        ("RTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001", (6000, 6001)),
        ("RTP/AVP;unicast;client_port=5000-5001;server_port=6000", (6000, 6001)),
        ("RTP/AVP;unicast;server_port=6000-6003", (6000, 6003)),
        ("RTP/AVP;unicast;server_port=65534", (65534, 65535)),
        ("RTP/AVP;multicast;destination=239.1.2.3;port=7000", None),
    ],
)
def test_a_range_names_rtp_and_rtcp_on_the_next_port_unless_it_names_both(transport, ports):
    (spec,) = parse_transport(transport)
    if ports is None:
        assert spec.server_port is None and rtp_and_rtcp_ports(spec.port) == (7000, 7001)
    else:
        assert rtp_and_rtcp_ports(spec.server_port) == ports
