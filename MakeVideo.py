"""Make MJPEG test clips for the streaming lab, and convert real videos to MJPEG.

    python MakeVideo.py clip video/generated/test.mjpeg --preset 1080p --frames 100
    python MakeVideo.py convert input.mp4 video/generated/input.mjpeg --size 1920x1080
    python MakeVideo.py avclip video/generated/sync.mjpeg   # flash and click each second
    python MakeVideo.py samples        # (re)write the samples shipped in video/
    python MakeVideo.py testset        # one clip per preset in video/generated/

Output formats (see VideoStream): ``lab``, the lab's 5-digit length before each JPEG
(a frame is at most 99,999 bytes), default for names ending in ``.Mjpeg`` like the lab's
``movie.Mjpeg``; and ``mjpeg``, raw concatenated JPEG, the default otherwise. Neither
format stores a frame rate: the server paces frames (the lab's sends one every 50 ms).

The test picture, the file formats and the conversion are in rtsplab.media.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any

from rtsplab.cli import int_in, positive, setup_logging
from rtsplab.media import FfmpegNotFound, MakeVideoError
from rtsplab.media.clip_file import (
    DEFAULT_FRAMES,
    FORMATS,
    LAB_SUFFIX,
    format_for_path,
    make_av_clip,
    make_clip,
    write_lab,
    write_mjpeg,
)
from rtsplab.media.ffmpeg import convert, ffmpeg_qscale
from rtsplab.media.picture import (
    DEFAULT_FPS,
    DEFAULT_QUALITY,
    check_size,
    encode_jpeg,
    generate_frames,
    make_frame,
)
from VideoStream import FORMAT_LAB, FORMAT_MJPEG

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
COUNT = int_in(1)  # frames
QUALITY = int_in(1, 100)  # JPEG quality, as PIL and libjpeg take it

PRESETS: dict[str, tuple[int, int]] = {
    "288p": (384, 288),  # the lab's movie.Mjpeg
    "720p": (1280, 720),
    "1080p": (1920, 1080),
    "1440p": (2560, 1440),
    "2160p": (3840, 2160),
}

LAB_FPS = 20.0  # the lab server sends a frame every 50 ms
# The shipped samples are written a little below the default quality to keep the
# repository small (~5.3 MB for both); generated clips use DEFAULT_QUALITY.
SAMPLE_QUALITY = 70

VIDEO_DIR = Path(__file__).resolve().parent / "video"
GENERATED_DIR = VIDEO_DIR / "generated"


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
        check_size(width, height)
    except MakeVideoError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return width, height


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
            type=QUALITY,
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
            type=positive,
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
        type=COUNT,
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
    conv.add_argument(
        "--no-sound",
        dest="sound",
        action="store_false",
        help="leave the sound out (by default it is kept beside OUT as OUT's name .wav)",
    )
    add_encoding(conv, "resample to this many frames per second (default: keep)", None)

    avclip = commands.add_parser(
        "avclip",
        help="write the A/V sync test clip and its sound",
        parents=[common],
        description="Write a test clip that flashes white at every whole second, and beside "
        "it (same name, .wav) a sound that clicks at the same instants.",
    )
    avclip.add_argument("out", type=Path, metavar="OUT")
    avclip.add_argument("--size", type=parse_size, help="WIDTHxHEIGHT (default 384x288)")
    avclip.add_argument("--seconds", type=COUNT, default=10, help="length (default 10)")
    add_encoding(avclip, f"frames per second (default {DEFAULT_FPS:g})", DEFAULT_FPS)

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
    testset.add_argument("--frames", type=COUNT, default=DEFAULT_FRAMES)
    testset.add_argument("--quality", type=QUALITY, default=DEFAULT_QUALITY)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    setup_logging(args.verbose, logging.INFO)
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
            count = convert(args.input, args.out, args.size, args.fps, args.quality, args.format,
                            sound=args.sound)  # fmt: skip
            _report(args.out, count, time.perf_counter() - started)
        elif args.command == "avclip":
            width, height = args.size or PRESETS["288p"]
            count, sound = make_av_clip(args.out, width, height, args.seconds, args.fps,
                                        args.quality, args.format)  # fmt: skip
            logger.info("wrote %s (%d frames) and %s (%.0f s)", args.out, count, sound.path,
                        sound.seconds)  # fmt: skip
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
