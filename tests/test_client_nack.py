"""The client's NACKs (rtsplab.client.rtcp.ClientRtcp under RTP/AVPF), without sockets: a gap
in the sequence numbers becomes an early generic NACK at once, asked again after a round trip,
given up past the horizon; nothing without feedback negotiated."""

import random

from rtsplab.client.rtcp import ClientRtcp
from rtsplab.rtcp.compound import decode_compound
from rtsplab.rtcp.feedback import GenericNack
from rtsplab.rtcp.session import ReceiverRtcp
from rtsplab.rtp.reception import ReceptionStatistics

SERVER_SSRC = 0x5EED0001


class Clock:
    def __init__(self):
        self.now = 10.0

    def __call__(self):
        return self.now


def client(feedback=True):
    clock, sent = Clock(), []
    engine = ReceiverRtcp(ReceptionStatistics(), "client@test", 1_250_000, clock.now,
                          ssrc=0xC11E0002, rng=random.Random(1),
                          regular_spacing=1.0 if feedback else None)  # fmt: skip
    engine.media_ssrc = SERVER_SSRC
    rtcp = ClientRtcp(engine, sent.append, clock=clock, wall_clock=lambda: 1.8e9 + clock.now)
    rtcp.ask_for_repairs(horizon=0.5)
    return rtcp, clock, sent


def nacked(sent):
    return [p.lost() for d in sent for p in decode_compound(d) if isinstance(p, GenericNack)]


def test_a_gap_is_nacked_at_once_and_again_after_a_round_trip_then_given_up():
    rtcp, clock, sent = client()
    for seq in (65534, 65535, 65538):  # extended numbers: 65536 and 65537 lost
        rtcp.heard_seq(seq)
    rtcp.feedback_if_due()
    assert nacked(sent) == [[0, 1]]  # the 16-bit numbers on the wire
    rtcp.feedback_if_due()
    assert len(nacked(sent)) == 1  # not again before the round trip (50 ms unmeasured)
    clock.now += 0.06
    rtcp.report_if_due()  # the timer fires: an early packet may go again
    rtcp.feedback_if_due()
    assert nacked(sent)[-1] == [0, 1]
    rtcp.heard_seq(65536)  # one repaired
    clock.now += 0.06
    rtcp.report_if_due()
    rtcp.feedback_if_due()
    assert nacked(sent)[-1] == [1]
    clock.now += 1.0  # past the horizon: no use asking
    rtcp.report_if_due()
    rtcp.feedback_if_due()
    assert nacked(sent)[-1] == [1] and rtcp.nacks.counts.given_up == 1
    assert rtcp.nacks_sent == 3 and rtcp.nacks.counts.recovered == 1


def test_without_feedback_negotiated_nothing_is_nacked():
    rtcp, _, sent = client(feedback=False)
    rtcp.heard_seq(1)
    rtcp.heard_seq(5)
    rtcp.feedback_if_due()
    assert nacked(sent) == [] and rtcp.nacks_sent == 0
