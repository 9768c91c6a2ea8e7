"""Make MJPEG test clips for the streaming lab, and convert real videos to MJPEG.

    python MakeVideo.py clip video/generated/test.mjpeg --preset 1080p --frames 100
    python MakeVideo.py convert input.mp4 video/generated/input.mjpeg --size 1920x1080
    python MakeVideo.py samples        # (re)write the samples shipped in video/
    python MakeVideo.py testset        # one clip per preset in video/generated/

Output formats (see VideoStream): ``lab``, the lab's 5-digit length before each JPEG
(a frame is at most 99,999 bytes), default for names ending in ``.Mjpeg`` like the lab's
``movie.Mjpeg``; and ``mjpeg``, raw concatenated JPEG, the default otherwise. Neither
format stores a frame rate: the server paces frames (the lab's sends one every 50 ms).

Every frame is baseline JPEG with 4:2:0 chroma and the standard Huffman tables (T.81
Annex K.3), because RTP/JPEG (RFC 2435) sends no Huffman tables: the receiver rebuilds
the headers with the standard ones, so a frame with optimized tables would decode to
garbage after the trip.

The test picture scrolls a textured background (a colour gradient with upscaled noise),
bounces a ball and draws the frame number big, so frames differ and have realistic
sizes: at the default quality about 0.75 bit per pixel, i.e. ~750 KB at 3840x2160 and
~200 KB at 1920x1080, like real camera MJPEG.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import logging
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageOps

from rtsplab.errors import LabError
from rtsplab.payload.jpeg import MAX_DIMENSION, JpegError, frame_end
from rtsplab.payload.rfc2435.header import SIZE_UNIT
from VideoStream import (
    FORMAT_LAB,
    FORMAT_MJPEG,
    LAB_HEADER_SIZE,
    LAB_MAX_FRAME_SIZE,
    VideoError,
    VideoStream,
)

__all__ = [
    "PRESETS",
    "FfmpegNotFound",
    "MakeVideoError",
    "convert",
    "encode_jpeg",
    "ffmpeg_qscale",
    "format_for_path",
    "generate_frames",
    "make_clip",
    "make_frame",
    "main",
    "parse_size",
    "write_lab",
    "write_mjpeg",
]

logger = logging.getLogger(__name__)

PRESETS: dict[str, tuple[int, int]] = {
    "288p": (384, 288),  # the lab's movie.Mjpeg
    "720p": (1280, 720),
    "1080p": (1920, 1080),
    "1440p": (2560, 1440),
    "2160p": (3840, 2160),
}
FORMATS = (FORMAT_LAB, FORMAT_MJPEG)
LAB_SUFFIX = ".Mjpeg"  # the lab's file name; ".mjpeg" and anything else means raw

DEFAULT_FRAMES = 100
DEFAULT_FPS = 30.0
DEFAULT_QUALITY = 80
LAB_FPS = 20.0  # the lab server sends a frame every 50 ms
# The shipped samples are written a little below the default quality to keep the
# repository small (~5.3 MB for both); generated clips use DEFAULT_QUALITY.
SAMPLE_QUALITY = 70

VIDEO_DIR = Path(__file__).resolve().parent / "video"
GENERATED_DIR = VIDEO_DIR / "generated"

# The test picture. The noise is drawn at 1/NOISE_CELL resolution and upscaled, which
# gives a grainy texture like foliage or gravel rather than per-pixel snow; NOISE_ALPHA
# is its weight over the gradient. Both were tuned so a frame at quality 80 is about
# 0.75 bit/pixel: 4K ~750 KB (~540 RTP packets of 1400 bytes; real 4K MJPEG is 260-850),
# 1080p ~200 KB.
NOISE_CELL = 4
NOISE_ALPHA = 0.08
NOISE_SEED = 2435  # fixed, so `samples` rewrites byte-identical files
SCROLL_SECONDS = 8.0  # the background scrolls one picture width in this time
BOUNCE_SECONDS = 3.0  # the ball crosses the picture in this time
GRADIENT = ("#0b1d4a", "#3f9a6b", "#f2c14e")  # top, middle, bottom

# Pillow quality maps to ffmpeg's -q:v through libjpeg's table scaling (jcparam.c:
# 50/Q below 50, 2 - Q/50 above) times this factor, chosen so ffmpeg's file is about the
# size Pillow writes at the same quality (measured on the test picture: 80 -> 3, 50 -> 6).
QSCALE_PER_TABLE_SCALE = 6.0
QSCALE_OFFSET = 0.3
FFMPEG_QSCALE_MIN, FFMPEG_QSCALE_MAX = 2, 31


class MakeVideoError(LabError, ValueError):
    """A clip or conversion that cannot be made as asked."""


class FfmpegNotFound(MakeVideoError):
    """ffmpeg is needed (convert) and not on PATH."""


# -- the test picture ----------------------------------------------------------------------


class _Scene:
    """What is computed once per clip size: background, ball and fonts."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        rng = random.Random(NOISE_SEED)
        cells = (max(1, math.ceil(width / NOISE_CELL)), max(1, math.ceil(height / NOISE_CELL)))
        noise = Image.frombytes("RGB", cells, rng.randbytes(cells[0] * cells[1] * 3))
        noise = noise.resize((width, height), Image.Resampling.BICUBIC)
        # A vertical gradient wraps seamlessly when the background scrolls sideways.
        ramp = Image.linear_gradient("L").resize((width, height))
        gradient = ImageOps.colorize(ramp, GRADIENT[0], GRADIENT[2], mid=GRADIENT[1])
        self.background = Image.blend(gradient, noise, NOISE_ALPHA)

        radius = max(4, height // 10)
        self.ball_size = 2 * radius
        self.ball_mask = Image.new("L", (self.ball_size, self.ball_size), 0)
        ImageDraw.Draw(self.ball_mask).ellipse((0, 0, self.ball_size - 1, self.ball_size - 1), 255)
        self.ball = Image.radial_gradient("L").resize((self.ball_size, self.ball_size))
        self.ball = ImageOps.colorize(self.ball, "#fff3d0", "#c0392b")

        self.big_font = ImageFont.load_default(size=max(8, int(height * 0.3)))
        self.small_font = ImageFont.load_default(size=max(8, height // 24))
        self.stroke = max(1, height // 150)

    def draw(self, index: int, fps: float) -> Image.Image:
        width, height = self.width, self.height
        seconds = index / fps
        shift = round(seconds * width / SCROLL_SECONDS) % width
        frame = ImageChops.offset(self.background, -shift, 0)  # scroll with wrap-around

        phase = (seconds / BOUNCE_SECONDS) % 2.0
        across = phase if phase <= 1.0 else 2.0 - phase  # triangle wave 0..1..0
        x = round(across * (width - self.ball_size))
        y = round((0.5 + 0.3 * math.sin(2 * math.pi * seconds / BOUNCE_SECONDS)) * height)
        y = min(max(0, y - self.ball_size // 2), max(0, height - self.ball_size))
        frame.paste(self.ball, (x, y), self.ball_mask)

        draw = ImageDraw.Draw(frame)
        draw.text(
            (width // 2, height // 2),
            str(index),
            font=self.big_font,
            fill="white",
            anchor="mm",
            stroke_width=self.stroke * 3,
            stroke_fill="black",
        )
        margin = max(2, height // 60)
        draw.text(
            (margin, margin),
            f"{width}x{height}  frame {index}  {seconds:7.2f} s",
            font=self.small_font,
            fill="white",
            stroke_width=self.stroke,
            stroke_fill="black",
        )
        # A bar that fills once per second: motion at the frame rate, easy to eyeball.
        bar_height = max(2, height // 60)
        bar_width = round(width * ((index % max(1, round(fps))) + 1) / max(1, round(fps)))
        draw.rectangle((0, height - bar_height, bar_width - 1, height - 1), fill="#ffffff")
        return frame


@functools.lru_cache(maxsize=1)  # one 4K scene is ~25 MB; clips come one size at a time
def _scene(width: int, height: int) -> _Scene:
    return _Scene(width, height)


def _check_size(width: int, height: int) -> None:
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        raise MakeVideoError(f"size {width}x{height}: each side must be 1..{MAX_DIMENSION}")


def make_frame(width: int, height: int, index: int, fps: float = DEFAULT_FPS) -> Image.Image:
    """Draw frame ``index`` of the test clip as an RGB image."""
    _check_size(width, height)
    return _scene(width, height).draw(index, fps)


def encode_jpeg(image: Image.Image, quality: int = DEFAULT_QUALITY) -> bytes:
    """Encode as baseline JPEG, 4:2:0, standard Huffman tables (what RTP/JPEG can carry)."""
    if not 1 <= quality <= 100:
        raise MakeVideoError(f"quality {quality}: must be 1..100")
    out = io.BytesIO()
    # optimize=False keeps the standard Huffman tables; see the module docstring.
    image.convert("RGB").save(
        out, "JPEG", quality=quality, subsampling="4:2:0", optimize=False, progressive=False
    )
    return out.getvalue()


def generate_frames(
    width: int,
    height: int,
    count: int,
    quality: int = DEFAULT_QUALITY,
    fps: float = DEFAULT_FPS,
) -> Iterator[bytes]:
    """Yield ``count`` JPEG frames of the test clip."""
    _check_size(width, height)
    if width % SIZE_UNIT or height % SIZE_UNIT:
        logger.warning(
            "%dx%d is not a multiple of %d pixels: RTP/JPEG (RFC 2435) cannot describe it",
            width,
            height,
            SIZE_UNIT,
        )
    scene = _scene(width, height)
    for index in range(count):
        yield encode_jpeg(scene.draw(index, fps), quality)


# -- writing files -------------------------------------------------------------------------


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The default format for an output name: lab for ``*.Mjpeg``, else raw mjpeg."""
    return FORMAT_LAB if os.fspath(path).endswith(LAB_SUFFIX) else FORMAT_MJPEG


@contextlib.contextmanager
def _replacing(path: str | os.PathLike[str]) -> Iterator[io.BufferedWriter]:
    """Write to a temporary file beside ``path`` and move it over ``path`` on success.

    A failure (a frame too big for the lab format, ffmpeg dying) leaves no half file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    try:
        with open(part, "wb") as out:
            yield out
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def _check_jpeg(jpeg: bytes, number: int) -> None:
    try:
        end = frame_end(jpeg)
    except JpegError as exc:
        raise MakeVideoError(f"frame {number}: {exc}") from exc
    if end != len(jpeg):
        raise MakeVideoError(f"frame {number}: {len(jpeg) - end} bytes after the JPEG's EOI")


def write_lab(frames: Iterable[bytes], path: str | os.PathLike[str]) -> int:
    """Write JPEG frames in the lab's format (5-digit length, JPEG); return the count.

    Raises MakeVideoError for a frame over 99,999 bytes, which the format cannot hold.
    """
    count = 0
    with _replacing(path) as out:
        for number, jpeg in enumerate(frames):
            _check_jpeg(jpeg, number)
            if len(jpeg) > LAB_MAX_FRAME_SIZE:
                raise MakeVideoError(
                    f"frame {number} is {len(jpeg):,} bytes; the lab format caps a frame at "
                    f"{LAB_MAX_FRAME_SIZE:,} (a 5-digit length): lower --quality or --size, "
                    f"or use --format {FORMAT_MJPEG}"
                )
            out.write(b"%0*d" % (LAB_HEADER_SIZE, len(jpeg)))
            out.write(jpeg)
            count += 1
    return count


def write_mjpeg(frames: Iterable[bytes], path: str | os.PathLike[str]) -> int:
    """Write JPEG frames back to back (raw MJPEG); return the count."""
    count = 0
    with _replacing(path) as out:
        for number, jpeg in enumerate(frames):
            _check_jpeg(jpeg, number)
            out.write(jpeg)
            count += 1
    return count


def _writer(
    fmt: str | None, path: str | os.PathLike[str]
) -> Callable[[Iterable[bytes], str | os.PathLike[str]], int]:
    fmt = fmt or format_for_path(path)
    if fmt == FORMAT_LAB:
        return write_lab
    if fmt == FORMAT_MJPEG:
        return write_mjpeg
    raise MakeVideoError(f"format {fmt!r}: must be one of {', '.join(FORMATS)}")


def make_clip(
    path: str | os.PathLike[str],
    width: int,
    height: int,
    frames: int = DEFAULT_FRAMES,
    quality: int = DEFAULT_QUALITY,
    fmt: str | None = None,
    fps: float = DEFAULT_FPS,
) -> int:
    """Write a test clip of ``frames`` frames; ``fmt`` None picks by name. Return the count."""
    if frames < 1:
        raise MakeVideoError(f"frames {frames}: must be at least 1")
    if fps <= 0:
        raise MakeVideoError(f"fps {fps}: must be positive")
    write = _writer(fmt, path)
    return write(generate_frames(width, height, frames, quality, fps), path)


# -- converting with ffmpeg ----------------------------------------------------------------


def ffmpeg_qscale(quality: int) -> int:
    """ffmpeg's mjpeg -q:v (2 best .. 31) giving about the size of Pillow's ``quality``."""
    if not 1 <= quality <= 100:
        raise MakeVideoError(f"quality {quality}: must be 1..100")
    table_scale = 50.0 / quality if quality < 50 else 2.0 - quality / 50.0
    qscale = round(QSCALE_PER_TABLE_SCALE * table_scale + QSCALE_OFFSET)
    return min(max(qscale, FFMPEG_QSCALE_MIN), FFMPEG_QSCALE_MAX)


def _find_ffmpeg() -> str:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise FfmpegNotFound(
            "ffmpeg not found on PATH: install it (Debian/Ubuntu: apt install ffmpeg) "
            "to convert videos; `MakeVideo.py clip` needs no ffmpeg"
        )
    return ffmpeg


def convert(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    size: tuple[int, int] | None = None,
    fps: float | None = None,
    quality: int = DEFAULT_QUALITY,
    fmt: str | None = None,
) -> int:
    """Convert any video ffmpeg reads to MJPEG (lab or raw); return the frame count.

    ``size`` scales, ``fps`` resamples the frame rate (dropping or repeating frames).
    """
    write = _writer(fmt, output)
    if size is not None:
        _check_size(*size)
    if fps is not None and fps <= 0:
        raise MakeVideoError(f"fps {fps}: must be positive")
    if not Path(input).is_file():
        raise MakeVideoError(f"{input}: no such file")
    ffmpeg = _find_ffmpeg()
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_name(out.name + ".ffmpeg.part")
    command = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    command += ["-i", os.fspath(input), "-map", "0:v:0", "-an", "-sn", "-dn"]
    filters = []
    if fps is not None:
        filters.append(f"fps={fps:g}")  # the filter, unlike -r, keeps exactly duration x fps
    if size is not None:
        filters.append(f"scale={size[0]}:{size[1]}")
    if filters:
        command += ["-vf", ",".join(filters)]
    command += [
        "-c:v", "mjpeg",
        "-pix_fmt", "yuvj420p",  # 4:2:0, full range: RTP/JPEG type 1
        "-q:v", str(ffmpeg_qscale(quality)),
        "-huffman", "default",  # standard tables; ffmpeg's default is optimal ones
        "-force_duplicated_matrix", "1",  # luma and chroma tables, as RTP/JPEG sends
        "-f", "mjpeg", os.fspath(raw),
    ]  # fmt: skip
    logger.debug("running %s", " ".join(command))
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise MakeVideoError(
                f"ffmpeg failed (exit {done.returncode}) on {input}: {done.stderr.strip()[-800:]}"
            )
        try:
            stream = VideoStream(raw)
        except VideoError as exc:
            raise MakeVideoError(f"ffmpeg made no usable MJPEG of {input}: {exc}") from exc
        with stream:
            frames = (stream.frame(i) for i in range(stream.frame_count))
            return write(frames, output)
    finally:
        raw.unlink(missing_ok=True)


# -- command line --------------------------------------------------------------------------


def parse_size(text: str) -> tuple[int, int]:
    """Parse "1280x720" (or a preset name like "720p") into (width, height)."""
    if text in PRESETS:
        return PRESETS[text]
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"size {text!r}: expected WIDTHxHEIGHT, e.g. 1280x720")
    width, height = int(match[1]), int(match[2])
    try:
        _check_size(width, height)
    except MakeVideoError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return width, height


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: must be at least 1")
    return value


def _quality(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value}: must be 1..100")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text}: must be positive")
    return value


def _report(path: Path, count: int, seconds: float) -> None:
    size = path.stat().st_size
    logger.info(
        "wrote %s: %d frames, %.2f MB, %.1f KB/frame average, %.1f ms/frame to make",
        path,
        count,
        size / 1e6,
        size / count / 1e3,
        1e3 * seconds / count,
    )


def _timed_clip(path: Path, width: int, height: int, **options: Any) -> None:
    started = time.perf_counter()
    count = make_clip(path, width, height, **options)
    _report(path, count, time.perf_counter() - started)


def write_samples(directory: Path = VIDEO_DIR) -> None:
    """(Re)write the samples shipped in video/."""
    _timed_clip(
        directory / "movie.Mjpeg",
        *PRESETS["288p"],
        frames=200,
        quality=SAMPLE_QUALITY,
        fmt=FORMAT_LAB,
        fps=LAB_FPS,
    )
    _timed_clip(
        directory / "hd720.mjpeg",
        *PRESETS["720p"],
        frames=40,
        quality=SAMPLE_QUALITY,
        fmt=FORMAT_MJPEG,
    )


def write_testset(
    directory: Path = GENERATED_DIR, frames: int = DEFAULT_FRAMES, quality: int = DEFAULT_QUALITY
) -> None:
    """Write one raw MJPEG clip per preset, named after it (e.g. 1080p.mjpeg)."""
    for name, (width, height) in PRESETS.items():
        path = directory / f"{name}.mjpeg"
        _timed_clip(path, width, height, frames=frames, quality=quality, fmt=FORMAT_MJPEG)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="MakeVideo.py",
        description="Make MJPEG test clips and convert videos for the RTSP/RTP streaming lab.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    # -v also after the command; SUPPRESS so the command's default does not undo a -v
    # given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_encoding(
        sub: argparse.ArgumentParser, fps_help: str, fps_default: float | None
    ) -> None:
        sub.add_argument(
            "--quality",
            type=_quality,
            default=DEFAULT_QUALITY,
            help=f"JPEG quality 1..100 (default {DEFAULT_QUALITY})",
        )
        sub.add_argument(
            "--format",
            choices=FORMATS,
            help=f"{FORMAT_LAB}: the lab's 5-digit framing (frames <= 99,999 bytes); "
            f"{FORMAT_MJPEG}: raw JPEGs. Default: {FORMAT_LAB} for *{LAB_SUFFIX}, "
            f"else {FORMAT_MJPEG}",
        )
        sub.add_argument(
            "--fps",
            type=_positive_float,
            default=fps_default,
            help=fps_help,
        )

    clip = commands.add_parser(
        "clip", help="write a test clip", parents=[common], description="Write a test clip."
    )
    clip.add_argument("out", type=Path, metavar="OUT")
    size = clip.add_mutually_exclusive_group()
    size.add_argument("--size", type=parse_size, help="WIDTHxHEIGHT, e.g. 1280x720")
    size.add_argument(
        "--preset",
        choices=PRESETS,
        help=", ".join(f"{k}={w}x{h}" for k, (w, h) in PRESETS.items()) + " (default 288p)",
    )
    clip.add_argument(
        "--frames",
        type=_positive_int,
        default=DEFAULT_FRAMES,
        help=f"number of frames (default {DEFAULT_FRAMES})",
    )
    add_encoding(
        clip,
        f"frames per second the motion is drawn for (default {DEFAULT_FPS:g}); "
        "the file stores no rate",
        DEFAULT_FPS,
    )

    conv = commands.add_parser(
        "convert",
        help="convert a video file with ffmpeg",
        parents=[common],
        description="Convert any video ffmpeg reads to MJPEG (lab or raw format).",
    )
    conv.add_argument("input", type=Path, metavar="INPUT")
    conv.add_argument("out", type=Path, metavar="OUT")
    conv.add_argument("--size", type=parse_size, help="scale to WIDTHxHEIGHT (or a preset)")
    add_encoding(conv, "resample to this many frames per second (default: keep)", None)

    commands.add_parser(
        "samples",
        help="(re)write the samples in video/",
        parents=[common],
        description="Write video/movie.Mjpeg (lab format, 384x288, 200 frames) and "
        f"video/hd720.mjpeg (raw, 1280x720, 40 frames) at quality {SAMPLE_QUALITY}.",
    )
    testset = commands.add_parser(
        "testset",
        help="write one clip per preset in video/generated/",
        parents=[common],
        description="Write one raw MJPEG clip per preset into video/generated/.",
    )
    testset.add_argument("--frames", type=_positive_int, default=DEFAULT_FRAMES)
    testset.add_argument("--quality", type=_quality, default=DEFAULT_QUALITY)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s"
    )
    try:
        if args.command == "clip":
            width, height = args.size or PRESETS[args.preset or "288p"]
            _timed_clip(
                args.out,
                width,
                height,
                frames=args.frames,
                quality=args.quality,
                fmt=args.format,
                fps=args.fps,
            )
        elif args.command == "convert":
            started = time.perf_counter()
            count = convert(args.input, args.out, args.size, args.fps, args.quality, args.format)
            _report(args.out, count, time.perf_counter() - started)
        elif args.command == "samples":
            write_samples()
        elif args.command == "testset":
            write_testset(frames=args.frames, quality=args.quality)
    except FfmpegNotFound as exc:
        logger.error("%s", exc)
        return 2
    except (MakeVideoError, OSError) as exc:
        logger.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
