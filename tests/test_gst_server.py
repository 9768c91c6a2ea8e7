"""GStreamer's RTSP server (tests/gst_rtsp_server.py), checked with independent clients.

Later tests play this server with our client; these prove the server itself is right, with
ffmpeg and GStreamer's own rtspsrc as clients: every frame arrives, decodes to the same
pixels as the clip, timestamped at the clip's rate, from frame 0 for each client.
"""

from __future__ import annotations

import itertools
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from gst import (
    GST_PYTHON,
    READY_TIMEOUT,
    SCRIPT,
    GstServerError,
    gst_available,
    gst_rtsp_server,
)
from MakeVideo import make_clip

FRAMES = 20
FPS = 20.0
RTP_CLOCK = 90_000  # RTP/JPEG timestamps, RFC 2435 §3
CLIENT_TIMEOUT = 30.0  # seconds for any one client run; a clip plays in about 1 s
RTSP_TIMEOUT = 5.0
MAX_RESPONSE = 64 * 1024


@pytest.fixture(scope="module")
def tools() -> None:
    reason = gst_available()
    if reason:
        pytest.skip(reason)
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not on PATH: apt install ffmpeg")


@pytest.fixture(scope="module")
def clip(tools, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gst") / "clip.mjpeg"
    make_clip(path, 1280, 720, FRAMES, fmt="mjpeg")
    return path


@pytest.fixture(scope="module")
def clip_hashes(clip) -> list[str]:
    """The clip's frames decoded by ffmpeg straight from the file."""
    return framemd5(["-f", "mjpeg", "-i", str(clip)])


def run(command: list[str], timeout: float = CLIENT_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def framemd5(inputs: list[str]) -> list[str]:
    """The MD5 of every decoded frame, with ffmpeg; fails on any error output."""
    done = run(["ffmpeg", "-nostdin", "-v", "error", *inputs, "-f", "framemd5", "-"])
    assert done.returncode == 0 and done.stderr == "", done.stderr
    rows = [line for line in done.stdout.splitlines() if line and not line.startswith("#")]
    return [row.rsplit(",", 1)[1].strip() for row in rows]


def from_rtsp(url: str) -> list[str]:
    return framemd5(["-rtsp_transport", "tcp", "-i", url])


def describe(url: str) -> tuple[str, str]:
    """(status line, SDP) of an RTSP DESCRIBE, over a plain socket."""
    parts = urllib.parse.urlsplit(url)
    request = f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=RTSP_TIMEOUT) as sock:
        sock.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += receive(sock, data)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        fields = dict(line.split(":", 1) for line in lines[1:])
        length = int({k.strip().lower(): v for k, v in fields.items()}.get("content-length", 0))
        while len(body) < length:
            body += receive(sock, head + body)
    return lines[0], body[:length].decode()


def receive(sock: socket.socket, so_far: bytes) -> bytes:
    chunk = sock.recv(4096)
    assert chunk, f"server closed the connection after {so_far!r}"
    assert len(so_far) + len(chunk) <= MAX_RESPONSE, "RTSP response too long"
    return chunk


def test_ffmpeg_decodes_every_frame_to_the_clips_pixels(clip, clip_hashes):
    assert len(clip_hashes) == FRAMES
    with gst_rtsp_server(clip, FPS) as url:
        assert url.startswith("rtsp://127.0.0.1:") and url.endswith("/clip")
        started = time.monotonic()
        hashes = from_rtsp(url)
        seconds = time.monotonic() - started
    assert hashes == clip_hashes
    # The server paces the clip in real time: the last frame goes out (FRAMES - 1) / FPS
    # after the first. Loose by a quarter, to stay clear of scheduling noise.
    assert seconds >= 0.75 * (FRAMES - 1) / FPS


@pytest.mark.parametrize("fps", [FPS, 29.97])
def test_rtp_timestamps_advance_by_one_frame_duration(clip, fps):
    with gst_rtsp_server(clip, fps) as url:
        done = run(
            ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-i", url]
            + ["-show_entries", "packet=pts", "-of", "csv=p=0"]
        )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    pts = [int(line) for line in done.stdout.split()]
    assert len(pts) == FRAMES
    # 90 kHz / 20 fps = 4500; 29.97 is 30000/1001 fps: 90 kHz * 1001/30000 = 3003.
    step = round(RTP_CLOCK / fps)
    assert [b - a for a, b in itertools.pairwise(pts)] == [step] * (FRAMES - 1)


def test_two_clients_at_once_each_get_the_clip_from_frame_0(clip, clip_hashes):
    results: dict[str, list[str]] = {}

    def play(name: str, url: str) -> None:
        results[name] = from_rtsp(url)

    with gst_rtsp_server(clip, FPS) as url:
        first = threading.Thread(target=play, args=("first", url))
        first.start()
        # Well into the first client's stream. A sleep, for want of a condition to see: ffmpeg
        # reports no frame until its probing has read about the whole of so short a clip,
        # and the server says nothing per client.
        time.sleep(0.3 * FRAMES / FPS)
        play("second", url)
        first.join(CLIENT_TIMEOUT)
    assert results == {"first": clip_hashes, "second": clip_hashes}


def test_gstreamer_rtspsrc_receives_every_frame_and_sees_the_end(clip, clip_hashes, tmp_path):
    if shutil.which("gst-launch-1.0") is None:
        pytest.skip("gst-launch-1.0 not on PATH: apt install gstreamer1.0-tools")
    pattern = tmp_path / "%05d.jpg"
    with gst_rtsp_server(clip, FPS) as url:
        # gst-launch exits 0 only at end-of-stream, which rtspsrc gives on the server's BYE.
        done = run(
            ["gst-launch-1.0", "-q", "rtspsrc", f"location={url}", "protocols=tcp"]
            + ["!", "rtpjpegdepay", "!", "multifilesink", f"location={pattern}"]
        )
    assert done.returncode == 0, done.stdout + done.stderr
    frames = sorted(tmp_path.glob("*.jpg"))
    assert len(frames) == FRAMES
    # The depayloader rebuilds each JPEG's headers (RFC 2435 Appendix A): not the clip's
    # bytes, but the same pixels.
    joined = tmp_path / "joined.mjpeg"
    joined.write_bytes(b"".join(frame.read_bytes() for frame in frames))
    assert framemd5(["-f", "mjpeg", "-i", str(joined)]) == clip_hashes


@pytest.mark.parametrize(
    ("width", "height", "dimensions"),
    [
        (1280, 720, None),
        # RTP/JPEG's width and height bytes count 8 pixels, so 2040 is the most they carry
        # (RFC 2435 §3.1.5); above it rtpjpegpay sends 0 and the size goes in the SDP.
        (3840, 2160, "a=x-dimensions:3840,2160"),
    ],
)
def test_sdp_describes_rtp_jpeg(tools, tmp_path, width, height, dimensions):
    path = tmp_path / "clip.mjpeg"
    make_clip(path, width, height, 2, fmt="mjpeg")
    with gst_rtsp_server(path, FPS) as url:
        status, sdp = describe(url)
    assert status == "RTSP/1.0 200 OK"
    lines = sdp.splitlines()
    assert "m=video 0 RTP/AVP 26" in lines
    assert "a=rtpmap:26 JPEG/90000" in lines
    assert "a=framerate:20.000000" in lines
    assert [line for line in lines if line.startswith("a=x-dimensions")] == (
        [dimensions] if dimensions else []
    )


def test_a_clip_that_is_not_mjpeg_fails_to_start_with_the_reason(tools, tmp_path):
    path = tmp_path / "lab.Mjpeg"
    path.write_bytes(b"00004" + b"\xff\xd8\xff\xd9")  # the lab's format: length first
    with pytest.raises(GstServerError, match="not raw MJPEG"):
        with gst_rtsp_server(path, FPS):
            pass


def test_sigterm_stops_the_server_cleanly_while_a_client_plays(clip):
    command = [GST_PYTHON, "-I", str(SCRIPT), "--port", "0", "--clip", str(clip), "--fps", "20"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    client = None
    watchdog = threading.Timer(READY_TIMEOUT, server.kill)  # bounds the readline below
    watchdog.start()
    try:
        ready = server.stdout.readline()
        watchdog.cancel()
        assert ready.startswith("READY rtsp://127.0.0.1:"), server.stderr.read()
        client = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp"]
            + ["-i", ready.split()[1], "-f", "null", "-"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5 * FRAMES / FPS)  # mid-stream: a sleep, as above (no condition to see)
        assert client.poll() is None, "the client finished before the server was stopped"
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=5) == 0
        assert server.stderr.read() == ""
    finally:
        watchdog.cancel()
        for process in (server, client):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=5)
        server.stdout.close()
        server.stderr.close()
