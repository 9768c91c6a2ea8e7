"""Small JPEGs for tests, made with Pillow: shared by the tests of payloads and streams."""

import io

from PIL import Image


def jpeg(index: int, size: tuple[int, int] = (96, 64)) -> bytes:
    """A small JPEG whose bytes differ per index."""
    image = Image.new("RGB", size, (index * 37 % 256, index * 91 % 256, 128))
    for x in range(0, size[0], 7):  # some detail so the frame spans several packets
        image.putpixel((x, (x * index) % size[1]), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()
