"""ffmpeg and GStreamer's rtspsrc playing a server through a seeded lossy network, and the
whole frames they got: for the loss test and `bench/players_loss_bench.py`.

    with our_server(folder, fps=30, retransmission=True) as port:
        run = play_through_loss(("127.0.0.1", port), "/clip.mjpeg", clip, "gstreamer",
                                seed=4585, drop=0.05)
    run.whole, run.frames_out, run.dropped, run.nacks

A frame counts whole when the player's decoded picture is the source's own frame decoded by
the same decoder (ffmpeg's MJPEG decoder, or GStreamer's jpegdec): its MD5 is among the
source's. Each source frame counts once, so a player that shows a frame twice gains nothing;
a frame decoded from a partial JPEG never matches.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lossy_rtsp_proxy import LossyRtspProxy
from rtsplab.cli import free_port

ROOT = Path(__file__).resolve().parent.parent
PLAYERS = ("ffmpeg", "gstreamer")
PLAY_TIMEOUT = 120.0  # seconds for one player's whole session
START_TIMEOUT = 10.0  # seconds for a server to listen
STOP_TIMEOUT = 5.0
POLL = 0.05


def missing_tools() -> str | None:
    """None if both players are here, else what to install."""
    if shutil.which("ffmpeg") is None:
        return "needs ffmpeg (apt install ffmpeg)"
    if shutil.which("gst-launch-1.0") is None:
        return ("needs gst-launch-1.0 (apt install gstreamer1.0-tools gstreamer1.0-rtsp "
                "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)")  # fmt: skip
    return None


def player_command(player: str, source: str, *, rtsp: bool) -> list[str]:
    """The command that decodes `source` (an rtsp:// URL, or the clip's file) and prints one
    MD5 per decoded frame."""
    if player == "ffmpeg":
        transport = ["-rtsp_transport", "udp"] if rtsp else []
        return ["ffmpeg", "-v", "error", "-nostdin", *transport, "-i", source,
                "-f", "framemd5", "-"]  # fmt: skip
    head = (
        ["rtspsrc", f"location={source}", "protocols=udp"]  # do-retransmission: its default
        if rtsp
        else ["filesrc", f"location={source}", "!", "jpegparse"]
    )
    depay = ["rtpjpegdepay", "!"] if rtsp else []
    return ["gst-launch-1.0", "-q", *head, "!", *depay, "jpegdec", "!",
            "checksumsink", "hash=md5"]  # fmt: skip


def decoded_md5s(player: str, source: str, *, rtsp: bool) -> list[str]:
    done = subprocess.run(
        player_command(player, source, rtsp=rtsp),
        capture_output=True, text=True, timeout=PLAY_TIMEOUT,
    )  # fmt: skip
    # framemd5: "0, pts, dts, duration, size, md5"; checksumsink: "timestamp md5".
    return [
        line.replace(",", " ").split()[-1]
        for line in done.stdout.splitlines()
        if line.strip() and not line.startswith("#")
    ]


@functools.cache
def source_md5s(clip: Path, player: str) -> frozenset[str]:
    return frozenset(decoded_md5s(player, str(clip), rtsp=False))


@dataclass
class PlayerRun:
    player: str
    frames_out: int  # frames the player decoded
    whole: int  # distinct source frames among them
    dropped: int  # RTP packets the relay dropped, retransmissions included
    rtp: int  # RTP packets the relay received
    nacks: int  # the player's RTCP datagrams with a NACK, passed to the server


def play_through_loss(
    server: tuple[str, int], path: str, clip: Path, player: str, *, seed: int, drop: float
) -> PlayerRun:
    """`player` plays `path` of `server` through a LossyRtspProxy dropping `drop` of RTP."""
    source = source_md5s(clip, player)
    with LossyRtspProxy(server, seed=seed, drop=drop, lifetime=PLAY_TIMEOUT) as proxy:
        got = decoded_md5s(player, proxy.url(path), rtsp=True)
    return PlayerRun(
        player, len(got), len(source.intersection(got)), proxy.dropped, proxy.rtp_received,
        proxy.nacks,
    )  # fmt: skip


def wait_listening(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=POLL).close()
            return
        time.sleep(POLL)
    raise RuntimeError(f"Server.py did not listen on port {port}")


@contextlib.contextmanager
def our_server(folder: Path, fps: float, *, retransmission: bool) -> Iterator[int]:
    """Server.py serving `folder` on a free loopback port, as a user starts it; its port."""
    port = free_port(socket.SOCK_STREAM)
    command = [sys.executable, str(ROOT / "Server.py"), str(port), "--host", "127.0.0.1",
               "--root", str(folder), "--fps", str(fps)]  # fmt: skip
    if not retransmission:
        command.append("--no-retransmission")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, process)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
