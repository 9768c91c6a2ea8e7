"""Clip files: JPEG frames written in the lab's format (a 5-digit length before each JPEG,
so a frame is at most 99,999 bytes), the default for names ending in ``.Mjpeg`` like the
lab's ``movie.Mjpeg``, or as raw concatenated JPEG (``mjpeg``), the default otherwise. Neither
format stores a frame rate: the server paces frames (the lab's sends one every 50 ms). The
A/V test clip has its sound beside it (`rtsplab.media.sound`)."""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from PIL import Image

from rtsplab.media import MakeVideoError
from rtsplab.media.picture import DEFAULT_FPS, DEFAULT_QUALITY, encode_jpeg, generate_frames
from rtsplab.media.sound import Sound, companion, write_click_track
from rtsplab.payload.jpeg import JpegError, frame_end
from VideoStream import FORMAT_LAB, FORMAT_MJPEG, LAB_HEADER_SIZE, LAB_MAX_FRAME_SIZE

FORMATS = (FORMAT_LAB, FORMAT_MJPEG)
LAB_SUFFIX = ".Mjpeg"  # the lab's file name; ".mjpeg" and anything else means raw
DEFAULT_FRAMES = 100


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


def writer(
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
    write = writer(fmt, path)
    return write(generate_frames(width, height, frames, quality, fps), path)


def make_av_clip(
    path: str | os.PathLike[str],
    width: int,
    height: int,
    seconds: int,
    fps: float = DEFAULT_FPS,
    quality: int = DEFAULT_QUALITY,
    fmt: str | None = None,
) -> tuple[int, Sound]:
    """The A/V test clip: the test picture with a white frame at every whole second, and
    its sound beside it (`rtsplab.media.sound.companion`) with a click at the same instants:
    seen and heard together when the player keeps them in sync. Returns (frames, sound)."""
    if seconds < 1 or fps <= 0:
        raise MakeVideoError(f"an A/V clip of {seconds} s at {fps} fps")
    count = math.ceil(seconds * fps)
    flashes = {math.floor(second * fps) for second in range(seconds)}
    white = encode_jpeg(Image.new("RGB", (width, height), "white"), quality)
    frames = (
        white if index in flashes else picture
        for index, picture in enumerate(generate_frames(width, height, count, quality, fps))
    )
    written = writer(fmt, path)(frames, path)
    return written, write_click_track(companion(path), seconds)
