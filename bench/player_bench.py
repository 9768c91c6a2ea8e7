"""The Tk player under load: display rate and late frames for HD streams, in a real window.

    python bench/player_bench.py        # 3840x2160 at 30 fps and 1920x1080 at 60 fps, 10 s

Each run starts the server and the Tk client (`ClientLauncher.py`, picture about 1280x720) as
separate processes on an X display — Xvfb of its own when DISPLAY is not set — presses Play,
waits for the end of the video, closes the window, and prints the client's summary: frames
received, shown, late, skipped, cache underruns, and the display rate over the session.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _checkout  # noqa: F401 (the checkout's root on the path)
from rtsplab.cli import free_port
from stream_bench import clip_for, wait_for_server

ROOT = Path(__file__).resolve().parent.parent

RUNS = {"2160p@30": ("2160p", 30.0), "1080p@60": ("1080p", 60.0)}


def start_display() -> tuple[dict[str, str], subprocess.Popen[bytes] | None]:
    if os.environ.get("DISPLAY"):
        return dict(os.environ), None
    if shutil.which("Xvfb") is None:
        sys.exit("no DISPLAY and no Xvfb (apt install xvfb xdotool)")
    number = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    xvfb = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1920x1080x24"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    env = {**os.environ, "DISPLAY": f":{number}"}
    for _ in range(100):
        if subprocess.run(["xdotool", "getdisplaygeometry"], env=env,
                          capture_output=True).returncode == 0:  # fmt: skip
            return env, xvfb
        time.sleep(0.1)
    sys.exit("Xvfb did not start")


def play(
    env: dict[str, str], clip: Path, fps: float, seconds: float, prefill: int
) -> dict[str, Any]:
    port = free_port(1)  # SOCK_STREAM
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "Server.py"), str(port), "--root", str(clip.parent),
         "--fps", str(fps)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_server(port)
        client = subprocess.Popen(
            [sys.executable, str(ROOT / "ClientLauncher.py"), "127.0.0.1", str(port),
             str(free_port(2)), clip.name, "--geometry", "1540x800", "--buffer", str(prefill)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

        def xdotool(*args: str) -> str:
            return subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True,
                                  timeout=20).stdout  # fmt: skip

        window = xdotool("search", "--sync", "--pid", str(client.pid), "--name", "RTP").split()[0]
        xdotool("windowfocus", "--sync", window)
        time.sleep(0.5)
        xdotool("key", "p")
        time.sleep(seconds + prefill / fps + 3.0)  # the video, the prefill, the end rule (2 s)
        xdotool("windowfocus", window)
        xdotool("key", "q")
        out, err = client.communicate(timeout=20)
    finally:
        server.terminate()
        server.wait(timeout=10)
    lines = out.strip().splitlines()
    if client.returncode != 0 or not lines:
        raise RuntimeError(err.strip().splitlines()[-1] if err.strip() else "client failed")
    return json.loads(lines[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=RUNS)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--buffer", type=int, default=30, help="the player's prefill (30)")
    args = parser.parse_args()

    env, xvfb = start_display()
    try:
        print(f"{'run':>9} {'picture':>9} {'received':>8} {'shown':>6} {'late':>5} "
              f"{'skipped':>7} {'underruns':>9} {'dropped':>7} {'display_fps':>11}")  # fmt: skip
        for name in args.runs:
            preset, fps = RUNS[name]
            clip = clip_for(preset, round(fps * args.seconds))
            r = play(env, clip, fps, args.seconds, args.buffer)
            print(f"{name:>9} {r['picture']:>9} {r['frames']:>8} {r['shown']:>6} {r['late']:>5} "
                  f"{r['skipped']:>7} {r['underruns']:>9} {r['dropped_frames']:>7} "
                  f"{r['display_fps']:>11.2f}", flush=True)  # fmt: skip
    finally:
        if xvfb is not None:
            xvfb.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
