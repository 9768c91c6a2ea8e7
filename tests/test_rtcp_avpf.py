"""RTP/AVPF in the RTCP engine (RFC 4585 §3.5), without sockets: no 5 s minimum, regular
reports spaced by T_rr_interval, one early packet each time the timer fires, the client's
generic NACK built and the server's engine reading it, bounded."""

import random

from rtsplab.rtcp.compound import decode_compound, encode_compound
from rtsplab.rtcp.endpoint import MAX_NACK_ITEMS, MAX_NACKS
from rtsplab.rtcp.feedback import GenericNack
from rtsplab.rtcp.reports import ReceiverReport
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtcp.session import ReceiverRtcp, SenderRtcp
from rtsplab.rtcp.timer import RtcpTimer
from rtsplab.rtp.reception import ReceptionStatistics
from rtsplab.rtp.sender import RtpSender

SERVER_SSRC = 0x5EED0001
CLIENT_SSRC = 0xC11E0002
WALL = 1_800_000_000.0
BANDWIDTH = 1_250_000  # bytes/s: a 10 Mbit/s stream


def receiver(regular_spacing=1.0):
    rtcp = ReceiverRtcp(ReceptionStatistics(), "client@test", BANDWIDTH, 0.0, ssrc=CLIENT_SSRC,
                        rng=random.Random(2), regular_spacing=regular_spacing)  # fmt: skip
    rtcp.media_ssrc = SERVER_SSRC
    return rtcp


def sender():
    rtp = RtpSender(30, 1400, ssrc=SERVER_SSRC, first_seq=100, timestamp_origin=1000)
    return SenderRtcp(rtp, "server@test", BANDWIDTH, 0.0, rng=random.Random(1))


def test_avpf_has_no_five_second_minimum():
    plain = RtcpTimer(0.05 * BANDWIDTH, 0.0, two_party=True)
    avpf = RtcpTimer(0.05 * BANDWIDTH, 0.0, two_party=True, regular_spacing=1.0)
    assert plain.deterministic_interval() >= 2.5
    assert avpf.deterministic_interval() < 0.01  # ~100 octets among 62,500 a second


def test_regular_reports_keep_their_spacing_while_the_timer_fires_often():
    rtcp = receiver(regular_spacing=1.0)
    regular, fired = [], 0
    for step in range(5000):  # 5 s in 1 ms steps
        now = step / 1000
        allowed_before = rtcp.group.allow_early
        sent = rtcp.tick(now, WALL + now)
        regular += [now] * len(sent)
        fired += not allowed_before and rtcp.group.allow_early
        if rtcp.may_send_feedback():
            assert rtcp.feedback([7], now, WALL + now) is not None
    gaps = [b - a for a, b in zip(regular, regular[1:], strict=False)]
    assert len(regular) == 5 and min(gaps) >= 1.0
    assert fired > 100  # early packets could go many times a second


def test_feedback_is_a_compound_with_a_generic_nack_about_the_media_source():
    rtcp = receiver()
    datagram = rtcp.feedback([65534, 65535, 0, 3], 0.5, WALL)
    rr, sdes, nack = decode_compound(datagram)
    assert isinstance(rr, ReceiverReport) and isinstance(sdes, SourceDescription)
    assert nack == GenericNack(CLIENT_SSRC, SERVER_SSRC, [(65534, 0b10011)])
    assert rtcp.feedback([9], 0.5, WALL) is None  # one early packet until the timer fires


def test_no_feedback_without_avpf_or_before_the_media_source_is_known():
    plain = receiver(regular_spacing=None)
    assert not plain.may_send_feedback() and plain.feedback([1], 0.0, WALL) is None
    unknown = receiver()
    unknown.media_ssrc = None
    assert unknown.feedback([1], 0.0, WALL) is None


def test_a_long_list_is_cut_to_what_one_packet_carries():
    datagram = receiver().feedback(list(range(0, 2 * MAX_NACK_ITEMS * 17, 17)), 0.0, WALL)
    nack = decode_compound(datagram)[2]
    assert len(nack.items) == MAX_NACK_ITEMS and len(datagram) < 1400


def test_the_senders_engine_keeps_each_nack_about_its_stream_for_the_driver():
    server = sender()
    server.receive(receiver().feedback([100, 102], 0.1, WALL), 0.1, WALL)
    other = receiver()
    other.media_ssrc = 0x12345678  # about another stream: not ours to answer
    server.receive(other.feedback([5], 0.1, WALL), 0.1, WALL)
    assert server.take_nacks() == [[100, 102]]
    assert server.take_nacks() == []


def test_a_nack_storm_is_bounded_and_counted():
    server = sender()
    for n in range(MAX_NACKS + 10):
        server.receive(receiver().feedback([n], 0.1, WALL), 0.1, WALL)
    assert len(server.take_nacks()) == MAX_NACKS
    assert server.nacks_dropped == 10


def test_a_huge_nack_is_read_only_so_far():
    server = sender()
    nack = GenericNack(CLIENT_SSRC, SERVER_SSRC, [(n * 17 % 65536, 0xFFFF) for n in range(3000)])
    server.receive(encode_compound([ReceiverReport(CLIENT_SSRC, []), nack]), 0.1, WALL)
    (lost,) = server.take_nacks()
    assert len(lost) == MAX_NACK_ITEMS * 17


def test_feedback_alone_is_taken_as_reduced_size_rtcp_and_other_lone_packets_are_not():
    server = sender()
    lone = GenericNack(CLIENT_SSRC, SERVER_SSRC, [(300, 0)]).encode()  # ffmpeg's way (RFC 5506)
    server.receive(lone, 0.1, WALL)
    assert server.take_nacks() == [[300]] and server.malformed == 0
    server.receive(SourceDescription.cname(CLIENT_SSRC, "x@y").encode(), 0.1, WALL)
    assert server.malformed == 1  # a lone SDES is no compound (RFC 3550 §6.1)
