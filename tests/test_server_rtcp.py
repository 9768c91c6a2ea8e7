"""The server's RTCP driver (rtsplab.server.rtcp.ServerRtcp) on real UDP sockets: a fault in
one turn or in one datagram is logged and the thread goes on; only `stop` or its socket
closed ends it. And what its RTCP says of the server, worked out once: the CNAME and the
session bandwidth, from the open file."""

import logging
import socket
import time

import pytest

from helpers import wait_until
from MakeVideo import make_clip
from rtsplab.rtcp.compound import encode_compound
from rtsplab.rtcp.reports import ReceiverReport, ReportBlock
from rtsplab.rtcp.session import SenderRtcp
from rtsplab.rtp.sender import RtpSender
from rtsplab.server.rtcp import ServerRtcp, server_cname, session_bandwidth
from VideoStream import VideoStream

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


def test_a_fault_in_one_turn_is_logged_once_and_the_thread_goes_on(caplog):
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
            wait_until(lambda: len(turns) >= 6, what="turns after the faults")
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


def test_its_socket_closed_under_it_ends_the_thread(sockets):
    ours, _ = sockets
    rtcp = ServerRtcp(engine(), "closing", ours, None)
    rtcp.start()
    assert rtcp._thread.is_alive()
    ours.close()
    wait_until(lambda: not rtcp._thread.is_alive(), what="the thread to end")
    assert rtcp.faults == 0  # a closed socket is the end, not a fault
    rtcp.stop("end")


def test_the_bandwidth_comes_from_the_open_file_even_once_it_is_gone(tmp_path):
    path = tmp_path / "clip.mjpeg"
    make_clip(path, 64, 48, 10, fmt="mjpeg")
    size = path.stat().st_size
    with VideoStream(path) as media:
        path.unlink()  # removed after SETUP opened it: the session goes on with what it has
        assert session_bandwidth(media, 20.0) == pytest.approx(size / 10 * 20.0)
    assert server_cname("192.0.2.7") == "server@192.0.2.7"
