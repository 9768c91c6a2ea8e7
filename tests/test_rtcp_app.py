"""RTCP APP (rtsplab.rtcp.app, RFC 3550 section 6.7): the known-answer vector, round trips at
the limits, malformed and unencodable APP packets, a decode that outlives its buffer."""

import pytest

from rtcp_vectors import APP, APP_BYTES, SSRC, assert_decode_rejects, assert_round_trip
from rtsplab.ntp import MAX_U32
from rtsplab.rtcp.app import App
from rtsplab.rtcp.compound import decode_compound
from rtsplab.rtcp.packet import RTCP_APP


def test_app_vector_fields():
    (app,) = decode_compound(APP_BYTES, strict=False)
    assert (app.packet_type, app.subtype, app.ssrc, app.name) == (RTCP_APP, 3, 0x12345678, b"STAT")
    assert app.data == b"\x00\x00\x00\x2a\xff\xff\xff\xff"


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(App(0, 0, b"\x00\x00\x00\x00"), id="app-empty"),
        pytest.param(App(31, MAX_U32, b"ABCD", bytes(range(64))), id="app-limits"),
    ],
)
def test_round_trip(packet):
    assert_round_trip(packet)


def test_decode_rejects_malformed():
    assert_decode_rejects(
        b"\x80\xcc\x00\x01" + SSRC,
        r"APP too short for the SSRC and name: 4 bytes after the header, needs 8",
    )


def test_decode_copies_a_mutable_buffer():
    buffer = bytearray(APP_BYTES)
    app = App.decode(buffer)
    buffer[:] = bytes(len(buffer))  # the receive buffer is reused for the next datagram
    assert app == APP


@pytest.mark.parametrize(
    "packet, message",
    [
        pytest.param(
            App(32, 1, b"ABCD"),
            r"subtype must be an integer in 0\.\.31, got 32",
            id="app-subtype-32",
        ),
        pytest.param(
            App(0, 1, b"ABC"), r"APP name must be 4 ASCII bytes, got b'ABC'", id="app-name-3"
        ),
        pytest.param(
            App(0, 1, b"AB\xffD"), r"APP name must be 4 ASCII bytes", id="app-name-non-ascii"
        ),
        pytest.param(
            App(0, 1, b"ABCD", b"123456"),
            r"APP data must be a multiple of 4 bytes, got 6",
            id="app-data-6",
        ),
    ],
)
def test_encode_rejects_bad_field(packet, message):
    with pytest.raises(ValueError, match=message):
        packet.encode()


def test_repr():
    assert repr(APP) == "App(subtype=3, ssrc=0x12345678, name=b'STAT', data=8 bytes)"
