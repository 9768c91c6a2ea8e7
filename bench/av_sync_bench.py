"""Sound and picture together: the A/V offset our client, ffmpeg and GStreamer's rtspsrc keep
for the A/V test clip (a white frame and a click at every whole second) from our server, on a
clean link, through 40 ms of jitter, and through 2 % loss with that jitter; over UDP, and
over interleaved TCP for the jitter (TCP loses nothing; the server delays it, without jitter).

    python bench/av_sync_bench.py                 # 4 conditions x 3 players, 3 runs of 4 s
    python bench/av_sync_bench.py --runs 5 --seconds 8 --conditions clean loss

Each flash is paired with its click, and the pair's lag is the click's time minus the flash's
(positive: the sound lags the picture), as each player timed them:
- ours: the headless client (muted: RTSPLAB_NO_SOUND) and its playout log, where the frame of
  each whole second was shown and the sound of that second handed to the output;
- ffmpeg: its recording of both tracks (`-map 0`, copied into Matroska), each frame and
  sample as ffmpeg stamped it, which is how it lines the two streams up;
- GStreamer: rtspsrc with each pad through decodebin into one Matroska file, stamped by
  rtspsrc's running time (its jitter buffers and RTCP synchronisation).
The server sends sender reports from the start (--rtcp-reduced-minimum), so that every
player can tie the streams by them at once rather than by PLAY's RTP-Info alone.

The table gives, for each condition and player, the median of the runs' median lags, the
worst lag of any run, and the medians of frames and audio packets played or recorded, and
of the audio packets our client concealed. Every run is bounded in time.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import _checkout  # noqa: F401 (the checkout's root on the path)
from network_bench import FPS, serving, session
from rtsplab.media.clip_file import make_av_clip
from rtsplab.player.playout_log import mark_lags
from stream_bench import CLIPS

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
# The tests' helpers, outside mypy's files: checked where the tests use them.
from av_marks import click_lags, onsets, recorded  # type: ignore[import-not-found]  # noqa: E402

PTIME = 0.02  # s: the server's audio packets
JITTER = ["--delay", "40", "--jitter", "40"]
RUN_LIMIT = 60.0  # s a player may take beyond the clip's length


@dataclass(frozen=True)
class Condition:
    name: str
    transport: str  # "udp" or "tcp"
    options: tuple[str, ...]  # the server's impairment


CONDITIONS = {
    "clean": Condition("clean", "udp", ()),
    "jitter": Condition("jitter 40 ms", "udp", tuple(JITTER)),
    "loss": Condition("2 % loss, jitter", "udp", ("--loss", "2", *JITTER)),
    "tcp": Condition("jitter 40 ms", "tcp", tuple(JITTER)),
}


@dataclass
class Measure:
    lags: list[float]  # s: each flash's click minus the flash
    frames: int
    audio_packets: int
    concealed: int | None = None


def av_clip(seconds: int) -> Path:
    path = CLIPS / f"bench-av-{seconds}s-{FPS:g}fps.mjpeg"
    if not path.exists() or not path.with_suffix(".wav").exists():
        print(f"making {path.name} and its sound...", flush=True)
        CLIPS.mkdir(parents=True, exist_ok=True)
        make_av_clip(path, 320, 240, seconds, FPS)
    return path


def impairment(condition: Condition) -> list[str]:
    """The server's options besides its rate and seed: SRs from the start, the impairment."""
    return ["--rtcp-reduced-minimum", *condition.options]


def server_options(condition: Condition, seed: int) -> list[str]:
    return ["--fps", str(FPS), "--seed", str(seed), *impairment(condition)]


def ours(clip: Path, condition: Condition, seed: int, out: Path) -> Measure:
    log_path = out / "playout.csv"
    transport = ["--tcp"] if condition.transport == "tcp" else []
    result = session(clip, impairment(condition), ["--playout-log", str(log_path), *transport],
                     f"rtsp://127.0.0.1:{{port}}/{clip.name}", str(seed))  # fmt: skip
    with open(log_path, newline="") as log_file:
        rows = [(stream, float(media), float(played))
                for stream, media, played in list(csv.reader(log_file))[1:]]  # fmt: skip
    lags = list(mark_lags(rows).values())
    return Measure(lags, int(result["shown"]), int(result["audio_played"]),
                   int(result["audio_concealed"]))  # fmt: skip


def sampling_rate(clip: Path) -> int:
    with wave.open(str(clip.with_suffix(".wav"))) as wav:
        return wav.getframerate()


def recording(path: Path, clip: Path) -> Measure:
    """A player's recording: its flashes' and clicks' lags, its frames, its audio packets
    (its samples in the server's 20 ms packets)."""
    frames, samples = recorded(path)
    packets = round(len(samples) / (sampling_rate(clip) * PTIME))
    return Measure(click_lags(*onsets(frames, samples)), len(frames), packets)


def ffmpeg(clip: Path, condition: Condition, seed: int, out: Path) -> Measure:
    path = out / "ffmpeg.mkv"
    with serving(clip.parent, server_options(condition, seed)) as port:
        subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-y", "-rtsp_transport", condition.transport,
             "-i", f"rtsp://127.0.0.1:{port}/{clip.name}", "-map", "0", "-c", "copy", str(path)],
            capture_output=True, check=True, timeout=RUN_LIMIT,
        )  # fmt: skip
    return recording(path, clip)


def gstreamer(clip: Path, condition: Condition, seed: int, out: Path) -> Measure:
    path = out / "gstreamer.mkv"
    with serving(clip.parent, server_options(condition, seed)) as port:
        subprocess.run(
            ["gst-launch-1.0", "-q", "-e", "rtspsrc",
             f"location=rtsp://127.0.0.1:{port}/{clip.name}",
             f"protocols={condition.transport}", "name=src",
             "matroskamux", "name=mux", "!", "filesink", f"location={path}",
             "src.", "!", "application/x-rtp,media=video", "!", "queue", "!", "decodebin",
             "!", "videoconvert", "!", "jpegenc", "!", "mux.",
             "src.", "!", "application/x-rtp,media=audio", "!", "queue", "!", "decodebin",
             "!", "audioconvert", "!", "mux."],
            capture_output=True, check=True, timeout=RUN_LIMIT,
        )  # fmt: skip
    return recording(path, clip)


PLAYERS: dict[str, Callable[[Path, Condition, int, Path], Measure]] = {
    "ours": ours, "ffmpeg": ffmpeg, "gstreamer": gstreamer,
}  # fmt: skip


def row(condition: Condition, player: str, runs: list[Measure]) -> str:
    medians = [statistics.median(run.lags) for run in runs if run.lags]
    lags = [lag for run in runs for lag in run.lags]
    median = f"{1000 * statistics.median(medians):.1f}" if medians else "-"
    worst = f"{1000 * max(lags, key=abs):.1f}" if lags else "-"
    concealed = [run.concealed for run in runs if run.concealed is not None]
    hidden = f"{statistics.median(concealed):g}" if concealed else "-"
    frames = statistics.median(run.frames for run in runs)
    packets = statistics.median(run.audio_packets for run in runs)
    pairs = statistics.median(len(run.lags) for run in runs)
    return (f"| {condition.name} | {condition.transport} | {player} | {median} | {worst} | "
            f"{pairs:g} | {frames:g} | {packets:g} | {hidden} |")  # fmt: skip


def table(conditions: list[str], players: list[str], seconds: int, runs: int) -> None:
    clip = av_clip(seconds)
    packets = round(seconds / PTIME)
    print(f"A/V offset, the A/V test clip: 320x240, {seconds} s at {FPS:g} fps "
          f"({round(seconds * FPS)} frames), L16 {sampling_rate(clip)} Hz in {packets} "
          f"packets of 20 ms, {seconds} flashes with their clicks; medians of {runs} runs; "
          "offset: the click's time minus its flash's (ms, + the sound lags)\n")  # fmt: skip
    print("| condition | transport | player | offset median ms | worst ms | pairs | frames "
          "| audio packets | concealed |")  # fmt: skip
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for name in conditions:
        condition = CONDITIONS[name]
        for player in players:
            measures = []
            for run in range(runs):
                with tempfile.TemporaryDirectory(prefix="av-bench-") as out:
                    try:
                        measures.append(PLAYERS[player](clip, condition, 3550 + run, Path(out)))
                    except (subprocess.SubprocessError, RuntimeError, OSError) as exc:
                        print(f"{player}, {condition.name}, run {run + 1}: {exc}",
                              file=sys.stderr)  # fmt: skip
            if measures:
                print(row(condition, player, measures), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    parser.add_argument("--players", nargs="+", default=list(PLAYERS), choices=PLAYERS)
    parser.add_argument("--seconds", type=int, default=4, help="the clip's length (4)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each (3)")
    args = parser.parse_args()
    missing = [tool for tool, player in (("ffmpeg", "ffmpeg"), ("gst-launch-1.0", "gstreamer"))
               if player in args.players and shutil.which(tool) is None]  # fmt: skip
    if missing:
        print(f"missing: {', '.join(missing)}", file=sys.stderr)
        return 1
    os.environ["RTSPLAB_NO_SOUND"] = "1"  # our client muted, on its stand-in clock
    table(args.conditions, args.players, max(1, args.seconds), max(1, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
