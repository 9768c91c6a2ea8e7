"""ReceptionStatistics: RFC 3550 A.1 sequence tracking, A.3 loss, A.8 jitter, LSR/DLSR.

`report(now)` gives the figures unbounded; fitting them to an RTCP report block, and the
round-trip time from one, are tested with the RTCP reports (test_rtcp_reports.py).
"""

import pytest

from RtpPacket import SEQ_MOD
from rtsplab.rtp.reception import (
    MAX_DROPOUT,
    MAX_MISORDER,
    MIN_SEQUENTIAL,
    ReceptionReport,
    ReceptionStatistics,
)

FRAME = 4500  # RTP timestamp step of one frame at 20 fps on the 90 kHz clock


def feed(stats, seqs, start=0.0):
    """Feed sequence numbers one frame apart; return what update() said for each."""
    return [stats.update(seq, (i * FRAME) % 2**32, start + i * 0.05) for i, seq in enumerate(seqs)]


def test_rfc_constants():
    assert (MIN_SEQUENTIAL, MAX_DROPOUT, MAX_MISORDER, SEQ_MOD) == (2, 3000, 100, 65536)


def test_first_packet_alone_is_on_probation():
    stats = ReceptionStatistics()
    assert stats.update(1000, 0, 0.0) is False
    assert not stats.valid
    assert (stats.received, stats.expected, stats.cumulative_lost) == (0, 0, 0)


def test_two_sequential_packets_make_the_source_valid():
    stats = ReceptionStatistics()
    assert feed(stats, [1000, 1001, 1002]) == [False, True, True]
    assert stats.valid
    # A.1: init_seq runs on the packet that ends probation, so counting starts there.
    assert stats.base_seq == 1001
    assert (stats.max_seq, stats.received, stats.expected, stats.cumulative_lost) == (1002, 2, 2, 0)


def test_probation_restarts_on_a_non_sequential_packet():
    stats = ReceptionStatistics()
    assert feed(stats, [1000, 1005, 1007, 1008, 1009]) == [False, False, False, True, True]
    assert stats.base_seq == 1008
    assert stats.received == 2


def test_probation_across_the_wrap():
    # The RFC's C compares seq == max_seq + 1 after integer promotion, which fails for 65535 -> 0;
    # we compare in 16 bits (documented deviation).
    stats = ReceptionStatistics()
    assert feed(stats, [65535, 0, 1]) == [False, True, True]
    assert (stats.base_seq, stats.cycles, stats.extended_max) == (0, 0, 1)


def test_probation_starting_at_zero():
    stats = ReceptionStatistics()
    assert feed(stats, [0, 1]) == [False, True]
    assert stats.base_seq == 1


def test_gap_of_three_is_three_lost():
    stats = ReceptionStatistics()
    assert all(feed(stats, [100, 101, 102, 106, 107])[1:])
    # base 101, highest 107: expected 101..107 = 7; received 101, 102, 106, 107 = 4.
    assert (stats.base_seq, stats.extended_max) == (101, 107)
    assert (stats.expected, stats.received, stats.cumulative_lost) == (7, 4, 3)
    assert stats.loss_rate == pytest.approx(3 / 7)


def test_wrap_counts_a_cycle():
    stats = ReceptionStatistics()
    assert all(feed(stats, [65533, 65534, 65535, 0, 1, 2])[1:])
    assert stats.cycles == 1
    assert stats.max_seq == 2
    assert stats.extended_max == 65536 + 2
    # base 65534: 65534, 65535, 0, 1, 2 expected and received.
    assert (stats.expected, stats.received, stats.cumulative_lost) == (5, 5, 0)
    assert stats.report(now=1.0).highest_seq == 0x0001_0002


def test_late_packet_across_the_wrap_is_not_a_cycle():
    stats = ReceptionStatistics()
    feed(stats, [65533, 65534, 0, 1, 65535])  # 65535 arrives after 0 and 1
    assert stats.cycles == 1
    assert stats.extended_max == 65537
    # base 65534: 65534..65537 is 4 expected; received 65534, 0, 1, 65535 = 4.
    assert (stats.expected, stats.received, stats.cumulative_lost) == (4, 4, 0)


def test_duplicates_make_cumulative_lost_negative():
    # Section 6.4.1: "the number of packets received includes any which are late or
    # duplicates ... the loss may be negative if there are duplicates".
    stats = ReceptionStatistics()
    assert all(feed(stats, [10, 11, 12, 12, 12, 12, 13])[1:])
    # expected 11..13 = 3; received 11, 12 four times, 13 = 6.
    assert (stats.expected, stats.received, stats.cumulative_lost) == (3, 6, -3)
    assert stats.loss_rate == 0.0
    report = stats.report(now=1.0)
    assert report.cumulative_lost == -3
    assert report.fraction_lost == 0  # "If the loss is negative due to duplicates ... zero"


def test_a_duplicate_hides_a_loss():
    stats = ReceptionStatistics()
    feed(stats, [10, 11, 12, 12, 14])  # 13 lost, 12 twice
    assert (stats.expected, stats.received, stats.cumulative_lost) == (4, 4, 0)


def test_big_jump_then_two_sequential_packets_resync():
    stats = ReceptionStatistics()
    assert feed(stats, [1, 2, 3]) == [False, True, True]
    assert stats.update(20000, 0, 1.0) is False  # a jump of 19997 > MAX_DROPOUT
    assert stats.bad_seq == 20001
    assert (stats.max_seq, stats.received) == (3, 2)  # nothing counted
    assert stats.update(20001, 0, 1.05) is True  # sequential with the jump: the sender restarted
    assert (stats.base_seq, stats.max_seq, stats.cycles) == (20001, 20001, 0)
    assert (stats.received, stats.expected, stats.cumulative_lost) == (1, 1, 0)


def test_lone_big_jump_is_dropped():
    stats = ReceptionStatistics()
    feed(stats, [1, 2, 3])
    assert stats.update(20000, 0, 1.0) is False
    assert stats.update(4, 0, 1.05) is True
    assert (stats.max_seq, stats.expected, stats.received) == (4, 3, 3)
    # A.1 never clears bad_seq, so the packet after the jump still re-syncs later on.
    assert stats.update(20001, 0, 1.1) is True
    assert (stats.base_seq, stats.received) == (20001, 1)


@pytest.mark.parametrize(
    "step, accepted, max_seq",
    [
        pytest.param(MAX_DROPOUT - 1, True, 1000 + MAX_DROPOUT - 1, id="dropout-2999-in-order"),
        pytest.param(MAX_DROPOUT, False, 1000, id="dropout-3000-jump"),
        pytest.param(SEQ_MOD - MAX_MISORDER, False, 1000, id="back-100-jump"),
        pytest.param(SEQ_MOD - MAX_MISORDER + 1, True, 1000, id="back-99-late"),
        pytest.param(0, True, 1000, id="duplicate"),
    ],
)
def test_dropout_and_misorder_limits(step, accepted, max_seq):
    stats = ReceptionStatistics()
    feed(stats, [999, 1000])
    assert stats.update((1000 + step) % SEQ_MOD, 0, 1.0) is accepted
    assert stats.max_seq == max_seq
    assert stats.received == 1 + accepted


def test_reports_give_the_fraction_lost_per_interval():
    stats = ReceptionStatistics()
    feed(stats, range(11))  # 0 is probation; 1..10 counted
    first = stats.report(now=1.0)
    assert (first.fraction_lost, first.cumulative_lost) == (0, 0)
    assert first.highest_seq == 10
    assert stats.fraction_lost == 0.0

    lost = {13, 14, 20, 21, 22}
    feed(stats, [seq for seq in range(11, 31) if seq not in lost], start=1.0)
    second = stats.report(now=2.0)
    # expected_interval = 30 - 10 = 20, received_interval = 15, lost_interval = 5:
    # fraction = (5 << 8) / 20 = 64, i.e. 0.25.
    assert (second.fraction_lost, second.cumulative_lost, second.highest_seq) == (64, 5, 30)
    assert stats.fraction_lost == 0.25
    assert stats.loss_rate == pytest.approx(5 / 30)

    feed(stats, [*range(31, 41), 40, 40], start=2.0)
    third = stats.report(now=3.0)
    # expected_interval = 10, received_interval = 12: negative loss, fraction 0.
    assert (third.fraction_lost, third.cumulative_lost) == (0, 3)
    assert stats.fraction_lost == 0.0

    empty = stats.report(now=4.0)  # nothing new: expected_interval 0
    assert (empty.fraction_lost, empty.cumulative_lost) == (0, 3)


def test_fraction_lost_truncates():
    stats = ReceptionStatistics()
    feed(stats, [0, 1, 2, 4])  # base 1, expected 4 (1..4), received 3: 1 lost of 4 -> 64
    feed(stats, [5, 7], start=1.0)
    stats.report(now=1.0)
    feed(stats, [9, 10], start=2.0)  # expected 3 (8..10), received 2: (1 << 8) / 3 = 85.33
    assert stats.report(now=2.0).fraction_lost == 85


def test_report_before_any_valid_packet():
    stats = ReceptionStatistics()
    assert stats.report(now=0.0) == ReceptionReport(0, 0, 0, 0.0, 0, 0)
    stats.update(500, 0, 0.0)
    report = stats.report(now=0.0)
    assert (report.fraction_lost, report.cumulative_lost, report.jitter) == (0, 0, 0)
    assert stats.loss_rate == 0.0


def test_report_leaves_cumulative_lost_and_highest_seq_unbounded():
    # Past the report block's signed 24 bits and its 32 bits: ReportBlock.from_reception
    # fits them (test_rtcp_reports.py); the statistics themselves do not saturate or wrap.
    stats = ReceptionStatistics()
    feed(stats, [0, 1])
    seq = 1
    while stats.cumulative_lost <= 0x7FFFFF:
        seq = (seq + MAX_DROPOUT - 1) % SEQ_MOD  # 2998 lost per packet
        assert stats.update(seq, 0, 1.0)
    assert stats.report(now=2.0).cumulative_lost == stats.cumulative_lost > 0x7FFFFF
    stats.cycles = 1 << 16  # 2^32 sequence numbers later
    assert stats.report(now=3.0).highest_seq == (1 << 32) + stats.max_seq


# A.8 jitter on the 90 kHz clock, one sample per frame (the first packet of each timestamp).
# D = (Rj - Ri) * 90000 - (Sj - Si) against the previous frame's first packet; J += (|D| - J)/16.
JITTER_SERIES = [
    # seq, RTP timestamp, arrival (s), J after the packet
    (0, 1000, 0.010, 0.0),  # probation: not counted
    (1, 5500, 0.060, 0.0),  # first valid packet: seeds the transit time
    (2, 10000, 0.112, 11.25),  # D = 0.052*90000 - 4500 = 180; J = 180/16
    (3, 10000, 0.130, 11.25),  # same timestamp: a later packet of the frame, skipped
    (4, 10000, 0.148, 11.25),  # skipped (per packet, D would be 1620 here)
    (5, 14500, 0.161, 16.171875),  # D = 0.049*90000 - 4500 = -90; J = 11.25 + (90 - 11.25)/16
    (6, 19000, 0.215, 37.6611328125),  # D = 4860 - 4500 = 360; J += (360 - J)/16
    (7, 23500, 0.260, 63.43231201171875),  # D = 4050 - 4500 = -450; J += (450 - J)/16
]


@pytest.mark.parametrize("origin", [0, 2**32 - 12000], ids=["no-wrap", "timestamp-wrap"])
def test_jitter_known_answer(origin):
    stats = ReceptionStatistics(clock_rate=90000)
    for seq, timestamp, arrival, jitter in JITTER_SERIES:
        stats.update(seq, (origin + timestamp) % 2**32, arrival)
        assert stats.jitter == pytest.approx(jitter, abs=1e-9)
    assert stats.jitter_ms == pytest.approx(63.43231201171875 / 90, abs=1e-9)
    assert stats.report(now=1.0).jitter == pytest.approx(63.43231201171875, abs=1e-9)


def test_jitter_is_zero_for_a_perfectly_paced_stream():
    stats = ReceptionStatistics()
    for i in range(50):
        # Three packets per frame: the first one on time, the others spread by pacing.
        for k in range(3):
            stats.update(3 * i + k, i * FRAME, 7.0 + i * 0.05 + k * 0.013)
    assert stats.jitter == pytest.approx(0.0, abs=1e-6)


def test_a_late_packet_of_an_older_frame_is_not_sampled():
    stats = ReceptionStatistics()
    stats.update(0, 0, 0.000)  # probation
    stats.update(1, 4500, 0.050)  # seeds
    stats.update(3, 9000, 0.100)  # frame 2's first packet, ahead of 2: D = 4500 - 4500 = 0
    # Late packet of frame 1, sent mid-frame: arrival order would give D = 360 + 4500 here.
    stats.update(2, 4500, 0.104)
    stats.update(4, 9000, 0.106)  # frame 2 again after the late one: not a new frame
    assert stats.jitter == 0.0
    stats.update(5, 13500, 0.151)  # D = (0.151 - 0.100) * 90000 - 4500 = 90; J = 90/16
    assert stats.jitter == pytest.approx(5.625, abs=1e-9)
    assert (stats.received, stats.cumulative_lost) == (5, 0)


def test_jitter_after_a_restart_only_seeds():
    stats = ReceptionStatistics()
    for seq, timestamp, arrival, _ in JITTER_SERIES:
        stats.update(seq, timestamp, arrival)
    before = stats.jitter
    stats.update(30000, 77, 0.3)  # a restart: new sequence and timestamp origins
    stats.update(30001, 77 + FRAME, 0.35)  # re-sync; seeds the jitter, no jump of ~2^31
    assert stats.base_seq == 30001
    assert stats.jitter == before
    stats.update(30002, 77 + 2 * FRAME, 0.40)  # D = 0
    assert stats.jitter == pytest.approx(before * 15 / 16, abs=1e-9)


def test_jitter_uses_the_clock_rate():
    stats = ReceptionStatistics(clock_rate=8000)
    for seq, (timestamp, arrival) in enumerate([(0, 0.0), (160, 0.020), (320, 0.050)]):
        stats.update(seq, timestamp, arrival)
    # Packet 1 seeds; packet 2: D = 0.030*8000 - 160 = 80; J = 5.
    assert stats.jitter == pytest.approx(5.0, abs=1e-9)
    assert stats.jitter_ms == pytest.approx(5.0 / 8, abs=1e-9)


# RFC 3550 section 6.4.1, Figure 2: SR at 0xb44db705:20000000 -> LSR 0xb705:2000; the RR leaves
# 5.25 s later -> DLSR 0x0005:4000 (the RTT it gives is tested in test_rtcp_session.py).
def test_lsr_and_dlsr_from_rfc_figure_2():
    stats = ReceptionStatistics()
    feed(stats, [0, 1])
    stats.on_sender_report(0xB44DB705_20000000, arrival=100.0)
    report = stats.report(now=105.25)
    assert report.lsr == 0xB7052000
    assert report.dlsr == 0x00054000


def test_no_sender_report_means_no_lsr_no_dlsr():
    stats = ReceptionStatistics()
    feed(stats, [0, 1])
    report = stats.report(now=50.0)
    assert (report.lsr, report.dlsr) == (0, 0)


def test_dlsr_is_in_units_of_1_65536_s():
    stats = ReceptionStatistics()
    stats.on_sender_report(0x00000001_00010000, arrival=10.0)
    assert stats.report(now=10.0).dlsr == 0
    assert stats.report(now=10.0 + 2.4 / 65536).dlsr == 2  # rounded
    assert stats.report(now=10.0 + 2.6 / 65536).dlsr == 3
    assert stats.report(now=11.5).dlsr == 0x00018000
    assert stats.report(now=9.0).dlsr == 0  # never negative
    stats.on_sender_report(0xFFFFFFFF_FFFFFFFF, arrival=20.0)  # a later SR replaces the first
    report = stats.report(now=21.0)
    assert (report.lsr, report.dlsr) == (0xFFFFFFFF, 65536)


def test_clock_rate_must_be_positive():
    with pytest.raises(ValueError, match="clock_rate must be positive, got 0"):
        ReceptionStatistics(clock_rate=0)


def test_repr():
    stats = ReceptionStatistics()
    for seq, timestamp, arrival, _ in JITTER_SERIES:
        stats.update(seq, timestamp, arrival)
    assert repr(stats) == (
        "ReceptionStatistics(valid=True, received=7, expected=7, cumulative_lost=0, "
        "extended_max=7, jitter=63.4 (0.705 ms))"
    )


def test_a_pause_in_the_stream_is_not_counted_as_jitter():
    stats = ReceptionStatistics()
    for n in range(10):  # 20 fps, exactly on time
        stats.update(n, n * 4500, n * 0.05)
    assert stats.jitter == pytest.approx(0, abs=1e-6)
    stats.resume()  # PAUSE for 5 s, then PLAY: timestamps go on, arrivals jumped
    for n in range(10, 20):
        stats.update(n, n * 4500, 5.0 + n * 0.05)
    assert stats.jitter == pytest.approx(0, abs=1e-6)
    paused = ReceptionStatistics()
    for n in [*range(10), *range(10, 20)]:
        paused.update(n, n * 4500, n * 0.05 + (5.0 if n >= 10 else 0.0))
    assert paused.jitter > 1000  # without resume() the 5 s pause shows up as jitter


# RTP-Info seq= (RFC 2326 §12.33) through expect_first: A.1 counts from the packet that ends
# probation; told the first number sent, the statistics count from there instead.
def test_expected_first_and_an_intact_start_show_no_loss():
    stats = ReceptionStatistics()
    stats.expect_first(1000)
    feed(stats, [1000, 1001])
    # base 1000 (not A.1's 1001); received 1000 and 1001.
    assert (stats.base_seq, stats.expected, stats.received, stats.cumulative_lost) == (
        1000, 2, 2, 0
    )  # fmt: skip
    assert stats.first_seq == 1000


def test_expected_first_then_three_lost_before_the_first_heard():
    stats = ReceptionStatistics()
    stats.expect_first(1000)
    feed(stats, [1003, 1004])
    # expected 1000..1004 = 5; received 1003, 1004 = 2.
    assert (stats.base_seq, stats.expected, stats.received, stats.cumulative_lost) == (
        1000, 5, 2, 3
    )  # fmt: skip


def test_expected_first_across_the_16_bit_wrap():
    stats = ReceptionStatistics()
    stats.expect_first(65530)
    feed(stats, [3, 4])
    # 65530..65535 and 0..2 lost (9); the base is before the wrap, so one cycle is counted:
    # extended max 65536 + 4 = 65540, expected 65540 - 65530 + 1 = 11, received 2.
    assert (stats.base_seq, stats.cycles, stats.extended_max) == (65530, 1, 65540)
    assert (stats.expected, stats.received, stats.cumulative_lost) == (11, 2, 9)
    assert stats.report(now=1.0).highest_seq == 0x0001_0004


def test_expected_first_after_the_first_packets():
    stats = ReceptionStatistics()
    feed(stats, [3, 4, 5])
    assert (stats.base_seq, stats.cumulative_lost) == (4, 0)
    stats.expect_first(65530)
    # expected 65530..65535, 0..5 = 12; received 3, 4, 5 = 3.
    assert (stats.base_seq, stats.cycles, stats.extended_max) == (65530, 1, 65541)
    assert (stats.expected, stats.received, stats.cumulative_lost) == (12, 3, 9)


def test_expected_first_after_the_wrap_was_already_counted():
    stats = ReceptionStatistics()
    feed(stats, [65534, 65535, 0, 1])  # base 65535, one cycle
    stats.expect_first(65532)
    # base 65532 is in the same cycle as 65535: expected 65532..65537 = 6, received 4.
    assert (stats.base_seq, stats.cycles, stats.expected, stats.received) == (65532, 1, 6, 4)


def test_expected_first_counts_probation_packets_heard_before_the_valid_run():
    stats = ReceptionStatistics()
    stats.expect_first(500)
    assert feed(stats, [501, 503, 504]) == [False, False, True]  # 503 restarts probation
    # expected 500..504 = 5; received 501, 503, 504 = 3; lost 500 and 502.
    assert (stats.expected, stats.received, stats.cumulative_lost) == (5, 3, 2)


@pytest.mark.parametrize(
    "expected_first, applied",
    [
        pytest.param(1000, True, id="the-first-heard"),
        pytest.param(1000 - MAX_DROPOUT, True, id="max-dropout-behind"),
        pytest.param(1000 - MAX_DROPOUT - 1, False, id="too-far-behind"),
        pytest.param(1001, False, id="ahead"),
        pytest.param(1000 + SEQ_MOD // 2, False, id="half-the-space-away"),
    ],
)
def test_an_implausible_expected_first_is_ignored(expected_first, applied):
    stats = ReceptionStatistics()
    stats.expect_first(expected_first % SEQ_MOD)
    feed(stats, [1000, 1001])
    lost = 1000 - expected_first if applied else 0
    assert stats.cumulative_lost == lost
    assert stats.base_seq == (expected_first % SEQ_MOD if applied else 1001)
    assert stats.received == (2 if applied else 1)


def test_expected_first_is_ignored_after_a_resync():
    stats = ReceptionStatistics()
    feed(stats, [1000, 1001, 1002, 30000, 30001])  # re-synced at 30001
    stats.expect_first(998)  # plausible for the first run, meaningless since the restart
    assert (stats.base_seq, stats.received, stats.cumulative_lost) == (30001, 1, 0)
    assert stats.first_seq is None


def test_expected_first_applies_once():
    stats = ReceptionStatistics()
    stats.expect_first(98)
    feed(stats, [100, 101])
    stats.expect_first(90)  # a later PLAY's RTP-Info: the stream's start is settled
    assert (stats.base_seq, stats.cumulative_lost, stats.first_seq) == (98, 2, 98)


@pytest.mark.parametrize("seq", [-1, SEQ_MOD])
def test_expected_first_must_be_16_bits(seq):
    with pytest.raises(
        ValueError, match=f"expected first sequence number must be 0..65535, got {seq}"
    ):
        ReceptionStatistics().expect_first(seq)


def test_restart_forgets_the_old_source():
    stats = ReceptionStatistics()
    for seq, timestamp, arrival, _ in JITTER_SERIES:
        stats.update(seq, timestamp, arrival)
    stats.on_sender_report(0xB44DB705_20000000, arrival=100.0)
    stats.restart()
    assert not stats.valid and stats.clock_rate == 90000
    assert (stats.received, stats.expected, stats.jitter, stats.first_seq) == (0, 0, 0.0, None)
    assert stats.report(now=101.0) == ReceptionReport(0, 0, 0, 0.0, 0, 0)
    assert feed(stats, [40000, 40001]) == [False, True]  # a new source, on probation again
    assert (stats.base_seq, stats.received) == (40001, 1)
    pending = ReceptionStatistics()
    pending.expect_first(39990)  # meant for the old source
    pending.restart()
    feed(pending, [40000, 40001])
    assert (pending.cumulative_lost, pending.first_seq) == (0, None)
