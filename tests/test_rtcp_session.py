"""Each side's RTCP, without sockets: reports built from the session, and read back."""

import random

import pytest

from rtsplab.ntp import ntp_from_unix
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.compound import decode_compound, encode_compound
from rtsplab.rtcp.reports import ReceiverReport, ReportBlock, SenderReport, round_trip_time
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtcp.session import ReceiverRtcp, SenderRtcp
from rtsplab.rtcp.xr import ExtendedReport
from rtsplab.rtp.reception import ReceptionStatistics
from rtsplab.rtp.sender import RtpSender

SERVER_SSRC = 0x5EED0001
CLIENT_SSRC = 0xC11E0002
WALL = 1_800_000_000.0  # a Unix time in 2027


def make_sender():
    sender = RtpSender(20, 1400, ssrc=SERVER_SSRC, first_seq=100, timestamp_origin=1000)
    return sender, SenderRtcp(sender, "server@test", 250_000, 0.0, rng=random.Random(1))


def make_receiver():
    stats = ReceptionStatistics()
    rtcp = ReceiverRtcp(stats, "client@test", 250_000, 0.0, ssrc=CLIENT_SSRC,
                        rng=random.Random(2))  # fmt: skip
    rtcp.media_ssrc = SERVER_SSRC
    return stats, rtcp


def test_the_sender_report_ties_the_rtp_clock_to_the_wall_clock():
    sender, rtcp = make_sender()
    for _ in range(3):
        sender.packetize(b"\xff\xd8" + bytes(3000) + b"\xff\xd9")
    sender.mark_due(10.0)  # the third frame (timestamp 1000 + 2 * 4500) went out at 10.0
    packets = decode_compound(rtcp.report(10.5, WALL))
    sr, sdes = packets
    assert isinstance(sr, SenderReport) and isinstance(sdes, SourceDescription)
    assert sr.ssrc == SERVER_SSRC and sdes.cnames() == {SERVER_SSRC: "server@test"}
    assert sr.ntp_timestamp == ntp_from_unix(WALL)
    assert sr.rtp_timestamp == 1000 + 2 * 4500 + 45_000  # half a second later at 90 kHz
    assert sr.packet_count == sender.packets_sent == 9  # 3004 bytes in 1388-byte slices
    assert sr.octet_count == 3 * 3004


def test_a_receiver_report_tells_the_server_loss_jitter_and_rtt():
    sender, server = make_sender()
    stats, client = make_receiver()
    # the server's SR leaves at WALL and reaches the client at its monotonic 5.0
    sr = server.report(1.0, WALL)
    client.receive(sr, 5.0, WALL)
    # 20 packets, one frame each, with sequence numbers 4, 5, 6 lost
    for n in [*range(4), *range(7, 20)]:
        stats.update(100 + n, 1000 + 4500 * n, 5.0 + n * 0.05)
    rr = client.report(5.25, WALL + 0.25)  # DLSR: 0.25 s
    assert isinstance(decode_compound(rr)[0], ReceiverReport)
    server.receive(rr, 2.0, WALL + 0.3)  # back at the server 0.3 s after its SR left
    peer = server.peer
    assert peer.cumulative_lost == 3
    # expected counts from the second packet (RFC 3550 A.1 probation): 101..119 is 19
    assert peer.fraction_lost == (3 * 256 // 19) / 256
    assert peer.jitter_ms == pytest.approx(0.0, abs=1e-6)  # perfectly regular arrivals
    assert peer.rtt_ms == pytest.approx(50.0, abs=0.05)  # 0.3 - 0.25 s, in 1/65536 s units


# RFC 3550 section 6.4.1, Figure 2: SR at 0xb44db705:20000000 -> LSR 0xb705:2000; the RR leaves
# 5.25 s later -> DLSR 0x0005:4000; it arrives at A = 0xb710:8000.
# RTT = A - LSR - DLSR = 0xb710:8000 - 0xb705:2000 - 0x0005:4000 = 0x0006:2000 = 6.125 s.
def test_round_trip_time_from_rfc_figure_2_through_the_receivers_statistics():
    stats = ReceptionStatistics()
    for seq in (0, 1):
        stats.update(seq, seq * 4500, seq * 0.05)
    stats.on_sender_report(0xB44DB705_20000000, arrival=100.0)
    block = ReportBlock.from_reception(0x12345678, stats.report(now=105.25))
    assert (block.ssrc, block.lsr, block.dlsr) == (0x12345678, 0xB7052000, 0x00054000)
    assert round_trip_time(block, arrival_ntp=0xB44DB710_80000000) == 6.125


def test_the_client_measures_its_round_trip_with_xr_rrtr_and_dlrr():
    _, server = make_sender()
    _, client = make_receiver()
    report = client.report(1.0, WALL)  # carries RRTR = NTP(WALL)
    assert any(isinstance(p, ExtendedReport) and p.rrtr for p in decode_compound(report))
    server.receive(report, 20.0, WALL + 0.01)
    answer = server.report(20.2, WALL + 0.21)  # 0.2 s after the RRTR arrived
    (xr,) = [p for p in decode_compound(answer) if isinstance(p, ExtendedReport)]
    assert xr.dlrr[0].ssrc == CLIENT_SSRC and xr.dlrr[0].dlrr == round(0.2 * 65536)
    client.receive(answer, 1.3, WALL + 0.3)  # 0.3 s after the RRTR left
    assert client.rtt == pytest.approx(0.1, abs=1 / 65536)


def test_bye_is_sent_and_heard_both_ways():
    _, server = make_sender()
    _, client = make_receiver()
    bye = server.bye(1.0, WALL, "end of file")
    assert [type(p) for p in decode_compound(bye)] == [SenderReport, SourceDescription, Bye]
    client.receive(bye, 1.0, WALL)
    assert client.peer_left and not server.peer_left
    server.receive(client.bye(2.0, WALL, "teardown"), 2.0, WALL)
    assert server.peer_left


@pytest.mark.parametrize(
    "datagram",
    [
        b"",
        b"\x80",
        b"\x40\xc9\x00\x01" + bytes(4),
        b"\x80\xc9\x00\x09" + bytes(4),
        SourceDescription.cname(1, "x").encode(),
    ],  # fmt: skip
    ids=["empty", "short", "version-1", "length-past-end", "sdes-first"],
)
def test_a_bad_datagram_is_counted_and_changes_nothing(datagram):
    _, server = make_sender()
    _, client = make_receiver()
    for side in (server, client):
        assert side.receive(datagram, 1.0, WALL) == []
        assert side.malformed == 1 and not side.peer_left
    assert server.peer is None and client.rtt is None


def test_sending_a_report_moves_the_timer_on():
    _, server = make_sender()
    first = server.group.tn
    assert 0 < first <= 2.5 * 1.5 / 1.21828 + 1e-9  # the initial report: half the 5 s minimum
    assert not server.due(first - 0.01)
    server.report(first, WALL)
    assert server.group.tn >= first + 5 * 0.5 / 1.21828


def bye_datagram(*sources):
    return encode_compound([ReceiverReport(sources[0] if sources else 1), Bye(list(sources))])


@pytest.mark.parametrize(
    "media_ssrc, sources, ends",
    [
        pytest.param(SERVER_SSRC, [SERVER_SSRC], True, id="the-media-source"),
        pytest.param(SERVER_SSRC, [0x0BAD0BAD, SERVER_SSRC], True, id="among-others"),
        pytest.param(SERVER_SSRC, [0x0BAD0BAD], False, id="another-ssrc"),
        pytest.param(None, [SERVER_SSRC], False, id="media-ssrc-not-known-yet"),
    ],
)
def test_the_client_ends_only_on_a_bye_from_the_media_source(media_ssrc, sources, ends):
    _, client = make_receiver()
    client.media_ssrc = media_ssrc
    assert client.receive(bye_datagram(*sources), 1.0, WALL) == []
    assert client.peer_left is ends
    assert client.foreign_byes == (0 if ends else 1)


def test_a_foreign_bye_then_the_real_one():
    _, client = make_receiver()
    client.receive(bye_datagram(0x0BAD0BAD), 1.0, WALL)
    assert not client.peer_left
    client.receive(bye_datagram(SERVER_SSRC), 2.0, WALL)
    assert client.peer_left and client.foreign_byes == 1


def test_the_server_still_ends_on_any_bye_from_its_client():
    _, server = make_sender()
    server.receive(bye_datagram(0x0BAD0BAD), 1.0, WALL)  # the driver checks the address
    assert server.peer_left
