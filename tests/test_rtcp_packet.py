"""The RTCP common header and the packets no module of their own decodes
(rtsplab.rtcp.packet, RFC 3550 section 6.4.1): version, length and padding checks, one packet
of a class, unknown types kept raw, the error family."""

import pytest

from rtcp_vectors import (
    COMPOUND_BYTES,
    RR_BYTES,
    SDES,
    SDES_BYTES,
    SR,
    SR_BYTES,
    SSRC,
    UNKNOWN,
    UNKNOWN_BYTES,
    assert_decode_rejects,
    assert_round_trip,
)
from rtsplab.errors import PeerError
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.compound import decode_compound
from rtsplab.rtcp.packet import RTCP_SR, RtcpError, RtcpPacket, UnknownRtcp
from rtsplab.rtcp.reports import ReceiverReport, SenderReport


def test_unknown_type_is_kept_raw_and_skipped():
    packets = decode_compound(SR_BYTES + UNKNOWN_BYTES + SDES_BYTES)
    assert packets == [SR, UNKNOWN, SDES]
    unknown = packets[1]
    assert (unknown.packet_type, unknown.count, unknown.body) == (210, 5, UNKNOWN.body)


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(UnknownRtcp(206, 31, b""), id="unknown-psfb"),
        pytest.param(UnknownRtcp(0, 0, b"\x00" * 4), id="unknown-0"),
        pytest.param(UnknownRtcp(255, 1, b"\xff" * 12), id="unknown-255"),
    ],
)
def test_round_trip(packet):
    assert_round_trip(packet)


def test_padding_is_decoded_and_not_kept():
    padded = (
        b"\xa0"  # V=2 P=1 RC=0
        b"\xc9"  # PT=201 (RR)
        b"\x00\x03"  # length 3: 16 bytes
        b"\xca\xfe\xba\xbe"  # SSRC
        b"\x00\x00\x00\x00\x00\x00\x00\x08"  # 8 octets of padding, the last one counting them
    )
    assert ReceiverReport.decode(padded) == ReceiverReport(0xCAFEBABE)
    assert ReceiverReport.decode(padded).encode() == b"\x80\xc9\x00\x01\xca\xfe\xba\xbe"


@pytest.mark.parametrize(
    "data, message",
    [
        pytest.param(b"", r"too short: 0 bytes at offset 0, the header needs 4", id="empty"),
        pytest.param(b"\x80\xc9\x00", r"too short: 3 bytes at offset 0", id="3-bytes"),
        pytest.param(b"\x00\xc9\x00\x00", r"version 0 not supported, expected 2", id="version-0"),
        pytest.param(b"\x40\xc9\x00\x00", r"version 1 not supported, expected 2", id="version-1"),
        pytest.param(b"\xc0\xc9\x00\x00", r"version 3 not supported, expected 2", id="version-3"),
        pytest.param(
            b"\x80\xc9\x00\x01",  # RR, length 1 (8 bytes), only the header
            r"length field past the end: RR \(201\) at offset 0 says 2 words \(8 bytes\), "
            r"only 4 bytes left",
            id="length-past-end",
        ),
        pytest.param(
            b"\x80\xc9\xff\xff" + SSRC,
            r"says 65536 words \(262144 bytes\), only 8 bytes left",
            id="length-max",
        ),
        pytest.param(
            b"\xa0\xc9\x00\x00",  # P=1 on a header-only packet
            r"padding bit set but no room for padding after the header",
            id="padding-no-room",
        ),
        pytest.param(
            b"\xa0\xc9\x00\x02" + SSRC + b"\x00\x00\x00\x00",
            r"padding count is 0",
            id="padding-count-0",
        ),
        pytest.param(
            b"\xa0\xc9\x00\x02" + SSRC + b"\x00\x00\x00\x03",
            r"padding count 3 is not a multiple of 4",
            id="padding-count-3",
        ),
        pytest.param(
            b"\xa0\xc9\x00\x02" + SSRC + b"\x00\x00\x00\x0c",
            r"padding count 12 larger than the 8 bytes after the header",
            id="padding-count-too-large",
        ),
    ],
)
def test_decode_rejects_malformed(data, message):
    assert_decode_rejects(data, message)


def test_rtcp_error_is_a_peer_error_and_a_value_error():
    assert issubclass(RtcpError, PeerError)
    assert issubclass(RtcpError, ValueError)
    with pytest.raises(ValueError):
        decode_compound(b"")


def test_class_decode_wants_one_packet_of_its_class():
    assert SenderReport.decode(SR_BYTES) == SR
    assert RtcpPacket.decode(SR_BYTES) == SR
    assert UnknownRtcp.decode(UNKNOWN_BYTES) == UNKNOWN
    with pytest.raises(RtcpError, match="expected an RTCP SenderReport, got ReceiverReport"):
        SenderReport.decode(RR_BYTES)
    with pytest.raises(RtcpError, match="expected one RTCP packet, got a compound of 2"):
        SenderReport.decode(COMPOUND_BYTES)
    with pytest.raises(RtcpError, match="expected an RTCP Bye, got UnknownRtcp"):
        Bye.decode(UNKNOWN_BYTES)


@pytest.mark.parametrize(
    "packet, message",
    [
        pytest.param(
            UnknownRtcp(210, 0, b"abc"),
            r"body must be a multiple of 4 bytes, got 3",
            id="unknown-body-3",
        ),
        pytest.param(
            UnknownRtcp(210, 32, b""),
            r"count must be an integer in 0\.\.31, got 32",
            id="unknown-count-32",
        ),
        pytest.param(
            UnknownRtcp(256, 0, b""),
            r"packet_type must be an integer in 0\.\.255, got 256",
            id="unknown-type-256",
        ),
        pytest.param(
            UnknownRtcp(RTCP_SR, 0, bytes(24)),
            r"packet_type SR \(200\) has its own class",
            id="unknown-type-sr",
        ),
    ],
)
def test_encode_rejects_bad_field(packet, message):
    with pytest.raises(ValueError, match=message):
        packet.encode()


def test_repr():
    assert repr(UNKNOWN) == "UnknownRtcp(packet_type=210, count=5, body=8 bytes)"
