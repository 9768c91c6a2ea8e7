"""JPEG to a picture the size of the window, cheaply: the player's hot path.

Measured here (2 cores), a 3840x2160 JPEG into a 1280x720 window: decoded whole, ~42 ms; with
libjpeg's DCT scaling (`Image.draft`: 1/2, 1/4 or 1/8, decoding fewer coefficients) at the
smallest scale whose picture still covers the window, 1/2, ~14 ms. The DCT scaling is itself the
low-pass filter a shrink needs; what is left is a shrink by less than 2, done by taking the
nearest pixel: ~0.5 ms, where a box filter takes ~10 ms (nearly as long as the decode, and at
1080p at 60 fps more than the two cores can spare beside the server) for a picture a little
smoother (against a Lanczos shrink of the whole frame, an RMS error of 2.1 levels in 255
rather than 3.5 on a 4K test pattern). Pillow releases the GIL while it decodes, so this runs on the
playout threads beside the network and Tk threads.

Pillow gives an image's memory back to the system when the image goes, and a frame's pictures
are then mapped afresh every frame, page by page (with a box filter's intermediate picture,
~5 ms a 4K frame). Kept for reuse instead (`IMAGE_BLOCKS_KEPT`), they are mapped once.
"""

from __future__ import annotations

import io

from PIL import Image

DCT_SCALES = (8, 4, 2, 1)  # libjpeg decodes at 1/8, 1/4, 1/2 or in full, cheapest first
# Freed image blocks Pillow keeps for the next images (each at most its 16 MiB block size):
# enough for both playout threads' pictures (at 4K, 8 MB decoded and 4 MB shrunk a frame).
IMAGE_BLOCKS_KEPT = 8

Image.core.set_blocks_max(IMAGE_BLOCKS_KEPT)  # what PILLOW_BLOCKS_MAX sets at import


def fit(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The largest size with `size`'s aspect ratio that fits in `box` (at least 1x1)."""
    width, height = size
    box_w, box_h = box
    scale = min(box_w / width, box_h / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def draft_scale(size: tuple[int, int], target: tuple[int, int]) -> int:
    """The DCT scale (8 for 1/8 ... 1 for none) to decode a `size` JPEG at for a `target`
    picture: the smallest picture at least `target` in both dimensions, or the full one."""
    width, height = size
    for scale in DCT_SCALES:
        # libjpeg rounds a scaled dimension up (jdmaster.c: jdiv_round_up).
        if -(-width // scale) >= target[0] and -(-height // scale) >= target[1]:
            return scale
    return 1


def decode(jpeg: bytes, box: tuple[int, int]) -> Image.Image:
    """Decode `jpeg` and scale it to fit `box`, keeping its aspect ratio."""
    # Image.open gives an ImageFile; resize and convert give plain Images.
    image: Image.Image = Image.open(io.BytesIO(jpeg))
    target = fit(image.size, box)
    scale = draft_scale(image.size, target)
    # draft takes the largest scale whose picture is at least the size asked: this one.
    image.draft("RGB", (max(1, image.size[0] // scale), max(1, image.size[1] // scale)))
    image.load()  # decode here, on this thread, not lazily wherever it is first used
    if image.size != target:
        # After draft a shrink is by less than 2 (see above). Growing, bilinear.
        shrinking = target[0] < image.size[0]
        filter_ = Image.Resampling.NEAREST if shrinking else Image.Resampling.BILINEAR
        image = image.resize(target, filter_)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image
