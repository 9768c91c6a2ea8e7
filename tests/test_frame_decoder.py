"""Decoding at the window's size: right size, right aspect, right picture."""

import io

import pytest
from PIL import Image, ImageChops, ImageStat

from MakeVideo import encode_jpeg, make_frame
from rtsplab.player.decoder import decode, draft_scale, fit


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


@pytest.mark.parametrize(
    "size, target, scale",
    [
        ((3840, 2160), (1271, 715), 2),  # 1920x1080 covers it; 960x540 would not
        ((3840, 2160), (1920, 1080), 2),  # exactly half
        ((3840, 2160), (1921, 1080), 1),  # a pixel more than half: the full picture
        ((3840, 2160), (960, 540), 4),
        ((3840, 2160), (480, 270), 8),
        ((3840, 2160), (100, 56), 8),  # 1/8 is the smallest libjpeg gives
        ((1920, 1080), (1271, 715), 1),  # under 2 times smaller: decoded whole
        ((1920, 1080), (960, 540), 2),
        ((1000, 1001), (250, 126), 4),  # 1/8 gives 125x126 (libjpeg rounds up): too narrow
        ((1001, 1001), (126, 126), 8),  # ... and here 126x126
        ((384, 288), (960, 720), 1),  # growing: decoded whole
    ],
)
def test_the_draft_scale_is_the_smallest_picture_that_covers_the_target(size, target, scale):
    assert draft_scale(size, target) == scale


@pytest.fixture(scope="module")
def uhd():
    return encode_jpeg(make_frame(3840, 2160, 7), 80)


@pytest.mark.parametrize("scale", [1, 2, 4, 8])
def test_pillow_decodes_at_the_draft_scale_the_decoder_asks_for(uhd, scale):
    image = Image.open(io.BytesIO(uhd))
    image.draft("RGB", (3840 // scale, 2160 // scale))  # as `decode` asks
    image.load()
    assert image.size == (3840 // scale, 2160 // scale)


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
