"""Decoding at the window's size: right size, right aspect, right picture."""

import io

import pytest
from PIL import Image, ImageChops, ImageStat

from MakeVideo import encode_jpeg, make_frame
from rtsplab.player.decoder import decode, fit


@pytest.mark.parametrize(
    "size, box, expected",
    [
        ((3840, 2160), (1280, 720), (1280, 720)),
        ((3840, 2160), (1280, 1000), (1280, 720)),  # letterboxed: width limits
        ((384, 288), (1280, 720), (960, 720)),  # pillarboxed: height limits, grown
        ((1920, 1080), (1, 1), (1, 1)),
    ],
)
def test_fit_keeps_the_aspect_ratio(size, box, expected):
    assert fit(size, box) == expected


@pytest.fixture(scope="module")
def uhd():
    return encode_jpeg(make_frame(3840, 2160, 7), 80)


def reference(jpeg, size):
    return Image.open(io.BytesIO(jpeg)).convert("RGB").resize(size, Image.Resampling.LANCZOS)


@pytest.mark.parametrize("box", [(1280, 720), (1920, 1080), (640, 400), (3840, 2160)])
def test_a_4k_frame_decoded_for_a_window_looks_like_the_full_decode_shrunk(uhd, box):
    image = decode(uhd, box)
    assert image.mode == "RGB" and image.size == fit((3840, 2160), box)
    difference = ImageStat.Stat(ImageChops.difference(image, reference(uhd, image.size)))
    assert max(difference.mean) < 4.0  # mean error per channel, out of 255


def test_a_small_frame_grows_to_the_window():
    jpeg = encode_jpeg(make_frame(384, 288, 3), 80)
    image = decode(jpeg, (1280, 720))
    assert image.size == (960, 720)
    difference = ImageStat.Stat(ImageChops.difference(image, reference(jpeg, (960, 720))))
    assert max(difference.mean) < 6.0
