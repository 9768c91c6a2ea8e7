"""Loss repaired between our client and our server, end to end on loopback, in both dialects:
the server's impaired network drops its RTP (retransmissions included), the client NACKs the
gaps, and the frames saved are the source's, whole; without repair, frames are lost."""

import hashlib

import pytest

from conftest import run_client, running_server
from helpers import video_pixels
from MakeVideo import make_clip
from rtsplab.server.impairment import ImpairmentConfig

FRAMES = 60
FPS = 30


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("repair")
    make_clip(folder / "clip.Mjpeg", 640, 480, FRAMES, fmt="lab")  # the lab's format
    make_clip(folder / "clip.mjpeg", 640, 480, FRAMES, fmt="mjpeg")
    return folder


def play(clips, tmp_path, video, *extra, loss=5.0):
    with running_server(clips, fps=FPS) as server:
        server.config.impairment = ImpairmentConfig(loss=loss, loss_burst=2, seed=11)
        name = video.format(port=server.port)
        saved = tmp_path / "saved.mjpeg"
        code, summary, errors = run_client(server.port, name, "--save", str(saved), *extra)
    assert code == 0, errors
    return summary, pictures(saved)


def pictures(path):
    """Each frame's decoded pixels, hashed: RFC 2435 carries the picture, not the file."""
    return [hashlib.sha256(p).hexdigest() for p in video_pixels(path)]


@pytest.mark.parametrize("video, clip", [
    ("clip.Mjpeg", "clip.Mjpeg"),  # the lab's dialect: both ends ours, x-rtx in SETUP
    ("rtsp://127.0.0.1:{port}/clip.mjpeg", "clip.mjpeg"),  # standard: RTP/AVPF, the SDP's rtx
])  # fmt: skip
def test_lost_packets_are_asked_for_and_the_frames_arrive_whole(clips, tmp_path, video, clip):
    source = pictures(clips / clip)
    repaired, frames = play(clips, tmp_path, video)
    assert repaired["nacks_sent"] > 0 and repaired["retransmissions"] > 0
    assert repaired["recovered_packets"] > 0 and repaired["rescued_frames"] > 0
    assert repaired["lost_packets"] > 0  # the network's loss, still reported as such
    # Every frame, whole (a repaired one saved when it completes, after later ones); the last
    # one's last packet, if lost, has no later packet to show the gap before the BYE ends the
    # stream (a tail loss no NACK can see).
    assert sorted(frames) in (sorted(source), sorted(source[:-1]))
    bare, frames_bare = play(clips, tmp_path, video, "--no-retransmission")
    assert bare["nacks_sent"] == 0 and bare["retransmissions"] == 0
    assert len(frames_bare) < len(frames)


def test_over_tcp_nothing_is_lost_and_nothing_asked(clips, tmp_path):
    summary, frames = play(clips, tmp_path, "rtsp://127.0.0.1:{port}/clip.mjpeg", "--tcp")
    assert summary["nacks_sent"] == 0 and len(frames) == FRAMES
