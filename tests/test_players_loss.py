"""ffmpeg and GStreamer's rtspsrc play our server through a seeded lossy network (RTP dropped,
RTCP passed both ways: tests/lossy_rtsp_proxy.py), with and without the server's repair
(RFC 4585 NACKs answered with the packets again; `Server.py --no-retransmission`).

The counts, not the times, are asserted. At 5 % loss a 1280x720 frame of ~70 packets comes
whole without repair about one time in thirty (0.95^70), so of FRAMES frames a handful at
most; repaired, rtspsrc gets nearly all. A margin of MARGIN frames between the two is far
from both, whatever the scheduling. ffmpeg asks for few of its losses (a NACK every 200 ms or
so) and waits 100 ms for a missing packet, so it is played at 1 %, where about half its frames
come whole without repair: with repair, more do.
"""

from __future__ import annotations

import pytest

from lossy_players import missing_tools, our_server, play_through_loss
from MakeVideo import make_clip

FPS = 30
FRAMES = 60
LOSS = 0.05
SEED = 4585
MARGIN = FRAMES // 3

pytestmark = pytest.mark.skipif(missing_tools() is not None, reason=str(missing_tools()))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("players_loss") / "hd.mjpeg"
    make_clip(path, 1280, 720, FRAMES, fmt="mjpeg")
    return path


def play(clip, player, *, retransmission, loss=LOSS):
    with our_server(clip.parent, FPS, retransmission=retransmission) as port:
        return play_through_loss(
            ("127.0.0.1", port), f"/{clip.name}", clip, player, seed=SEED, drop=loss
        )


def test_gstreamer_gets_more_whole_frames_with_repair(clip):
    bare = play(clip, "gstreamer", retransmission=False)
    repaired = play(clip, "gstreamer", retransmission=True)
    assert bare.dropped > 0 and repaired.dropped > 0, "the relay dropped nothing"
    assert repaired.nacks > 0, "rtspsrc sent no NACK"
    assert repaired.whole >= bare.whole + MARGIN, (bare, repaired)


def test_ffmpeg_gets_more_whole_frames_with_repair(clip):
    bare = play(clip, "ffmpeg", retransmission=False, loss=0.01)
    repaired = play(clip, "ffmpeg", retransmission=True, loss=0.01)
    assert bare.dropped > 0 and repaired.dropped > 0, "the relay dropped nothing"
    assert repaired.nacks > 0, "ffmpeg sent no NACK"
    assert repaired.whole > bare.whole, (bare, repaired)
