"""A clip with sound from our server over the network, read datagram by datagram: both
tracks in one session over UDP, PLAY, PAUSE and a seek moving both, each stream's first
packet where RTP-Info says, sender reports of the two streams that agree on one timeline
under one CNAME, and BYE for both at TEARDOWN."""

import time
import wave

import pytest

from conftest import rtsp_connection, running_server
from RtpPacket import RtpPacket
from rtsplab.media.clip_file import make_av_clip
from rtsplab.ntp import unix_from_ntp
from rtsplab.payload.l16 import swapped
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.compound import decode_compound
from rtsplab.rtcp.reports import SenderReport
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtp.ports import bind_port_pair
from rtsplab.rtsp.headers.rtp_info import parse_rtp_info
from rtsplab.rtsp.headers.transport import parse_transport
from rtsplab.rtsp.sdp import parse_sdp

FPS = 20
RATE = 48_000


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("av")
    make_av_clip(root / "av.mjpeg", 64, 48, 4, FPS)
    return root


class Ports:
    """A client's RTP and RTCP sockets for one track, and what has arrived on them."""

    def __init__(self):
        self.rtp, self.rtcp = bind_port_pair("127.0.0.1")
        self.packets: list[RtpPacket] = []
        self.reports: list = []  # (arrival, RTCP packet)

    @property
    def transport(self):
        port = self.rtp.getsockname()[1]
        return f"RTP/AVP;unicast;client_port={port}-{port + 1}"

    def drain(self, seconds):
        """Read what arrives within `seconds`; the number of RTP packets read."""
        before = len(self.packets)
        deadline = time.monotonic() + seconds
        for sock in (self.rtp, self.rtcp):
            sock.setblocking(False)
        while time.monotonic() < deadline:
            got = False
            for sock in (self.rtp, self.rtcp):
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                got = True
                if sock is self.rtp:
                    packet = RtpPacket()
                    packet.decode(data)
                    self.packets.append(packet)
                else:
                    self.reports += [(time.time(), p) for p in decode_compound(data)]
            if not got:
                time.sleep(0.005)
        return len(self.packets) - before

    def close(self):
        self.rtp.close()
        self.rtcp.close()

    def of(self, kind):
        return [p for _, p in self.reports if isinstance(p, kind)]


def wav_payload(root, sample, samples):
    with wave.open(str(root / "av.wav"), "rb") as wav:
        wav.setpos(sample)
        return swapped(wav.readframes(samples))


def clip_time(report, info, rate, npt):
    """The clip's instant a sender report names, through PLAY's RTP-Info."""
    return npt + ((report.rtp_timestamp - info.rtptime) % 2**32) / rate


def test_both_tracks_play_pause_seek_and_end_together(root):
    video, audio = Ports(), Ports()
    try:
        with running_server(root, fps=FPS) as server:
            server.config.rtcp_reduced_minimum = True  # SRs every fraction of a second
            url = f"rtsp://127.0.0.1:{server.port}/av.mjpeg"
            with rtsp_connection(server.port) as rtsp:
                walk_through(rtsp, url, root, video, audio)
    finally:
        video.close()
        audio.close()


def walk_through(rtsp, url, root, video, audio):
    described = rtsp.ask(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    assert [m.control for m in parse_sdp(described.body.decode()).media] == ["track1", "track2"]
    one = rtsp.ask(
        f"SETUP {url}/track2 RTSP/1.0\r\nCSeq: 2\r\nTransport: {audio.transport}\r\n\r\n"
    )
    session = one.headers["Session"].split(";")[0]
    two = rtsp.ask(f"SETUP {url}/track1 RTSP/1.0\r\nCSeq: 3\r\nSession: {session}\r\n"
                   f"Transport: {video.transport}\r\n\r\n")  # fmt: skip
    assert one.status == two.status == 200
    audio_ssrc = parse_transport(one.headers["Transport"])[0].ssrc
    video_ssrc = parse_transport(two.headers["Transport"])[0].ssrc

    play = rtsp.ask(f"PLAY {url}/ RTSP/1.0\r\nCSeq: 4\r\nSession: {session}\r\n\r\n")
    v_info, a_info = parse_rtp_info(play.headers["RTP-Info"])
    assert (v_info.url, a_info.url) == (f"{url}/track1", f"{url}/track2")
    while video.drain(0.1) + audio.drain(0.1) and len(audio.packets) < 75:
        pass  # 1.5 s of sound, and its sender reports
    assert (audio.packets[0].seqNum(), audio.packets[0].timestamp()) == (a_info.seq, a_info.rtptime)
    assert (video.packets[0].seqNum(), video.packets[0].timestamp()) == (v_info.seq, v_info.rtptime)
    assert audio.packets[0].getPayload() == wav_payload(root, 0, 960)  # the first click
    assert {p.ssrc() for p in audio.packets} == {audio_ssrc}
    assert [p.seqNum() for p in audio.packets] == [
        (a_info.seq + i) % 65536 for i in range(len(audio.packets))
    ]  # fmt: skip
    the_reports_agree(video, audio, v_info, a_info, video_ssrc, audio_ssrc)

    pause = rtsp.ask(f"PAUSE {url}/ RTSP/1.0\r\nCSeq: 5\r\nSession: {session}\r\n\r\n")
    assert pause.status == 200
    video.drain(0.05)  # what left before the reply
    audio.drain(0.05)
    assert video.drain(0.4) == audio.drain(0.4) == 0  # both stopped

    seek = rtsp.ask(
        f"PLAY {url} RTSP/1.0\r\nCSeq: 6\r\nSession: {session}\r\nRange: npt=2-\r\n\r\n"
    )
    assert seek.headers["Range"] == "npt=2.000-"
    v_info, a_info = parse_rtp_info(seek.headers["RTP-Info"])
    video.packets.clear()
    audio.packets.clear()
    while video.drain(0.1) + audio.drain(0.1) and len(audio.packets) < 10:
        pass
    assert (audio.packets[0].seqNum(), audio.packets[0].timestamp()) == (a_info.seq, a_info.rtptime)
    assert audio.packets[0].getPayload() == wav_payload(root, 2 * RATE, 960)  # the click at 2 s
    assert (video.packets[0].seqNum(), video.packets[0].timestamp()) == (v_info.seq, v_info.rtptime)

    rtsp.ask(f"TEARDOWN {url} RTSP/1.0\r\nCSeq: 7\r\nSession: {session}\r\n\r\n")
    video.drain(0.3)
    audio.drain(0.3)
    assert video_ssrc in video.of(Bye)[-1].sources and audio_ssrc in audio.of(Bye)[-1].sources


def the_reports_agree(video, audio, v_info, a_info, video_ssrc, audio_ssrc):
    """Each stream's SR, through its RTP-Info, names the clip's instant at its NTP time;
    the two agree (to a few samples) once their NTP times' difference is allowed for."""
    v_srs = [sr for sr in video.of(SenderReport) if sr.ssrc == video_ssrc]
    a_srs = [sr for sr in audio.of(SenderReport) if sr.ssrc == audio_ssrc]
    assert v_srs and a_srs
    for v_sr in v_srs:
        for a_sr in a_srs:
            v_clip, a_clip = clip_time(v_sr, v_info, 90_000, 0), clip_time(a_sr, a_info, RATE, 0)
            apart = unix_from_ntp(a_sr.ntp_timestamp) - unix_from_ntp(v_sr.ntp_timestamp)
            assert a_clip - v_clip == pytest.approx(apart, abs=0.002)
    (v_cname,) = {c for s in video.of(SourceDescription) for c in s.cnames().values()}
    (a_cname,) = {c for s in audio.of(SourceDescription) for c in s.cnames().values()}
    assert v_cname == a_cname  # one source: one CNAME (RFC 3550 §6.5.1)


def test_a_silent_clip_still_refuses_a_sound_track_and_serves_its_video(root, tmp_path):
    (tmp_path / "silent.mjpeg").write_bytes((root / "av.mjpeg").read_bytes())
    ports = Ports()
    try:
        with running_server(tmp_path, fps=FPS) as server:
            url = f"rtsp://127.0.0.1:{server.port}/silent.mjpeg"
            with rtsp_connection(server.port) as rtsp:
                described = rtsp.ask(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n")
                assert b"m=audio" not in described.body
                refused = rtsp.ask(f"SETUP {url}/track2 RTSP/1.0\r\nCSeq: 2\r\n"
                                   f"Transport: {ports.transport}\r\n\r\n")  # fmt: skip
                assert refused.status == 404
                set_up = rtsp.ask(f"SETUP {url}/track1 RTSP/1.0\r\nCSeq: 3\r\n"
                                  f"Transport: {ports.transport}\r\n\r\n")  # fmt: skip
                session = set_up.headers["Session"].split(";")[0]
                play = rtsp.ask(f"PLAY {url} RTSP/1.0\r\nCSeq: 4\r\nSession: {session}\r\n\r\n")
                assert play.headers["RTP-Info"].count("url=") == 1
                assert ports.drain(0.3) > 0
                (worker,) = server.active_workers()
                assert worker.audio.rtp_socket is None  # no sound: no sockets bound for it
    finally:
        ports.close()
