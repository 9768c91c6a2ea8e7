"""RTCP test vectors shared by the tests of each packet module (test_rtcp_reports.py,
test_rtcp_sdes.py, test_rtcp_bye.py, test_rtcp_app.py, test_rtcp_packet.py,
test_rtcp_compound.py): hand-computed bytes annotated field by field, the packets they decode
to, and the checks every packet class gets (round trip, rejected input)."""

import pytest

from rtsplab.ntp import MAX_U32
from rtsplab.rtcp.app import App
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.compound import decode_compound
from rtsplab.rtcp.packet import RTCP_RR, RTCP_SR, RtcpError, RtcpPacket, UnknownRtcp
from rtsplab.rtcp.reports import ReceiverReport, ReportBlock, SenderReport
from rtsplab.rtcp.sdes import SDES_CNAME, SdesChunk, SourceDescription

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

SSRC = b"\x12\x34\x56\x78"
BLOCK = ReportBlock(1).encode()


def assert_round_trip(packet):
    """Encoding gives whole 32-bit words with a true length field, and decoding (by the
    generic and by the packet's own class) gives the packet and its bytes back."""
    data = packet.encode()
    assert len(data) % 4 == 0
    assert int.from_bytes(data[2:4], "big") == len(data) // 4 - 1
    decoded = RtcpPacket.decode(data)
    assert decoded == packet
    assert type(decoded).decode(data) == packet
    assert decoded.encode() == data


def assert_decode_rejects(data, message):
    """Malformed bytes raise RtcpError with `message`, as a compound (strict too, where the
    first packet is a report) and as one packet."""
    with pytest.raises(RtcpError, match=message):
        decode_compound(data, strict=False)
    if len(data) < 2 or data[1] in (RTCP_SR, RTCP_RR):
        with pytest.raises(RtcpError, match=message):
            decode_compound(data, strict=True)
    with pytest.raises(RtcpError, match=message):
        RtcpPacket.decode(data)
