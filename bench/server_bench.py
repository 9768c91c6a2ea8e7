"""How much the server holds, beside gst-rtsp-server, and how fast it sends, beside ffmpeg and
GStreamer, in one run.

    python bench/server_bench.py                     # both parts, default figures
    python bench/server_bench.py sessions --sessions 50 200 --seconds 5
    python bench/server_bench.py sessions --preset lab --fps 20 --sessions 100 1000 --no-gst
    python bench/server_bench.py unpaced --frames 1200
    python bench/server_bench.py multicast --members 50    # as root

``sessions``: N sessions of one 1280x720 clip (``--preset``) at 30 fps, each PLAYed by a
receiver in this process (one socket per session, read by one thread), against our server in
the lab's dialect, our server in standard RTSP, and gst-rtsp-server
(`tests/gst_rtsp_server.py`, every client its own pipeline), one after the other. Once every
session plays, a window of ``--seconds`` is measured: the frame rate each session got (the
slowest and the median), the packets lost in it (sequence numbers that never came), and the
server's CPU time (user and system, from /proc) per packet it sent, and its threads and
resident memory (Threads, VmRSS in /proc/<pid>/status) in the window, with what each session
adds to the idle server's. ``--preset lab`` plays the lab's movie instead (``--fps 20``), and
``--no-gst`` leaves gst-rtsp-server out. Each server runs ``--repeat`` times and the run with
the median CPU per packet is printed: a shared machine's figures wander. The receiver sets
UDP_GRO, so that a burst sent with GSO is read in one call; for a sender without GSO it
changes nothing.

``unpaced`` (`bench/unpaced_send.py`): one real 1920x1080 clip (Big Buck Bunny, converted;
``--source``) sent as fast as each program can to a receiver in its own process: ffmpeg,
GStreamer, and our server's own send path in both dialects, with the payload cache cold,
filling and warm. Every program runs in turn, ``--repeat`` rounds, and the median of each
is printed: a shared machine's wall-clock rates wander.

``multicast``: N members of one multicast stream of the 720p clip against N unicast
sessions of it, on our server, one after the other, in a network namespace the script makes
for itself (multicast on its loopback; root), where it runs itself again: the server's CPU
for each, the members' packets as received.

Linux only (/proc, UDP GSO); it needs ffmpeg, gst-launch-1.0 and Debian's python3-gi with
gst-rtsp-server for the peers, and skips a peer that is missing. Every wait is bounded.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import _checkout  # noqa: F401 (the checkout's root on the path)
from MakeVideo import PRESETS, make_clip
from rtsplab.cli import free_port
from rtsplab.server.limits import raise_descriptor_limit
from session_peer import (
    LOOPBACK,
    REPLY_TIMEOUT,
    Receiver,
    Rtsp,
    play_lab,
    play_standard,
)
from unpaced_send import REAL_SOURCE, unpaced_part
from VideoStream import FORMAT_MJPEG, VideoStream

ROOT = Path(__file__).resolve().parent.parent
CLIPS = ROOT / "video" / "generated"
GST_SERVER = ROOT / "tests" / "gst_rtsp_server.py"
GST_URL = "rtsp://127.0.0.1:{port}/clip"
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with gi (gst-rtsp-server's bindings)

MTU = 1400
CLK_TCK = os.sysconf("SC_CLK_TCK")
SETTLE = 1.0  # seconds after the last PLAY before the window opens
JOIN_ALLOWANCE = 0.06  # seconds a session may take to join, on a loaded machine
SETUP_PACE = 0.002  # seconds between two sessions' SETUPs: a class does not arrive at once


# -- servers --------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system time of process `pid` and all its threads."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (proc(5) 14, 15)


def thread_seconds(pid: int) -> dict[int, float]:
    """User plus system time of each thread of process `pid`, by thread id."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            with open(task / "stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        found[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return found


def busiest_share(before: dict[int, float], after: dict[int, float], elapsed: float) -> float:
    """The busiest thread's share of one core between two `thread_seconds`."""
    return max((t - before.get(tid, 0.0) for tid, t in after.items()), default=0.0) / elapsed


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited at start")
        try:
            socket.create_connection((LOOPBACK, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"no server on port {port}")


@contextmanager
def our_server(clip: Path, fps: float, *extra: str) -> Iterator[tuple[int, int]]:
    port = free_port(socket.SOCK_STREAM)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "Server.py"), str(port), "--root", str(clip.parent),
         "--fps", str(fps), "--max-clients", "1000", "--max-per-address", "0", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port, process)
        yield process.pid, port
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def gst_server(clip: Path, fps: float) -> Iterator[tuple[int, int]]:
    process = subprocess.Popen(
        [SYSTEM_PYTHON, str(GST_SERVER), "--port", "0", "--clip", str(clip), "--fps", str(fps)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()  # READY rtsp://127.0.0.1:PORT/clip
        if not line.startswith("READY"):
            raise RuntimeError("gst-rtsp-server did not start")
        yield process.pid, int(line.rsplit(":", 1)[1].split("/")[0])
    finally:
        process.terminate()
        process.wait(timeout=10)


def have_gst_server() -> str | None:
    if not Path(SYSTEM_PYTHON).exists():
        return "no /usr/bin/python3"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0');"
         "from gi.repository import GstRtspServer"],
        capture_output=True,
    )  # fmt: skip
    return None if probe.returncode == 0 else "no gst-rtsp-server bindings (python3-gi)"


# -- part 1: sessions -----------------------------------------------------------------------


SESSIONS_HEADER = (
    f"{'server':<22} {'sessions':>8} {'fps min':>8} {'fps med':>8} {'of':>6} "
    f"{'packets':>10} {'lost':>7} {'CPU s':>7} {'µs/pkt':>9} {'threads':>8} {'RSS MB':>7} "
    f"{'thr/ses':>7} {'KB/ses':>7} {'busiest':>7} {'recv':>5}"
)


def proc_status(pid: int) -> dict[str, int]:
    """Threads, VmRSS and VmHWM (kB) of process `pid`, from /proc/<pid>/status."""
    found = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("Threads", "VmRSS", "VmHWM"):
                found[name] = int(value.split()[0])
    return found


@dataclass
class SessionsResult:
    sessions: int
    fps_min: float
    fps_median: float
    lost: int
    packets: int
    cpu: float  # seconds in the window
    busiest: float  # the busiest thread's share of a core in the window (the pacing loop's)
    receiving: float  # the receiver's (this process's) share of a core in the window
    idle: dict[str, int]  # the server's /proc status before the first session
    busy: dict[str, int]  # and in the window, every session playing

    def line(self, who: str, fps: float) -> str:
        per_packet = self.cpu / self.packets * 1e6 if self.packets else float("nan")
        threads, rss = self.busy["Threads"], self.busy["VmRSS"]
        per_thread = (threads - self.idle["Threads"]) / self.sessions
        per_kb = (rss - self.idle["VmRSS"]) / self.sessions
        return (
            f"{who:<22} {self.sessions:>8} {self.fps_min:>8.1f} {self.fps_median:>8.1f} "
            f"{fps:>6g} {self.packets:>10} {self.lost:>7} {self.cpu:>7.2f} {per_packet:>9.2f} "
            f"{threads:>8} {rss / 1024:>7.1f} {per_thread:>7.2f} {per_kb:>7.0f} "
            f"{self.busiest:>7.0%} {self.receiving:>5.0%}"
        )


def measure_sessions(
    pid: int, count: int, play: Callable[[int], Rtsp], seconds: float
) -> SessionsResult:
    """`count` unicast sessions, each `play(its RTP port)`."""
    return measure(pid, count, lambda receiver: play(receiver.add()[0]), seconds)


def measure(
    pid: int, count: int, join: Callable[[Receiver], Rtsp], seconds: float
) -> SessionsResult:
    """`count` sessions, each `join(receiver)`ed: its socket added, its RTSP dialogue done."""
    receiver = Receiver()
    connections = []
    idle = proc_status(pid)
    try:
        for _ in range(count):
            connections.append(join(receiver))
            receiver.run(time.monotonic() + SETUP_PACE)  # keep reading while they join
        receiver.run(time.monotonic() + SETTLE)
        before = [c.snapshot() for c in receiver.counts]
        threads_before = thread_seconds(pid)
        cpu_before, start, own = cpu_seconds(pid), time.monotonic(), time.process_time()
        receiver.run(start + seconds)
        cpu, elapsed = cpu_seconds(pid) - cpu_before, time.monotonic() - start
        receiving = (time.process_time() - own) / elapsed
        busiest = busiest_share(threads_before, thread_seconds(pid), elapsed)
        after = [c.snapshot() for c in receiver.counts]
        busy = proc_status(pid)
    finally:
        for rtsp in connections:
            rtsp.close()
        receiver.close()
    rates = [(a[1] - b[1]) / elapsed for a, b in zip(after, before, strict=True)]
    packets = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
    lost = sum(max(0, (a[2] - b[2]) - (a[0] - b[0])) for a, b in zip(after, before, strict=True))
    return SessionsResult(count, min(rates), statistics.median(rates), lost, packets + lost, cpu,
                          busiest, receiving, idle, busy)  # fmt: skip


def sessions_part(args: argparse.Namespace) -> None:
    # Long enough that the first session still plays once the last has joined.
    frames = round(args.fps * (args.seconds + SETTLE + 1 + max(args.sessions) * JOIN_ALLOWANCE))
    clip = lab_movie(frames) if args.preset == "lab" else clip_for(args.preset, frames)
    print(f"\n{max(args.sessions)} sessions at most of {clip.name}, {args.fps:g} fps, "
          f"a {args.seconds:g} s window once all play")  # fmt: skip
    print(SESSIONS_HEADER)
    gst_missing = "--no-gst" if args.no_gst else have_gst_server()
    t = args.reply_timeout

    def standard_player(port: int, url: str) -> Callable[[int], Rtsp]:
        return partial(play_standard, port, url, timeout=t)

    for count in args.sessions:
        ours = partial(our_server, clip, args.fps, *args.server_options)
        standard = f"rtsp://{LOOPBACK}:{{port}}/{clip.name}"
        runs: list[tuple[str, Callable[[], Any], Callable[[int, str], Callable[[int], Rtsp]]]] = [
            (
                "ours, lab dialect",
                ours,
                lambda port, _: partial(play_lab, port, clip.name, timeout=t),
            ),
            ("ours, standard RTSP", ours, standard_player),
        ]
        if gst_missing:
            print(f"{'gst-rtsp-server':<22} skipped: {gst_missing}")
        else:
            gst = partial(gst_server, raw_copy(clip), args.fps)
            runs.append(("gst-rtsp-server", gst, lambda port, url: standard_player(port, url)))
        for who, server, player in runs:
            results = []
            for _ in range(args.repeat):
                with server() as (pid, port):
                    url = (standard if who.startswith("ours") else GST_URL).format(port=port)
                    results.append(measure_sessions(pid, count, player(port, url),
                                                    args.seconds))  # fmt: skip
            print(median_of(results).line(who, args.fps), flush=True)


def median_of(results: list[SessionsResult]) -> SessionsResult:
    """The run with the median CPU per packet (its own figures, not a blend of runs)."""
    ranked = sorted(results, key=lambda r: r.cpu / max(1, r.packets))
    return ranked[len(ranked) // 2]


# -- part 3: multicast, in a network namespace ------------------------------------------


MULTICAST_GROUP = "239.255.12.42"


def join_multicast(port: int, url: str, receiver: Receiver) -> Rtsp:
    rtsp = Rtsp(port)
    _, fields, sdp = rtsp.ask("DESCRIBE", url, "Accept: application/sdp")
    _, fields, _ = rtsp.ask("SETUP", url.rstrip("/") + "/track1", "Transport: RTP/AVP;multicast")
    transport = fields["transport"]
    group = re.search(r"destination=([0-9.]+)", transport)
    ports = re.search(r"port=(\d+)", transport)
    assert group is not None and ports is not None, transport
    receiver.add_member(group.group(1), int(ports.group(1)))
    rtsp.ask("PLAY", url, f"Session: {fields['session'].split(';')[0]}")
    return rtsp


def join_unicast(port: int, url: str, receiver: Receiver) -> Rtsp:
    return play_standard(port, url, receiver.add()[0])


def multicast_part(args: argparse.Namespace) -> None:
    """Re-run this script inside a network namespace made for it (multicast on its lo)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("\nmulticast: skipped: a network namespace needs root and the ip command")
        return
    name = f"rtsplab-bench-{os.getpid()}"
    route = ["route", "add", "224.0.0.0/4", "dev", "lo", "src", LOOPBACK]
    setup = [["ip", "netns", "add", name], ["ip", "-n", name, "link", "set", "lo", "up"],
             ["ip", "-n", name, "link", "set", "lo", "multicast", "on"],
             ["ip", "-n", name, *route]]  # fmt: skip
    try:
        for step in setup:
            subprocess.run(step, check=True, timeout=10)
        subprocess.run(
            ["ip", "netns", "exec", name, sys.executable, __file__, "multicast-inside",
             "--members", str(args.members), "--seconds", str(args.seconds),
             "--fps", str(args.fps), "--repeat", str(args.repeat)],
            check=True, timeout=1200,
        )  # fmt: skip
    finally:
        subprocess.run(["ip", "netns", "delete", name], timeout=10)


def multicast_inside(args: argparse.Namespace) -> None:
    clip = clip_for("720p", round(args.fps * (args.seconds + SETTLE + 2 + args.members * 0.03)))
    print(f"\n{args.members} members of one multicast stream of {clip.name} against "
          f"{args.members} unicast sessions of it, {args.fps:g} fps, a {args.seconds:g} s "
          "window")  # fmt: skip
    print(SESSIONS_HEADER, " (packets: received, by every member)")
    options = ("--multicast", MULTICAST_GROUP, "--multicast-interface", LOOPBACK)
    for who in ("ours, unicast", "ours, multicast"):
        results = []
        for _ in range(args.repeat):
            with our_server(clip, args.fps, *options, *args.server_options) as (pid, port):
                url = f"rtsp://{LOOPBACK}:{port}/{clip.name}"
                join = partial(join_multicast if who.endswith("multicast") else join_unicast,
                               port, url)  # fmt: skip
                results.append(measure(pid, args.members, join, args.seconds))
        print(median_of(results).line(who, args.fps), flush=True)


def lab_movie(frames: int) -> Path:
    """The lab's movie, played again and again to last `frames` (its format concatenates)."""
    movie = (ROOT / "video" / "movie.Mjpeg").read_bytes()
    with VideoStream(ROOT / "video" / "movie.Mjpeg") as video:
        times = -(-frames // video.frame_count)
    path = CLIPS / f"bench-movie-x{times}.Mjpeg"
    if not path.exists():
        CLIPS.mkdir(parents=True, exist_ok=True)
        path.write_bytes(movie * times)
    return path


def raw_copy(clip: Path) -> Path:
    """`clip` as raw MJPEG (gst-rtsp-server's pipeline reads no lab framing): itself if it
    is, else its frames written once, one after the other."""
    with VideoStream(clip) as video:
        if video.format == FORMAT_MJPEG:
            return clip
        raw = clip.with_suffix(".raw.mjpeg")
        if not raw.exists():
            raw.write_bytes(b"".join(video.frame(i) for i in range(video.frame_count)))
    return raw


def clip_for(preset: str, frames: int) -> Path:
    path = CLIPS / f"bench-{preset}-{frames}.mjpeg"
    if not path.exists():
        width, height = PRESETS[preset]
        print(f"making {path.name} ({frames} frames {width}x{height})...", flush=True)
        CLIPS.mkdir(parents=True, exist_ok=True)
        make_clip(path, width, height, frames, fmt="mjpeg")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", metavar="PART",
                        help="sessions, unpaced, multicast; all three by default")  # fmt: skip
    parser.add_argument("--sessions", type=int, nargs="+", default=[50, 200], metavar="N")
    parser.add_argument(
        "--preset", default="720p", choices=[*PRESETS, "lab"],
        help="the sessions' clip (720p: 1280x720; lab: the lab's movie, video/movie.Mjpeg)",
    )  # fmt: skip
    parser.add_argument("--no-gst", action="store_true", help="our server alone")
    parser.add_argument("--reply-timeout", type=float, default=REPLY_TIMEOUT, metavar="S",
                        help=f"seconds an RTSP reply may take ({REPLY_TIMEOUT:g})")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=5.0, help="the measured window")
    parser.add_argument("--members", type=int, default=50,
                        help="multicast members, and unicast sessions to match (50)")  # fmt: skip
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each server; the median is printed (3)")  # fmt: skip
    parser.add_argument("--frames", type=int, default=1200, help="frames of the unpaced clip")
    parser.add_argument(
        "--source", default=str(REAL_SOURCE) if REAL_SOURCE.is_file() else "picture",
        help="the unpaced clip's video, converted to 1920x1080 (default: Big Buck Bunny "
             "where .ci/run put it, else 'picture', MakeVideo's)",
    )  # fmt: skip
    parser.add_argument(
        "--server-options", nargs="*", default=[], metavar="OPTION",
        help="more options for our Server.py, e.g. --server-options=--burst=32",
    )  # fmt: skip
    args = parser.parse_args()
    raise_descriptor_limit()  # a thousand sessions: two thousand sockets on this side
    args.parts = args.parts or ["unpaced", "sessions", "multicast"]
    if unknown := set(args.parts) - {"unpaced", "sessions", "multicast", "multicast-inside"}:
        parser.error(f"no part named {', '.join(sorted(unknown))}")
    if "multicast-inside" in args.parts:
        multicast_inside(args)
        return 0
    if "unpaced" in args.parts:
        unpaced_part(args)
    if "sessions" in args.parts:
        sessions_part(args)
    if "multicast" in args.parts:
        multicast_part(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
