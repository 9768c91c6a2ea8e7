"""Whose each RTCP packet is (RFC 3550 §6.4-§6.7, §8.2; RFC 3611 §4.4-§4.5): the SSRCs it
speaks for, those it speaks about, and the packet without a given source — asked of decoded
known-answer datagrams, so that no code above the packet modules sorts them by class."""

import pytest

from rtsplab.rtcp.app import App
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.compound import decode_compound
from rtsplab.rtcp.packet import RtcpPacket, UnknownRtcp
from rtsplab.rtcp.reports import ReceiverReport, SenderReport
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtcp.xr import ExtendedReport

A, B, C = 0x11111111, 0x22222222, 0x33333333

# SR from A (V=2, RC=1, PT 200, length 12 words): sender info, one block about B.
SR = bytes.fromhex(
    "81c8000c"
    "11111111"  # header, SSRC of sender A
    "e0000000"
    "00000000"  # NTP timestamp
    "00015f90"
    "0000000a"
    "00002710"  # RTP timestamp, packets 10, octets 10000
    "22222222"
    "00000000"
    "00000064"
    "00000000"
    "00000000"
    "00000000"  # block about B
)
# RR from B (RC=2): blocks about A and C.
RR = bytes.fromhex(
    "82c9000d"
    "22222222"  # header (14 words), SSRC of sender B
    "11111111"
    "00000000"
    "00000000"
    "00000000"
    "00000000"
    "00000000"  # block about A
    "33333333"
    "00000000"
    "00000000"
    "00000000"
    "00000000"
    "00000000"  # block about C
)
# SDES with two chunks (7 words): A "a@h", C "c@h", each SSRC, CNAME (type 1, length 3,
# text), the null that ends the chunk and two more to its 32-bit boundary.
SDES = bytes.fromhex("82ca0006111111110103614068000000333333330103634068000000")
# BYE naming A and C, no reason.
BYE = bytes.fromhex("82cb00021111111133333333")
# APP from C, name "TEST", no data.
APP = bytes.fromhex("80cc00023333333354455354")
# XR from B: an RRTR block, then a DLRR block with one item about A.
XR = bytes.fromhex(
    "80cf0008"
    "22222222"
    "04000002"
    "e0000000"
    "00000000"  # RRTR
    "05000003"
    "11111111"
    "00010000"
    "00008000"  # DLRR: SSRC A, LRR, DLRR
)


def one(data: bytes) -> RtcpPacket:
    (packet,) = decode_compound(data, strict=False)
    return packet


@pytest.mark.parametrize(
    "data, kind, speaks_for, speaks_about",
    [
        pytest.param(SR, SenderReport, [A], [B], id="SR"),
        pytest.param(RR, ReceiverReport, [B], [A, C], id="RR"),
        pytest.param(SDES, SourceDescription, [A, C], [], id="SDES"),
        pytest.param(BYE, Bye, [A, C], [], id="BYE"),
        pytest.param(APP, App, [C], [], id="APP"),
        pytest.param(XR, ExtendedReport, [B], [A], id="XR"),
    ],
)
def test_each_packet_says_whom_it_speaks_for_and_about(data, kind, speaks_for, speaks_about):
    packet = one(data)
    assert type(packet) is kind
    assert packet.speaks_for() == speaks_for and packet.speaks_about() == speaks_about
    assert packet.is_report() is (kind in (SenderReport, ReceiverReport))


def test_what_a_reader_takes_from_each_packet():
    sr, rr, sdes, bye, xr = (one(d) for d in (SR, RR, SDES, BYE, XR))
    assert sr.sender_ntp() == 0xE0000000_00000000 and rr.sender_ntp() is None
    assert [b.ssrc for b in rr.report_blocks()] == [A, C] and sdes.report_blocks() == []
    assert sdes.cnames() == {A: "a@h", C: "c@h"} and sr.cnames() == {}
    assert bye.leaving() == [A, C] and sr.leaving() == []
    assert xr.reference_time() == 0xE0000000_00000000 and sr.reference_time() is None
    (item,) = xr.dlrr_items()
    assert (item.ssrc, item.lrr, item.dlrr) == (A, 0x00010000, 0x8000)


def test_without_a_source_strikes_out_only_what_speaks_for_it():
    sr, rr, sdes, bye, app, xr = (one(d) for d in (SR, RR, SDES, BYE, APP, XR))
    # A packet by the source is gone whole; one about it (report blocks, DLRR) stays.
    assert sr.without_source(A) is None and sr.without_source(B) is sr
    assert rr.without_source(A) is rr and xr.without_source(A) is xr
    assert app.without_source(C) is None and xr.without_source(B) is None
    # SDES and BYE lose that source's chunk or name, and keep the others'.
    assert sdes.without_source(A) == SourceDescription(sdes.chunks[1:])
    assert sdes.without_source(B) is sdes
    assert bye.without_source(A) == Bye([C]) and bye.without_source(B) is bye
    assert Bye([A]).without_source(A) is None
    assert SourceDescription.cname(A, "a@h").without_source(A) is None


def test_a_packet_of_an_unknown_type_speaks_for_no_one():
    unknown = UnknownRtcp(206, 1, bytes(8))
    assert unknown.speaks_for() == [] and unknown.speaks_about() == []
    assert unknown.without_source(A) is unknown and not unknown.is_report()
