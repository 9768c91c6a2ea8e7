"""RTCP XR (RFC 3611): the RRTR and DLRR blocks a receiver uses for its round-trip time."""

import pytest

from rtsplab.rtcp.compound import decode_compound
from rtsplab.rtcp.packet import RtcpError, RtcpPacket
from rtsplab.rtcp.reports import ReceiverReport
from rtsplab.rtcp.xr import DlrrItem, ExtendedReport

XR = bytes.fromhex(
    "80cf0008"  # V=2 P=0 reserved=0, PT=207 (XR), length=8 words (36 bytes in all)
    "11223344"  # SSRC of the packet's sender
    "04000002"  # BT=4 (RRTR), reserved, block length=2 words
    "0102030405060708"  # NTP timestamp
    "05000003"  # BT=5 (DLRR), reserved, block length=3 words: one item
    "00000005"  # SSRC_1
    "00000006"  # LRR: middle 32 bits of the RRTR's NTP timestamp
    "00010000"  # DLRR: 1.0 s in 1/65536 s
)


def test_known_answer_vector():
    xr = RtcpPacket.decode(XR)
    assert isinstance(xr, ExtendedReport)
    assert xr.ssrc == 0x11223344 and xr.rrtr == 0x0102030405060708
    assert xr.dlrr == [DlrrItem(5, 6, 0x10000)]
    assert xr.encode() == XR


def test_round_trips_alone_and_after_an_rr():
    for report in (ExtendedReport(1, rrtr=2**64 - 1), ExtendedReport(2, dlrr=[DlrrItem(3, 4, 5)]),
                   ExtendedReport(3, other_blocks=[(42, 7, b"abcd")])):  # fmt: skip
        assert ExtendedReport.decode(report.encode()) == report
        compound = ReceiverReport(9).encode() + report.encode()
        assert decode_compound(compound)[1] == report


@pytest.mark.parametrize("cut", range(len(XR)))
def test_every_truncation_of_the_datagram_is_an_error(cut):
    with pytest.raises(RtcpError):
        RtcpPacket.decode(XR[:cut])


def test_a_block_running_past_the_packet_is_an_error():
    # the RTCP length says 4 words (SSRC, RRTR header, 8 bytes) but RRTR claims 3 words
    bad = bytes.fromhex("80cf000411223344040000030102030405060708")
    with pytest.raises(RtcpError, match="block length past the end"):
        RtcpPacket.decode(bad)
