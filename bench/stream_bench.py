"""Stream clips on loopback to the headless client and print what arrived.

    python bench/stream_bench.py                 # 1080p and 2160p, 30 fps, 10 s each
    python bench/stream_bench.py --sizes 288p 720p 1080p 1440p 2160p --seconds 5

The server (`Server.py`) and the headless client (`ClientLauncher.py --headless`) each run in
their own process, as a user runs them; the clips are made once with `MakeVideo.py` into
video/generated/ (git-ignored). One line per clip: frames sent, received and dropped, packets
received and lost, the rate achieved, and the client's RTP receive buffer.
"""

from __future__ import annotations

import argparse
import itertools
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _checkout  # noqa: F401 (the checkout's root on the path)
from MakeVideo import PRESETS, make_clip
from rtsplab.cli import free_port
from rtsplab.client.connection import RCVBUF_BYTES
from rtsplab.rtp.pacer import BURST_PACKETS
from VideoStream import VideoStream

ROOT = Path(__file__).resolve().parent.parent

CLIPS = ROOT / "video" / "generated"


def wait_for_server(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not start on port {port}")


def clip_for(preset: str, frames: int) -> Path:
    path = CLIPS / f"bench-{preset}-{frames}.mjpeg"
    if not path.exists():
        width, height = PRESETS[preset]
        print(f"making {path.relative_to(ROOT)} ({frames} frames {width}x{height})...",
              flush=True)  # fmt: skip
        CLIPS.mkdir(parents=True, exist_ok=True)
        make_clip(path, width, height, frames, fmt="mjpeg")
    return path


def stream(clip: Path, fps: float, mtu: int, burst: int, rcvbuf: int, mode: str) -> dict[str, Any]:
    """One session; `mode` is "lab" (the lab's dialect), "udp" or "tcp" (standard RTSP)."""
    port = free_port(socket.SOCK_STREAM)
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "Server.py"), str(port), "--root", str(clip.parent),
         "--fps", str(fps), "--mtu", str(mtu), "--burst", str(burst)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_server(port)
        with VideoStream(clip) as video:
            sent = video.frame_count
        client = subprocess.run(
            [sys.executable, str(ROOT / "ClientLauncher.py"), "127.0.0.1", str(port),
             str(free_port(socket.SOCK_DGRAM)),
             clip.name if mode == "lab" else f"rtsp://127.0.0.1:{port}/{clip.name}",
             "--headless", "-v", "--rcvbuf", str(rcvbuf), *(["--tcp"] if mode == "tcp" else [])],
            capture_output=True, text=True, timeout=sent / fps + 60,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)
    if client.returncode != 0:
        raise RuntimeError(client.stderr.strip().splitlines()[-1])
    result: dict[str, Any] = json.loads(client.stdout)
    result["sent"] = sent
    reported = [line for line in client.stderr.splitlines() if "receive buffer" in line]
    result["rcvbuf"] = reported[0].rsplit(" ", 1)[-1] if reported else "-"  # TCP: no UDP socket
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["1080p", "2160p"], choices=PRESETS)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--mtu", type=int, default=1400)
    parser.add_argument(
        "--modes",
        nargs="+",
        default=["lab"],
        choices=["lab", "udp", "tcp"],
        help="the lab's dialect, or standard RTSP (RFC 2435) over UDP or interleaved TCP",
    )
    parser.add_argument(
        "--burst", type=int, nargs="+", default=[BURST_PACKETS], metavar="N",
        help=f"server's packets per burst; 0: each frame at once ({BURST_PACKETS})",
    )  # fmt: skip
    parser.add_argument(
        "--rcvbuf", type=int, nargs="+", default=[RCVBUF_BYTES], metavar="BYTES",
        help=f"client receive buffer(s) to ask for; 0: the system default ({RCVBUF_BYTES})",
    )  # fmt: skip
    args = parser.parse_args()

    frames = round(args.fps * args.seconds)
    clips = {preset: clip_for(preset, frames) for preset in args.sizes}
    columns = "clip mode fps sent recv dropped packets lost Mbit/s seconds fps_got burst rcvbuf"
    widths = (7, 4, 4, 5, 5, 7, 8, 5, 7, 7, 7, 5, 8)
    print(" ".join(f"{name:>{w}}" for name, w in zip(columns.split(), widths, strict=True)))
    runs = itertools.product(clips.items(), args.modes, args.burst, args.rcvbuf)
    for (preset, clip), mode, burst, rcvbuf in runs:
        r = stream(clip, args.fps, args.mtu, burst, rcvbuf, mode)
        seconds = r["seconds"] or float("nan")
        print(
            f"{preset:>7} {mode:>4} {args.fps:>4g} {r['sent']:>5} {r['frames']:>5} "
            f"{r['dropped_frames']:>7} "
            f"{r['packets']:>8} {r['lost_packets']:>5} {r['bytes'] * 8 / seconds / 1e6:>7.1f} "
            f"{seconds:>7.2f} "
            f"{(r['frames'] - 1) / seconds:>7.2f} {burst:>5} {r['rcvbuf']:>8}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
