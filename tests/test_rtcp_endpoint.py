"""The RTCP engine (`RtcpEndpoint`) as pure logic, time passed in: both roles' anchors,
collisions with bounded draws from an injectable source, a collision claimed again from one
host, and a receiver following its media source's new SSRC by CNAME (RFC 3550 §6.5.1, §8.2)."""

import random

from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.compound import decode_compound, encode_compound
from rtsplab.rtcp.endpoint import EXPIRE_SPACING, SSRC_DRAWS
from rtsplab.rtcp.group import RtcpGroup
from rtsplab.rtcp.reports import ReceiverReport, ReportBlock, SenderReport
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtcp.session import ReceiverRtcp, SenderRtcp
from rtsplab.rtp.reception import ReceptionStatistics
from rtsplab.rtp.sender import RtpSender

SERVER, CLIENT, NEW = 0x5EED0001, 0xC11E0002, 0x0E0E0E0E
WALL = 1_800_000_000.0
CLIENT_RTCP = ("192.0.2.2", 5001)
SERVER_IP = "192.0.2.1"
SERVER_RTCP = (SERVER_IP, 6001)


def server(**kw):
    sender = RtpSender(20, 1400, ssrc=SERVER)
    return sender, SenderRtcp(sender, "server@h", 250_000, 0.0, rng=random.Random(1), **kw)


def rr(ssrc, *blocks, cname="client@h"):
    return encode_compound(
        [ReceiverReport(ssrc, list(blocks)), SourceDescription.cname(ssrc, cname)]
    )


def test_a_forged_rr_from_another_port_is_ignored_and_counted():
    _, engine = server(peer_rtcp=CLIENT_RTCP)
    engine.receive(rr(CLIENT, ReportBlock(SERVER, fraction_lost=64)), 1.0, WALL, CLIENT_RTCP)
    honest = engine.peer
    forged = rr(CLIENT, ReportBlock(SERVER, fraction_lost=250, jitter=10**9))
    assert engine.receive(forged, 2.0, WALL, ("192.0.2.2", 5999)) == []
    assert engine.peer is honest and engine.forged == 1 and engine.peer_heard == 1.0


def test_a_collision_resolves_once_with_bounded_draws_and_a_compound_for_the_new_ssrc():
    draws = iter([CLIENT, NEW])  # the first is in use: drawn again
    sender, engine = server(new_ssrc=lambda: next(draws))
    engine.receive(rr(CLIENT), 1.0, WALL, CLIENT_RTCP)
    (out,) = engine.receive(rr(SERVER, cname="thief@h"), 2.0, WALL, ("192.0.2.9", 5001))
    head, sdes, bye = decode_compound(out)
    assert isinstance(head, SenderReport) and head.ssrc == NEW == engine.ssrc
    # Our RTP keeps the old SSRC until the compound has gone: the driver says when it has
    # sent it, and the next call moves the sender for a driver that does not say.
    assert sender.ssrc == SERVER
    engine.take_new_ssrc()
    assert sender.ssrc == NEW
    # Our CNAME for the new SSRC and for the old one: the two are one source (§6.5.1).
    assert sdes.cnames() == {NEW: "server@h", SERVER: "server@h"} and bye.sources == [SERVER]
    # The same host claiming it again, from any port, under the new SSRC: ignored (§8.2).
    for port in (5001, 5002):
        assert engine.receive(rr(NEW, cname="thief@h"), 3.0, WALL, ("192.0.2.9", port)) == []
    assert engine.ssrc == NEW and engine.group.collisions == 1


def test_without_the_driver_saying_so_the_next_call_moves_the_sender():
    sender, engine = server(new_ssrc=lambda: NEW)
    engine.receive(rr(CLIENT), 1.0, WALL, CLIENT_RTCP)
    engine.receive(rr(SERVER, cname="thief@h"), 2.0, WALL, ("192.0.2.9", 5001))
    assert sender.ssrc == SERVER
    engine.tick(2.5, WALL)
    assert sender.ssrc == NEW == engine.ssrc


def test_no_free_ssrc_in_the_bounded_draws_keeps_the_old_one():
    calls = []
    _, engine = server(new_ssrc=lambda: calls.append(1) or CLIENT)
    engine.receive(rr(CLIENT), 1.0, WALL, CLIENT_RTCP)
    assert engine.receive(rr(SERVER, cname="x@h"), 2.0, WALL, ("192.0.2.9", 5001)) == []
    assert len(calls) == SSRC_DRAWS and engine.ssrc == SERVER


def group_receiver():
    reception = ReceptionStatistics()
    group = RtcpGroup(CLIENT, 100.0, 0.0, cname="client@h")
    engine = ReceiverRtcp(reception, "client@h", 250_000, 0.0, group=group,
                          media_address=SERVER_IP)  # fmt: skip
    engine.media_ssrc = SERVER
    assert engine.ssrc == CLIENT  # the group's
    return engine


def sr(ssrc, *extra):
    return encode_compound([SenderReport(ssrc, 0, 0, 0, 0),
                            SourceDescription.cname(ssrc, "server@h"), *extra])  # fmt: skip


def test_the_receiver_follows_the_media_source_by_its_cname_without_ending():
    engine = group_receiver()
    engine.receive(sr(SERVER), 1.0, WALL, SERVER_RTCP)
    assert engine.media_cname == "server@h"
    engine.receive(sr(NEW, Bye([SERVER], "SSRC collision")), 2.0, WALL, SERVER_RTCP)
    assert engine.media_ssrc == NEW and engine.source_changes == [(SERVER, NEW)]
    assert not engine.peer_left
    # Later, a BYE for the new SSRC alone is the end.
    engine.receive(sr(NEW, Bye([NEW])), 3.0, WALL, SERVER_RTCP)
    assert engine.peer_left


def test_no_one_else_can_move_the_media_source():
    engine = group_receiver()
    engine.receive(sr(SERVER), 1.0, WALL, SERVER_RTCP)
    # The server's CNAME and a BYE for it from another port of its host, or another host.
    for source in ((SERVER_IP, 6002), ("192.0.2.9", 6001)):
        engine.receive(sr(NEW, Bye([SERVER])), 2.0, WALL, source)
    assert engine.media_ssrc == SERVER and not engine.peer_left
    assert engine.source_changes == [] and engine.foreign == 2  # each BYE spoke for SERVER


def test_a_receiver_that_has_not_heard_the_source_yet_follows_its_change_compound():
    """The collision compound can be the first RTCP a member hears from the server: its SDES
    gives both SSRCs the one CNAME, and the media source's port is learnt from it."""
    _, engine = server(new_ssrc=lambda: NEW)
    (change,) = engine.receive(rr(SERVER, cname="thief@h"), 1.0, WALL, ("192.0.2.9", 5001))
    receiver = group_receiver()
    receiver.receive(change, 2.0, WALL, SERVER_RTCP)
    assert receiver.media_ssrc == NEW and receiver.source_changes == [(SERVER, NEW)]
    assert receiver.media_cname == "server@h" and not receiver.peer_left
    # The port is anchored: the same from another port of the server's host is foreign.
    receiver.receive(sr(NEW, Bye([NEW])), 3.0, WALL, (SERVER_IP, 6002))
    assert not receiver.peer_left and receiver.foreign == 1


def test_an_rr_in_the_media_sources_name_from_its_host_does_not_anchor_its_port():
    """Only the source's SR anchors its RTCP port: another process on the server's host,
    claiming its SSRC in an RR before the server's first SR, takes nothing over."""
    receiver = group_receiver()
    receiver.receive(rr(SERVER, cname="thief@h"), 1.0, WALL, (SERVER_IP, 6002))
    assert receiver.foreign == 1 and receiver.media_cname is None
    receiver.receive(sr(SERVER), 2.0, WALL, SERVER_RTCP)
    receiver.receive(sr(NEW, Bye([SERVER], "SSRC collision")), 3.0, WALL, SERVER_RTCP)
    assert receiver.media_ssrc == NEW and receiver.source_changes == [(SERVER, NEW)]


class CountingGroup(RtcpGroup):
    """A member table that counts its scans for timeouts."""

    scans = 0

    def expire(self, now):
        self.scans += 1
        return super().expire(now)


def test_ticks_between_reports_scan_the_member_table_at_most_once_a_second():
    """The client ticks on every wake-up of its receiving thread: thousands a second."""
    group = CountingGroup(CLIENT, 100.0, 0.0, cname="client@h", rng=random.Random(1))
    engine = ReceiverRtcp(ReceptionStatistics(), "client@h", 250_000, 0.0, group=group,
                          media_address=SERVER_IP)  # fmt: skip
    engine.receive(rr(0xAAAA0001, cname="member@h"), 0.0, WALL, ("192.0.2.7", 5001))
    assert group.tn > 0.9  # the first report: half the 5 s minimum, drawn from 0.5 to 1.5
    for step in range(900):
        assert engine.tick(step / 1000, WALL) == []
    assert group.scans == 1
    engine.tick(1.0, WALL)
    assert group.scans == 2
    # A silent member still goes within a second of its timeout (§6.3.5: M * Td).
    timeout = group.member_timeout()
    now = 1.0
    while group.member(0xAAAA0001) is not None and not group.member(0xAAAA0001).bye:
        now += 0.01
        engine.tick(now, WALL)
    assert timeout <= now <= timeout + EXPIRE_SPACING + 0.01, (timeout, now)
