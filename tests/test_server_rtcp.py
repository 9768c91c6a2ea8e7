"""The server's RTCP driver (rtsplab.server.rtcp.ServerRtcp) on real UDP sockets, in the RTCP
loop: a fault in one turn or in one datagram is logged and the turns go on; only `stop` or
its socket closed ends it; one thread for every session, there while one is. And what its
RTCP says of the server, worked out once: the CNAME and the session bandwidth, from the
open file."""

import logging
import socket
import time

import pytest

from helpers import wait_until
from rtsplab.rtcp.compound import encode_compound
from rtsplab.rtcp.reports import ReceiverReport, ReportBlock
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtcp.session import SenderRtcp
from rtsplab.rtp.sender import RtpSender
from rtsplab.server.rtcp import ServerRtcp
from rtsplab.server.rtcp_loop import RtcpLoop

SSRC = 0x1234
CLIENT_SSRC = 0x5678


def engine():
    return SenderRtcp(RtpSender(20, ssrc=SSRC), "server@test", 1e5, time.monotonic())


@pytest.fixture
def sockets():
    ours = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ours.bind(("127.0.0.1", 0))
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    yield ours, peer
    ours.close()
    peer.close()


def report() -> bytes:
    return encode_compound([ReceiverReport(CLIENT_SSRC, [ReportBlock(SSRC)])])


def test_after_a_collision_our_rtp_takes_the_new_ssrc_once_the_bye_has_gone_not_a_report_later():
    sender = RtpSender(20, ssrc=SSRC)
    engine = SenderRtcp(sender, "server@test", 1e5, time.monotonic(), new_ssrc=lambda: 0x9ABC)
    sent: list[tuple[int, int]] = []  # (sender's SSRC as each datagram left, its length)
    rtcp = ServerRtcp(engine, "colliding", None, lambda d: sent.append((sender.ssrc, len(d))))
    thief = encode_compound([ReceiverReport(SSRC, []), SourceDescription.cname(SSRC, "x@h")])
    rtcp.receive(thief, ("192.0.2.9", 5001))
    assert len(sent) == 1 and sent[0][0] == SSRC  # the BYE left while RTP still had the old
    assert sender.ssrc == 0x9ABC == engine.ssrc  # and RTP has the new one now, no turn since


def test_a_fault_in_one_turn_is_logged_once_and_the_turns_go_on(caplog):
    turns = []

    def quiet():
        turns.append(time.monotonic())
        if len(turns) <= 3:
            raise ValueError("a fault in the report turn")
        return False

    rtcp = ServerRtcp(engine(), "faulty", None, None, quiet=quiet)
    with caplog.at_level(logging.DEBUG, logger="rtsplab.server.rtcp"):
        rtcp.start()
        try:
            wait_until(lambda: len(turns) >= 5, what="turns after the faults")
        finally:
            rtcp.stop("end")
    assert rtcp.faults == 3
    tracebacks = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(tracebacks) == 1 and tracebacks[0].exc_info is not None


def test_a_datagram_that_raises_is_skipped_and_the_next_is_read(sockets):
    ours, peer = sockets
    seen = []

    def accept(source):
        seen.append(source)
        if len(seen) == 1:
            raise ValueError("a fault in one datagram")
        return True

    rtcp = ServerRtcp(engine(), "faulty", ours, None, accept=accept)
    rtcp.start()
    try:
        peer.sendto(report(), ours.getsockname())
        wait_until(lambda: len(seen) == 1, what="the first datagram")
        peer.sendto(report(), ours.getsockname())
        wait_until(lambda: rtcp.peer is not None, what="the second datagram read")
        assert rtcp.faults == 1 and rtcp.peer_heard is not None
    finally:
        rtcp.stop("end")


def test_its_socket_closed_under_it_ends_its_turns_and_not_the_others(sockets):
    ours, _ = sockets
    loop = RtcpLoop()
    closing = ServerRtcp(engine(), "closing", ours, None, loop=loop)
    other = ServerRtcp(engine(), "other", None, None, loop=loop)
    closing.start()
    other.start()
    assert closing.running
    ours.close()
    wait_until(lambda: not closing.running, timeout=10, what="its next turn to see it")
    assert closing.faults == 0  # a closed socket is the end, not a fault
    assert other.running and loop.thread is not None  # the loop goes on for the others
    closing.stop("end")
    other.stop("end")


def test_one_thread_turns_every_session_and_goes_with_the_last(sockets):
    ours, peer = sockets
    loop = RtcpLoop()
    drivers = [ServerRtcp(engine(), f"s{i}", None, None, loop=loop) for i in range(50)]
    reading = ServerRtcp(engine(), "reading", ours, None, loop=loop)
    for driver in [*drivers, reading]:
        driver.start()
    thread = loop.thread
    assert thread is not None and thread.is_alive()
    peer.sendto(report(), ours.getsockname())
    wait_until(lambda: reading.peer is not None, what="the peer's report read by the loop")
    for driver in drivers:
        driver.stop("end")
        assert not driver.running
    assert reading.running and loop.thread is thread
    reading.stop("end")
    thread.join(timeout=5)
    assert not thread.is_alive() and loop.thread is None
    drivers[0].stop("again")  # stopped twice, and with no loop running: harmless
    again = ServerRtcp(engine(), "again", None, None, loop=loop)
    again.start()  # a thread again
    assert again.running and loop.thread not in (None, thread)
    again.stop("end")
