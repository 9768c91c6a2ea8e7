"""Compound RTCP packets (rtsplab.rtcp.compound, RFC 3550 section 6.1): the known-answer
vectors as compounds, the strict rule that a compound starts with a report, every truncation,
buffers of any kind."""

import pytest

from helpers import BUFFER_KINDS
from rtcp_vectors import (
    APP,
    APP_BYTES,
    BYE,
    BYE_BYTES,
    BYE_REASON,
    BYE_REASON_BYTES,
    COMPOUND,
    COMPOUND_BYTES,
    RR,
    RR_BYTES,
    SDES,
    SDES_BYTES,
    SR,
    SR_BYTES,
    UNKNOWN,
    UNKNOWN_BYTES,
    assert_decode_rejects,
)
from rtsplab.rtcp.compound import decode_compound, encode_compound
from rtsplab.rtcp.packet import RtcpError
from rtsplab.rtcp.reports import ReceiverReport

VECTORS = [
    pytest.param(SR_BYTES, [SR], id="sr-one-block"),
    pytest.param(RR_BYTES, [RR], id="rr-two-blocks"),
    pytest.param(SDES_BYTES, [SDES], id="sdes-cname"),
    pytest.param(BYE_BYTES, [BYE], id="bye"),
    pytest.param(BYE_REASON_BYTES, [BYE_REASON], id="bye-reason"),
    pytest.param(APP_BYTES, [APP], id="app"),
    pytest.param(UNKNOWN_BYTES, [UNKNOWN], id="unknown-210"),
    pytest.param(COMPOUND_BYTES, COMPOUND, id="compound-sr-sdes"),
    pytest.param(
        RR_BYTES + SDES_BYTES + BYE_REASON_BYTES, [RR, SDES, BYE_REASON], id="rr-sdes-bye"
    ),
]


@pytest.mark.parametrize("data, packets", VECTORS)
def test_vector_decodes_to_packets(data, packets):
    assert decode_compound(data, strict=False) == packets


@pytest.mark.parametrize("data, packets", VECTORS)
def test_vector_encodes_to_bytes(data, packets):
    assert encode_compound(packets, strict=False) == data
    assert b"".join(packet.encode() for packet in packets) == data


@pytest.mark.parametrize("data, packets", VECTORS)
def test_vector_reencodes_to_same_bytes(data, packets):
    assert encode_compound(decode_compound(data, strict=False), strict=False) == data


def test_padding_is_decoded_on_any_packet_of_a_compound():
    # Section 6.4.1 allows padding only on the last packet; we decode it anywhere.
    padded_rr = b"\xa0\xc9\x00\x02\xca\xfe\xba\xbe\x00\x00\x00\x04"
    assert decode_compound(padded_rr + SDES_BYTES) == [ReceiverReport(0xCAFEBABE), SDES]


@pytest.mark.parametrize(
    "data, message",
    [
        pytest.param(
            RR_BYTES + b"\x81\xca",  # two octets after a whole RR
            r"too short: 2 bytes at offset 56, the header needs 4",
            id="trailing-octets",
        ),
        pytest.param(
            RR_BYTES + b"\x40\xca\x00\x00",
            r"version 1 not supported, expected 2 \(offset 56\)",
            id="second-packet-version-1",
        ),
    ],
)
def test_decode_rejects_malformed(data, message):
    assert_decode_rejects(data, message)


@pytest.mark.parametrize(
    "data, first",
    [
        pytest.param(SDES_BYTES + SR_BYTES, r"SDES \(202\)", id="sdes-first"),
        pytest.param(BYE_BYTES, r"BYE \(203\)", id="lone-bye"),
        pytest.param(APP_BYTES, r"APP \(204\)", id="lone-app"),
        pytest.param(UNKNOWN_BYTES + RR_BYTES, r"type 210", id="unknown-first"),
    ],
)
def test_strict_compound_must_start_with_a_report(data, first):
    with pytest.raises(RtcpError, match=r"must start with SR or RR .* got " + first):
        decode_compound(data)
    with pytest.raises(RtcpError, match="must start with SR or RR"):
        decode_compound(data, strict=True)
    assert encode_compound(decode_compound(data, strict=False), strict=False) == data


def test_strict_accepts_either_report_first():
    assert decode_compound(SR_BYTES + RR_BYTES) == [SR, RR]
    assert decode_compound(RR_BYTES + SR_BYTES) == [RR, SR]


def test_encode_compound_checks_the_first_packet():
    with pytest.raises(ValueError, match="must start with SR or RR .* got SourceDescription"):
        encode_compound([SDES, SR])
    with pytest.raises(ValueError, match="at least one packet"):
        encode_compound([], strict=False)
    assert encode_compound(iter([RR, BYE])) == RR_BYTES + BYE_BYTES


# Every prefix of COMPOUND_BYTES: an error, except where the length fields end a packet exactly.
SR_END = len(SR_BYTES)


def expected_for_prefix(length):
    if length < 4:
        return rf"too short: {length} bytes at offset 0"
    if length < SR_END:
        return rf"SR \(200\) at offset 0 says 13 words \(52 bytes\), only {length} bytes left"
    if length == SR_END:
        return [SR]
    if length < SR_END + 4:
        return rf"too short: {length - SR_END} bytes at offset 52"
    if length < len(COMPOUND_BYTES):
        return (
            rf"SDES \(202\) at offset 52 says 6 words \(24 bytes\), "
            rf"only {length - SR_END} bytes left"
        )
    return COMPOUND


@pytest.mark.parametrize("length", range(len(COMPOUND_BYTES) + 1))
def test_every_truncation_of_a_compound(length):
    expected = expected_for_prefix(length)
    data = COMPOUND_BYTES[:length]
    for strict in (False, True):
        if isinstance(expected, str):
            with pytest.raises(RtcpError, match=expected):
                decode_compound(data, strict=strict)
        else:
            assert decode_compound(data, strict=strict) == expected


def test_only_two_prefixes_of_the_compound_decode():
    decoded = []
    for length in range(len(COMPOUND_BYTES) + 1):
        try:
            decode_compound(COMPOUND_BYTES[:length])
        except RtcpError:
            continue
        decoded.append(length)
    assert decoded == [52, 76]


@pytest.mark.parametrize("make_buffer", BUFFER_KINDS)
def test_decode_accepts_buffers(make_buffer):
    packets = decode_compound(make_buffer(COMPOUND_BYTES))
    assert packets == COMPOUND
    assert type(packets[1].chunks[0].items[0][1]) is bytes
