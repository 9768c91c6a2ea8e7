"""The Tk player under load: display rate and late frames for HD streams, in a real window.

    python bench/player_bench.py   # 4K at 30 and 60 fps, 1080p at 60 fps: 10 s, 3 times each

Each run starts the server and the Tk client (`ClientLauncher.py`, picture about 1280x720) as
separate processes on an X display — Xvfb of its own when DISPLAY is not set — presses Play,
waits for the end of the video, closes the window, and reads the client's summary: frames
received, shown, late, skipped, cache underruns, and the display rate over the session. Beside
them: the client process's CPU time from Play to the end over the frames shown (`cpu_ms`, all
its threads: receiving, decoding, painting), and the slack, the frame interval less the median
time a frame took to decode and paint (`slack_ms`: what is left to spare). Each run is repeated
(`--repeat`) and the median of each column printed; `shown_each` lists every repeat's count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _checkout  # noqa: F401 (the checkout's root on the path)
from rtsplab.cli import free_port
from stream_bench import clip_for, wait_for_server

ROOT = Path(__file__).resolve().parent.parent

RUNS = {"2160p@30": ("2160p", 30.0), "1080p@60": ("1080p", 60.0), "2160p@60": ("2160p", 60.0)}
COLUMNS = ("frames", "shown", "late", "skipped", "underruns", "dropped_frames", "display_fps",
           "cpu_ms", "slack_ms")  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """The process's user and system CPU time so far, all its threads (proc(5): fields 14, 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
        cpu_at_play = cpu_seconds(client.pid)
        xdotool("key", "p")
        time.sleep(seconds + prefill / fps + 3.0)  # the video, the prefill, the end rule (2 s)
        cpu = cpu_seconds(client.pid) - cpu_at_play
        xdotool("windowfocus", window)
        xdotool("key", "q")
        out, err = client.communicate(timeout=20)
    finally:
        server.terminate()
        server.wait(timeout=10)
    lines = out.strip().splitlines()
    if client.returncode != 0 or not lines:
        raise RuntimeError(err.strip().splitlines()[-1] if err.strip() else "client failed")
    summary: dict[str, Any] = json.loads(lines[-1])
    shown, work = summary["shown"], summary.get("decode_paint_ms")
    summary["cpu_ms"] = 1000 * cpu / shown if shown else float("nan")
    summary["slack_ms"] = 1000 / fps - work if work is not None else float("nan")
    return summary


def median_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Each column's median over the repeats (the picture size is the same in all)."""
    row = {key: statistics.median(r[key] for r in results) for key in COLUMNS}
    row["picture"] = results[0]["picture"]
    row["shown_each"] = ",".join(str(r["shown"]) for r in results)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=RUNS)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--buffer", type=int, default=30, help="the player's prefill (30)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, medians shown (3)")
    args = parser.parse_args()

    env, xvfb = start_display()
    try:
        print(f"{'run':>9} {'picture':>9} {'received':>8} {'shown':>6} {'late':>5} "
              f"{'skipped':>7} {'underruns':>9} {'dropped':>7} {'display_fps':>11} "
              f"{'cpu_ms':>6} {'slack_ms':>8}  shown_each")  # fmt: skip
        for name in args.runs:
            preset, fps = RUNS[name]
            clip = clip_for(preset, round(fps * args.seconds))
            r = median_of([play(env, clip, fps, args.seconds, args.buffer)
                           for _ in range(args.repeat)])  # fmt: skip
            print(f"{name:>9} {r['picture']:>9} {r['frames']:>8g} {r['shown']:>6g} {r['late']:>5g} "
                  f"{r['skipped']:>7g} {r['underruns']:>9g} {r['dropped_frames']:>7g} "
                  f"{r['display_fps']:>11.2f} {r['cpu_ms']:>6.1f} {r['slack_ms']:>8.1f}  "
                  f"{r['shown_each']}", flush=True)  # fmt: skip
    finally:
        if xvfb is not None:
            xvfb.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
