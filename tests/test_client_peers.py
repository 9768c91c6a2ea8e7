"""Our client plays the servers people run, pixel-exact: two relays fed by ffmpeg
(rtsp-server-perl and the npm rtsp-streaming-server, which send no Content-Base and name
their tracks `streamid=N`), VLC's own RTSP server (UDP only), and gst-rtsp-server offering
RTP/AVPF alone.

The relays and VLC are live and loop the clip: the client joins a stream already running and
stops after PLAYED frames, so what it saves is a run of the looped clip's frames from wherever
it joined, each frame pixel-exact, none skipped.
"""

import json
import subprocess
import sys

import pytest

from conftest import ROOT, free_port
from gst import gst_available, gst_rtsp_server
from helpers import video_pixels
from MakeVideo import make_clip
from peer_servers import (
    npm_relay_missing,
    perl_relay_missing,
    publishing,
    relay,
    vlc_missing,
    vlc_serving,
)

FPS = 20
FRAMES = 40
PLAYED = 60  # frames the client plays from a live server: across a loop of the relays' clip
VLC_FRAMES = 240  # 12 s: VLC plays its clip once, which must outlast the client's start
IDLE = "2"  # seconds of silence after which the headless client has played it all
CLIENT_TIMEOUT = 60


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("peers") / "clip.mjpeg"
    make_clip(path, 640, 360, FRAMES, fmt="mjpeg")
    return path


@pytest.fixture(scope="module")
def vlc_clip(tmp_path_factory):
    """A longer clip, as ffmpeg's MJPEG encoder writes it: VLC's RTP packetizer sends nothing
    at all for the project's own JPEGs (two quantization tables in two DQT segments), and
    the same pictures re-encoded by ffmpeg play; with the standard Huffman tables, as RFC
    2435 carries none (§3.1.3). The pixels compared are this file's."""
    folder = tmp_path_factory.mktemp("vlc")
    make_clip(folder / "ours.mjpeg", 320, 176, VLC_FRAMES, fmt="mjpeg")
    path = folder / "clip.mjpeg"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "mjpeg", "-i", str(folder / "ours.mjpeg"),
         "-c:v", "mjpeg",
         "-pix_fmt", "yuvj420p", "-huffman", "default", "-q:v", "3", "-f", "mjpeg", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def play(url, out, *extra):
    """The headless client playing `url` until IDLE seconds of silence (or what `extra`
    says); its summary."""
    port = url.split(":")[2].split("/")[0]
    done = subprocess.run(
        [sys.executable, str(ROOT / "ClientLauncher.py"), "127.0.0.1", port, str(free_port()),
         url, "--headless", "--save", str(out), "--idle", IDLE, *extra],
        capture_output=True, text=True, timeout=CLIENT_TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_a_run_of(saved, source):
    """`saved` holds PLAYED frames, pixel-exact, in the looped clip's order from some frame
    on, none missing between."""
    got = video_pixels(saved) if saved.stat().st_size else []
    clip = video_pixels(source)
    looped = clip * (2 + PLAYED // len(clip))
    assert len(got) == PLAYED
    starts = [i for i in range(len(clip)) if clip[i] == got[0]]
    assert any(looped[i : i + PLAYED] == got for i in starts), "not a run of the clip's frames"


@pytest.mark.parametrize("audio", [False, True], ids=["video", "video+audio"])
@pytest.mark.parametrize("kind", ["perl", "npm"])
def test_our_client_plays_a_relay_ffmpeg_publishes_into(clip, kind, audio, tmp_path):
    missing = perl_relay_missing() if kind == "perl" else npm_relay_missing()
    if missing:
        pytest.skip(missing)
    out = tmp_path / "saved.mjpeg"
    with relay(kind) as (publish_port, play_port):
        with publishing(clip, FPS, publish_port, play_port, audio=audio) as url:
            summary = play(url, out, "--frames", str(PLAYED))
    assert_a_run_of(out, clip)
    assert summary["lost_packets"] == 0 and summary["foreign"] == 0  # the audio is not ours


def test_our_client_plays_vlc_over_udp(vlc_clip, tmp_path):
    missing = vlc_missing()
    if missing:
        pytest.skip(missing)
    out = tmp_path / "saved.mjpeg"
    with vlc_serving(vlc_clip, FPS) as url:
        summary = play(url, out, "--frames", str(PLAYED))
    assert_a_run_of(out, vlc_clip)
    assert summary["lost_packets"] == 0


@pytest.mark.skipif(gst_available() is not None, reason=str(gst_available()))
@pytest.mark.parametrize("mode", [[], ["--tcp"]], ids=["udp", "tcp"])
def test_our_client_plays_gst_rtsp_server_offering_avpf_alone(clip, mode, tmp_path):
    """`m=video 0 RTP/AVPF 26 96`: a SETUP for RTP/AVP would get 461. The server is not live:
    every frame from the first."""
    out = tmp_path / "saved.mjpeg"
    with gst_rtsp_server(clip, FPS, extra=("--avpf",)) as url:
        play(url, out, *mode)
    assert video_pixels(out) == video_pixels(clip)
