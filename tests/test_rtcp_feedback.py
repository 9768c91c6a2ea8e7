"""RTCP transport-layer feedback (rtsplab.rtcp.feedback, RFC 4585 section 6.2): the generic
NACK's known-answer bytes, its PID/BLP packing both ways (wrap included), other FMTs kept raw,
and malformed packets refused."""

import pytest

from rtcp_vectors import SR, SR_BYTES, assert_decode_rejects, assert_round_trip
from rtsplab.rtcp.compound import decode_compound, encode_compound
from rtsplab.rtcp.feedback import GenericNack, TransportFeedback
from rtsplab.rtcp.packet import RTCP_RTPFB

NACK_BYTES = (
    b"\x81"  # V=2 P=0 FMT=1 (generic NACK)
    b"\xcd"  # PT=205 (RTPFB)
    b"\x00\x04"  # length 4: 5 words = 20 bytes
    b"\x11\x22\x33\x44"  # SSRC of packet sender
    b"\x55\x66\x77\x88"  # SSRC of media source
    b"\x03\xe8"  # PID 1000
    b"\x00\x05"  # BLP bits 0 and 2: 1001 and 1003 lost too
    b"\xff\xfe"  # PID 65534
    b"\x80\x01"  # BLP bits 0 and 15: 65535 and 65534+16 = 14 (after the wrap)
)
NACK = GenericNack(0x11223344, 0x55667788, [(1000, 0x0005), (65534, 0x8001)])


def test_nack_vector_decodes_to_its_fields_and_lost_numbers():
    (nack,) = decode_compound(NACK_BYTES, strict=False)
    assert nack == NACK and nack.packet_type == RTCP_RTPFB
    assert nack.lost() == [1000, 1001, 1003, 65534, 65535, 14]
    assert nack.speaks_for() == [0x11223344] and nack.speaks_about() == [0x55667788]


def test_nack_vector_encodes_from_the_lost_numbers():
    lost = [1000, 1001, 1003, 65534, 65535, 14]
    assert GenericNack.for_lost(0x11223344, 0x55667788, lost).encode() == NACK_BYTES


@pytest.mark.parametrize(
    "lost, items",
    [
        pytest.param([7], [(7, 0)], id="one"),
        pytest.param([7, 23], [(7, 0x8000)], id="sixteen-after-fits"),
        pytest.param([7, 24], [(7, 0), (24, 0)], id="seventeen-after-starts-a-word"),
        pytest.param(list(range(100, 140)), [(100, 0xFFFF), (117, 0xFFFF), (134, 0x1F)], id="run"),
        pytest.param([65535, 0, 1], [(65535, 0x0003)], id="wrap"),
    ],
)
def test_lost_numbers_pack_into_the_fewest_words_in_order(lost, items):
    nack = GenericNack.for_lost(1, 2, lost)
    assert nack.items == items
    assert nack.lost() == lost


def test_nack_in_a_compound_after_a_report_round_trips():
    data = encode_compound([SR, NACK])
    assert data == SR_BYTES + NACK_BYTES
    assert decode_compound(data) == [SR, NACK]


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(NACK, id="nack"),
        pytest.param(GenericNack(0, 0xFFFFFFFF, [(0, 0)] * 40), id="nack-40-words"),
        pytest.param(TransportFeedback(3, 1, 2, b"\x00\x01\x02\x03"), id="tmmbr-raw"),
        pytest.param(TransportFeedback(31, 1, 2), id="fmt-31-empty"),
    ],
)
def test_round_trip(packet):
    assert_round_trip(packet)


@pytest.mark.parametrize(
    "data, message",
    [
        pytest.param(
            b"\x81\xcd\x00\x01" + b"\x00" * 4, r"RTPFB too short for the two SSRCs", id="short"
        ),
        pytest.param(
            b"\x81\xcd\x00\x02" + b"\x00" * 8, r"generic NACK without any FCI", id="no-fci"
        ),
    ],
)
def test_decode_rejects_malformed(data, message):
    assert_decode_rejects(data, message)


@pytest.mark.parametrize(
    "packet, message",
    [
        pytest.param(GenericNack(1, 2, []), r"at least one \(PID, BLP\)", id="empty"),
        pytest.param(GenericNack(1, 2, [(65536, 0)]), r"items\[0\] PID", id="pid-too-big"),
        pytest.param(GenericNack(1, 2, [(1, 1 << 16)]), r"items\[0\] BLP", id="blp-too-big"),
        pytest.param(GenericNack(1 << 32, 2, [(1, 0)]), r"sender_ssrc", id="ssrc-too-big"),
        pytest.param(TransportFeedback(32, 1, 2), r"fmt", id="fmt-too-big"),
        pytest.param(TransportFeedback(2, 1, 2, b"\x00"), r"FCI must be a multiple", id="fci-odd"),
    ],
)
def test_encode_refuses_what_the_fields_cannot_hold(packet, message):
    with pytest.raises(ValueError, match=message):
        packet.encode()


def test_for_lost_refuses_a_number_that_is_not_16_bits():
    with pytest.raises(ValueError, match="lost sequence number"):
        GenericNack.for_lost(1, 2, [70000])
