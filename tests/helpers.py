"""What many tests share: waiting on a condition, random sources that are not random, and a
picture's pixels. Imported by name (`from helpers import wait_until`): the tests' folder is on
the path."""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

POLL = 0.02  # seconds between two looks at a condition

# The real peers' programs: a test that runs one skips, saying how to install it, without it.
needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="needs ffmpeg (apt install ffmpeg)"
)
needs_gst_launch = pytest.mark.skipif(
    shutil.which("gst-launch-1.0") is None,
    reason="needs gst-launch-1.0 (apt install gstreamer1.0-tools gstreamer1.0-plugins-good "
    "gstreamer1.0-plugins-bad gstreamer1.0-rtsp)",
)

# What a decoder may be handed besides bytes: a bytearray, a memoryview, and a view of part of
# a larger buffer (a datagram read into a bigger one), for `make_buffer(data)`.
BUFFER_KINDS = [
    pytest.param(bytearray, id="bytearray"),
    pytest.param(memoryview, id="memoryview"),
    pytest.param(lambda data: memoryview(bytearray(data) + b"junk")[: len(data)], id="slice"),
]


def wait_until(condition: Callable[[], object], timeout: float = 5.0, what: str = "condition"):
    """Return once `condition()` is true; fail the test if it is not within `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}"
        time.sleep(POLL)


class FixedRandom:
    """A random source whose random() always returns `value` (0.5: A.7's factor is exactly
    1), counting its calls."""

    def __init__(self, value: float = 0.5) -> None:
        self.value = value
        self.calls = 0

    def random(self) -> float:
        self.calls += 1
        return self.value


class SequenceRandom:
    """A random source returning the given values in turn, failing when they run out."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0)


def pixels(jpeg: bytes) -> bytes:
    """A JPEG's decoded RGB pixels: what a viewer sees, whatever bytes carried it."""
    with Image.open(io.BytesIO(jpeg)) as image:
        return image.convert("RGB").tobytes()


def decoded(jpeg: bytes) -> tuple[str, tuple[int, int], bytes]:
    """A JPEG as decoded, unconverted: its mode, its size and its pixels. Two JPEGs that give
    the same are the same picture in every respect a decoder shows."""
    with Image.open(io.BytesIO(jpeg)) as image:
        return image.mode, image.size, image.tobytes()


def video_pixels(path: str | Path) -> list[bytes]:
    """The RGB pixels of every frame of an MJPEG file (the lab's format)."""
    from VideoStream import VideoStream

    with VideoStream(path) as video:
        return [pixels(video.frame(i)) for i in range(video.frame_count)]
