"""rtcp.group: one member's RTCP in a multicast group (RFC 3550 §6.2, §6.3, §8.2, A.7).

The group is fed real compound packets, encoded and decoded by the project's codecs, and the
intervals are checked against the A.7 arithmetic written out by hand.
"""

import random

import pytest

from helpers import FixedRandom, SequenceRandom
from rtsplab.rtcp.app import App
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.compound import decode_compound, encode_compound
from rtsplab.rtcp.group import (
    BYE_HOLD_SECONDS,
    MAX_CONFLICTS,
    MAX_MEMBERS,
    Collision,
    Member,
    RtcpGroup,
)
from rtsplab.rtcp.members import NEW_MEMBERS_PER_ADDRESS
from rtsplab.rtcp.reports import ReceiverReport, ReportBlock, SenderReport
from rtsplab.rtcp.sdes import SdesChunk, SourceDescription
from rtsplab.rtcp.timing import INITIAL_AVG_RTCP_SIZE
from rtsplab.rtcp.xr import ExtendedReport

E_MINUS_3_2 = 1.21828  # A.7's compensation, e - 3/2


OUR_SSRC = 0x0A0A0A0A
NEW_SSRC = 0x0B0B0B0B
OUR_CNAME = "me@lab.example"
OWN_ADDRESS = ("192.0.2.1", 5005)  # where the host loops our own RTCP back from
STRANGER = ("198.51.100.7", 5005)

# Every member's compound is RR (8 octets: header, SSRC) + SDES (40 octets: header 4, SSRC 4,
# CNAME item 2 + 27, the null that ends the chunk, 2 of padding) = 48 octets; with UDP/IP,
# 48 + 28 = 76. A group whose average starts at 76 keeps it there exactly.
COMPOUND_SIZE = 48
AVG = 76.0
# With that average, receivers get 75% of 76/3 = 19 octets/s: C = 76 / 19 = 4 s per member.
RTCP_BW = 76 / 3


def ssrc_of(i):
    return 0x10000000 + i


def cname_of(i):
    return f"member{i:03d}@group.example.org"  # 27 characters for i < 1000


def rtcp_address(i):
    return (f"10.0.{i // 256}.{i % 256}", 5005)


def rtp_address(i):
    return (f"10.0.{i // 256}.{i % 256}", 5004)


def compound(ssrc, cname, *blocks, sr=False, bye=False):
    if sr:
        head = SenderReport(ssrc, 0, 0, 0, 0, list(blocks))
    else:
        head = ReceiverReport(ssrc, list(blocks))
    packets = [head, SourceDescription.cname(ssrc, cname)]
    if bye:
        packets.append(Bye([ssrc]))
    return encode_compound(packets)


def receive(group, datagram, address, now):
    return group.on_rtcp(decode_compound(datagram), len(datagram), address, now)


def join(group, i, now):
    """Member i's first report: RR + SDES CNAME from its own address."""
    return receive(group, compound(ssrc_of(i), cname_of(i)), rtcp_address(i), now)


def make_group(rtcp_bw=RTCP_BW, now=0.0, rng=None, **kw):
    kw.setdefault("avg_rtcp_size", AVG)
    return RtcpGroup(OUR_SSRC, rtcp_bw, now, cname=OUR_CNAME, rng=rng or FixedRandom(0.5), **kw)


def test_the_member_compound_is_the_size_the_arithmetic_assumes():
    assert len(compound(ssrc_of(7), cname_of(7))) == COMPOUND_SIZE
    assert COMPOUND_SIZE + 28 == AVG


def test_joining_starts_as_section_6_3_2_says():
    group = make_group(1e6, now=100.0, avg_rtcp_size=INITIAL_AVG_RTCP_SIZE)
    assert (group.members, group.pmembers, group.senders) == (1, 1, 0)
    assert not group.we_sent and group.initial and group.tp == 100.0
    assert group.avg_rtcp_size == INITIAL_AVG_RTCP_SIZE
    # Alone, with 1e6 octets/s, n * C is tiny: the initial minimum 5 / 2 applies.
    assert group.tn == pytest.approx(100.0 + 2.5 / E_MINUS_3_2)
    assert group.members_list() == [Member(OUR_SSRC, OUR_CNAME, last_heard=100.0)]
    assert group.member_count == 1 and group.sender_count == 0


@pytest.mark.parametrize("members", [2, 10, 50])
def test_the_interval_grows_with_the_group_as_a7_computes_it(members):
    group = make_group()
    for i in range(members - 1):
        assert join(group, i, now=1.0) is None
    assert group.members == group.member_count == members
    assert group.avg_rtcp_size == AVG  # 1/16 * 76 + 15/16 * 76, every time
    # No senders (0 <= 25% of members): receivers share 75% of the bandwidth, n = members.
    # C = 76 / (0.75 * 76 / 3) = 4 s; Td = max(2.5, 4 * members) = 8, 40 and 200 s.
    td = 4.0 * members
    assert group.deterministic_interval() == pytest.approx(td)
    assert group.mean_interval() == pytest.approx(td / E_MINUS_3_2)  # 6.567, 32.834, 164.2 s
    group.rng = FixedRandom(0.0)
    assert group.interval() == pytest.approx(0.5 * td / E_MINUS_3_2)
    group.rng = FixedRandom(1.0)
    assert group.interval() == pytest.approx(1.5 * td / E_MINUS_3_2)


def test_only_packet_senders_and_sdes_sources_are_members_not_report_blocks():
    group = make_group()
    about = [ReportBlock(0xDEAD0001), ReportBlock(0xDEAD0002), ReportBlock(OUR_SSRC)]
    receive(group, compound(ssrc_of(1), cname_of(1), *about), rtcp_address(1), 1.0)
    assert [m.ssrc for m in group.members_list()] == [OUR_SSRC, ssrc_of(1)]
    # XR and APP speak for their sender too.
    xr = encode_compound([ReceiverReport(ssrc_of(2)), ExtendedReport(ssrc_of(3))])
    receive(group, xr, rtcp_address(2), 2.0)
    app = encode_compound([ReceiverReport(ssrc_of(4)), App(1, ssrc_of(5), b"TEST")])
    receive(group, app, rtcp_address(4), 2.0)
    assert group.members == group.member_count == 6
    assert group.member(0xDEAD0001) is None


def test_senders_at_most_a_quarter_get_a_quarter_of_the_bandwidth():
    group = make_group()
    for i in range(9):
        join(group, i, now=1.0)
    group.on_rtp(ssrc_of(0), rtp_address(0), 1.0)
    group.on_rtp_sent(1.0)
    assert group.senders == group.sender_count == 2 and group.we_sent
    # 2 senders of 10 (<= 2.5). We send: C = 76 / (0.25 * 76 / 3) = 12 s, n = 2: Td = 24 s.
    assert group.deterministic_interval() == pytest.approx(24.0)
    # A receiver of the same group: C = 4 s, n = 10 - 2 = 8: Td = 32 s (the timeout's Td).
    assert group.member_timeout() == pytest.approx(5 * 32.0)
    # A third sender: 3 > 2.5, everyone shares it all: C = 76 / (76 / 3) = 3 s, n = 10.
    group.on_rtp(ssrc_of(1), rtp_address(1), 2.0)
    assert group.senders == 3
    assert group.deterministic_interval() == pytest.approx(30.0)
    assert group.member_timeout() == pytest.approx(5 * 30.0)


def test_sdes_gives_the_cname_and_an_sr_makes_a_sender_until_2t_without_rtp_or_sr():
    group = make_group(1e6)
    group.on_sent(48, 0.0)  # past the first report: Tmin = 5 s, so Td = 5 s and 2T = 10 s
    x = ssrc_of(1)
    receive(group, compound(x, cname_of(1), sr=True), rtcp_address(1), 10.0)
    member = group.member(x)
    assert member.cname == cname_of(1) and member.is_sender and member.last_sr == 10.0
    assert group.senders == 1 and group.members == 2
    assert group.sender_timeout() == pytest.approx(10.0)
    assert group.expire(20.0) == [] and group.member(x).is_sender  # 10 is not before 20 - 10
    assert group.expire(20.5) == [] and not group.member(x).is_sender
    assert group.senders == group.sender_count == 0 and group.members == 2  # still a member
    # RTP makes it a sender again, until 2T without any.
    group.on_rtp(x, rtp_address(1), 21.0)
    assert group.member(x).is_sender and group.member(x).rtp_address == rtp_address(1)
    group.expire(31.5)
    assert not group.member(x).is_sender and group.senders == 0


def test_we_are_a_sender_while_we_send_rtp_and_only_then_use_the_reduced_minimum():
    # 1 Mbit/s: rtcp_bw = 6250 octets/s, the reduced minimum 360 / 1000 kbit/s = 0.36 s.
    group = make_group(6250.0, reduced_minimum=True)
    group.on_sent(48, 0.0)
    assert group.deterministic_interval() == pytest.approx(5.0)  # a receiver: 5 s (§6.2)
    group.on_rtp_sent(1.0)
    assert group.we_sent and group.senders == 1 and group.member(OUR_SSRC).is_sender
    assert group.deterministic_interval() == pytest.approx(0.36)
    assert group.member_timeout() == pytest.approx(25.0)  # always the fixed 5 s minimum
    group.expire(1.72)  # 2T = 0.72 s: 1.0 is not before 1.72 - 0.72
    assert group.we_sent
    group.expire(1.73)
    assert not group.we_sent and group.senders == 0 and not group.member(OUR_SSRC).is_sender
    assert group.deterministic_interval() == pytest.approx(5.0)


def test_a_member_silent_for_five_td_times_out_and_we_never_do():
    group = make_group(1e6)
    group.on_sent(48, 0.0)
    join(group, 1, now=0.0)
    join(group, 2, now=20.0)
    group.on_rtp(ssrc_of(2), rtp_address(2), 20.0)
    # Td for a receiver: n * C is tiny, so the 5 s minimum; M * Td = 5 * 5 = 25 s.
    assert group.member_timeout() == pytest.approx(25.0)
    assert group.expire(25.0) == []  # heard at 0, which is not before 25 - 25
    assert group.expire(25.5) == [ssrc_of(1)]
    # pmembers was 1 when the timer was last set: 2 members is no shrinking below it.
    assert group.members == group.member_count == 2 and group.pmembers == 1
    assert group.expire(1000.0) == [ssrc_of(2)]
    assert (group.members, group.senders) == (1, 0)
    assert group.members_list()[0].ssrc == OUR_SSRC


def test_a_timeout_reconsiders_in_reverse():
    group = make_group()
    for i in range(3):
        join(group, i, now=0.0)
    group.on_sent(COMPOUND_SIZE, 100.0)  # 4 members: Td = 16 s, T = 16 / 1.21828 = 13.13 s
    assert (group.tp, group.pmembers) == (100.0, 4)
    assert group.tn == pytest.approx(100.0 + 16 / E_MINUS_3_2)
    join(group, 0, now=90.0)  # member 0 keeps talking, 1 and 2 do not
    # Receiver Td = 16 s, M * Td = 80 s: at 85, members heard at 0 are gone.
    assert group.expire(85.0) == [ssrc_of(1), ssrc_of(2)]
    # members 2 of pmembers 4: tn = 85 + 2/4 * (113.13 - 85), tp = 85 - 2/4 * (85 - 100).
    assert group.tn == pytest.approx(85.0 + 0.5 * (100.0 + 16 / E_MINUS_3_2 - 85.0))
    assert group.tp == pytest.approx(92.5)
    assert group.pmembers == 2


def test_bye_removes_the_member_and_reconsiders_in_reverse():
    group = make_group()
    for i in range(3):
        join(group, i, now=0.0)
    group.on_sent(COMPOUND_SIZE, 100.0)
    t = 16 / E_MINUS_3_2  # 4 members, receivers: Td = 4 * 4 s; T = 13.133 s
    assert group.tn == pytest.approx(100.0 + t)  # 113.133
    receive(group, compound(ssrc_of(0), cname_of(0), bye=True), rtcp_address(0), 110.0)
    assert group.members == group.member_count == 3 and group.pmembers == 3
    # §6.3.4 with members / pmembers = 3/4 and tc = 110:
    # tn = 110 + 3/4 * (113.133 - 110) = 112.350; tp = 110 - 3/4 * (110 - 100) = 102.5.
    assert group.tn == pytest.approx(110.0 + 0.75 * (100.0 + t - 110.0))
    assert group.tn == pytest.approx(112.350, abs=1e-3)
    assert group.tp == pytest.approx(102.5)
    assert [m.ssrc for m in group.members_list()] == [OUR_SSRC, ssrc_of(1), ssrc_of(2)]
    assert group.member(ssrc_of(0)).bye
    # A straggler after the BYE does not bring it back (§6.2.1)...
    group.on_rtp(ssrc_of(0), rtp_address(0), 110.5)
    join(group, 0, now=110.5)
    assert group.members == 3 and group.member(ssrc_of(0)).bye
    # ...and a BYE from another address than the member's is not believed (§8.2).
    bye = encode_compound([ReceiverReport(ssrc_of(1)), Bye([ssrc_of(1)])])
    receive(group, bye, STRANGER, 111.0)
    assert group.members == 3 and group.third_party_loops == 2  # the RR and the BYE
    # The entry goes BYE_HOLD_SECONDS after its BYE; then the SSRC may join again.
    for i in (1, 2):
        join(group, i, now=111.0)  # (heard at 0, they would time out at 0 + 5 * 16)
    group.expire(110.0 + BYE_HOLD_SECONDS - 0.01)
    assert group.member(ssrc_of(0)) is not None
    group.expire(110.0 + BYE_HOLD_SECONDS)
    assert group.member(ssrc_of(0)) is None
    join(group, 0, now=113.0)
    assert group.members == 4 and not group.member(ssrc_of(0)).bye


def test_a_bye_that_does_not_shrink_the_group_below_pmembers_moves_nothing():
    group = make_group()
    join(group, 0, now=0.0)
    group.on_sent(COMPOUND_SIZE, 10.0)  # pmembers = 2
    tn, tp = group.tn, group.tp
    join(group, 1, now=11.0)  # 3 members
    receive(group, compound(ssrc_of(1), cname_of(1), bye=True), rtcp_address(1), 12.0)
    assert group.members == 2 and (group.tn, group.tp, group.pmembers) == (tn, tp, 2)


def test_due_reconsiders_when_the_group_has_grown():
    group = make_group(rng=SequenceRandom(0.0, 0.5, 0.5))
    # Alone, a receiver: n = 1, C = 4 s, Td = max(2.5, 4) = 4 s; drawn at 0.0: T = 2 / c.
    assert group.tn == pytest.approx(2 / E_MINUS_3_2)  # 1.64 s
    assert not group.due(group.tn - 0.01)  # before tn: no draw
    for i in range(9):
        join(group, i, now=1.0)
    # At tn the redraw (0.5) for 10 members: T = 40 / c = 32.8 s from tp = 0, in the
    # future: not due, and the timer moves there (§6.3.6).
    assert not group.due(group.tn)
    assert group.tn == pytest.approx(40 / E_MINUS_3_2) and group.pmembers == 10
    assert group.due(group.tn)  # the same draw again: tp + T is now


def test_sending_updates_the_timer_and_the_average():
    group = make_group(1e6, avg_rtcp_size=100.0)
    join(group, 0, now=1.0)  # 1/16 * 76 + 15/16 * 100 = 4.75 + 93.75
    assert group.avg_rtcp_size == 98.5
    group.on_sent(132, 10.0)  # 1/16 * (132 + 28) + 15/16 * 98.5 = 10 + 92.34375
    assert group.avg_rtcp_size == 102.34375
    assert not group.initial and group.tp == 10.0 and group.pmembers == 2
    assert group.tn == pytest.approx(10.0 + 5 / E_MINUS_3_2)  # the full 5 s minimum now


def test_the_mean_report_spacing_is_the_deterministic_interval():
    # What to log as "the report interval": A.7 divides T by e - 3/2, and reconsideration
    # lengthens the intervals back, so reports come Td apart on average (here 10 members,
    # Td = 40 s), not Td / 1.21828 = 32.8 s.
    group = make_group(rng=random.Random(5))
    for i in range(9):
        join(group, i, now=0.0)
    sent = []
    while len(sent) < 2000:
        now = group.tn
        if group.due(now):
            sent.append(now)
            group.on_sent(COMPOUND_SIZE, now)  # 48 + 28 = 76: the average stays put
    gaps = [b - a for a, b in zip(sent[1:], sent[2:], strict=False)]
    assert group.deterministic_interval() == pytest.approx(40.0)
    assert sum(gaps) / len(gaps) == pytest.approx(40.0, rel=0.03)


def test_our_own_compound_looped_back_is_not_averaged_twice():
    group = make_group(1e6, avg_rtcp_size=100.0, own_addresses=[OWN_ADDRESS])
    receive(group, compound(OUR_SSRC, OUR_CNAME), OWN_ADDRESS, 1.0)
    assert group.avg_rtcp_size == 100.0 and group.members == 1 and group.collisions == 0


def test_a_collision_with_our_ssrc_is_reported_once_and_the_loop_list_stops_repeats():
    group = make_group(1e6, own_addresses=[OWN_ADDRESS])
    # Our own compound, looped back by the host, is no collision.
    assert receive(group, compound(OUR_SSRC, OUR_CNAME), OWN_ADDRESS, 1.0) is None
    collision = receive(group, compound(OUR_SSRC, "other@elsewhere"), STRANGER, 2.0)
    assert collision == Collision(OUR_SSRC, "rtcp", STRANGER, "other@elsewhere", 2.0)
    assert group.collisions == 1 and group.pending_collision == collision
    assert receive(group, compound(OUR_SSRC, "other@elsewhere"), STRANGER, 3.0) is None
    assert group.collisions == 1
    group.change_ssrc(NEW_SSRC, 4.0)
    assert group.ssrc == NEW_SSRC and group.pending_collision is None
    # The old SSRC is ours no more: §8.2 gives it to the source that collided.
    old = group.member(OUR_SSRC)
    assert old.cname == "other@elsewhere" and old.rtcp_address == STRANGER and not old.bye
    assert group.member(NEW_SSRC).cname == OUR_CNAME
    assert group.members == 2 and group.ssrc_changes == 1
    # Our packets looped back through the stranger's address now carry the new SSRC: the
    # address is on the conflicting list, so that is counted and ignored, not a new collision.
    assert receive(group, compound(NEW_SSRC, OUR_CNAME), STRANGER, 5.0) is None
    assert group.collisions == 1 and group.own_loops >= 1 and group.ssrc == NEW_SSRC
    assert group.conflicting_addresses == [("rtcp", STRANGER)]
    # The list forgets an address after 10 quiet intervals (10 * Td = 50 s).
    group.expire(55.0)
    assert group.conflicting_addresses == [("rtcp", STRANGER)]
    group.expire(55.5)
    assert group.conflicting_addresses == []


def test_rtp_with_our_ssrc_from_elsewhere_is_a_collision():
    group = make_group(1e6)
    group.on_rtp_sent(0.5)
    collision = group.on_rtp(OUR_SSRC, rtp_address(9), 1.0)
    assert collision == Collision(OUR_SSRC, "rtp", rtp_address(9), None, 1.0)
    assert group.on_rtp(OUR_SSRC, rtp_address(9), 1.1) is None
    group.change_ssrc(NEW_SSRC, 1.2)
    other = group.member(OUR_SSRC)
    assert other.is_sender and other.rtp_address == rtp_address(9)
    assert group.senders == 2 and group.members == 2  # the other source and we both send


def test_another_cname_from_our_own_address_is_a_collision():
    group = make_group(1e6, own_addresses=[OWN_ADDRESS])
    collision = receive(group, compound(OUR_SSRC, "twin@lab.example"), OWN_ADDRESS, 1.0)
    assert collision is not None and collision.cname == "twin@lab.example"


def test_a_change_of_ssrc_without_collision_retires_the_old_one():
    group = make_group(1e6)
    group.change_ssrc(NEW_SSRC, 1.0)
    assert [m.ssrc for m in group.members_list()] == [NEW_SSRC]
    assert group.member(OUR_SSRC).bye  # our own stragglers are not a newcomer
    assert receive(group, compound(OUR_SSRC, OUR_CNAME), OWN_ADDRESS, 1.5) is None
    assert group.members == 1
    with pytest.raises(ValueError, match="in use"):
        group.change_ssrc(OUR_SSRC, 2.0)


def test_the_conflicting_address_list_is_bounded():
    group = make_group(1e6)
    for i in range(MAX_CONFLICTS + 5):
        group.on_rtp(OUR_SSRC, rtp_address(i), 1.0 + i)
    assert len(group.conflicting_addresses) == MAX_CONFLICTS
    assert group.conflicting_addresses[0] == ("rtp", rtp_address(5))  # the oldest went
    assert group.collisions == 1  # only the first was reported; the caller had not acted


def test_third_party_collisions_and_loops_keep_the_established_source():
    group = make_group(1e6)
    join(group, 1, now=1.0)
    # The same SSRC from another address: a loop or a collision, counted and skipped.
    receive(group, compound(ssrc_of(1), cname_of(1)), STRANGER, 2.0)
    # Each element is looked up (§8.2): the RR's SSRC and the SDES chunk's.
    assert group.third_party_loops == 2 and group.member(ssrc_of(1)).last_heard == 1.0
    # From the member's address with another CNAME (past a translator): a collision.
    receive(group, compound(ssrc_of(1), "impostor@elsewhere"), rtcp_address(1), 3.0)
    assert group.third_party_collisions == 1 and group.member(ssrc_of(1)).cname == cname_of(1)
    assert group.members == 2


def test_csrcs_are_members_but_only_the_rtp_source_is_a_sender():
    group = make_group(1e6)
    group.on_rtp(ssrc_of(1), rtp_address(1), 1.0, csrcs=[ssrc_of(2), ssrc_of(3)])
    assert group.members == 4 and group.senders == 1
    assert [m.is_sender for m in group.members_list()] == [False, True, False, False]


def test_the_table_stops_at_max_members_and_counts_the_rest():
    group = make_group(1e6)
    group.new_members.per_window = MAX_MEMBERS  # one address may fill it (see the flood test)
    attacker = 0xBAD00000
    invented = MAX_MEMBERS + 100
    address = ("203.0.113.9", 5005)
    for start in range(1, invented + 1, 31):  # 31 chunks per SDES (the 5-bit count)
        chunks = [SdesChunk(s) for s in range(start, min(start + 31, invented + 1))]
        datagram = encode_compound([ReceiverReport(attacker), SourceDescription(chunks)])
        receive(group, datagram, address, 1.0)
    assert group.member_count == group.members == MAX_MEMBERS
    # Ourselves, the attacker and MAX_MEMBERS - 2 invented SSRCs fit; the rest are counted.
    assert group.ignored_members == invented - (MAX_MEMBERS - 2)
    assert group.member(invented) is None and group.member(MAX_MEMBERS - 2) is not None
    # A known member still refreshes; after a timeout there is room again.
    receive(group, encode_compound([ReceiverReport(attacker)]), address, 2.0)
    assert group.member(attacker).last_heard == 2.0
    assert len(group.expire(1000.0)) == MAX_MEMBERS - 1
    join(group, 1, now=1000.0)
    assert group.members == 2


def test_leaving_without_having_sent_sends_no_bye():
    group = make_group(1e6)
    assert group.leave(56, 1.0) is False
    assert group.left and not group.due(100.0)


def test_leaving_a_small_group_sends_the_bye_at_once():
    group = make_group(1e6)
    join(group, 0, now=1.0)
    group.on_sent(COMPOUND_SIZE, 2.0)
    assert group.leave(56, 3.0) is True
    assert group.due(3.0)
    group.on_sent(56, 3.0)
    assert group.left and not group.due(1000.0)
    with pytest.raises(RuntimeError):
        group.leave(56, 4.0)


def test_leaving_a_large_group_backs_the_bye_off():
    group = make_group()
    for i in range(50):
        join(group, i, now=1.0)
    group.on_sent(COMPOUND_SIZE, 2.0)
    assert group.members == 51  # more than 50: §6.3.7's back-off
    bye_size = COMPOUND_SIZE + 8  # RR + SDES + BYE with one SSRC: 56 octets, 84 with UDP/IP
    assert group.leave(bye_size, 10.0) is True
    assert (group.members, group.pmembers, group.senders, group.tp) == (1, 1, 0, 10.0)
    assert group.initial and not group.we_sent and group.avg_rtcp_size == 84.0
    # n = 1, C = 84 / (0.75 * 76 / 3) = 84 / 19 = 4.42 s > 2.5: T = 4.42 / c = 3.63 s.
    assert group.tn == pytest.approx(10.0 + 84 / 19 / E_MINUS_3_2)
    # Other reports count for nothing now; each BYE adds one to members.
    receive(group, compound(ssrc_of(0), cname_of(0)), rtcp_address(0), 11.0)
    assert group.members == 1 and group.avg_rtcp_size == 84.0
    for i in range(1, 4):
        receive(group, compound(ssrc_of(i), cname_of(i), bye=True), rtcp_address(i), 11.0)
    assert group.members == 4 and group.avg_rtcp_size == 84.0
    # At tn, 4 BYEs' worth: T = 4 * 84 / 19 / c = 14.5 s from tp = 10: not yet.
    assert not group.due(group.tn)
    assert group.tn == pytest.approx(10.0 + 4 * 84 / 19 / E_MINUS_3_2)
    assert group.due(group.tn)
    group.on_sent(bye_size, group.tn)
    assert group.left
    assert group.expire(10_000.0) == []  # nothing more to do


def test_members_list_is_a_copy():
    group = make_group(1e6)
    join(group, 1, now=1.0)
    group.members_list()[1].cname = "changed"
    assert group.member(ssrc_of(1)).cname == cname_of(1)


def test_bad_ssrcs_and_caps_are_refused():
    with pytest.raises(ValueError, match="SSRC"):
        RtcpGroup(1 << 32, 1e6, 0.0)
    with pytest.raises(ValueError, match="max_members"):
        RtcpGroup(1, 1e6, 0.0, max_members=0)
    with pytest.raises(ValueError, match="positive"):
        RtcpGroup(1, 0, 0.0)


def test_repr():
    group = make_group(1e6, now=1.0)
    assert repr(group) == (
        "RtcpGroup(ssrc=0x0a0a0a0a, members=1, pmembers=1, senders=0, we_sent=False, "
        "initial=True, avg_rtcp_size=76.0, tp=1.000, tn=3.052)"
    )


def test_a_flood_of_invented_ssrcs_from_one_address_adds_a_few_members_per_interval():
    group = make_group(1e6)
    address = ("203.0.113.9", 5005)
    invented = 20_000
    for start in range(1, invented + 1, 31):  # 31 chunks per SDES (the 5-bit count)
        chunks = [SdesChunk(s) for s in range(start, min(start + 31, invented + 1))]
        receive(group, encode_compound([ReceiverReport(start), SourceDescription(chunks)]),
                address, 1.0)  # fmt: skip
    assert group.members == 1 + NEW_MEMBERS_PER_ADDRESS
    assert group.ignored_members >= invented - NEW_MEMBERS_PER_ADDRESS  # RRs counted too
    # Another address is not held back by it, and the next interval lets a few more in.
    join(group, 1, now=1.0)
    assert group.members == 2 + NEW_MEMBERS_PER_ADDRESS
    td = group.receiver_td()
    receive(group, compound(0x7777, "late@h"), address, 1.0 + td)
    assert group.member(0x7777) is not None
