"""RTCP sender and receiver reports (rtsplab.rtcp.reports, RFC 3550 sections 6.4.1-6.4.2):
known-answer vectors, report blocks at their field limits, blocks from reception figures,
the round-trip time, malformed and unencodable reports."""

import pytest

from rtcp_vectors import (
    BLOCK,
    FIG2_DLSR,
    FIG2_LSR,
    FIG2_NTP,
    RR_BYTES,
    SR,
    SR_BYTES,
    SSRC,
    assert_decode_rejects,
    assert_round_trip,
)
from rtsplab.ntp import MAX_NTP, MAX_U32
from rtsplab.rtcp.compound import decode_compound
from rtsplab.rtcp.packet import MAX_COUNT, RTCP_RR, RTCP_SR, RtcpError
from rtsplab.rtcp.reports import (
    REPORT_BLOCK_SIZE,
    ReceiverReport,
    ReportBlock,
    SenderReport,
    round_trip_time,
)
from rtsplab.rtp.reception import ReceptionReport


def test_sr_vector_fields():
    (sr,) = decode_compound(SR_BYTES)
    assert type(sr) is SenderReport
    assert sr.packet_type == RTCP_SR
    assert sr.ssrc == 0x12345678
    assert sr.ntp_timestamp == FIG2_NTP
    assert sr.rtp_timestamp == 90000
    assert sr.packet_count == 10
    assert sr.octet_count == 14000
    assert sr.extension == b""
    (block,) = sr.reports
    assert block.ssrc == 0xDEADBEEF
    assert block.fraction_lost == 25
    assert block.cumulative_lost == 3
    assert block.highest_seq == 65540
    assert block.jitter == 12
    assert block.lsr == FIG2_LSR
    assert block.dlsr == 5 * 65536 + 65536 // 4


def test_rr_vector_fields():
    (rr,) = decode_compound(RR_BYTES)
    assert type(rr) is ReceiverReport
    assert rr.packet_type == RTCP_RR
    assert rr.ssrc == 0xCAFEBABE
    first, second = rr.reports
    assert (first.ssrc, first.fraction_lost, first.cumulative_lost) == (0x11111111, 0, -3)
    assert (first.highest_seq, first.jitter, first.lsr, first.dlsr) == (MAX_U32, 0, 0, 0)
    assert (second.ssrc, second.fraction_lost, second.cumulative_lost) == (
        0x22222222,
        255,
        0x7FFFFF,
    )
    assert (second.highest_seq, second.jitter) == (65536, 4500)
    assert (second.lsr, second.dlsr) == (FIG2_LSR, FIG2_DLSR)


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(SenderReport(0, 0, 0, 0, 0), id="sr-zero"),
        pytest.param(
            SenderReport(MAX_U32, MAX_NTP, MAX_U32, MAX_U32, MAX_U32, [ReportBlock(MAX_U32)] * 31),
            id="sr-limits-31-blocks",
        ),
        pytest.param(SenderReport(1, 2, 3, 4, 5, extension=b"\xab" * 8), id="sr-extension"),
        pytest.param(ReceiverReport(1), id="rr-empty"),
        pytest.param(
            ReceiverReport(1, [ReportBlock(2, 1, -0x800000, 3, 4, 5, 6)], b"\x01\x02\x03\x04"),
            id="rr-extension",
        ),
    ],
)
def test_round_trip(packet):
    assert_round_trip(packet)


@pytest.mark.parametrize(
    "fraction_lost, cumulative_lost, lost_word, decoded_lost",
    [
        pytest.param(0, 0, b"\x00\x00\x00\x00", 0, id="zero"),
        pytest.param(255, 0, b"\xff\x00\x00\x00", 0, id="fraction-255"),
        pytest.param(0, 0x7FFFFF, b"\x00\x7f\xff\xff", 0x7FFFFF, id="lost-max"),
        pytest.param(0, -0x800000, b"\x00\x80\x00\x00", -0x800000, id="lost-min"),
        pytest.param(0, -1, b"\x00\xff\xff\xff", -1, id="lost-minus-1"),
        pytest.param(0, 0x800000, b"\x00\x7f\xff\xff", 0x7FFFFF, id="clamp-2^23"),
        pytest.param(0, 1 << 24, b"\x00\x7f\xff\xff", 0x7FFFFF, id="clamp-2^24"),
        pytest.param(0, -(1 << 24), b"\x00\x80\x00\x00", -0x800000, id="clamp-minus-2^24"),
        pytest.param(1, -0x800001, b"\x01\x80\x00\x00", -0x800000, id="clamp-below-min"),
    ],
)
def test_report_block_lost_fields(fraction_lost, cumulative_lost, lost_word, decoded_lost):
    block = ReportBlock(0x01020304, fraction_lost, cumulative_lost, MAX_U32, 7, 8, 9)
    data = block.encode()
    assert len(data) == REPORT_BLOCK_SIZE
    assert (
        data
        == (
            b"\x01\x02\x03\x04"  # SSRC
            + lost_word  # fraction lost (8 bits), cumulative lost (signed 24 bits)
            + b"\xff\xff\xff\xff"  # extended highest sequence number 2^32-1
            b"\x00\x00\x00\x07"  # jitter
            b"\x00\x00\x00\x08"  # LSR
            b"\x00\x00\x00\x09"  # DLSR
        )
    )
    decoded = ReportBlock.decode(data)
    assert decoded.fraction_lost == fraction_lost
    assert decoded.cumulative_lost == decoded_lost
    assert decoded.highest_seq == MAX_U32


# ReportBlock.from_reception: ReceptionStatistics' figures fitted to the 24-octet block's fields.
@pytest.mark.parametrize(
    "field, value, fitted",
    [
        pytest.param("fraction_lost", 255, 255, id="fraction-255"),
        pytest.param("fraction_lost", 256, 255, id="fraction-256-all-lost"),
        pytest.param("cumulative_lost", 0x7FFFFF, 0x7FFFFF, id="lost-2^23-1"),
        pytest.param("cumulative_lost", 0x800000, 0x7FFFFF, id="lost-2^23"),
        pytest.param("cumulative_lost", 1 << 24, 0x7FFFFF, id="lost-2^24"),
        pytest.param("cumulative_lost", -0x800000, -0x800000, id="lost-minus-2^23"),
        pytest.param("cumulative_lost", -0x800001, -0x800000, id="lost-below-min"),
        pytest.param("highest_seq", MAX_U32, MAX_U32, id="highest-2^32-1"),
        pytest.param("highest_seq", 1 << 32, 0, id="highest-2^32-wraps"),
        pytest.param("highest_seq", (1 << 32) + 7, 7, id="highest-2^32+7-wraps"),
        pytest.param("jitter", 63.99, 63, id="jitter-truncated"),
        pytest.param("jitter", float(MAX_U32), MAX_U32, id="jitter-2^32-1"),
        pytest.param("jitter", float(1 << 32), MAX_U32, id="jitter-2^32"),
        pytest.param("dlsr", MAX_U32, MAX_U32, id="dlsr-2^32-1"),
        pytest.param("dlsr", 1 << 32, MAX_U32, id="dlsr-2^32"),
    ],
)
def test_report_block_from_reception_fits_each_field(field, value, fitted):
    figures = {"fraction_lost": 0, "cumulative_lost": 0, "highest_seq": 0, "jitter": 0.0,
               "lsr": FIG2_LSR, "dlsr": 0}  # fmt: skip
    block = ReportBlock.from_reception(0xAA, ReceptionReport(**{**figures, field: value}))
    assert (block.ssrc, block.lsr, getattr(block, field)) == (0xAA, FIG2_LSR, fitted)
    assert ReportBlock.decode(block.encode()) == block  # what is sent is what it says


def test_report_block_from_reception_copies_values_in_range():
    report = ReceptionReport(64, -3, 0x0001_0002, 12.5, FIG2_LSR, FIG2_DLSR)
    assert ReportBlock.from_reception(7, report) == ReportBlock(
        7, 64, -3, 0x0001_0002, 12, FIG2_LSR, FIG2_DLSR
    )


# RTT = A - LSR - DLSR (section 6.4.1). Figure 2: LSR 0xb705:2000, DLSR 0x0005:4000, and the
# RR arrives at A = 0xb710:8000: 0xb710:8000 - 0xb705:2000 - 0x0005:4000 = 0x0006:2000 = 6.125 s.
def test_round_trip_time_from_rfc_figure_2():
    block = ReportBlock(0x12345678, lsr=FIG2_LSR, dlsr=FIG2_DLSR)
    assert round_trip_time(block, arrival_ntp=0xB44DB710_80000000) == 6.125


def test_no_sender_report_means_no_rtt():
    block = ReportBlock(1, lsr=0, dlsr=0)
    assert round_trip_time(block, arrival_ntp=0xB44DB710_80000000) is None


def test_round_trip_time_modulo_2_32():
    # LSR 0xffff:0000 (65535 s) just before the middle-32 wrap, A 0x0001:8000 just after it
    # (65537.5 s), DLSR 1 s: (0x0001:8000 - 0xffff:0000 - 0x0001:0000) mod 2^32 = 0x0001:8000.
    block = ReportBlock(1, lsr=0xFFFF0000, dlsr=0x00010000)
    assert round_trip_time(block, arrival_ntp=0x0000_0001_8000_0000) == 1.5


def test_round_trip_time_slightly_negative_is_zero():
    block = ReportBlock(1, lsr=0xB7052000, dlsr=0x00054000)
    assert round_trip_time(block, arrival_ntp=0x0000_B70A_6000_0000) == 0.0  # exactly 0
    assert round_trip_time(block, arrival_ntp=0x0000_B70A_5FFF_0000) == 0.0  # -1/65536 s
    assert round_trip_time(block, arrival_ntp=0x0000_B70A_6001_0000) == 1 / 65536


def test_sr_ntp_at_its_limit():
    data = SenderReport(1, MAX_NTP, 0, 0, 0).encode()
    assert data[8:16] == b"\xff" * 8
    assert SenderReport.decode(data).ntp_timestamp == MAX_NTP


def test_padding_that_covers_a_report_block_leaves_the_count_too_large():
    data = bytearray(b"\xa1\xc9\x00\x07\xca\xfe\xba\xbe" + ReportBlock(1, dlsr=24).encode())
    assert data[-1] == 24  # the block's last octet, read as a padding count of 24
    with pytest.raises(RtcpError, match=r"RR report count 1 needs 24 bytes .* leaves 0"):
        decode_compound(data)


@pytest.mark.parametrize(
    "data, message",
    [
        pytest.param(
            b"\x83\xc9\x00\x07" + SSRC + BLOCK,  # RC=3, the length holds 1 block
            r"RR report count 3 needs 72 bytes of report blocks, the length leaves 24",
            id="rr-count-too-large",
        ),
        pytest.param(
            b"\x82\xc8\x00\x0c" + SSRC + bytes(20) + BLOCK,  # RC=2, the length holds 1 block
            r"SR report count 2 needs 48 bytes of report blocks, the length leaves 24",
            id="sr-count-too-large",
        ),
        pytest.param(
            b"\x80\xc8\x00\x01" + SSRC,
            r"SR too short for the SSRC and sender info: 4 bytes after the header, needs 24",
            id="sr-no-sender-info",
        ),
        pytest.param(
            b"\x80\xc9\x00\x00",
            r"RR too short for the SSRC: 0 bytes after the header, needs 4",
            id="rr-no-ssrc",
        ),
    ],
)
def test_decode_rejects_malformed(data, message):
    assert_decode_rejects(data, message)


def test_report_block_decode_wants_24_bytes():
    assert ReportBlock.decode(bytearray(SR_BYTES[28:52])) == SR.reports[0]
    for size in (0, 23, 25):
        with pytest.raises(RtcpError, match=rf"report block must be 24 bytes, got {size}"):
            ReportBlock.decode(bytes(size))


@pytest.mark.parametrize(
    "packet, message",
    [
        pytest.param(
            SenderReport(1, 0, 0, 0, 0, [ReportBlock(1)] * 32),
            r"report count must be at most 31 \(5-bit count\), got 32",
            id="sr-32-blocks",
        ),
        pytest.param(
            ReceiverReport(1, [ReportBlock(1)] * 32), r"report count .* got 32", id="rr-32-blocks"
        ),
        pytest.param(
            SenderReport(1 << 32, 0, 0, 0, 0), r"ssrc must be .* got 4294967296", id="ssrc-2^32"
        ),
        pytest.param(ReceiverReport(-1), r"ssrc must be .* got -1", id="ssrc-negative"),
        pytest.param(
            SenderReport(1, 1 << 64, 0, 0, 0),
            r"ntp_timestamp .* got 18446744073709551616",
            id="ntp-2^64",
        ),
        pytest.param(SenderReport(1, 0, 1 << 32, 0, 0), r"rtp_timestamp", id="rtp-ts-2^32"),
        pytest.param(SenderReport(1, 0, 0, 1 << 32, 0), r"packet_count", id="packet-count-2^32"),
        pytest.param(SenderReport(1, 0, 0, 0, -1), r"octet_count", id="octet-count-negative"),
        pytest.param(
            SenderReport(1, 0, 0, 0, 0, extension=b"ab"),
            r"extension must be a multiple of 4 bytes, got 2",
            id="sr-extension-2",
        ),
        pytest.param(
            ReceiverReport(1, [ReportBlock(1, fraction_lost=256)]),
            r"fraction_lost must be an integer in 0\.\.255, got 256",
            id="fraction-256",
        ),
        pytest.param(
            ReceiverReport(1, [ReportBlock(1, fraction_lost=-1)]),
            r"fraction_lost .* got -1",
            id="fraction-negative",
        ),
        pytest.param(
            ReceiverReport(1, [ReportBlock(1, cumulative_lost=1.5)]),
            r"cumulative_lost must be an integer, got 1\.5",
            id="lost-float",
        ),
        pytest.param(
            ReceiverReport(1, [ReportBlock(1, highest_seq=1 << 32)]),
            r"highest_seq .* got 4294967296",
            id="highest-2^32",
        ),
        pytest.param(
            ReceiverReport(1, [ReportBlock(1, jitter=-1)]),
            r"jitter .* got -1",
            id="jitter-negative",
        ),
        pytest.param(
            ReceiverReport(1, [ReportBlock(1, jitter=2.5)]),
            r"jitter .* got 2\.5",
            id="jitter-float",
        ),
        pytest.param(
            ReceiverReport(1, [ReportBlock(1, lsr=1 << 32)]), r"lsr .* got", id="lsr-2^32"
        ),
        pytest.param(
            ReceiverReport(1, [ReportBlock(1, dlsr=1 << 32)]), r"dlsr .* got", id="dlsr-2^32"
        ),
    ],
)
def test_encode_rejects_bad_field(packet, message):
    with pytest.raises(ValueError, match=message):
        packet.encode()


def test_count_limit_is_31():
    assert MAX_COUNT == 31
    data = ReceiverReport(1, [ReportBlock(i) for i in range(31)]).encode()
    assert data[0] == 0x80 | 31
    assert len(data) == 8 + 31 * REPORT_BLOCK_SIZE


def test_repr():
    assert repr(SR) == (
        "SenderReport(ssrc=0x12345678, ntp_timestamp=0xb44db70520000000, rtp_timestamp=90000, "
        "packet_count=10, octet_count=14000, reports=[ReportBlock(ssrc=0xdeadbeef, "
        "fraction_lost=25/256, cumulative_lost=3, highest_seq=65540, jitter=12, "
        "lsr=0xb7052000, dlsr=5.250s)])"
    )
    assert repr(ReceiverReport(1, extension=b"\x00" * 4)) == (
        "ReceiverReport(ssrc=0x00000001, reports=[], extension=4 bytes)"
    )
