"""The test picture: a textured background (a colour gradient with upscaled noise) that
scrolls, a ball that bounces and the frame number drawn big, so frames differ and have
realistic sizes: at the default quality about 0.75 bit per pixel, i.e. ~750 KB at 3840x2160
and ~200 KB at 1920x1080, like real camera MJPEG.

Every frame is baseline JPEG with 4:2:0 chroma and the standard Huffman tables (T.81
Annex K.3), because RTP/JPEG (RFC 2435) sends no Huffman tables: the receiver rebuilds
the headers with the standard ones, so a frame with optimized tables would decode to
garbage after the trip.
"""

from __future__ import annotations

import functools
import io
import logging
import math
import random
from collections.abc import Iterator

from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageOps

from rtsplab.media import MakeVideoError
from rtsplab.payload.jpeg import MAX_DIMENSION
from rtsplab.payload.rfc2435.header import SIZE_UNIT

logger = logging.getLogger(__name__)

DEFAULT_FPS = 30.0
DEFAULT_QUALITY = 80

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


def check_size(width: int, height: int) -> None:
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        raise MakeVideoError(f"size {width}x{height}: each side must be 1..{MAX_DIMENSION}")


def make_frame(width: int, height: int, index: int, fps: float = DEFAULT_FPS) -> Image.Image:
    """Draw frame ``index`` of the test clip as an RGB image."""
    check_size(width, height)
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
    check_size(width, height)
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
