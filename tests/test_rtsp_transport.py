"""The RTSP Transport header (rtsplab.rtsp.headers.transport, RFC 2326 section 12.39): parse,
format, round trips, the errors (400), the multicast parameters."""

import pytest

from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.headers.transport import TransportSpec, format_transport, parse_transport


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        pytest.param(
            "RTP/UDP; client_port= 25000",
            TransportSpec("RTP/UDP", client_port=(25000, None)),
            id="lab",
        ),
        pytest.param(
            "RTP/AVP;unicast;client_port=25000-25001",
            TransportSpec("RTP/AVP", True, (25000, 25001)),
            id="avp",
        ),
        pytest.param(
            'RTP/AVP/UDP;unicast;client_port=25000-25001;mode="PLAY"',
            TransportSpec("RTP/AVP/UDP", True, (25000, 25001), mode="PLAY"),
            id="avp-udp-mode",
        ),
        pytest.param(
            "RTP/AVP/TCP;unicast;interleaved=0-1",
            TransportSpec("RTP/AVP/TCP", True, interleaved=(0, 1)),
            id="tcp-interleaved",
        ),
        pytest.param(
            "RTP/AVP;unicast;client_port=25000-25001;server_port=5000-5001;ssrc=1a2b3c4d",
            TransportSpec("RTP/AVP", True, (25000, 25001), (5000, 5001), ssrc=0x1A2B3C4D),
            id="server-reply",
        ),
        pytest.param(
            "RTP/AVP;multicast;destination=224.2.0.1;ttl=16;port=3456-3457",
            TransportSpec(
                "RTP/AVP", False, destination="224.2.0.1", port=(3456, 3457), ttl=16
            ),  # RFC 2326 §12.39's example
            id="multicast",
        ),
        pytest.param(
            "RTP/AVP ; UNICAST ; Client_Port = 65534 - 65535 ; SSRC=0 ; append ;",
            TransportSpec("RTP/AVP", True, (65534, 65535), ssrc=0, other={"append": None}),
            id="case-spaces-limits",
        ),
        pytest.param(
            "RTP/AVP;ssrc=FFFFFFFF;interleaved=254;mode=record",
            TransportSpec("RTP/AVP", ssrc=0xFFFFFFFF, interleaved=(254, None), mode="record"),
            id="ssrc-max",
        ),
    ],
)
def test_parse_transport(value, spec):
    assert parse_transport(value) == [spec]


def test_parse_transport_list_keeps_order_and_quoted_commas():
    specs = parse_transport(
        "RTP/AVP/TCP;unicast;interleaved=0-1, "
        'RTP/AVP;unicast;client_port=5000-5001;mode="PLAY,RECORD"'
    )
    assert [(s.lower_transport, s.interleaved, s.client_port, s.mode) for s in specs] == [
        ("TCP", (0, 1), None, None),
        ("UDP", None, (5000, 5001), "PLAY,RECORD"),
    ]
    assert format_transport(specs) == (
        'RTP/AVP/TCP;unicast;interleaved=0-1,RTP/AVP;unicast;client_port=5000-5001;mode="PLAY,RECORD"'
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "RTP/AVP;unicast,",
        ",RTP/AVP",
        "RTP/AVP,,RTP/AVP/TCP",
        "RTP",
        "RTP/AVP/UDP/X",
        "RTP AVP",
        ";unicast",
        "RTP/AVP;client_port=65536",
        "RTP/AVP;client_port=25000-65536",
        "RTP/AVP;client_port=abc",
        "RTP/AVP;client_port=",
        "RTP/AVP;client_port",
        "RTP/AVP;client_port=1-",
        "RTP/AVP;client_port=-1",
        "RTP/AVP;client_port=1,2",
        "RTP/AVP;interleaved=256",
        "RTP/AVP;ssrc=123456789",
        "RTP/AVP;ssrc=xyz",
        "RTP/AVP;ssrc=",
        "RTP/AVP;unicast=1",
        "RTP/AVP;unicast;multicast",
        "RTP/AVP;client_port=1;client_port=2",
        'RTP/AVP;mode="PLAY',
        'RTP/AVP;mode=""',
        'RTP/AVP;mode="PLAY"x',
        "RTP/AVP;bad name=1",
    ],
)
def test_parse_transport_errors_are_400(value):
    with pytest.raises(RtspError) as info:
        parse_transport(value)
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        (
            TransportSpec("RTP/AVP", True, (25000, 25001), (5000, 5001), ssrc=0x1A2B3C4D),
            "RTP/AVP;unicast;client_port=25000-25001;server_port=5000-5001;ssrc=1A2B3C4D",
        ),
        (TransportSpec("RTP/UDP", client_port=(25000, None)), "RTP/UDP;client_port=25000"),
        (TransportSpec("RTP/AVP", ssrc=0), "RTP/AVP;ssrc=00000000"),
        (TransportSpec("RTP/AVP", ssrc=0xFFFFFFFF), "RTP/AVP;ssrc=FFFFFFFF"),
        (
            TransportSpec("RTP/AVP/TCP", True, interleaved=(0, 1), mode="PLAY"),
            "RTP/AVP/TCP;unicast;interleaved=0-1;mode=PLAY",
        ),
        (
            TransportSpec("RTP/AVP", False, ttl=16, other={"append": None}),
            "RTP/AVP;multicast;ttl=16;append",
        ),
    ],
)
def test_transport_format_and_round_trip(spec, text):
    assert spec.format() == text
    assert parse_transport(text) == [spec]


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("RTP/UDP; client_port= 25000", "RTP/UDP;client_port=25000"),
        ('RTP/AVP/UDP;unicast;client_port=25000-25001;mode="PLAY"', None),
        ("RTP/AVP;unicast;client_port=25000-25001;ssrc=1a2b3c4d", None),
    ],
)
def test_transport_parse_format_parse_is_stable(value, canonical):
    [spec] = parse_transport(value)
    text = spec.format()
    if canonical is not None:
        assert text == canonical
    assert parse_transport(text) == [spec]
    assert parse_transport(text)[0].format() == text


@pytest.mark.parametrize(
    "spec",
    [
        TransportSpec(ssrc=-1),
        TransportSpec(ssrc=2**32),
        TransportSpec(client_port=(65536, None)),
        TransportSpec(server_port=(5000, 65536)),
        TransportSpec(interleaved=(0, 256)),
    ],
)
def test_transport_format_refuses_out_of_range(spec):
    with pytest.raises(ValueError):
        spec.format()


@pytest.mark.parametrize(
    ("protocol", "lower"),
    [
        ("RTP/AVP", "UDP"),
        ("RTP/AVP/UDP", "UDP"),
        ("RTP/AVP/TCP", "TCP"),
        ("rtp/avp/tcp", "TCP"),
        ("RTP/UDP", "UDP"),
        ("RTP/TCP", "TCP"),
    ],
)
def test_lower_transport(protocol, lower):
    assert TransportSpec(protocol).lower_transport == lower


@pytest.mark.parametrize("ttl", ["256", "-1", "x", "1000", ""])
def test_a_bad_ttl_is_400(ttl):
    with pytest.raises(RtspError) as raised:
        TransportSpec.parse(f"RTP/AVP;multicast;ttl={ttl}")
    assert raised.value.status == 400


def test_the_multicast_parameters_round_trip():
    text = "RTP/AVP;multicast;destination=239.255.12.42;port=5000-5001;ttl=1"
    spec = TransportSpec.parse(text)
    assert (spec.unicast, spec.destination, spec.port, spec.ttl) == (
        False, "239.255.12.42", (5000, 5001), 1,
    )  # fmt: skip
    assert spec.format() == text
