"""Real players through loss: the whole frames ffmpeg and GStreamer's rtspsrc get from our
server with and without repair (RTCP NACKs, RFC 4585; packets sent again), and rtspsrc from
gst-rtsp-server with its RFC 4588 retransmission, through the same seeded lossy relay.

    python bench/players_loss_bench.py               # 1280x720 at 30 fps, 4 s, 1 and 5 % loss
    python bench/players_loss_bench.py --seconds 8 --loss 1 5 10

Every player talks RTSP to a proxy in front of the server (tests/lossy_rtsp_proxy.py) that
rewrites SETUP's ports so that RTP and RTCP pass a relay on loopback: it drops the server's RTP
packets by a seeded pattern, retransmissions as any other, and passes RTCP both ways (the
players' NACKs reach the server from the port it was told). A frame counts whole when the
player's decoded picture is the source frame as the same decoder decodes it from the file
(tests/lossy_players.py). gst-rtsp-server runs under Debian's python3 (python3-gi).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _checkout  # noqa: F401 (the checkout's root on the path)
from stream_bench import clip_for

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
# The tests' helpers, outside mypy's files: checked where the tests use them.
from gst import gst_available, gst_rtsp_server  # type: ignore[import-not-found]  # noqa: E402
from lossy_players import (  # type: ignore[import-not-found]  # noqa: E402
    PlayerRun,
    missing_tools,
    our_server,
    play_through_loss,
)

FPS = 30.0
SEED = 4585


def row(server: str, run: PlayerRun, frames: int) -> str:
    return (f"{run.player:>9} {server:<30} {run.whole:>6} {100 * run.whole / frames:>7.1f} "
            f"{run.frames_out:>7} {run.dropped:>7} {run.nacks:>6}")  # fmt: skip


def players_table(seconds: float, losses: list[float]) -> None:
    frames = round(FPS * seconds)
    clip = clip_for("720p", frames)
    path = f"/{clip.name}"
    print(f"players through loss: 1280x720, {frames} frames at {FPS:g} fps, seed {SEED}; whole "
          "= decoded frames identical to the source's")  # fmt: skip
    for loss in losses:
        print(f"\n{loss:g} % of RTP dropped")
        print(f"{'player':>9} {'server':<30} {'whole':>6} {'whole %':>7} {'decoded':>7} "
              f"{'dropped':>7} {'NACKs':>6}")  # fmt: skip
        for player in ("ffmpeg", "gstreamer"):
            for retransmission in (False, True):
                with our_server(clip.parent, FPS, retransmission=retransmission) as port:
                    run = play_through_loss(("127.0.0.1", port), path, clip, player,
                                            seed=SEED, drop=loss / 100)  # fmt: skip
                name = "ours, repair" if retransmission else "ours --no-retransmission"
                print(row(name, run, frames), flush=True)
        if gst_available() is None:
            with gst_rtsp_server(clip, FPS, extra=("--avpf",)) as url:
                server = url.removeprefix("rtsp://").split("/", 1)[0]
                host, port_text = server.rsplit(":", 1)
                run = play_through_loss((host, int(port_text)), "/clip", clip, "gstreamer",
                                        seed=SEED, drop=loss / 100)  # fmt: skip
            print(row("gst-rtsp-server, RFC 4588", run, frames), flush=True)
        else:
            print(f"gst-rtsp-server skipped: {gst_available()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="the clip's length (4)")
    parser.add_argument("--loss", type=float, nargs="+", default=[1.0, 5.0],
                        help="percent of RTP dropped (1 5)")  # fmt: skip
    args = parser.parse_args()
    missing = missing_tools()
    if missing is not None:
        print(missing, file=sys.stderr)
        return 1
    players_table(args.seconds, args.loss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
