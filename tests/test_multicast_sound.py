"""A clip's sound to the multicast group beside its video: the pure session's SETUP of the
group's sound and its RTP-Info (time passed in, no sockets); then on a network of the test's
own (a namespace's loopback with multicast on), our clients as members hearing every packet
of the sound in sync with the picture, and ffmpeg recording both tracks from the group."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import wave
from array import array
from pathlib import Path

import pytest

from av_marks import onsets, recorded
from conftest import ROOT
from helpers import wait_until
from netns import group_server, netns_or_skip
from rtsplab.media.clip_file import make_av_clip, make_clip
from rtsplab.rtp.sender import RtpSender
from rtsplab.rtsp.headers.rtp_info import parse_rtp_info
from rtsplab.rtsp.headers.transport import TransportSpec
from rtsplab.rtsp.message import Headers, RtspRequest
from rtsplab.server.audio_setup import audio_sender, rtptime_at
from rtsplab.server.audio_source import AudioSource
from rtsplab.server.session import MulticastConfig, ServerSession, StreamConfig
from VideoStream import VideoStream

GROUP = "239.255.12.42"
FPS = 20
SECONDS = 4
RATE = 48_000
URL = "rtsp://127.0.0.1:8554/av.mjpeg"
MAX_OFFSET = 0.020  # s: the bound on the A/V offset a client measures


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("group-sound")
    make_av_clip(root / "av.mjpeg", 160, 120, SECONDS, FPS)
    make_clip(root / "silent.mjpeg", 64, 48, 10, fmt="mjpeg")
    return root


# -- pure: SETUP of the group's sound, and PLAY's RTP-Info ----------------------------------


class FakeSound:
    """The group's sound as a session sees it, numbers known: SSRC 0x50, seq 700, origin
    9000; started (like `GroupSound`) with sample 0 carrying the origin."""

    def __init__(self, path: Path) -> None:
        self.source = AudioSource(path)
        self.sender = audio_sender(self.source, self._sender)
        self.port = 5006

    @staticmethod
    def _sender(*args, **kwargs) -> RtpSender:
        return RtpSender(*args, ssrc=0x50, first_seq=700, timestamp_origin=9000, **kwargs)

    def play_position(self, position):
        return self.sender.play_position()[0], rtptime_at(self.source, (0, 9000), position)


class FakeGroup:
    def __init__(self, path: Path) -> None:
        self.media = VideoStream(path)
        self.sender = RtpSender(FPS, payloader=lambda f, size: [(b"", f)], ssrc=0xABCD,
                                first_seq=100, timestamp_origin=0)  # fmt: skip
        self.port = 5004
        self.source = "127.0.0.1"
        wav = path.with_suffix(".wav")
        self.sound = FakeSound(wav) if wav.exists() else None

    def rewind_if_played(self) -> None:
        pass


class FakeGroups:
    def __init__(self) -> None:
        self.joined: list[FakeGroup] = []

    def join(self, path: Path) -> FakeGroup:
        self.joined.append(FakeGroup(path))
        return self.joined[-1]


def member(root: Path) -> ServerSession:
    config = StreamConfig(root, FPS, multicast=MulticastConfig(GROUP, 5004, ttl=2))
    return ServerSession(config, "127.0.0.1", 40000, groups=FakeGroups())


def ask(session: ServerSession, method: str, uri: str, cseq: int, **headers: str):
    items = [("CSeq", str(cseq)), *headers.items()]
    return session.handle(RtspRequest(method, uri, Headers(items)))


def test_the_sound_of_a_group_is_the_groups_beside_its_video(root):
    session = member(root)
    video = ask(session, "SETUP", f"{URL}/track1", 1, Transport="RTP/AVP;multicast")
    audio = ask(session, "SETUP", f"{URL}/track2", 2, Transport="RTP/AVP;multicast",
                Session=video.session)  # fmt: skip
    assert video.status == audio.status == 200 and audio.session == video.session
    (spec,) = [TransportSpec.parse(audio.headers["Transport"])]
    assert (spec.unicast, spec.destination, spec.port, spec.ttl, spec.ssrc) == (
        False, GROUP, (5006, 5007), 2, 0x50,
    )  # fmt: skip
    group = session.group
    assert session.audio is not None and session.audio.sender is group.sound.sender
    # A member joining 1.5 s into the clip: the sound's rtptime is the sample at 1.5 s.
    group.media.seek(30)
    play = ask(session, "PLAY", URL, 3, Session=video.session)
    assert play.headers["Range"] == "npt=1.500-"
    infos = parse_rtp_info(play.headers["RTP-Info"])
    assert [(i.url, i.seq, i.rtptime) for i in infos] == [
        (f"{URL}/track1", 100, 0),
        (f"{URL}/track2", 700, 9000 + 72_000),  # 1.5 s of 48 kHz after sample 0
    ]
    ask(session, "TEARDOWN", URL, 4, Session=video.session)
    session.close()
    assert group.sound.source.payload(0)  # the group's sound outlives a member's TEARDOWN


@pytest.mark.parametrize(
    ("video", "audio", "status"),
    [
        ("RTP/AVP;unicast;client_port=7000-7001", "RTP/AVP;multicast", 461),
        ("RTP/AVP;multicast", "RTP/AVP;unicast;client_port=7002-7003", 461),
        (None, "RTP/AVP;multicast", 461),  # the sound alone, by multicast
    ],
)
def test_the_sound_goes_as_its_video_does(root, video, audio, status):
    session = member(root)
    headers = {}
    if video is not None:
        reply = ask(session, "SETUP", f"{URL}/track1", 1, Transport=video)
        headers["Session"] = reply.session
    refused = ask(session, "SETUP", f"{URL}/track2", 2, Transport=audio, **headers)
    assert refused.status == status and session.audio is None
    session.close()


def test_a_silent_clips_group_has_no_sound_to_set_up(root):
    session = member(root)
    uri = "rtsp://127.0.0.1:8554/silent.mjpeg"
    video = ask(session, "SETUP", f"{uri}/track1", 1, Transport="RTP/AVP;multicast")
    refused = ask(session, "SETUP", f"{uri}/track2", 2, Transport="RTP/AVP;multicast",
                  Session=video.session)  # fmt: skip
    assert refused.status == 404 and session.audio is None
    session.close()


def test_the_rtptime_of_an_instant_follows_the_samples_across_the_wrap(root):
    source = AudioSource(root / "av.wav")
    assert rtptime_at(source, (0, 1000), 0.5) == 1000 + 24_000
    assert rtptime_at(source, (48_000, 10), 0.5) == 2**32 + 10 - 24_000  # before the anchor
    assert rtptime_at(source, (0, 2**32 - 100), 0.01) == 380  # wraps
    assert rtptime_at(source, (0, 0), 99.0) == SECONDS * RATE  # past the end: the end


# -- in a network namespace: members of the group -------------------------------------------


@pytest.fixture(scope="module")
def namespace():
    yield from netns_or_skip("mcsound")


def our_group(namespace, root: Path, port: int):
    return group_server(namespace, root, port, FPS, GROUP, "--rtcp-reduced-minimum")


def our_member(namespace, port: int, out: Path):
    return namespace.popen(
        [sys.executable, str(ROOT / "ClientLauncher.py"), "127.0.0.1", str(port), "0",
         f"rtsp://127.0.0.1:{port}/av.mjpeg", "--headless", "--multicast",
         "--multicast-interface", "127.0.0.1", "--rtcp-reduced-minimum",
         "--playout-log", str(out / "playout.csv"), "--save-audio", str(out / "sound.wav")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "RTSPLAB_NO_SOUND": "1"},
    )  # fmt: skip


def played(path: Path, seconds: float) -> bool:
    """Whether the WAV a member writes as it plays holds `seconds` of sound (mono 16-bit)."""
    return path.exists() and path.stat().st_size > 44 + 2 * RATE * seconds


def wav_samples(path: Path) -> array:
    with wave.open(str(path), "rb") as wav:
        return array("h", wav.readframes(wav.getnframes()))


def test_our_members_hear_the_groups_sound_in_sync(namespace, root, tmp_path):
    """Two of our clients, one joining a second after the other: each hears every packet
    from where it joined, the sound of the clip as it is from there, in sync with the
    picture; the server sends the group's sound once for both."""
    outs = [tmp_path / "first", tmp_path / "late"]
    for out in outs:
        out.mkdir()
    with our_group(namespace, root, 8564) as server:
        first = our_member(namespace, 8564, outs[0])
        wait_until(lambda: played(outs[0] / "sound.wav", 1.0), timeout=20, what="a second")
        late = our_member(namespace, 8564, outs[1])
        results = [member.communicate(timeout=60) for member in (first, late)]
    log = server.stderr.read()
    source = wav_samples(root / "av.wav")
    for member, (stdout, stderr) in zip((first, late), results, strict=True):
        assert member.returncode == 0, stderr
        summary = json.loads(stdout.splitlines()[-1])
        assert summary["sound"] == "muted" and summary["audio_lost_packets"] == 0
        assert summary["audio_played"] == summary["audio_packets"] > 0
        assert abs(summary["av_offset_ms"]) <= MAX_OFFSET * 1000, summary
    first_summary = json.loads(results[0][0].splitlines()[-1])
    assert first_summary["audio_packets"] == SECONDS * 50  # 20 ms packets, all of them
    heard = wav_samples(outs[0] / "sound.wav")
    assert heard[: len(source)] == source  # the clip's samples, each as the file has it
    late_summary = json.loads(results[1][0].splitlines()[-1])
    joined_at = len(source) - late_summary["audio_packets"] * RATE // 50  # a packet: 20 ms
    late_heard = wav_samples(outs[1] / "sound.wav")
    assert RATE <= joined_at < len(source)  # it joined a second or more in
    assert late_heard[: len(source) - joined_at] == source[joined_at:]  # from there on
    assert log.count("multicast stream of av.mjpeg to 239.255.12.42:5004 starts") == 1
    assert "Traceback" not in log


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg (apt install ffmpeg)")
def test_ffmpeg_records_the_groups_clicks_with_their_flashes(namespace, root, tmp_path):
    pytest.importorskip("av", reason="needs PyAV (pip install -r requirements-dev.txt)")
    out = tmp_path / "out.mkv"
    with our_group(namespace, root, 8566):
        done = namespace.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-rtsp_transport", "udp_multicast",
             "-i", "rtsp://127.0.0.1:8566/av.mjpeg", "-map", "0", "-c", "copy", str(out)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    frames, samples = recorded(out)
    flashes, clicks = onsets(frames, samples)
    assert len(flashes) == len(clicks) == SECONDS
    for flash, click in zip(flashes, clicks, strict=True):
        assert abs(click - flash) < 1 / FPS, (flashes, clicks)
