"""A client session's media (`rtsplab.client.media`): RTP and RTCP into `ClientMedia`, with
the real RTCP engine on both sides and, for the receiving thread, real sockets on loopback.

The stream is `test_rtp_receiver`'s: a frame is a 12-byte JPEG in two packets."""

from __future__ import annotations

import random
import socket
import threading

from conftest import wait_until
from rtsplab.client.media import ClientMedia, Delivery, MediaSockets, UdpListener
from rtsplab.client.rtcp import ClientRtcp, unicast_rtcp
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.compound import decode_compound, encode_compound
from rtsplab.rtcp.reports import ReceiverReport, SenderReport
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtcp.session import ReceiverRtcp, SenderRtcp
from rtsplab.rtp.receiver import RtpReceiver
from rtsplab.rtp.reception import ReceptionStatistics
from rtsplab.rtp.sender import RtpSender
from test_rtp_receiver import NEW, REAL, SERVER_IP, SERVER_PORT, changing, frames_of, stream

SERVER_RTCP = (SERVER_IP, SERVER_PORT + 1)
WALL = 1_800_000_000.0


class Media:
    """A unicast session's `ClientMedia`, its frames collected."""

    def __init__(self, server_ip: str = SERVER_IP, server_port: int = SERVER_PORT) -> None:
        self.frames: list[bytes] = []
        receiver = RtpReceiver(server_ip, server_port=server_port, ssrc=REAL)
        rtcp = unicast_rtcp(receiver.reception, "client@h", None, media_ssrc=REAL,
                            reduced_minimum=False,
                            peer_rtcp=(server_ip, server_port + 1))  # fmt: skip
        delivery = Delivery(threading.Event(), lambda jpeg, _: self.frames.append(jpeg))
        self.media = ClientMedia(server_ip, receiver, rtcp, delivery, rtcp_destination=None,
                                 interleaved=False)  # fmt: skip

    def rtp(self, datagrams: list[bytes]) -> None:
        for datagram in datagrams:
            self.media.receive_rtp(datagram, SERVER_IP, SERVER_PORT)


def collision_compound() -> bytes:
    """What the server sends when a third party claims its SSRC (§8.2): SR under the new
    SSRC, SDES giving both SSRCs its CNAME, BYE for the old one."""
    engine = SenderRtcp(RtpSender(20, 1400, ssrc=REAL), "server@h", 250_000, 0.0,
                        rng=random.Random(1), new_ssrc=lambda: NEW)  # fmt: skip
    claim = encode_compound([ReceiverReport(REAL), SourceDescription.cname(REAL, "x@h")])
    (compound,) = engine.receive(claim, 1.0, WALL, ("192.0.2.9", 5001))
    return compound


def test_the_frames_held_under_the_new_ssrc_reach_the_player_when_it_is_followed():
    session = Media()
    datagrams = changing(41, 100)  # the change mid-frame, 100 packets before the news
    session.rtp(datagrams[:141])
    assert len(session.frames) == 20
    assert not session.media.receive_rtcp(collision_compound(), SERVER_RTCP)  # not the end
    assert len(session.frames) == 70
    session.rtp(datagrams[141:])
    assert session.frames == frames_of(count=100)
    summary = session.media.summary()
    assert (summary["frames"], summary["foreign"], summary["foreign_rtcp"]) == (100, 0, 0)


def test_rtcp_from_another_port_of_the_server_is_counted_by_the_engine_and_not_taken():
    session = Media()
    session.rtp(stream(REAL, frames=3))
    bye = encode_compound([SenderReport(REAL, 0, 0, 0, 0), Bye([REAL])])
    assert not session.media.receive_rtcp(bye, (SERVER_IP, SERVER_PORT + 7))
    assert session.media.summary()["foreign_rtcp"] == 1
    assert session.media.receive_rtcp(bye, SERVER_RTCP)  # the server's own: the end


def test_unicast_teardown_says_bye_at_once_and_no_report_follows():
    """A group of two leaves at once (RFC 3550 §6.3.7); the timer is done with it."""
    now = [0.0]
    sent: list[bytes] = []
    engine = ReceiverRtcp(ReceptionStatistics(), "client@h", 250_000, 0.0, rng=random.Random(1))
    rtcp = ClientRtcp(engine, sent.append, clock=lambda: now[0], wall_clock=lambda: WALL)
    now[0] = 10.0
    rtcp.report_if_due()  # our first report: a BYE may follow it
    assert len(sent) == 1
    rtcp.leave("teardown")
    assert len(sent) == 2 and decode_compound(sent[1])[-1].sources == [engine.ssrc]
    for step in range(1, 60):
        now[0] = 10.0 + step
        rtcp.report_if_due()
    assert len(sent) == 2


def udp_socket(address: tuple[str, int] = ("127.0.0.1", 0)) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(address)
    return sock


def test_a_failing_rtcp_socket_does_not_stop_the_rtp(caplog):
    """An ICMP error queued on the RTCP socket fails its next read: RTCP is lost to the
    session, once logged; the RTP goes on being received."""
    server = udp_socket()
    server_ip, server_port = server.getsockname()
    rtp = udp_socket()
    rtp.setblocking(False)
    rtcp = udp_socket()
    nobody = udp_socket()
    rtcp.connect(nobody.getsockname())
    nobody.close()  # what goes there now comes back as an ICMP port unreachable
    session = Media(server_ip, server_port)
    listener = UdpListener(MediaSockets(rtp, rtcp), session.media)
    listener.start()
    try:
        rtcp.send(b"\x80\xc9\x00\x01\x00\x00\x00\x01")  # the ICMP error: RTCP fails
        wait_until(lambda: "the RTCP socket failed" in caplog.text, what="the failure logged")
        for datagram in stream(REAL, frames=5):
            server.sendto(datagram, rtp.getsockname())
        wait_until(lambda: len(session.frames) == 5, what="the RTP after it")
    finally:
        listener.stop()
        server.close()
    assert session.frames == frames_of(count=5)
    assert caplog.text.count("the RTCP socket failed") == 1
