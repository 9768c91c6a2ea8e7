"""RFC 2326 §12.39's `source=`: a multicast stream sent from another address than the one the
client reached the server at (a host with two interfaces, `--multicast-interface`).

Pure first: the server names `source=` in its SETUP reply exactly when the group's traffic
leaves from another address than the RTSP connection's; the client takes it as the one
address the group's RTP and the server's RTCP come from, and refuses a source no host sends
from. Then in a network namespace with two addresses: our server sends the group's stream
from the second while the client speaks RTSP to the first, and the client plays every frame.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from helpers import pixels
from MakeVideo import make_clip
from netns import LOOPBACK, group_server, netns_or_skip
from rtsplab.client.multicast import media_source
from rtsplab.client.session import ClientError, ClientSession, parse_target
from rtsplab.client.transport_reply import GroupTransport
from rtsplab.rtp.sender import RtpSender
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.headers.transport import TransportSpec
from rtsplab.rtsp.message import Headers, RtspRequest, RtspResponse
from rtsplab.server.session import MulticastConfig, ServerSession, StreamConfig
from test_multicast_server import (
    ffmpeg_member,
    gst_member,
    gstreamer_pictures,
    needs_ffmpeg,
    pictures,
)
from VideoStream import VideoStream

GROUP = "239.255.12.42"  # organisation-local scope (RFC 2365): never routed off a site
SECOND_ADDRESS = "192.0.2.1"  # TEST-NET-1 (RFC 5737): the namespace's second address
FPS = 20
FRAMES = 60
PROCESS_TIMEOUT = 40
MAX_LATE_FRAMES = 20  # a member a second behind the first PLAY (a loaded machine)


# -- the server: source= when the group's traffic leaves from elsewhere (pure) ---------------


class SentFrom:
    """A file's multicast stream as a session sees it, sending from `source`."""

    def __init__(self, path: Path, source: str) -> None:
        self.media = VideoStream(path)
        self.sender = RtpSender(FPS, payloader=lambda frame, size: [(b"", frame)], ssrc=0xABCD)
        self.port = 5004
        self.source = source

    def rewind_if_played(self) -> None:
        pass


class Groups:
    def __init__(self, source: str) -> None:
        self.source = source

    def join(self, path: Path) -> SentFrom:
        return SentFrom(path, self.source)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    make_clip(tmp_path / "clip.mjpeg", 64, 48, 10, fmt="mjpeg")
    return tmp_path / "clip.mjpeg"


def multicast_reply(clip: Path, sent_from: str, reached_at: str) -> TransportSpec:
    config = StreamConfig(clip.parent, FPS, multicast=MulticastConfig(GROUP, 5004))
    session = ServerSession(config, "127.0.0.1", 40000, groups=Groups(sent_from),
                            server_address=(reached_at, 8554))  # fmt: skip
    request = RtspRequest("SETUP", "rtsp://h/clip.mjpeg/track1",
                          Headers([("CSeq", "1"), ("Transport", "RTP/AVP;multicast")]))  # fmt: skip
    reply = session.handle(request)
    assert reply.status == 200
    return TransportSpec.parse(reply.headers["Transport"])


@pytest.mark.parametrize(
    ("sent_from", "reached_at", "source"),
    [
        (SECOND_ADDRESS, "127.0.0.1", SECOND_ADDRESS),  # two interfaces: named
        ("127.0.0.1", "127.0.0.1", None),  # the connection's own address: nothing to say
        ("127.0.0.1", "::ffff:127.0.0.1", None),  # the same, as a dual-stack socket says it
        ("0.0.0.0", "127.0.0.1", None),  # unknown (no route to the group): not guessed
    ],
)
def test_the_reply_names_the_source_only_when_the_group_is_sent_from_elsewhere(
    clip, sent_from, reached_at, source
):
    spec = multicast_reply(clip, sent_from, reached_at)
    assert spec.source == source
    assert (spec.destination, spec.port, spec.ssrc) == (GROUP, (5004, 5005), 0xABCD)


def test_source_is_a_transport_parameter_that_round_trips():
    text = "RTP/AVP;multicast;destination=239.255.12.42;source=192.0.2.1;port=5004-5005;ttl=1"
    spec = TransportSpec.parse(text)
    assert spec.source == SECOND_ADDRESS and spec.format() == text
    for bad in ("source=", "source=a,b", "source=" + "1" * 256, "source=192.0.2.256"):
        with pytest.raises(RtspError) as refused:
            TransportSpec.parse("RTP/AVP;multicast;" + bad)
        assert refused.value.status == 400


# -- the client: the group's traffic taken from that source (pure) ---------------------------


def setup_reply(transport: str) -> GroupTransport:
    url = "rtsp://127.0.0.1:8554/clip"
    session = ClientSession(parse_target("127.0.0.1", 8554, url), 0, multicast=True)
    request = session.setup(0.0)
    reply = RtspResponse(200, Headers([("CSeq", str(request.cseq)), ("Session", "1"),
                                       ("Transport", transport)]))  # fmt: skip
    session.receive(reply, 0.0)
    group = session.server.group
    assert group is not None
    return group


def test_the_client_takes_the_groups_traffic_from_the_source_the_reply_names():
    named = setup_reply(f"RTP/AVP;multicast;destination={GROUP};source={SECOND_ADDRESS};"
                        "port=5004-5005")  # fmt: skip
    assert named.source == SECOND_ADDRESS
    assert media_source(named, "127.0.0.1") == SECOND_ADDRESS
    unnamed = setup_reply(f"RTP/AVP;multicast;destination={GROUP};port=5004-5005")
    assert unnamed.source is None and media_source(unnamed, "127.0.0.1") == "127.0.0.1"
    assert media_source(None, "127.0.0.1") == "127.0.0.1"  # unicast: the server's


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("239.1.2.3", "is not a host's address"),
        ("0.0.0.0", "is not a host's address"),
        ("255.255.255.255", "is not a host's address"),
        ("sender.example", "is not an IPv4 address"),
        ("2001:db8::1", "is not an IPv4 address"),
        ('"192.0.2.1"', "is not an IPv4 address"),
    ],
)
def test_a_source_no_host_sends_from_is_refused(source, why):
    transport = f"RTP/AVP;multicast;destination={GROUP};source={source};port=5004-5005"
    with pytest.raises(ClientError) as refused:
        setup_reply(transport)
    assert str(refused.value) == (
        f"the server's SETUP reply has a bad Transport: source {source!r} {why}"
    )


# -- in a namespace with two addresses: our server and our client ----------------------------


@pytest.fixture(scope="module")
def two_addresses():
    """A namespace whose loopback has a second address, the multicast interface."""
    for ns in netns_or_skip("src"):
        ns.ip("address", "add", f"{SECOND_ADDRESS}/32", "dev", "lo")
        yield ns


def server_sending_from(ns, root: Path, port: int, interface: str):
    """Our server in `ns`: RTSP on 127.0.0.1, the group's stream from `interface`."""
    return group_server(ns, root, port, FPS, GROUP, "--host", LOOPBACK, "-v",
                        interface=interface)  # fmt: skip


def clip_pictures(root: Path) -> list[bytes]:
    make_clip(root / "clip.mjpeg", 160, 120, FRAMES, fmt="mjpeg")
    with VideoStream(root / "clip.mjpeg") as video:
        return [pixels(video.frame(i)) for i in range(video.frame_count)]


def assert_a_run_to_the_end(got: list[bytes], source: list[bytes]) -> None:
    assert got and got[-1] == source[-1]
    first = source.index(got[0])
    assert first <= MAX_LATE_FRAMES and got == source[first:]


@pytest.mark.parametrize(("interface", "port"), [(SECOND_ADDRESS, 8561), (LOOPBACK, 8562)])
def test_our_client_plays_a_group_sent_from_another_address_than_the_rtsp_one(
    two_addresses, tmp_path, interface, port
):
    """RTSP on 127.0.0.1; the group's stream from `interface`. With the second address, the
    reply says source=192.0.2.1 and the client takes the stream from there (before, every
    packet was "not this session's"); with the first, the reply names none. Either way every
    picture the client saves is the clip's, in order, to its end."""
    source = clip_pictures(tmp_path)
    with server_sending_from(two_addresses, tmp_path, port, interface) as server:
        client = two_addresses.run(
            [sys.executable, str(ROOT / "ClientLauncher.py"), LOOPBACK, str(port), "0",
             f"rtsp://{LOOPBACK}:{port}/clip.mjpeg", "--headless", "--multicast",
             "--multicast-interface", LOOPBACK, "--save", str(tmp_path / "got.mjpeg")],
            capture_output=True, text=True, timeout=PROCESS_TIMEOUT, cwd=ROOT,
        )  # fmt: skip
    log = server.stderr.read()
    assert client.returncode == 0, client.stderr
    summary = json.loads(client.stdout)
    got = pictures((tmp_path / "got.mjpeg").read_bytes())
    assert_a_run_to_the_end(got, source)
    assert summary["frames"] == len(got) and summary["lost_packets"] == 0
    replies = [line for line in log.splitlines() if "destination=" in line]  # SETUP's reply
    assert replies, log
    if interface == SECOND_ADDRESS:
        assert f"source={SECOND_ADDRESS}" in replies[0]
    else:
        assert "source=" not in replies[0]
    assert "Traceback" not in log


@needs_ffmpeg
@pytest.mark.skipif(shutil.which("gst-launch-1.0") is None, reason="no GStreamer "
                    "(apt-get install gstreamer1.0-tools gstreamer1.0-plugins-good)")  # fmt: skip
def test_ffmpeg_and_gstreamer_members_play_a_reply_naming_the_source(two_addresses, tmp_path):
    """The source= the reply adds changes nothing for the players: each still receives every
    picture of the group's stream from the second address. One after the other: ffmpeg
    sharing the group with GStreamer stops a second or two in, with or without source=."""
    source = clip_pictures(tmp_path)
    url = f"rtsp://{LOOPBACK}:8563/clip.mjpeg"
    with server_sending_from(two_addresses, tmp_path, 8563, SECOND_ADDRESS):
        for start, name in ((ffmpeg_member, "ffmpeg"), (gst_member, "gst")):
            member = start(two_addresses, url, tmp_path / f"{name}.mjpeg")
            _, err = member.communicate(timeout=PROCESS_TIMEOUT)  # ended by the server's BYE
            assert member.returncode == 0, err
    assert_a_run_to_the_end(pictures((tmp_path / "ffmpeg.mjpeg").read_bytes()), source)
    assert_a_run_to_the_end(gstreamer_pictures((tmp_path / "gst.mjpeg").read_bytes()), source)
