"""A clip with sound in the pure server session: its SDP, SETUP of each track, the aggregate
PLAY's RTP-Info, and where PLAY (and a Range) starts the sound; the sound's stream as the
pacing loop steps it, and the two streams' RTP clocks on one timeline."""

import itertools
import logging
import wave
from pathlib import Path

import pytest

from RtpPacket import RtpPacket
from rtsplab.media.clip_file import make_av_clip, make_clip
from rtsplab.payload.l16 import swapped
from rtsplab.rtp.pacer import Pacer
from rtsplab.rtp.sender import RtpSender
from rtsplab.rtsp.headers.rtp_info import parse_rtp_info
from rtsplab.rtsp.headers.transport import parse_transport
from rtsplab.rtsp.message import Headers, RtspRequest
from rtsplab.rtsp.sdp import AudioOffer, make_sdp, parse_sdp
from rtsplab.rtsp.state import State
from rtsplab.server.audio_source import AudioSource
from rtsplab.server.audio_stream import AudioStream
from rtsplab.server.payload_cache import PayloadCache
from rtsplab.server.session import ServerSession, StreamConfig
from rtsplab.server.stream import END_OF_FILE, RtpStream
from rtsplab.server.transports import Channels
from VideoStream import VideoStream

BASE = "rtsp://127.0.0.1:8554/av.mjpeg"
FPS = 20
AUDIO_PORT = 6970
CLIENT_PORTS = "client_port=7000-7001"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """av.mjpeg with its sound (48 kHz mono, 3 s), silent.mjpeg, broken.mjpeg (its .wav
    is not a WAV) and eight_bit.mjpeg (its .wav is 8-bit)."""
    root = tmp_path_factory.mktemp("av")
    make_av_clip(root / "av.mjpeg", 64, 48, 3, FPS)
    for name in ("silent", "broken", "eight_bit"):
        make_clip(root / f"{name}.mjpeg", 64, 48, 10, fmt="mjpeg")
    (root / "broken.wav").write_bytes(b"RIFF not really")
    with wave.open(str(root / "eight_bit.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(bytes(800))
    return root


def numbered_senders():
    """RtpSenders with known numbers: the first made (SSRC 1, seq 1000, origin 100000),
    the second (SSRC 2, seq 2000, origin 200000), ..."""
    count = itertools.count(1)

    def make(*args, **kwargs):
        n = next(count)
        return RtpSender(*args, ssrc=n, first_seq=1000 * n, timestamp_origin=100_000 * n,
                         **kwargs)  # fmt: skip

    return make


@pytest.fixture
def session(root):
    ids = (str(10**17 + n) for n in itertools.count())
    made = ServerSession(StreamConfig(root, fps=FPS, retransmission=False), "127.0.0.1", 5004,
                         make_session_id=lambda: next(ids), make_sender=numbered_senders(),
                         audio_port=lambda: AUDIO_PORT)  # fmt: skip
    yield made
    made.close()


def ask(session, method, uri=BASE, cseq=1, **headers):
    items = [("CSeq", str(cseq)), *headers.items()]
    return session.handle(RtspRequest(method, uri, Headers(items)))


def setup_both(session, first="track1", second="track2", transports=None):
    one, two = transports or (
        f"RTP/AVP;unicast;{CLIENT_PORTS}",
        "RTP/AVP;unicast;client_port=7002-7003",
    )
    a = ask(session, "SETUP", f"{BASE}/{first}", 1, Transport=one)
    b = ask(session, "SETUP", f"{BASE}/{second}", 2, Transport=two, Session=a.session)
    return a, b


def test_the_sdp_of_a_clip_with_sound_line_by_line():
    sdp = make_sdp(session_id=7, server_ip="192.0.2.1", uri_control="track1", fps=25,
                   duration=4, width=320, height=240, name="av.mjpeg",
                   audio=AudioOffer(48000, 2, "track2"))  # fmt: skip
    assert sdp.split("\r\n") == [
        "v=0",
        "o=- 7 7 IN IP4 192.0.2.1",
        "s=av.mjpeg",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "a=control:*",
        "a=range:npt=0-4",
        "m=video 0 RTP/AVP 26",
        "a=rtpmap:26 JPEG/90000",
        "a=control:track1",
        "a=framerate:25",
        "m=audio 0 RTP/AVP 98",  # the video's profile; 98: dynamic (97 is the video's rtx)
        "a=rtpmap:98 L16/48000/2",
        "a=ptime:20",
        "a=control:track2",
        "",
    ]
    with_feedback = make_sdp(session_id=7, server_ip="192.0.2.1", uri_control="track1", fps=25,
                             duration=4, width=320, height=240, name="av.mjpeg",
                             rtx_time_ms=1000, audio=AudioOffer(8000, 1, "track2"))  # fmt: skip
    assert "m=audio 0 RTP/AVPF 98\r\na=rtpmap:98 L16/8000/1\r\na=rtcp-fb:98 nack\r\n" in (
        with_feedback
    )
    for bad in (AudioOffer(0, 1, "t"), AudioOffer(8000, 9, "t"), AudioOffer(8000, 1, "t", 26)):
        with pytest.raises(ValueError):
            bad.lines("RTP/AVP")


def test_describe_offers_the_sound_of_a_clip_that_has_one(session):
    reply = ask(session, "DESCRIBE", BASE)
    described = parse_sdp(reply.body.decode())
    video, audio = described.media
    assert (video.media, video.control) == ("video", "track1")
    assert (audio.media, audio.control, audio.proto) == ("audio", "track2", "RTP/AVP")
    assert audio.rtpmap[98] == ("L16", 48000, 1) and audio.ptime == 20
    assert ("rtpmap", "98 L16/48000/1") in audio.attributes
    assert described.range == (0.0, 3.0)  # the video's duration, as for a silent clip


@pytest.mark.parametrize("name", ["silent", "broken", "eight_bit"])
def test_a_clip_without_sound_or_with_a_broken_one_is_described_as_video_alone(
    session, name, caplog
):
    with caplog.at_level(logging.WARNING, logger="rtsplab.server.audio_setup"):
        reply = ask(session, "DESCRIBE", f"rtsp://127.0.0.1:8554/{name}.mjpeg")
    assert reply.status == 200
    assert [m.media for m in parse_sdp(reply.body.decode()).media] == ["video"]
    assert (name == "silent") == (caplog.text == "")  # a broken sound is logged
    setup = ask(session, "SETUP", f"rtsp://127.0.0.1:8554/{name}.mjpeg/track2",
                Transport=f"RTP/AVP;unicast;{CLIENT_PORTS}")  # fmt: skip
    assert setup.status == 404 and session.state is State.INIT


@pytest.mark.parametrize("order", [("track1", "track2"), ("track2", "track1")])
def test_setup_of_each_track_in_either_order_makes_one_session(session, order):
    first, second = setup_both(session, *order)
    assert first.status == second.status == 200
    assert second.session == first.session and session.state is State.READY
    replies = dict(zip(order, (first, second), strict=True))
    (video,) = parse_transport(replies["track1"].headers["Transport"])
    (audio,) = parse_transport(replies["track2"].headers["Transport"])
    assert video.server_port == (5004, 5005) and video.ssrc == session.sender.ssrc
    assert audio.server_port == (AUDIO_PORT, AUDIO_PORT + 1)
    assert audio.ssrc == session.audio.sender.ssrc != video.ssrc
    assert session.audio.rtp_destination == ("127.0.0.1", 7002 if order[0] == "track1" else 7000)
    assert session.audio.sender.payload_type == 98 and session.audio.sender.clock_rate == 48000
    again = ask(session, "SETUP", f"{BASE}/track2", 3, Transport=f"RTP/AVP;unicast;{CLIENT_PORTS}",
                Session=first.session)  # fmt: skip
    assert again.status == 455  # each track once


def test_setup_of_the_sound_interleaved_takes_the_channels_asked(session):
    _, audio = setup_both(session, transports=("RTP/AVP/TCP;unicast;interleaved=0-1",
                                               "RTP/AVP/TCP;unicast;interleaved=2-3"))  # fmt: skip
    (transport,) = parse_transport(audio.headers["Transport"])
    assert transport.interleaved == (2, 3) and transport.server_port is None
    assert session.audio.way == Channels(2, 3) and session.interleaved == (0, 1)


@pytest.mark.parametrize("order", [("track1", "track2"), ("track2", "track1")])
def test_an_interleaved_track_without_channels_takes_the_first_free_pair(session, order):
    plain = "RTP/AVP/TCP;unicast"
    first, second = setup_both(session, *order, transports=(plain, plain))
    assert first.status == second.status == 200
    ways = {order[0]: Channels(0, 1), order[1]: Channels(2, 3)}
    assert session.audio.way == ways["track2"]
    assert session.interleaved == (ways["track1"].rtp, ways["track1"].rtcp)


def test_an_interleaved_track_asking_the_other_tracks_channels_is_refused(session):
    first = ask(session, "SETUP", f"{BASE}/track1", 1,
                Transport="RTP/AVP/TCP;unicast;interleaved=0-1")  # fmt: skip
    second = ask(session, "SETUP", f"{BASE}/track2", 2, Session=first.session,
                 Transport="RTP/AVP/TCP;unicast;interleaved=1-2")  # fmt: skip
    assert second.status == 461 and session.audio is None and session.state is State.READY


@pytest.mark.parametrize(
    ("uri", "transport", "status"),
    [
        (f"{BASE}/track3", f"RTP/AVP;unicast;{CLIENT_PORTS}", 404),  # no such track
        (f"{BASE}/track2", "RTP/UDP; client_port= 25000", 461),  # the lab's dialect: video only
        (f"{BASE}/track2", "RTP/AVP;multicast", 461),  # not served here
    ],
)
def test_a_bad_track_setup_is_refused_and_changes_nothing(session, uri, transport, status):
    assert ask(session, "SETUP", uri, Transport=transport).status == status
    assert session.state is State.INIT and session.audio is None


def test_play_of_the_sound_alone_is_refused(session):
    reply = ask(session, "SETUP", f"{BASE}/track2", Transport=f"RTP/AVP;unicast;{CLIENT_PORTS}")
    assert ask(session, "PLAY", BASE, 2, Session=reply.session).status == 455
    assert session.state is State.READY


@pytest.mark.parametrize("url", [BASE, f"{BASE}/", f"{BASE}/track1", f"{BASE}/track2"])
def test_the_aggregate_play_names_both_tracks_in_rtp_info(session, url):
    first, _ = setup_both(session)
    reply = ask(session, "PLAY", url, 3, Session=first.session)
    assert reply.status == 200 and reply.headers["Range"] == "npt=0.000-"
    # The first sender made is the video's: SSRC 1, seq 1000, origin 100000; then the sound's.
    assert reply.headers["RTP-Info"] == (
        f"url={BASE}/track1;seq=1000;rtptime=100000,url={BASE}/track2;seq=2000;rtptime=200000"
    )
    assert [info.url for info in parse_rtp_info(reply.headers["RTP-Info"])] == [
        f"{BASE}/track1", f"{BASE}/track2"
    ]  # fmt: skip
    assert session.audio.first_sample == 0


def test_a_range_moves_the_sound_to_the_videos_instant(session):
    first, _ = setup_both(session)
    reply = ask(session, "PLAY", BASE, 3, Session=first.session, Range="npt=1.23-")
    # 1.23 s is frame round(24.6) = 25 at 20 fps: 1.25 s, the sound's sample 60000.
    assert reply.headers["Range"] == "npt=1.250-"
    assert session.media.frameNbr() == 25 and session.audio.first_sample == 60_000
    infos = parse_rtp_info(reply.headers["RTP-Info"])
    assert [(i.seq, i.rtptime) for i in infos] == [(1000, 100000), (2000, 200000)]


def decode(data):
    packet = RtpPacket()
    packet.decode(data)
    return packet


def test_the_sound_is_stepped_a_packet_each_20_ms_from_its_first_sample(root):
    source = AudioSource(root / "av.wav")
    sender = RtpSender(50, 2000, ssrc=9, first_seq=65534, timestamp_origin=2**32 - 960,
                       payloader=lambda payload, _: [(b"", payload)], payload_type=98,
                       clock_rate=48000, marker=False)  # fmt: skip
    sent, ends = [], []
    stream = AudioStream("s", source, sender, 48_000, lambda data: sent.append(decode(data)),
                         ends.append)  # fmt: skip
    assert stream.start(10.0) == 10.0
    assert stream.step(10.0) == pytest.approx(10.02)  # one packet due, the next in 20 ms
    assert stream.step(10.065) == pytest.approx(10.08)  # behind: the three due at once
    assert [p.seqNum() for p in sent] == [65534, 65535, 0, 1]  # sequence wrap
    assert [p.timestamp() for p in sent] == [2**32 - 960, 0, 960, 1920]  # timestamp wrap
    assert {(p.payloadType(), p.marker(), p.ssrc()) for p in sent} == {(98, 0, 9)}
    with wave.open(str(root / "av.wav"), "rb") as wav:
        wav.setpos(48_000)  # the second second: its click first
        expected = swapped(wav.readframes(4 * 960))
    assert b"".join(p.getPayload() for p in sent) == expected
    assert sender.timestamp_at(10.07) == 1920 + 480  # anchored at its last packet's due time
    now = 10.08
    while (at := stream.step(now)) is not None and now < 20:  # to the end (2 s left)
        now = max(now, at)
    assert ends == [END_OF_FILE] and not stream.active and len(sent) == 100
    source.close()


def test_both_streams_rtp_clocks_agree_on_one_timeline(root):
    """What sender reports say (RFC 3550 §6.4.1): both clocks read at the same instant give
    the same instant of the clip, whatever their origins and rates."""
    video_sender = RtpSender(FPS, 1400, timestamp_origin=123_456, payloader=lambda f, _: [(b"", f)])
    audio_sender = RtpSender(50, 2000, timestamp_origin=4_000_000_000, clock_rate=48000,
                             payloader=lambda p, _: [(b"", p)], marker=False)  # fmt: skip
    with VideoStream(root / "av.mjpeg") as media, AudioSource(root / "av.wav") as source:
        media.seek(25)  # PLAY from 1.25 s: the sound from its sample 60000
        video = RtpStream("v", media, video_sender, Pacer(FPS, burst=0), PayloadCache(),
                          lambda packets, segment: None, lambda reason: None)  # fmt: skip
        audio = AudioStream("a", source, audio_sender, 60_000, lambda data: None,
                            lambda reason: None)  # fmt: skip
        start = 50.0
        due = {"v": video.start(start), "a": audio.start(start)}
        streams = {"v": video, "a": audio}
        for _ in range(200):  # both, in the order the pacing loop would step them
            name = min(due, key=due.__getitem__)
            if due[name] > start + 1.0:
                break
            due[name] = streams[name].step(due[name])
        for now in (start + 0.5, start + 0.733, start + 0.99):
            v = (video_sender.timestamp_at(now) - 123_456) % 2**32 / 90_000
            a = (audio_sender.timestamp_at(now) - 4_000_000_000) % 2**32 / 48_000
            assert v == pytest.approx(now - start, abs=1e-4)
            assert a == pytest.approx(now - start, abs=1e-4)


@pytest.mark.parametrize(
    ("transport", "kept"),
    [
        ("RTP/AVPF;unicast;client_port=7002-7003", True),  # NACKs to come: its packets kept
        ("RTP/AVP;unicast;client_port=7002-7003", False),
        ("RTP/AVPF/TCP;unicast;interleaved=2-3", False),  # TCP loses nothing
    ],
)
def test_the_sounds_packets_are_kept_for_nacks_only_when_asked_over_udp(root, transport, kept):
    for answering in (True, False):  # --no-retransmission: nothing kept, whatever is asked
        config = StreamConfig(root, fps=FPS, retransmission=answering)
        session = ServerSession(config, "127.0.0.1", 5004, audio_port=lambda: AUDIO_PORT)
        _, audio = setup_both(session, transports=(f"RTP/AVP;unicast;{CLIENT_PORTS}", transport))
        assert audio.status == 200 and session.audio.feedback is (kept and answering)
        session.close()
