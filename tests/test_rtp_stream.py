"""The RTP stream end to end without a socket: RtpSender's packets into RtpReceiver."""

import random

import pytest

from jpeg_samples import jpeg
from RtpPacket import RtpPacket
from rtsplab.rtp.receiver import RtpReceiver, SeqUnwrapper
from rtsplab.rtp.sender import RtpSender

SERVER = "127.0.0.1"


def sender(**kw):
    return RtpSender(20, 300, ssrc=0xCAFEBABE, first_seq=kw.pop("first_seq", 100),
                     timestamp_origin=kw.pop("timestamp_origin", 1000), **kw)  # fmt: skip


def receive_all(receiver, datagrams, source=SERVER):
    return [f for i, d in enumerate(datagrams) if (f := receiver.receive(d, source, i * 1e-3))]


def decode(datagram):
    packet = RtpPacket()
    packet.decode(datagram)
    return packet


def test_sender_numbers_stamps_and_marks_each_frame():
    s = sender()
    first = [decode(d) for d in s.packetize(jpeg(0))]
    second = [decode(d) for d in s.packetize(jpeg(1))]
    seqs = [p.seqNum() for p in first + second]
    assert seqs == list(range(100, 100 + len(seqs)))
    assert {p.timestamp() for p in first} == {1000}
    assert {p.timestamp() for p in second} == {1000 + 90000 // 20}
    assert [p.marker() for p in first] == [0] * (len(first) - 1) + [1]
    assert all(p.version() == 2 and p.payloadType() == 26 for p in first)
    assert all(p.ssrc() == 0xCAFEBABE for p in first)
    assert s.packets_sent == len(first) + len(second)
    assert s.octets_sent == len(jpeg(0)) + len(jpeg(1))
    assert max(len(d) for d in s.packetize(jpeg(2))) == 300  # --mtu is the packet size


def test_timestamps_follow_the_frame_rate_and_wrap_at_2_32():
    s = RtpSender(30, timestamp_origin=2**32 - 3000)
    assert s.timestamp(0) == 2**32 - 3000
    assert s.timestamp(1) == 0  # 90000 / 30 = 3000 later, wrapped
    assert s.timestamp(30) == (2**32 - 3000 + 90000) % 2**32
    assert RtpSender(29.97, timestamp_origin=0).timestamp(2997) == 9_000_000


def test_random_ssrc_and_first_sequence_differ_per_session():
    made = {(RtpSender(20).ssrc, RtpSender(20).next_seq) for _ in range(20)}
    assert len(made) > 15


@pytest.mark.parametrize("mtu", [100, 70_000])
def test_packet_size_is_bounded(mtu):
    with pytest.raises(ValueError):
        RtpSender(20, mtu)


def test_sequence_unwrapping_across_65535():
    u = SeqUnwrapper()
    assert [u.extend(s) for s in (65534, 65535, 0, 1, 65535, 2)] == [
        65534, 65535, 65536, 65537, 65535, 65538
    ]  # fmt: skip


def test_frames_survive_the_sequence_wrap_and_loss_is_counted_across_it():
    s = sender(first_seq=65530)
    frames = [jpeg(i) for i in range(4)]
    datagrams = [d for f in frames for d in s.packetize(f)]
    assert s.next_seq < 65530  # wrapped
    lost = datagrams.pop(len(datagrams) // 2)
    receiver = RtpReceiver(SERVER)
    got = receive_all(receiver, datagrams)
    assert len(got) == 3 and set(got) < set(frames)
    summary = receiver.summary()
    assert summary["lost_packets"] == 1
    assert summary["dropped_frames"] == 1
    assert summary["packets"] == len(datagrams)
    assert summary["bytes"] == sum(map(len, datagrams))
    assert decode(lost).seqNum() in range(65536)


def test_duplicates_do_not_hide_loss():
    s = sender()
    datagrams = [d for i in range(3) for d in s.packetize(jpeg(i))]
    del datagrams[5]  # after the first two packets: RFC 3550 A.1's probation
    doubled = [d for d in datagrams for _ in range(2)]
    receiver = RtpReceiver(SERVER)
    receive_all(receiver, doubled)
    summary = receiver.summary()
    assert summary["lost_packets"] == 1
    assert summary["duplicates"] == len(datagrams)


def test_packets_from_another_address_or_ssrc_and_garbage_are_counted_and_skipped():
    s = sender()
    frames = [jpeg(i) for i in range(3)]
    datagrams = [d for f in frames for d in s.packetize(f)]
    intruder = RtpSender(20, 300, ssrc=0x12345678, first_seq=101, timestamp_origin=1000)
    forged = intruder.packetize(jpeg(9))
    rng = random.Random(1)
    garbage = [b"", b"\x80", rng.randbytes(11), b"\x40" + rng.randbytes(40)]  # short, v=1
    receiver = RtpReceiver(SERVER)
    got = []
    for i, d in enumerate(datagrams):
        got += receive_all(receiver, [d])
        if i == 1:
            got += receive_all(receiver, forged)  # other SSRC, same address
            got += receive_all(receiver, datagrams[:1], source="127.0.0.2")
            got += receive_all(receiver, garbage)
    assert got == frames
    summary = receiver.summary()
    assert summary["foreign"] == len(forged) + 1
    assert summary["malformed"] == len(garbage)
    assert summary["lost_packets"] == 0 and summary["dropped_frames"] == 0
