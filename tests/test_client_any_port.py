"""RTP from another port than the SETUP reply's server_port (a server behind NAT, a relay):
taken from the server's address by the SSRC the reply named, over UDP, with no switch to
TCP; `strict_ports` refuses it, as the client did before it took any port. (The clip is over
before the UDP fallback's wait: what UDP did is all there is to see.)"""

from __future__ import annotations

import pytest

from conftest import running_server
from helpers import pixels, video_pixels
from MakeVideo import make_clip
from relay import LOOPBACK, LossyRelay, free_port_pair
from rtsplab.client.connection import RtspClient

FPS = 50
FRAMES = 40
END_TIMEOUT = 30.0


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.Mjpeg"
    make_clip(path, 320, 240, FRAMES, fmt="lab")
    return path


def session_through_a_port_moving_relay(clip, **options):
    """Stream `clip` over standard RTSP through a relay whose RTP leaves from a port of its
    own; the frames the client delivered, and the client (closed)."""
    client_port = free_port_pair()
    frames = []
    with (
        running_server(clip.parent, fps=FPS) as server,
        LossyRelay(client_port, seed=1, move_source_port=True) as relay,
    ):
        assert relay.sender.getsockname()[1] not in (relay.port, relay.port + 1)
        client = RtspClient(LOOPBACK, server.port, client_port,
                            f"rtsp://{LOOPBACK}:{server.port}/{clip.name}",
                            announce_port=relay.port, on_frame=lambda f, ts: frames.append(f),
                            **options)  # fmt: skip
        try:
            client.setup()
            client.play()
            assert client.ended.wait(END_TIMEOUT), "no BYE at the end of the file"
            client.teardown()
        finally:
            client.close()
    return frames, client


def test_rtp_from_a_moved_port_plays_pixel_exact_over_udp(clip):
    frames, client = session_through_a_port_moving_relay(clip)
    assert not client.session.tcp  # no fallback: UDP played
    assert [pixels(frame) for frame in frames] == video_pixels(clip)
    summary = client.summary()
    assert (summary["wrong_port"], summary["foreign"], summary["lost_packets"]) == (0, 0, 0)


def test_strict_ports_refuses_it(clip):
    frames, client = session_through_a_port_moving_relay(clip, strict_ports=True)
    assert frames == []  # the whole file went by: not one packet taken from the moved port
    summary = client.summary()
    assert summary["packets"] == 0 and summary["wrong_port"] == summary["foreign"] > 0
