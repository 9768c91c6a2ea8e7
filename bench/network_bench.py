"""The lesson of the lab's network, in numbers: what jitter does without a cache, what loss
does to big frames, what a link too slow does.

    python bench/network_bench.py                  # all three tables, about three minutes
    python bench/network_bench.py --tables repair  # or: cache, loss, rate

Each run starts `Server.py` with the impairment options and the headless client
(`ClientLauncher.py --headless`), each in its own process, on loopback, and prints one line
of what the client reports. Seeded: the same run gives the same drops.

- cache: 1280x720 and 1920x1080 at 30 fps through `--jitter 40` (around `--delay 40`), with
  a cache of 0, 5 and 30 frames: frames shown and late, underruns, time spent refilling,
  display rate and startup delay.
- loss: `--loss` 1, 5, 10 and 20 % at 384x288 and at 3840x2160, without repair: packets lost
  against whole frames lost (one lost packet costs its whole frame, so big frames suffer far
  more).
- repair: the same loss repaired (RTCP NACKs, RFC 4588 retransmission; standard RTSP) at
  1280x720, 1920x1080 and 3840x2160, 1 and 5 % and 10 % in bursts of 3: whole frames with
  and without repair, and the packets sent again against the packets lost.
- rate: 1920x1080 at 30 fps over a link of 20,000 and of 60,000 kbit/s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _checkout  # noqa: F401 (the checkout's root on the path)
from rtsplab.cli import free_port
from stream_bench import clip_for, wait_for_server

ROOT = Path(__file__).resolve().parent.parent

FPS = 30.0
SEED = "3550"


@contextlib.contextmanager
def serving(root: Path, options: list[str]) -> Iterator[int]:
    """`Server.py` serving `root` on a free port of loopback with `options`, in its own
    process, while in the block: its port."""
    port = free_port(socket.SOCK_STREAM)
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "Server.py"), str(port), "--root", str(root), *options],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_server(port)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def session(
    clip: Path, server_options: list[str], client_options: list[str], video: str | None = None,
    seed: str = SEED,
) -> dict[str, Any]:  # fmt: skip
    """One headless session of `clip` at FPS through the server's impairment (`seed`): its
    JSON. `video`: what the client asks for (`{port}` filled in), the lab's bare name if None."""
    options = ["--fps", str(FPS), "--seed", seed, *server_options]
    with serving(clip.parent, options) as port:
        client = subprocess.run(
            [sys.executable, str(ROOT / "ClientLauncher.py"), "127.0.0.1", str(port),
             str(free_port(socket.SOCK_DGRAM)), (video or clip.name).format(port=port),
             "--headless", "--idle", "3",
             *client_options],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    if not client.stdout:
        raise RuntimeError(client.stderr.strip().splitlines()[-1])
    result: dict[str, Any] = json.loads(client.stdout)
    return result


def cache_table(seconds: float) -> None:
    print("the cache under 40 ms of jitter (--delay 40 --jitter 40), 30 fps")
    print(f"{'clip':>6} {'buffer':>6} {'shown':>6} {'late':>5} {'underruns':>9} "
          f"{'stall s':>7} {'display fps':>11} {'startup s':>9}")  # fmt: skip
    frames = round(FPS * seconds)
    for preset in ("720p", "1080p"):
        clip = clip_for(preset, frames)
        for buffer in (0, 5, 30):
            r = session(clip, ["--delay", "40", "--jitter", "40"], ["--buffer", str(buffer)])
            rate = r["shown"] / r["seconds"] if r["seconds"] else 0.0
            print(f"{preset:>6} {buffer:>6} {r['shown']:>6} {r['late']:>5} {r['underruns']:>9} "
                  f"{r['stall_seconds']:>7.2f} {rate:>11.2f} {r['startup_seconds']:>9.2f}",
                  flush=True)  # fmt: skip


def loss_table(seconds: float) -> None:
    print("loss against frame size: packets lost, and the whole frames they cost")
    print(f"{'clip':>6} {'loss %':>6} {'packets':>8} {'lost':>6} {'pkt lost %':>10} "
          f"{'frames':>6} {'frames lost %':>13}")  # fmt: skip
    frames = round(FPS * seconds)
    for preset in ("288p", "2160p"):
        clip = clip_for(preset, frames)
        for loss in (1, 5, 10, 20):
            r = session(clip, ["--loss", str(loss)], ["--no-retransmission"])
            expected = r["packets"] + r["lost_packets"]
            print(f"{preset:>6} {loss:>6} {expected:>8} {r['lost_packets']:>6} "
                  f"{100 * r['lost_packets'] / expected:>10.2f} {frames:>6} "
                  f"{100 * (frames - r['frames']) / frames:>13.2f}", flush=True)  # fmt: skip


def repair_table(seconds: float) -> None:
    print("loss repaired: whole frames without and with NACKs and retransmission (RFC 4585, "
          "4588), standard RTSP, 30 fps, a 1 s cache")  # fmt: skip
    print(f"{'clip':>6} {'loss':>11} {'frames':>6} {'whole, bare %':>13} {'whole, repaired %':>17} "
          f"{'NACKs':>6} {'resent/lost':>11}")  # fmt: skip
    frames = round(FPS * seconds)
    for preset in ("720p", "1080p", "2160p"):
        clip = clip_for(preset, frames)
        for loss, burst in ((1, 1), (5, 1), (10, 3)):
            impairment = ["--loss", str(loss), "--loss-burst", str(burst)]
            url = f"rtsp://127.0.0.1:{{port}}/{clip.name}"
            bare = session(clip, impairment, ["--no-retransmission", "--buffer", "30"], url)
            fixed = session(clip, impairment, ["--buffer", "30"], url)
            resent = fixed["retransmissions"] / max(1, fixed["lost_packets"])
            name = f"{loss} %" + (f" x{burst}" if burst > 1 else "")
            print(f"{preset:>6} {name:>11} {frames:>6} {100 * bare['frames'] / frames:>13.1f} "
                  f"{100 * fixed['frames'] / frames:>17.1f} {fixed['nacks_sent']:>6} "
                  f"{resent:>11.2f}", flush=True)  # fmt: skip


def rate_table(seconds: float) -> None:
    print("a link too slow: 1920x1080 at 30 fps (about 50 Mbit/s) over --rate")
    print(f"{'kbit/s':>7} {'frames':>6} {'received':>8} {'pkt lost %':>10} {'got kbit/s':>10}")
    frames = round(FPS * seconds)
    clip = clip_for("1080p", frames)
    for rate in (20000, 60000):
        r = session(clip, ["--rate", str(rate)], [])
        expected = r["packets"] + r["lost_packets"]
        print(f"{rate:>7} {frames:>6} {r['frames']:>8} "
              f"{100 * r['lost_packets'] / expected:>10.2f} {r['bitrate_kbps']:>10.0f}",
              flush=True)  # fmt: skip


TABLES = {"cache": cache_table, "loss": loss_table, "repair": repair_table, "rate": rate_table}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=TABLES)
    parser.add_argument("--seconds", type=float, default=5.0, help="each clip's length (5)")
    args = parser.parse_args()
    for name in args.tables:
        TABLES[name](args.seconds)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
