"""Converting a real video to MJPEG with ffmpeg, in the form RTP/JPEG can carry."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from rtsplab.media import FfmpegNotFound, MakeVideoError
from rtsplab.media.clip_file import writer
from rtsplab.media.picture import DEFAULT_QUALITY, check_size
from rtsplab.media.sound import companion, extract_sound
from VideoStream import VideoError, VideoStream

logger = logging.getLogger(__name__)

# Pillow quality maps to ffmpeg's -q:v through libjpeg's table scaling (jcparam.c:
# 50/Q below 50, 2 - Q/50 above) times this factor, chosen so ffmpeg's file is about the
# size Pillow writes at the same quality (measured on the test picture: 80 -> 3, 50 -> 6).
QSCALE_PER_TABLE_SCALE = 6.0
QSCALE_OFFSET = 0.3
FFMPEG_QSCALE_MIN, FFMPEG_QSCALE_MAX = 2, 31


def ffmpeg_qscale(quality: int) -> int:
    """ffmpeg's mjpeg -q:v (2 best .. 31) giving about the size of Pillow's ``quality``."""
    if not 1 <= quality <= 100:
        raise MakeVideoError(f"quality {quality}: must be 1..100")
    table_scale = 50.0 / quality if quality < 50 else 2.0 - quality / 50.0
    qscale = round(QSCALE_PER_TABLE_SCALE * table_scale + QSCALE_OFFSET)
    return min(max(qscale, FFMPEG_QSCALE_MIN), FFMPEG_QSCALE_MAX)


def find_ffmpeg() -> str:
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
    sound: bool = True,
) -> int:
    """Convert any video ffmpeg reads to MJPEG (lab or raw); return the frame count.

    ``size`` scales, ``fps`` resamples the frame rate (dropping or repeating frames). With
    ``sound``, the first audio stream is kept beside the clip (`rtsplab.media.sound`).
    """
    write = writer(fmt, output)
    if size is not None:
        check_size(*size)
    if fps is not None and fps <= 0:
        raise MakeVideoError(f"fps {fps}: must be positive")
    if not Path(input).is_file():
        raise MakeVideoError(f"{input}: no such file")
    ffmpeg = find_ffmpeg()
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
            count = write(frames, output)
    finally:
        raw.unlink(missing_ok=True)
    kept = None
    if sound:
        companion(output).unlink(missing_ok=True)  # an older clip's sound would not match
        kept = extract_sound(ffmpeg, input, output)
    if kept is not None:
        logger.info("sound: %s, %d Hz, %d channels, %.1f s", kept.path, kept.rate,
                    kept.channels, kept.seconds)  # fmt: skip
    return count
