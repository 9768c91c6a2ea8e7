"""The server repairs losses for the clients that ask, on real UDP on loopback: the SDP's
offer, a NACK from the client's RTCP port answered with RFC 4588 packets (x-rtx) or with the
original packets again (any RTP/AVPF client), and nothing for a plain RTP/AVP session, a
forged NACK or --no-retransmission."""

import socket
import time

import pytest

from conftest import ROOT, rtsp_connection, running_server
from RtpPacket import RtpPacket
from rtsplab.rtcp.compound import encode_compound
from rtsplab.rtcp.feedback import GenericNack
from rtsplab.rtcp.reports import ReceiverReport
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtp.ports import bind_port_pair
from rtsplab.rtp.rtx import unwrap
from rtsplab.rtsp.headers.transport import parse_transport
from rtsplab.rtsp.sdp import parse_sdp

URL = "rtsp://127.0.0.1:{port}/movie.Mjpeg"
CLIENT_SSRC = 0xC11E0002


class Session:
    """A raw standard session: SETUP with `transport` and `headers`, then PLAY."""

    def __init__(self, server, profile="RTP/AVPF", headers=""):
        self.rtp, self.rtcp = bind_port_pair("127.0.0.1")
        for sock in (self.rtp, self.rtcp):
            sock.settimeout(0.2)
        self.rtsp = rtsp_connection(server.port)
        url = URL.format(port=server.port)
        ports = f"{self.rtp.getsockname()[1]}-{self.rtcp.getsockname()[1]}"
        transport = f"Transport: {profile};unicast;client_port={ports}\r\n"
        self.reply = self.rtsp.ask(
            f"SETUP {url}/track1 RTSP/1.0\r\nCSeq: 1\r\n{headers}{transport}\r\n"
        )
        assert self.reply.status == 200
        (spec,) = parse_transport(self.reply.headers["Transport"])
        self.ssrc, self.server_rtcp = spec.ssrc, ("127.0.0.1", spec.server_port[1])
        session = self.reply.headers["Session"].split(";")[0]
        assert self.rtsp.ask(f"PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n"
                             ).status == 200  # fmt: skip
        self.packets = {}  # seq -> datagram, first arrival
        self.again = []  # datagrams of numbers already seen, or of other payload types

    def receive(self, until, seconds=10.0):
        deadline = time.monotonic() + seconds
        while not until() and time.monotonic() < deadline:
            try:
                datagram = self.rtp.recv(65536)
            except TimeoutError:
                continue
            packet = RtpPacket()
            packet.decode(datagram)
            if packet.payloadType() == 26 and packet.seqNum() not in self.packets:
                self.packets[packet.seqNum()] = datagram
            else:
                self.again.append(packet)
        return until()

    def nack(self, seqs, sock=None):
        compound = encode_compound([
            ReceiverReport(CLIENT_SSRC, []),
            SourceDescription.cname(CLIENT_SSRC, "client@test"),
            GenericNack.for_lost(CLIENT_SSRC, self.ssrc, seqs),
        ])  # fmt: skip
        (sock or self.rtcp).sendto(compound, self.server_rtcp)

    def close(self):
        self.rtsp.sock.close()
        self.rtp.close()
        self.rtcp.close()


def payload(datagram):
    packet = RtpPacket()
    packet.decode(datagram)
    return packet.getPayload()


def test_the_sdp_offers_nack_and_rtx_unless_told_not_to():
    for retransmission, offered in ((True, True), (False, False)):
        with running_server(ROOT) as server, rtsp_connection(server.port) as rtsp:
            server.config.retransmission = retransmission
            url = URL.format(port=server.port)
            reply = rtsp.ask(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n")
            (media,) = parse_sdp(reply.body.decode()).media
            assert (media.nack(26), media.rtx_for(26) is not None) == (offered, offered)


def test_a_client_taking_rtx_gets_rfc_4588_packets_for_its_nack():
    with running_server(ROOT) as server:
        session = Session(server, headers="Supported: x-rtx\r\n")
        try:
            assert session.reply.headers.get("Supported") == "x-rtx"
            assert session.receive(lambda: len(session.packets) >= 30)
            wanted = sorted(session.packets)[5:8]
            session.nack(wanted)
            assert session.receive(
                lambda: len([p for p in session.again if p.payloadType() == 97]) >= 3
            )
            rtx = [p for p in session.again if p.payloadType() == 97]
            assert len({p.ssrc() for p in rtx}) == 1 and rtx[0].ssrc() != session.ssrc
            for packet in rtx:
                osn, original = unwrap(packet.getPayload())
                assert osn in wanted and bytes(original) == payload(session.packets[osn])
        finally:
            session.close()


def test_an_avpf_client_gets_the_original_packets_again():
    with running_server(ROOT) as server:
        session = Session(server)
        try:
            assert "Supported" not in session.reply.headers
            assert session.receive(lambda: len(session.packets) >= 30)
            wanted = sorted(session.packets)[3:5]
            session.nack(wanted)
            assert session.receive(lambda: len(session.again) >= 2)
            assert {p.seqNum() for p in session.again} == set(wanted)
            assert all(p.payloadType() == 26 and p.ssrc() == session.ssrc for p in session.again)
        finally:
            session.close()


def test_a_client_that_nacks_unasked_is_answered_from_its_first_nack_on():
    with running_server(ROOT) as server:
        session = Session(server, "RTP/AVP")  # ffmpeg's SETUP, whatever the SDP offered
        try:
            assert session.receive(lambda: len(session.packets) >= 20)
            session.nack(sorted(session.packets)[2:4])  # before any was kept: nothing to send
            assert session.receive(lambda: len(session.packets) >= 60)
            wanted = sorted(session.packets)[-5:-3]
            session.nack(wanted)
            assert session.receive(lambda: len(session.again) >= 2)
            assert {p.seqNum() for p in session.again} == set(wanted)
        finally:
            session.close()


@pytest.mark.parametrize("case", ["forged-port", "no-retransmission"])
def test_no_packet_is_sent_again_when_refused_or_the_nack_is_forged(case):
    with running_server(ROOT) as server:
        server.config.retransmission = case != "no-retransmission"
        session = Session(server, "RTP/AVPF", "Supported: x-rtx\r\n")
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            assert session.receive(lambda: len(session.packets) >= 30)
            wanted = sorted(session.packets)[2:6]
            session.nack(wanted, stranger if case == "forged-port" else None)
            session.receive(lambda: False, seconds=1.0)  # a second of stream after the NACK
            assert session.again == [] and len(session.packets) > 40
        finally:
            stranger.close()
            session.close()
