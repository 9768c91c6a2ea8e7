"""Real players record a clip with sound from our server: ffmpeg keeps both tracks in step
(each click within a frame period of its flash, as it times both by the sender reports),
GStreamer's rtspsrc takes every frame and every sample, over UDP and interleaved TCP."""

import subprocess
import wave
from array import array

import pytest

from av_marks import onsets, recorded
from conftest import running_server
from helpers import needs_ffmpeg, needs_gst_launch, pixels, video_pixels
from rtsplab.media.clip_file import make_av_clip
from rtsplab.payload.l16 import swapped

av = pytest.importorskip("av", reason="needs PyAV (pip install -r requirements-dev.txt)")

FPS = 20
SECONDS = 5
RATE = 48_000


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("av")
    make_av_clip(root / "av.mjpeg", 320, 240, SECONDS, FPS)
    return root


def wav_samples(root, start=0):
    with wave.open(str(root / "av.wav"), "rb") as wav:
        wav.setpos(start)
        return wav.readframes(wav.getnframes() - start)


# ffmpeg seeks (-ss) with PLAY, PAUSE, PLAY with a Range, and tells the packets of the
# seek's PLAY from older ones by RTP-Info's rtptime alone, not by its seq: over UDP, what
# left between its first PLAY and its PAUSE may still wait in its socket and be recorded.
# Seeking over UDP is shown in test_audio_end_to_end, packet by packet.
@needs_ffmpeg
@pytest.mark.parametrize(("transport", "start"), [("udp", 0), ("tcp", 0), ("tcp", 1.5)])
def test_ffmpeg_records_each_click_with_its_flash(root, transport, start, tmp_path):
    out = tmp_path / "out.mkv"
    seek = ["-ss", str(start)] if start else []
    with running_server(root, fps=FPS) as server:
        server.config.rtcp_reduced_minimum = True  # SRs from the first fraction of a second:
        # ffmpeg then times both tracks by them, not by RTP-Info
        url = f"rtsp://127.0.0.1:{server.port}/av.mjpeg"
        done = subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-rtsp_transport", transport, *seek,
             "-i", url, "-map", "0", "-c", "copy", str(out)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    frames, samples = recorded(out)
    assert len(frames) == (SECONDS - start) * FPS
    assert len(samples) == (SECONDS - start) * RATE
    flashes, clicks = onsets(frames, samples)
    assert len(flashes) == len(clicks) == SECONDS - int(start + 0.5)
    for flash, click in zip(flashes, clicks, strict=True):
        assert abs(click - flash) < 1 / FPS, (flashes, clicks)
    if transport == "tcp":  # nothing lost: the very samples of the file
        sound = array("h", [value for _, value in samples]).tobytes()
        assert sound == wav_samples(root, int(start * RATE))


def whole(jpeg):
    """A frame as rtpjpegdepay wrote it, with its EOI: it adds the one RFC 2435 leaves out
    unless the scan's last byte happens to be 0xD9 (it tests its two bytes with "and")."""
    return jpeg if jpeg.endswith(b"\xff\xd9") else jpeg + b"\xff\xd9"


@needs_gst_launch
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_gstreamer_plays_both_tracks_whole(root, transport, tmp_path):
    with running_server(root, fps=FPS) as server:
        url = f"rtsp://127.0.0.1:{server.port}/av.mjpeg"
        done = subprocess.run(
            ["gst-launch-1.0", "-q", "rtspsrc", f"location={url}", f"protocols={transport}",
             "name=src",
             "src.", "!", "application/x-rtp,media=video", "!", "queue", "!", "rtpjpegdepay",
             "!", "multifilesink", f"location={tmp_path}/frame%05d.jpg",
             "src.", "!", "application/x-rtp,media=audio", "!", "queue", "!", "rtpL16depay",
             "!", "filesink", f"location={tmp_path}/sound.raw"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    frames = sorted(tmp_path.glob("frame*.jpg"))
    sound = (tmp_path / "sound.raw").read_bytes()  # S16BE: L16 as it came
    assert len(frames) == SECONDS * FPS and len(sound) == SECONDS * RATE * 2
    if transport == "tcp":  # nothing lost: every frame's pixels, every sample
        assert [pixels(whole(p.read_bytes())) for p in frames] == video_pixels(root / "av.mjpeg")
        assert sound == swapped(wav_samples(root))
