"""Real players and a real server as peers and judges: ffmpeg and GStreamer play our server,
and our client plays GStreamer's gst-rtsp-server — every frame, decoded pixel-identical."""

import json
import subprocess
import sys
import time

import pytest

from conftest import ROOT, free_port, running_server
from gst import gst_available, gst_rtsp_server
from helpers import needs_ffmpeg, needs_gst_launch, pixels, video_pixels
from MakeVideo import make_clip

FPS = 20
FRAMES = 20


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interop")
    for name, size, frames in [("hd.mjpeg", (1280, 720), FRAMES), ("fhd.mjpeg", (1920, 1080),
                               FRAMES), ("uhd.mjpeg", (3840, 2160), 6)]:  # fmt: skip
        make_clip(folder / name, *size, frames, fmt="mjpeg")
    return folder


def ffmpeg_frame_md5s(*args, timeout=60):
    """ffmpeg's decoded frames as MD5s (-f framemd5), and whatever it said on stderr."""
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", *args, "-f", "framemd5", "-"],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    md5s = [line.rsplit(",", 1)[1].strip() for line in done.stdout.splitlines()
            if line and not line.startswith("#")]  # fmt: skip
    return md5s, done.stderr.strip(), done.returncode


# -- ffmpeg plays our server ------------------------------------------------------------


@needs_ffmpeg
@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("clip", ["hd.mjpeg", "fhd.mjpeg"])
def test_ffmpeg_decodes_every_frame_from_our_server(clips, clip, transport):
    reference, _, _ = ffmpeg_frame_md5s("-i", str(clips / clip))  # ffmpeg reading the file
    assert len(reference) == FRAMES
    with running_server(clips, fps=FPS) as server:
        url = f"rtsp://127.0.0.1:{server.port}/{clip}"
        got, errors, code = ffmpeg_frame_md5s("-rtsp_transport", transport, "-i", url)
    assert errors == "" and code == 0
    assert got == reference  # every frame, decoded to the same pixels


@needs_ffmpeg
def test_ffmpeg_seeking_lands_on_the_right_frame(clips):
    reference, _, _ = ffmpeg_frame_md5s("-i", str(clips / "hd.mjpeg"))
    with running_server(clips, fps=FPS) as server:
        url = f"rtsp://127.0.0.1:{server.port}/hd.mjpeg"
        got, errors, code = ffmpeg_frame_md5s("-rtsp_transport", "tcp", "-ss", "0.5", "-i", url)
    assert errors == "" and code == 0
    assert got == reference[10:]  # 0.5 s at 20 fps: from frame 10 on


# -- GStreamer plays our server ---------------------------------------------------------


@needs_gst_launch
@pytest.mark.parametrize("clip", ["hd.mjpeg", "uhd.mjpeg"])
def test_gstreamer_receives_every_frame_from_our_server(clips, clip, tmp_path):
    with running_server(clips, fps=FPS) as server:
        url = f"rtsp://127.0.0.1:{server.port}/{clip}"
        done = subprocess.run(
            ["gst-launch-1.0", "-q", "rtspsrc", f"location={url}", "protocols=tcp", "!",
             "rtpjpegdepay", "!", "tee", "name=t", "t.", "!", "queue", "!", "jpegdec", "!",
             "fakesink", "t.", "!", "queue", "!", "multifilesink",
             f"location={tmp_path}/frame%05d.jpg"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    received = [pixels(p.read_bytes()) for p in sorted(tmp_path.glob("frame*.jpg"))]
    assert received == video_pixels(clips / clip)  # 4K too: the SDP's x-dimensions


# -- our client plays GStreamer's server, and ours --------------------------------------


def headless(url, out, *extra):
    done = subprocess.run(
        [sys.executable, str(ROOT / "ClientLauncher.py"), "127.0.0.1",
         url.split(":")[2].split("/")[0], str(free_port()), url, "--headless", "--save",
         str(out), "--idle", "2", *extra],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def saved_pixels(path):
    return video_pixels(path) if path.stat().st_size else []


@pytest.mark.skipif(gst_available() is not None, reason=str(gst_available()))
@pytest.mark.parametrize("clip", ["hd.mjpeg", "uhd.mjpeg"])
def test_our_client_plays_gstreamers_rtsp_server(clips, clip, tmp_path):
    out = tmp_path / "saved.mjpeg"
    with gst_rtsp_server(clips / clip, FPS) as url:
        headless(url, out)
    assert saved_pixels(out) == video_pixels(clips / clip)


@pytest.mark.skipif(gst_available() is not None, reason=str(gst_available()))
def test_our_client_plays_jpeg_under_a_dynamic_payload_type(clips, tmp_path):
    """RFC 3551 lets a server map JPEG/90000 to a dynamic type; ffmpeg plays it, so do we."""
    out = tmp_path / "saved.mjpeg"
    with gst_rtsp_server(clips / "hd.mjpeg", FPS, extra=("--pt", "96")) as url:
        done = headless(url, out)
    assert saved_pixels(out) == video_pixels(clips / "hd.mjpeg")
    assert json.loads(done.stdout)["foreign"] == 0


@pytest.mark.skipif(gst_available() is not None, reason=str(gst_available()))
def test_a_stream_with_no_jpeg_is_refused_at_describe_naming_what_it_offers(clips):
    with gst_rtsp_server(clips / "hd.mjpeg", FPS, extra=("--raw",)) as url:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, str(ROOT / "ClientLauncher.py"), "127.0.0.1", "554",
             str(free_port()), url, "--headless"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        took = time.monotonic() - started
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines()[-1] == (
        "error: the stream offers RAW/90000; this client plays JPEG (RFC 2435)"
    )
    assert took < 10, f"refused only after {took:.1f} s"  # at DESCRIBE: no 12 s of waiting


@pytest.mark.parametrize("mode", [[], ["--tcp"]], ids=["udp", "tcp"])
def test_our_client_and_server_in_standard_rtsp_are_pixel_identical(clips, mode, tmp_path):
    out = tmp_path / "saved.mjpeg"
    with running_server(clips, fps=FPS) as server:
        url = f"rtsp://127.0.0.1:{server.port}/uhd.mjpeg"
        headless(url, out, *mode)
    assert saved_pixels(out) == video_pixels(clips / "uhd.mjpeg")  # headers rebuilt
