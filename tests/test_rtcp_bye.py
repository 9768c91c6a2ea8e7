"""RTCP BYE (rtsplab.rtcp.bye, RFC 3550 section 6.6): known-answer vectors, round trips at the
limits, malformed and unencodable BYE packets."""

import pytest

from rtcp_vectors import (
    BYE,
    BYE_BYTES,
    BYE_REASON,
    BYE_REASON_BYTES,
    SSRC,
    assert_decode_rejects,
    assert_round_trip,
)
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.compound import decode_compound
from rtsplab.rtcp.packet import RTCP_BYE


def test_bye_vector_fields():
    (bye,) = decode_compound(BYE_BYTES, strict=False)
    assert (bye.packet_type, bye.sources, bye.reason) == (RTCP_BYE, [0x12345678], None)
    (bye,) = decode_compound(BYE_REASON_BYTES, strict=False)
    assert (bye.sources, bye.reason) == ([0x12345678, 0x9ABCDEF0], "camera off")


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(Bye(), id="bye-empty"),
        pytest.param(Bye([], ""), id="bye-empty-reason"),
        pytest.param(
            Bye(list(range(31)), "\u00e9" * 127 + "x"), id="bye-31-sources-255-byte-reason"
        ),
    ],
)
def test_round_trip(packet):
    assert_round_trip(packet)


@pytest.mark.parametrize(
    "data, message",
    [
        pytest.param(
            b"\x82\xcb\x00\x01" + SSRC,  # SC=2, one SSRC
            r"BYE source count 2 needs 8 bytes, the length leaves 4",
            id="bye-count-too-large",
        ),
        pytest.param(
            b"\x81\xcb\x00\x02" + SSRC + b"\x05abc",
            r"BYE reason length 5 past the end: only 3 bytes follow it",
            id="bye-reason-past-end",
        ),
    ],
)
def test_decode_rejects_malformed(data, message):
    assert_decode_rejects(data, message)


@pytest.mark.parametrize(
    "packet, message",
    [
        pytest.param(Bye(list(range(32))), r"BYE source count .* got 32", id="bye-32"),
        pytest.param(Bye([1 << 32]), r"sources\[0\] .* got 4294967296", id="bye-ssrc-2^32"),
        pytest.param(
            Bye([1], "\u00e9" * 128),
            r"BYE reason must be at most 255 bytes of UTF-8, got 256",
            id="bye-reason-256",
        ),
    ],
)
def test_encode_rejects_bad_field(packet, message):
    with pytest.raises(ValueError, match=message):
        packet.encode()


def test_repr():
    assert repr(BYE_REASON) == "Bye(sources=[0x12345678, 0x9abcdef0], reason='camera off')"
    assert repr(BYE) == "Bye(sources=[0x12345678])"
