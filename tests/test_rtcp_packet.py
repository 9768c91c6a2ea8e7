"""RTCP packets (rtsplab.rtcp): known-answer vectors, round trips, field limits, compounds,
malformed input; NTP time (rtsplab.ntp); report blocks from reception figures, and RTT."""

import datetime

import pytest

from rtsplab.errors import PeerError
from rtsplab.ntp import (
    MAX_NTP,
    MAX_U32,
    NTP_UNIX_OFFSET,
    ntp_from_unix,
    ntp_middle32,
    unix_from_ntp,
)
from rtsplab.rtcp.app import App
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.compound import decode_compound, encode_compound
from rtsplab.rtcp.packet import (
    MAX_COUNT,
    RTCP_APP,
    RTCP_BYE,
    RTCP_RR,
    RTCP_SDES,
    RTCP_SR,
    RtcpError,
    RtcpPacket,
    UnknownRtcp,
)
from rtsplab.rtcp.reports import (
    REPORT_BLOCK_SIZE,
    ReceiverReport,
    ReportBlock,
    SenderReport,
    round_trip_time,
)
from rtsplab.rtcp.sdes import (
    SDES_CNAME,
    SDES_EMAIL,
    SDES_LOC,
    SDES_NAME,
    SDES_NOTE,
    SDES_PHONE,
    SDES_PRIV,
    SDES_TOOL,
    SdesChunk,
    SourceDescription,
)
from rtsplab.rtp.reception import ReceptionReport

# RFC 3550 section 6.4.1, Figure 2: an SR sent at 0xb44db705:20000000 (10 Nov 1995
# 11:33:25.125 UTC), answered 5.25 s later (DLSR 0x0005:4000) with LSR 0xb705:2000.
FIG2_NTP = 0xB44DB705_20000000
FIG2_LSR = 0xB7052000
FIG2_DLSR = 0x00054000

SR_BYTES = (
    b"\x81"  # V=2 P=0 RC=1
    b"\xc8"  # PT=200 (SR)
    b"\x00\x0c"  # length 12: 13 words = 52 bytes
    b"\x12\x34\x56\x78"  # SSRC of sender
    b"\xb4\x4d\xb7\x05"  # NTP timestamp, most significant word (seconds)
    b"\x20\x00\x00\x00"  # NTP timestamp, least significant word (0.125 s)
    b"\x00\x01\x5f\x90"  # RTP timestamp 90000
    b"\x00\x00\x00\x0a"  # sender's packet count 10
    b"\x00\x00\x36\xb0"  # sender's octet count 14000
    b"\xde\xad\xbe\xef"  # report block 1: SSRC_1
    b"\x19"  # fraction lost 25/256
    b"\x00\x00\x03"  # cumulative lost 3
    b"\x00\x01\x00\x04"  # extended highest sequence number: 1 cycle, seq 4
    b"\x00\x00\x00\x0c"  # interarrival jitter 12
    b"\xb7\x05\x20\x00"  # LSR
    b"\x00\x05\x40\x00"  # DLSR 5.25 s
)
SR = SenderReport(
    ssrc=0x12345678,
    ntp_timestamp=FIG2_NTP,
    rtp_timestamp=90000,
    packet_count=10,
    octet_count=14000,
    reports=[ReportBlock(0xDEADBEEF, 25, 3, 0x00010004, 12, FIG2_LSR, FIG2_DLSR)],
)

RR_BYTES = (
    b"\x82"  # V=2 P=0 RC=2
    b"\xc9"  # PT=201 (RR)
    b"\x00\x0d"  # length 13: 14 words = 56 bytes
    b"\xca\xfe\xba\xbe"  # SSRC of packet sender
    b"\x11\x11\x11\x11"  # report block 1: SSRC_1
    b"\x00"  # fraction lost 0
    b"\xff\xff\xfd"  # cumulative lost -3 (24-bit two's complement: more duplicates than losses)
    b"\xff\xff\xff\xff"  # extended highest sequence number 2^32-1
    b"\x00\x00\x00\x00"  # jitter 0
    b"\x00\x00\x00\x00"  # LSR 0: no SR yet
    b"\x00\x00\x00\x00"  # DLSR 0
    b"\x22\x22\x22\x22"  # report block 2: SSRC_2
    b"\xff"  # fraction lost 255/256
    b"\x7f\xff\xff"  # cumulative lost 0x7FFFFF, the largest positive
    b"\x00\x01\x00\x00"  # extended highest sequence number: 1 cycle, seq 0
    b"\x00\x00\x11\x94"  # jitter 4500
    b"\xb7\x05\x20\x00"  # LSR
    b"\x00\x05\x40\x00"  # DLSR 5.25 s
)
RR = ReceiverReport(
    ssrc=0xCAFEBABE,
    reports=[
        ReportBlock(0x11111111, 0, -3, MAX_U32, 0, 0, 0),
        ReportBlock(0x22222222, 255, 0x7FFFFF, 0x00010000, 4500, FIG2_LSR, FIG2_DLSR),
    ],
)

SDES_BYTES = (
    b"\x81"  # V=2 P=0 SC=1
    b"\xca"  # PT=202 (SDES)
    b"\x00\x05"  # length 5: 6 words = 24 bytes
    b"\x12\x34\x56\x78"  # chunk 1: SSRC
    b"\x01"  # item type CNAME
    b"\x0a"  # item length 10
    b"alice@host"  # item text; the chunk is now 4 + 2 + 10 = 16 bytes, already aligned,
    b"\x00\x00\x00\x00"  # so the END null plus 3 more nulls to the next 32-bit boundary
)
SDES = SourceDescription([SdesChunk(0x12345678, [(SDES_CNAME, b"alice@host")])])

BYE_BYTES = (
    b"\x81"  # V=2 P=0 SC=1
    b"\xcb"  # PT=203 (BYE)
    b"\x00\x01"  # length 1: 2 words = 8 bytes
    b"\x12\x34\x56\x78"  # SSRC leaving
)
BYE = Bye([0x12345678])

BYE_REASON_BYTES = (
    b"\x82"  # V=2 P=0 SC=2
    b"\xcb"  # PT=203 (BYE)
    b"\x00\x05"  # length 5: 6 words = 24 bytes
    b"\x12\x34\x56\x78"  # SSRC 1
    b"\x9a\xbc\xde\xf0"  # SSRC 2
    b"\x0a"  # reason length 10
    b"camera off"  # reason
    b"\x00"  # null to the 32-bit boundary (1 + 10 + 1 = 12)
)
BYE_REASON = Bye([0x12345678, 0x9ABCDEF0], "camera off")

APP_BYTES = (
    b"\x83"  # V=2 P=0 subtype=3
    b"\xcc"  # PT=204 (APP)
    b"\x00\x04"  # length 4: 5 words = 20 bytes
    b"\x12\x34\x56\x78"  # SSRC
    b"STAT"  # name
    b"\x00\x00\x00\x2a\xff\xff\xff\xff"  # application data, two words
)
APP = App(3, 0x12345678, b"STAT", b"\x00\x00\x00\x2a\xff\xff\xff\xff")

UNKNOWN_BYTES = (
    b"\x85"  # V=2 P=0 count=5
    b"\xd2"  # PT=210: not a type decoded here
    b"\x00\x02"  # length 2: 3 words = 12 bytes
    b"\x01\x02\x03\x04\x05\x06\x07\x08"  # body, kept raw
)
UNKNOWN = UnknownRtcp(210, 5, b"\x01\x02\x03\x04\x05\x06\x07\x08")

COMPOUND_BYTES = SR_BYTES + SDES_BYTES  # 52 + 24 = 76 bytes
COMPOUND = [SR, SDES]

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


def test_sdes_vector_fields():
    (sdes,) = decode_compound(SDES_BYTES, strict=False)
    assert sdes.packet_type == RTCP_SDES
    (chunk,) = sdes.chunks
    assert chunk.ssrc == 0x12345678
    assert chunk.items == [(SDES_CNAME, b"alice@host")]
    assert sdes.cnames() == {0x12345678: "alice@host"}
    assert SourceDescription.cname(0x12345678, "alice@host") == sdes


def test_bye_and_app_vector_fields():
    (bye,) = decode_compound(BYE_BYTES, strict=False)
    assert (bye.packet_type, bye.sources, bye.reason) == (RTCP_BYE, [0x12345678], None)
    (bye,) = decode_compound(BYE_REASON_BYTES, strict=False)
    assert (bye.sources, bye.reason) == ([0x12345678, 0x9ABCDEF0], "camera off")
    (app,) = decode_compound(APP_BYTES, strict=False)
    assert (app.packet_type, app.subtype, app.ssrc, app.name) == (RTCP_APP, 3, 0x12345678, b"STAT")
    assert app.data == b"\x00\x00\x00\x2a\xff\xff\xff\xff"


def test_unknown_type_is_kept_raw_and_skipped():
    packets = decode_compound(SR_BYTES + UNKNOWN_BYTES + SDES_BYTES)
    assert packets == [SR, UNKNOWN, SDES]
    unknown = packets[1]
    assert (unknown.packet_type, unknown.count, unknown.body) == (210, 5, UNKNOWN.body)


@pytest.mark.parametrize(
    "name, nulls",
    [("alice@host", 4), ("alice@host1", 3), ("alice@host12", 2), ("alice@host123", 1)],
)
def test_sdes_chunk_is_null_terminated_to_32_bits(name, nulls):
    data = SourceDescription.cname(7, name).encode()
    chunk = data[4:]  # after the header
    assert len(data) % 4 == 0
    assert (
        chunk[: 4 + 2 + len(name)] == b"\x00\x00\x00\x07\x01" + bytes((len(name),)) + name.encode()
    )
    assert chunk[4 + 2 + len(name) :] == bytes(nulls)
    assert SourceDescription.decode(data).cnames() == {7: name}


def test_sdes_chunk_without_items_is_four_nulls():
    data = SourceDescription([SdesChunk(0x01020304)]).encode()
    assert data == b"\x81\xca\x00\x02\x01\x02\x03\x04\x00\x00\x00\x00"
    assert SourceDescription.decode(data) == SourceDescription([SdesChunk(0x01020304, [])])


def test_sdes_cnames_and_text():
    sdes = SourceDescription(
        [
            SdesChunk(1, [(SDES_NAME, b"Alice"), (SDES_CNAME, b"a@h"), (SDES_CNAME, b"other")]),
            SdesChunk(2, [(SDES_TOOL, b"lab")]),
            SdesChunk(3, [(SDES_CNAME, "b\u00e9@h".encode())]),
            SdesChunk(4, [(SDES_CNAME, b"\xff")]),  # not UTF-8: replaced, never an error
        ]
    )
    assert SourceDescription.decode(sdes.encode()).cnames() == {
        1: "a@h",
        3: "b\u00e9@h",
        4: "\ufffd",
    }


ROUND_TRIPS = [
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
    pytest.param(SourceDescription(), id="sdes-no-chunks"),
    pytest.param(
        SourceDescription(
            [
                SdesChunk(
                    1,
                    [
                        (SDES_CNAME, b"c"),
                        (SDES_NAME, b"n"),
                        (SDES_EMAIL, b"e@x"),
                        (SDES_PHONE, b"+1"),
                        (SDES_LOC, b"here"),
                        (SDES_TOOL, b"t"),
                        (SDES_NOTE, b""),
                        (SDES_PRIV, b"\x03abcvalue"),
                        (255, b"x" * 255),
                    ],
                ),
                SdesChunk(MAX_U32),
            ]
            + [SdesChunk(i, [(SDES_CNAME, b"x" * i)]) for i in range(29)]
        ),
        id="sdes-every-item-31-chunks",
    ),
    pytest.param(Bye(), id="bye-empty"),
    pytest.param(Bye([], ""), id="bye-empty-reason"),
    pytest.param(Bye(list(range(31)), "\u00e9" * 127 + "x"), id="bye-31-sources-255-byte-reason"),
    pytest.param(App(0, 0, b"\x00\x00\x00\x00"), id="app-empty"),
    pytest.param(App(31, MAX_U32, b"ABCD", bytes(range(64))), id="app-limits"),
    pytest.param(UnknownRtcp(205, 31, b""), id="unknown-rtpfb"),
    pytest.param(UnknownRtcp(0, 0, b"\x00" * 4), id="unknown-0"),
    pytest.param(UnknownRtcp(255, 1, b"\xff" * 12), id="unknown-255"),
]


@pytest.mark.parametrize("packet", ROUND_TRIPS)
def test_round_trip(packet):
    data = packet.encode()
    assert len(data) % 4 == 0
    assert int.from_bytes(data[2:4], "big") == len(data) // 4 - 1
    decoded = RtcpPacket.decode(data)
    assert decoded == packet
    assert type(decoded).decode(data) == packet
    assert decoded.encode() == data


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


def test_padding_is_decoded_on_any_packet_of_a_compound():
    # Section 6.4.1 allows padding only on the last packet; we decode it anywhere.
    padded_rr = b"\xa0\xc9\x00\x02\xca\xfe\xba\xbe\x00\x00\x00\x04"
    assert decode_compound(padded_rr + SDES_BYTES) == [ReceiverReport(0xCAFEBABE), SDES]


def test_padding_that_covers_a_report_block_leaves_the_count_too_large():
    data = bytearray(b"\xa1\xc9\x00\x07\xca\xfe\xba\xbe" + ReportBlock(1, dlsr=24).encode())
    assert data[-1] == 24  # the block's last octet, read as a padding count of 24
    with pytest.raises(RtcpError, match=r"RR report count 1 needs 24 bytes .* leaves 0"):
        decode_compound(data)


SSRC = b"\x12\x34\x56\x78"
BLOCK = ReportBlock(1).encode()

MALFORMED = [
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
    pytest.param(
        b"\x81\xca\x00\x03" + SSRC + b"\x01\x14abcdef",  # CNAME length 20, 6 octets there
        r"SDES item running past its chunk: item type 1 in chunk 1 needs 22 bytes, 8 left",
        id="sdes-item-past-chunk",
    ),
    pytest.param(
        b"\x81\xca\x00\x02" + SSRC + b"\x01\x01a\x05",  # item type 5 with no length octet
        r"SDES item running past its chunk: item type 5 in chunk 1 needs 2 bytes, 1 left",
        id="sdes-item-header-past-chunk",
    ),
    pytest.param(
        b"\x81\xca\x00\x02" + SSRC + b"\x01\x02ab",  # no null after the item
        r"SDES chunk 1 \(SSRC 0x12345678\) runs to the end of the packet without its null",
        id="sdes-no-terminator",
    ),
    pytest.param(
        b"\x82\xca\x00\x02" + SSRC + b"\x00\x00\x00\x00",  # SC=2, one chunk
        r"SDES count 2 too large for the length: chunk 2 starts at body offset 8, only 0",
        id="sdes-count-too-large",
    ),
    pytest.param(
        b"\x81\xca\x00\x04" + SSRC + bytes(4) + SSRC + bytes(4),  # SC=1, two chunks
        r"SDES count 1 too small for the length: 8 bytes left after the last chunk",
        id="sdes-count-too-small",
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
    pytest.param(
        b"\x80\xcc\x00\x01" + SSRC,
        r"APP too short for the SSRC and name: 4 bytes after the header, needs 8",
        id="app-no-name",
    ),
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
]


@pytest.mark.parametrize("data, message", MALFORMED)
def test_decode_rejects_malformed(data, message):
    with pytest.raises(RtcpError, match=message):
        decode_compound(data, strict=False)
    if len(data) < 2 or data[1] in (RTCP_SR, RTCP_RR):
        with pytest.raises(RtcpError, match=message):
            decode_compound(data, strict=True)
    with pytest.raises(RtcpError, match=message):
        RtcpPacket.decode(data)


def test_rtcp_error_is_a_peer_error_and_a_value_error():
    assert issubclass(RtcpError, PeerError)
    assert issubclass(RtcpError, ValueError)
    with pytest.raises(ValueError):
        decode_compound(b"")


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


def test_report_block_decode_wants_24_bytes():
    assert ReportBlock.decode(bytearray(SR_BYTES[28:52])) == SR.reports[0]
    for size in (0, 23, 25):
        with pytest.raises(RtcpError, match=rf"report block must be 24 bytes, got {size}"):
            ReportBlock.decode(bytes(size))


@pytest.mark.parametrize(
    "make_buffer",
    [
        pytest.param(bytearray, id="bytearray"),
        pytest.param(memoryview, id="memoryview"),
        pytest.param(lambda data: memoryview(bytearray(data) + b"junk")[: len(data)], id="slice"),
    ],
)
def test_decode_accepts_buffers(make_buffer):
    packets = decode_compound(make_buffer(COMPOUND_BYTES))
    assert packets == COMPOUND
    assert type(packets[1].chunks[0].items[0][1]) is bytes


def test_decode_copies_a_mutable_buffer():
    buffer = bytearray(APP_BYTES)
    app = App.decode(buffer)
    buffer[:] = bytes(len(buffer))  # the receive buffer is reused for the next datagram
    assert app == APP


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
            SourceDescription([SdesChunk(1)] * 32), r"SDES chunk count .* got 32", id="sdes-32"
        ),
        pytest.param(Bye(list(range(32))), r"BYE source count .* got 32", id="bye-32"),
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
        pytest.param(
            SourceDescription([SdesChunk(1, [(0, b"x")])]),
            r"SDES item 0 type must be an integer in 1\.\.255, got 0",
            id="sdes-item-type-0",
        ),
        pytest.param(
            SourceDescription([SdesChunk(1, [(256, b"x")])]),
            r"type .* got 256",
            id="sdes-item-type-256",
        ),
        pytest.param(
            SourceDescription([SdesChunk(1, [(1, b""), (1, b"x" * 256)])]),
            r"SDES item 1 text must be at most 255 bytes, got 256",
            id="sdes-text-256",
        ),
        pytest.param(
            SourceDescription([SdesChunk(1, [(1, b"x" * 255)] * 1100)]),
            r"SDES \(202\) packet of \d+ bytes exceeds the 262144 bytes",
            id="sdes-too-big",
        ),
        pytest.param(Bye([1 << 32]), r"sources\[0\] .* got 4294967296", id="bye-ssrc-2^32"),
        pytest.param(
            Bye([1], "\u00e9" * 128),
            r"BYE reason must be at most 255 bytes of UTF-8, got 256",
            id="bye-reason-256",
        ),
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


def test_count_limit_is_31():
    assert MAX_COUNT == 31
    data = ReceiverReport(1, [ReportBlock(i) for i in range(31)]).encode()
    assert data[0] == 0x80 | 31
    assert len(data) == 8 + 31 * REPORT_BLOCK_SIZE


# NTP: 32.32 fixed-point seconds since 1900.
def test_ntp_from_unix_known_answers():
    assert NTP_UNIX_OFFSET == 0x83AA7E80
    assert ntp_from_unix(0) == 0x83AA7E80_00000000
    assert ntp_from_unix(0.5) == 0x83AA7E80_80000000
    assert ntp_from_unix(0.25) == 0x83AA7E80_40000000
    assert ntp_from_unix(-1) == 0x83AA7E7F_00000000
    # Figure 2's SR: 10 Nov 1995 11:33:25.125 UTC.
    fig2 = datetime.datetime(1995, 11, 10, 11, 33, 25, 125000, tzinfo=datetime.timezone.utc)
    assert ntp_from_unix(fig2.timestamp()) == FIG2_NTP
    assert unix_from_ntp(FIG2_NTP) == fig2.timestamp()
    assert ntp_middle32(FIG2_NTP) == FIG2_LSR


def test_ntp_fraction_rounding_carries_into_the_seconds():
    assert ntp_from_unix(1 - 2**-40) == (NTP_UNIX_OFFSET + 1) << 32
    assert ntp_from_unix(2**-32) == (NTP_UNIX_OFFSET << 32) + 1  # one unit of fraction


def test_ntp_era_1_after_2036():
    wrap = (1 << 32) - NTP_UNIX_OFFSET  # 2036-02-07 06:28:16 UTC
    assert wrap == 2085978496
    assert ntp_from_unix(wrap) == 0
    assert unix_from_ntp(0) == wrap
    assert ntp_from_unix(wrap - 0.5) == 0xFFFFFFFF_80000000
    assert unix_from_ntp(0xFFFFFFFF_80000000) == wrap - 0.5
    assert unix_from_ntp(MAX_NTP) == pytest.approx(wrap, abs=1e-9)


@pytest.mark.parametrize(
    "seconds", [0.0, 0.125, 816003205.125, 1.7e9 + 0.001, 2**31 + 0.75, 4e9, -5.5e7]
)
def test_ntp_round_trip(seconds):
    assert unix_from_ntp(ntp_from_unix(seconds)) == pytest.approx(seconds, abs=1e-6)


def test_ntp_middle32():
    assert ntp_middle32(0) == 0
    assert ntp_middle32(MAX_NTP) == MAX_U32
    assert ntp_middle32(0x0123_4567_89AB_CDEF) == 0x456789AB


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
    assert (
        repr(SDES) == "SourceDescription([SdesChunk(ssrc=0x12345678, items=[CNAME='alice@host'])])"
    )
    assert repr(BYE_REASON) == "Bye(sources=[0x12345678, 0x9abcdef0], reason='camera off')"
    assert repr(BYE) == "Bye(sources=[0x12345678])"
    assert repr(APP) == "App(subtype=3, ssrc=0x12345678, name=b'STAT', data=8 bytes)"
    assert repr(UNKNOWN) == "UnknownRtcp(packet_type=210, count=5, body=8 bytes)"
