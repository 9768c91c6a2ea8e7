"""RFC 4588 retransmission packets (rtsplab.rtp.rtx) against hand-computed bytes, and the
sender's store of recent packets (rtsplab.rtp.resend) as pure logic with time passed in:
what it keeps, what it answers, and the caps a NACK storm meets."""

import pytest

from RtpPacket import RtpError, fixed_header
from rtsplab.rtp.resend import ResendLimits, ResendStore
from rtsplab.rtp.rtx import RtxStream, unwrap

ORIGINAL_HEADER = (
    b"\x80"  # V=2 P=0 X=0 CC=0
    b"\x9a"  # M=1 PT=26 (JPEG)
    b"\x12\x34"  # sequence number 0x1234
    b"\x00\x01\x5f\x90"  # timestamp 90000
    b"\xde\xad\xbe\xef"  # SSRC of the original stream
)
RTX_HEADER = (
    b"\x80"  # V=2 P=0 X=0 CC=0
    b"\xe1"  # M=1 (the original's) PT=97 (rtx)
    b"\xff\xff"  # the retransmission stream's own sequence number
    b"\x00\x01\x5f\x90"  # the original's timestamp
    b"\x01\x02\x03\x04"  # the retransmission stream's SSRC
    b"\x12\x34"  # OSN: the original sequence number, first in the payload
)


def test_wrap_gives_the_hand_computed_header_and_shares_the_payload():
    body = memoryview(b"frame bytes")
    stream = RtxStream(pt=97, ssrc=0x01020304, next_seq=0xFFFF)
    header, head, out_body = stream.wrap((ORIGINAL_HEADER, b"\x00\x00\x00\x08", body))
    assert bytes(header) == RTX_HEADER
    assert head == b"\x00\x00\x00\x08" and out_body is body
    assert stream.next_seq == 0  # wraps after 65535


def test_wrap_keeps_a_clear_marker_clear_and_numbers_its_own_packets():
    stream = RtxStream(pt=97, ssrc=7, next_seq=10)
    for seq in (10, 11):
        header, _, _ = stream.wrap((fixed_header(500, 0, 26, 1, 3000), b"", b"x"))
        assert header[1] == 97 and int.from_bytes(header[2:4], "big") == seq
        assert int.from_bytes(header[12:14], "big") == 500


def test_unwrap_reads_the_osn_and_the_original_payload():
    osn, payload = unwrap(b"\x12\x34" + b"jpeg")
    assert osn == 0x1234 and bytes(payload) == b"jpeg"
    with pytest.raises(RtpError, match="no original sequence number"):
        unwrap(b"\x12")


def test_rtx_stream_refuses_fields_out_of_range():
    with pytest.raises(ValueError):
        RtxStream(pt=128, ssrc=1)


def packets(first, count, size=100):
    return [
        (fixed_header((first + i) % 65536, 0, 26, 1, 0), b"", bytes(size - 12))
        for i in range(count)
    ]


def seqs(out):
    return [int.from_bytes(packet[0][2:4], "big") for packet in out]


def test_a_nacked_packet_is_sent_again_once_a_round_trip():
    store = ResendStore(ResendLimits(share=1.0))
    store.sent(packets(100, 10), now=0.0)
    assert seqs(store.answer([103, 105, 103], now=0.1, round_trip=0.05)) == [103, 105]
    assert store.answer([103], now=0.12, round_trip=0.05) == []  # the repair may be on its way
    assert seqs(store.answer([103], now=0.16, round_trip=0.05)) == [103]
    counts = store.counts
    assert (counts.asked, counts.resent, counts.too_soon) == (5, 3, 1)
    assert counts.resent_bytes == 300


def test_packets_are_forgotten_after_keep_seconds_and_past_keep_bytes():
    store = ResendStore(ResendLimits(keep_seconds=0.5, keep_bytes=1000, share=1.0))
    store.sent(packets(0, 5), now=0.0)
    store.sent(packets(5, 5), now=0.4)
    assert len(store) == 10
    store.sent(packets(10, 3), now=0.45)  # 1,300 bytes: the three oldest go
    assert len(store) == 10
    assert store.answer([2], now=0.45, round_trip=None) == []
    assert seqs(store.answer([3], now=0.45, round_trip=None)) == [3]
    assert store.answer([4], now=0.51, round_trip=None) == []  # sent at 0: older than 0.5 s
    assert store.counts.not_held == 2


def test_a_nack_storm_gets_at_most_the_share_of_the_stream():
    store = ResendStore(ResendLimits(share=0.25, min_gap=0.0))
    total = 0
    for frame in range(30):  # 30 frames of 40 packets of 100 bytes
        store.sent(packets(frame * 40, 40), now=frame / 30)
        # every packet of the frame asked for, again and again
        for _ in range(5):
            total += sum(
                len(p[0]) + len(p[1]) + len(p[2])
                for p in store.answer(list(range(frame * 40, frame * 40 + 40)), frame / 30, None)
            )
    assert total <= 0.25 * 30 * 40 * 100
    assert total >= 0.2 * 30 * 40 * 100  # the share is there to be used
    assert store.counts.over_share > 0


def test_sequence_numbers_wrap_and_a_number_that_comes_round_replaces_the_old_packet():
    store = ResendStore(ResendLimits(share=1.0, keep_seconds=1e9, keep_bytes=10**9))
    store.sent(packets(65530, 12), now=0.0)
    assert seqs(store.answer([65535, 0, 5], now=0.1, round_trip=None)) == [65535, 0, 5]
    store.sent(packets(0, 65536), now=1.0)
    assert len(store) == 65536


def test_limits_out_of_range_are_refused():
    with pytest.raises(ValueError):
        ResendLimits(share=0.0)
