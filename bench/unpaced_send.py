"""The unpaced part of `server_bench.py`: how fast one clip is sent, by ffmpeg, by GStreamer
and by our server's own send path, each as fast as it can, to one receiver in its own process.

A real 1920x1080 clip (Big Buck Bunny, converted; ``--source`` names another video ffmpeg
reads, or ``picture`` for MakeVideo's) of ~120 KB a frame, ~87 packets of 1,400 bytes:
ffmpeg (``-c copy -f rtp``), GStreamer (``rtpjpegpay ! udpsink sync=false``), and ours
(the payload cache, `RtpSender.packets`, `UdpOut`, as the pacing loop runs them behind the
clock) in both dialects, with the cache empty (cold: each frame read, checked and cut, the
first session on a file), filling (the second session: each frame cut again, and kept) and
full (warm: every later session). The file's index is made before, as at DESCRIBE, and its
time printed apart. ffmpeg and GStreamer are timed less their own start-up (the same
command on a one-frame clip).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import _checkout  # noqa: F401 (the checkout's root on the path)
from MakeVideo import PRESETS, make_clip
from rtsplab.media.ffmpeg import convert
from rtsplab.payload.lab import fragment_parts
from rtsplab.payload.rfc2435.packetizer import jpeg_payload_parts
from rtsplab.rtp.sender import RtpSender
from rtsplab.server.payload_cache import PayloadCache
from rtsplab.server.udp_out import UdpOut, gso_available
from session_peer import LOOPBACK
from VideoStream import VideoStream, forget_indexes

ROOT = Path(__file__).resolve().parent.parent
CLIPS = ROOT / "video" / "generated"
MTU = 1400

# The clip: a real one (Big Buck Bunny, where .ci/run put it) converted to 1920x1080, or
# MakeVideo's 1080p picture; at qualities that give ~120 and ~94 KB a frame, about the size
# of a real 1080p camera's MJPEG (~87 and ~67 packets), made once and repeated.
REAL_SOURCE = ROOT / ".peers" / "bigbuckbunny.mp4"
SOURCE_QUALITY = 40
PICTURE_QUALITY = 45
PICTURE_FRAMES = 150

# The receiver of the unpaced sends, in its own process: it reads and drops what arrives until
# its standard input closes, as a client on the same machine would take its share of a core.
DRAIN = """
import socket, sys, threading
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
def read():
    while True:
        sock.recv(65536)
threading.Thread(target=read, daemon=True).start()
sys.stdin.read()
"""


@contextmanager
def drain() -> Iterator[int]:
    """The port of a receiver that reads and drops datagrams, in its own process."""
    process = subprocess.Popen([sys.executable, "-c", DRAIN], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert process.stdout is not None
        yield int(process.stdout.readline())
    finally:
        process.communicate(timeout=10)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], timeout: float = 600.0) -> tuple[float, float]:
    """Wall-clock and CPU seconds of a command."""
    start, cpu = time.perf_counter(), children_cpu()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=timeout)  # fmt: skip
    return time.perf_counter() - start, children_cpu() - cpu


def peer_rate(
    make: Callable[[Path, int], list[str]], clip: Path, one: Path, port: int
) -> tuple[float, float]:
    """Frames per second of a peer's command over `clip` and its CPU µs a frame, less its
    start-up (the same command on the one-frame clip `one`, best of three)."""
    with VideoStream(clip) as video:
        frames = video.frame_count
    startup = [min(run) for run in zip(*(timed(make(one, port)) for _ in range(3)), strict=True)]
    wall, cpu = timed(make(clip, port))
    return (frames - 1) / max(wall - startup[0], 1e-6), (cpu - startup[1]) / (frames - 1) * 1e6


def ffmpeg_command(clip: Path, port: int) -> list[str]:
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "mjpeg",
            "-i", str(clip), "-c:v", "copy", "-f", "rtp",
            f"rtp://{LOOPBACK}:{port}?pkt_size={MTU}"]  # fmt: skip


def gst_command(clip: Path, port: int) -> list[str]:
    return ["gst-launch-1.0", "-q", "filesrc", f"location={clip}", "!", "jpegparse", "!",
            "rtpjpegpay", f"mtu={MTU}", "!", "udpsink", f"host={LOOPBACK}", f"port={port}",
            "sync=false"]  # fmt: skip


def our_rate(
    clip: Path, port: int, standard: bool, gso: bool, cache: PayloadCache
) -> tuple[float, float, int]:
    """Frames per second of our send path over the whole clip, as the pacing loop runs it
    behind the clock (`rtsplab.server.stream`), its CPU µs a frame, and its system calls.
    The file's index is made before (at DESCRIBE, before any PLAY)."""
    payloader = jpeg_payload_parts if standard else fragment_parts
    sender = RtpSender(30, MTU, payloader=payloader)
    how = (payloader, sender.max_payload)
    with VideoStream(clip) as video, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        out = UdpOut(sock, (LOOPBACK, port), gso=gso)
        start, cpu = time.perf_counter(), time.process_time()
        for index in range(video.frame_count):
            frame = cache.get(video, index, sender.cut, how)
            out.send(sender.packets(frame), frame.segment)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return video.frame_count / elapsed, cpu / video.frame_count * 1e6, out.calls


def index_seconds(clip: Path) -> float:
    """How long opening the clip takes with no index kept: its one walk, at DESCRIBE."""
    forget_indexes()
    start = time.perf_counter()
    VideoStream(clip).close()
    return time.perf_counter() - start


def unpaced_clip(frames: int, source: Path | None) -> tuple[Path, Path]:
    """The unpaced clip of `frames` frames, and its first frame alone: `source` converted to
    1920x1080 MJPEG, or MakeVideo's picture when None."""
    if source is None:
        name = f"unpaced-1080p-q{PICTURE_QUALITY}"
        base = CLIPS / f"{name}-{PICTURE_FRAMES}.mjpeg"
        if not base.exists():
            print(f"making {base.name}...", flush=True)
            CLIPS.mkdir(parents=True, exist_ok=True)
            make_clip(base, *PRESETS["1080p"], PICTURE_FRAMES, quality=PICTURE_QUALITY)
    else:
        name = f"unpaced-1080p-{source.stem}-q{SOURCE_QUALITY}"
        base = CLIPS / f"{name}.mjpeg"
        if not base.exists():
            print(f"converting {source.name} to {base.name}...", flush=True)
            convert(source, base, size=PRESETS["1080p"], quality=SOURCE_QUALITY, sound=False)
    with VideoStream(base) as video:
        jpegs = [video.frame(i) for i in range(video.frame_count)]
    clip = CLIPS / f"{name}-x{frames}.mjpeg"
    if not clip.exists():  # the short clip again and again: raw MJPEG concatenates
        clip.write_bytes(b"".join(jpegs[i % len(jpegs)] for i in range(frames)))
    one = CLIPS / f"{name}-x1.mjpeg"
    one.write_bytes(jpegs[0])
    return clip, one


def unpaced_part(args: argparse.Namespace) -> None:
    """Every program in turn over the clip, `args.repeat` rounds; the medians printed."""
    source = None if args.source == "picture" else Path(args.source)
    clip, one = unpaced_clip(args.frames, source)
    clip.read_bytes()  # in the page cache for everyone
    gso = gso_available()
    size = clip.stat().st_size / args.frames
    print(f"\nunpaced: {clip.name}, {args.frames} frames of 1920x1080, {size / 1000:.0f} KB a "
          f"frame, packets of {MTU} bytes, the receiver in its own process; UDP GSO "
          f"{'used' if gso is None else 'not available: ' + gso}; "
          f"median of {args.repeat} rounds, each program in turn")  # fmt: skip
    peers = [(name, make) for name, tool, make in (
        ("ffmpeg", "ffmpeg", ffmpeg_command), ("GStreamer", "gst-launch-1.0", gst_command))
        if shutil.which(tool) is not None]  # fmt: skip
    rates: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    calls: dict[str, int] = {}
    with drain() as port:
        for _ in range(args.repeat):
            for name, make in peers:
                rate, cpu = peer_rate(make, clip, one, port)
                rates.setdefault(name, []).append(rate)
                cpus.setdefault(name, []).append(cpu)
            for standard in (False, True):
                cache = PayloadCache()
                for state in ("cold", "filling", "warm"):  # a frame is kept from its 2nd cut
                    label = f"ours, {'standard' if standard else 'lab'}, cache {state}"
                    rate, cpu, calls[label] = our_rate(clip, port, standard, gso is None, cache)
                    rates.setdefault(label, []).append(rate)
                    cpus.setdefault(label, []).append(cpu)
    rate_of = {name: statistics.median(values) for name, values in rates.items()}
    cpu_of = {name: statistics.median(values) for name, values in cpus.items()}
    print(f"{'':<28} {'frames/s':>9} {'CPU µs/frame':>12}   wall-clock ratio, CPU ratio")
    for name in rates:
        ratios = "  ".join(
            f"{rate_of[name] / rate_of[peer]:.2f}x {cpu_of[peer] / cpu_of[name]:.2f}x {peer}"
            for peer, _ in peers
        )
        made = f"{ratios}  ({calls[name]} calls)" if name in calls else ""
        print(f"{name:<28} {rate_of[name]:>9.0f} {cpu_of[name]:>12.0f}   {made}", flush=True)
    print(f"{'index at DESCRIBE':<28} {index_seconds(clip) * 1000:>9.0f} ms, once per file")
