"""The receiver's list of missing packets (rtsplab.rtp.nack) as pure logic with time passed
in: a gap asked for at once, again each round trip, given up at its deadline; reordering,
repairs and restarts; bounded."""

from rtsplab.rtp.nack import MIN_REPEAT, NackList


def fed(*seqs, now=0.0, deadline=1.0):
    nacks = NackList()
    for seq in seqs:
        nacks.arrived(seq, now, deadline)
    return nacks


def test_a_gap_is_asked_for_at_once_then_each_round_trip_until_its_deadline():
    nacks = fed(10, 11, 14, deadline=0.3)
    assert nacks.due(0.0, round_trip=0.1) == [12, 13]
    assert nacks.due(0.05, round_trip=0.1) == []
    assert nacks.next_due() == 0.1
    assert nacks.due(0.1, round_trip=0.1) == [12, 13]
    assert nacks.due(0.2, round_trip=0.1) == [12, 13]
    assert nacks.due(0.3, round_trip=0.1) == []  # the frame has played: too late to ask
    assert len(nacks) == 0 and nacks.next_due() is None
    assert (nacks.counts.missing, nacks.counts.asked, nacks.counts.given_up) == (2, 6, 2)


def test_a_repair_stops_the_asking_and_counts_as_recovered():
    nacks = fed(1, 5)
    assert nacks.due(0.0) == [2, 3, 4]
    nacks.arrived(3, 0.02, 1.0)
    assert nacks.due(1.0 - 0.001, round_trip=0.0) == [2, 4]
    assert nacks.counts.recovered == 1


def test_a_packet_merely_reordered_is_never_asked_for_nor_counted_recovered():
    nacks = fed(1, 3, 2)
    assert nacks.due(0.0) == [] and nacks.counts.recovered == 0
    assert nacks.counts.missing == 1


def test_the_round_trip_has_a_floor_and_a_default():
    nacks = fed(1, 3)
    nacks.due(0.0, round_trip=0.0)
    assert nacks.next_due() == MIN_REPEAT
    nacks = fed(1, 3)
    nacks.due(0.0)
    assert 0.0 < nacks.next_due() < 1.0


def test_a_jump_past_max_dropout_is_a_restart_not_a_loss():
    nacks = fed(1, 4, 10_000)
    assert nacks.due(0.0) == []
    assert nacks.counts.given_up == 2
    nacks.arrived(10_002, 0.0, 1.0)
    assert nacks.due(0.0) == [10_001]


def test_the_list_is_bounded_and_gives_up_the_oldest():
    nacks = NackList(max_missing=100)
    nacks.arrived(0, 0.0, 1.0)
    nacks.arrived(1000, 0.0, 1.0)
    assert len(nacks) == 100
    assert nacks.due(0.0) == list(range(900, 1000))
    assert nacks.counts.given_up == 899


def test_no_more_is_taken_for_asked_than_one_nack_carries():
    # Lost: 2..18 (one word: PID 2 and the 16 after it), 40 (a second word), 80 (a third).
    nacks = fed(1, *range(19, 40), *range(41, 80), 81)
    assert nacks.due(0.0, round_trip=0.1, max_words=2) == [*range(2, 19), 40]
    assert nacks.counts.asked == 18
    # 80 was left out of that NACK: it is still due at once, not a round trip later.
    assert nacks.due(0.01, round_trip=0.1, max_words=2) == [80]
    nacks.arrived(80, 0.02, 1.0)
    assert nacks.counts.recovered == 1


def test_a_missing_packet_is_awaited_until_its_deadline():
    nacks = fed(10, 13, deadline=0.3)  # 11 and 12 missing, each until 0.3 s
    assert nacks.awaiting(0.29)
    nacks.arrived(11, 0.1, 1.0)
    assert nacks.awaiting(0.29)  # 12 still may come
    assert not nacks.awaiting(0.3)  # past its deadline: nothing more to wait for
    nacks.arrived(12, 0.2, 1.0)
    assert not nacks.awaiting(0.0)
