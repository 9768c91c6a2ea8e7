"""`rtsplab.payload.jpeg.frame_end`: where a JPEG ends, found by walking its structure
(T.81 Annex B)."""

import io
import mmap
import random

import pytest
from PIL import Image

from rtsplab.payload.jpeg import (
    APP1,
    COM,
    DHT,
    DRI,
    EOI,
    RST0,
    RST7,
    SOF0,
    SOF2,
    SOS,
    TEM,
    JpegError,
    frame_bounds,
    frame_end,
    is_complete_jpeg,
    marker_name,
)


def noise_image(size=(48, 32), seed=1):
    """A deterministic noisy picture: its entropy-coded data holds 0xFF bytes (stuffed)."""
    rng = random.Random(seed)
    return Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))


def pillow_jpeg(size=(48, 32), seed=1, **options):
    out = io.BytesIO()
    noise_image(size, seed).save(out, "JPEG", quality=90, **options)
    return out.getvalue()


def segment(code, payload):
    """A marker segment: FF code, 2-byte length counting itself, payload."""
    return bytes((0xFF, code)) + (len(payload) + 2).to_bytes(2, "big") + payload


def count_markers(jpeg, code):
    # Good enough for these small test pictures: FF then a marker code never occurs in
    # entropy-coded data (always FF00 or RSTn), and their tables hold no FF bytes.
    return jpeg.count(bytes((0xFF, code)))


SOI_ = b"\xff\xd8"
EOI_ = b"\xff\xd9"
# A minimal SOS header: Ns=1 component, Cs=1, Td/Ta=0/0, Ss=0, Se=63, Ah/Al=0.
SOS_HEADER = segment(SOS, b"\x01" + b"\x01\x00" + b"\x00\x3f\x00")


@pytest.fixture(scope="module")
def jpeg():
    return pillow_jpeg()


@pytest.fixture(scope="module")
def thumbnail_jpeg(jpeg):
    """A JPEG with a whole small JPEG inside an APP1 segment right after SOI, like EXIF."""
    thumb = pillow_jpeg((16, 16), seed=2)
    app1 = segment(APP1, b"Exif\x00\x00" + thumb)
    return jpeg[:2] + app1 + jpeg[2:]


def test_pillow_jpeg_ends_after_its_eoi(jpeg):
    assert jpeg.endswith(EOI_)
    assert frame_end(jpeg) == len(jpeg)
    assert frame_end(jpeg + b"next frame") == len(jpeg)


def test_start_offset_finds_the_second_frame(jpeg):
    other = pillow_jpeg(seed=3)
    data = jpeg + other
    assert frame_end(data, len(jpeg)) == len(data)


def test_buffer_types_bytearray_memoryview_mmap(jpeg, tmp_path):
    data = b"xx" + jpeg + jpeg
    assert frame_end(bytearray(data), 2) == 2 + len(jpeg)
    with memoryview(data) as view:
        assert frame_end(view, 2) == 2 + len(jpeg)
        with view[2 + len(jpeg) :] as tail:
            assert frame_end(tail) == len(jpeg)
    path = tmp_path / "frames.mjpeg"
    path.write_bytes(data)
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        assert frame_end(mm, 2) == 2 + len(jpeg)
        assert frame_end(mm, 2 + len(jpeg)) == len(data)


def test_progressive_jpeg_with_several_scans():
    jpeg = pillow_jpeg(progressive=True)
    assert count_markers(jpeg, SOF2) == 1
    assert count_markers(jpeg, SOS) > 1  # the walk must go on after each scan
    assert count_markers(jpeg, DHT) > 1
    assert frame_end(jpeg + jpeg) == len(jpeg)
    assert is_complete_jpeg(jpeg)


def test_embedded_thumbnail_is_skipped_by_length(thumbnail_jpeg):
    naive_end = thumbnail_jpeg.find(EOI_) + len(EOI_)
    assert naive_end < len(thumbnail_jpeg)  # the naive search stops inside the thumbnail
    assert frame_end(thumbnail_jpeg) == len(thumbnail_jpeg)
    glued = thumbnail_jpeg + thumbnail_jpeg
    assert frame_end(glued) == len(thumbnail_jpeg)
    assert frame_end(glued, len(thumbnail_jpeg)) == len(glued)
    assert Image.open(io.BytesIO(thumbnail_jpeg)).size == (48, 32)


def test_stuffed_ff_bytes_in_pillow_entropy_data(jpeg):
    scan = jpeg.index(bytes((0xFF, SOS)))
    assert b"\xff\x00" in jpeg[scan:]  # noise makes 0xFF bytes in the coded data
    assert frame_end(jpeg) == len(jpeg)


def test_restart_markers_in_pillow_entropy_data():
    # 160 rows are 10 rows of 16x16 (4:2:0) MCUs: one interval each, 9 restart markers,
    # RST0..RST7 and RST0 again.
    jpeg = pillow_jpeg((48, 160), restart_marker_rows=1)
    assert count_markers(jpeg, DRI) == 1
    scan = jpeg.index(bytes((0xFF, SOS)))
    assert all(bytes((0xFF, code)) in jpeg[scan:] for code in range(RST0, RST7 + 1))
    assert frame_end(jpeg + jpeg) == len(jpeg)


@pytest.mark.parametrize(
    "entropy",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x12\x34", id="plain"),
        pytest.param(b"\x12\xff\x00\x34", id="stuffed-ff00"),
        pytest.param(b"\xff\x00\xff\x00", id="stuffed-only"),
        pytest.param(b"\x12\xff\xd0\x34\xff\xd7\x56", id="rst0-rst7"),
        pytest.param(b"\x12\xff\x00\xff\xd3\xff\x00", id="stuffed-and-rst"),
    ],
)
def test_hand_built_scan_ends_at_eoi(entropy):
    frame = SOI_ + SOS_HEADER + entropy + EOI_
    assert frame_end(frame + b"\xff\xd8more") == len(frame)


def test_fill_bytes_before_markers():
    frame = SOI_ + b"\xff\xff" + SOS_HEADER + b"\x12\x34" + b"\xff\xff\xff" + EOI_
    assert frame_end(frame) == len(frame)


def test_segments_after_the_scan_are_walked():
    # A COM segment after the scan holds FFD9 in its payload: skipped by its length.
    frame = SOI_ + SOS_HEADER + b"\x12" + segment(COM, b"\xff\xd9 not the end") + EOI_
    assert frame_end(frame) == len(frame)


def test_standalone_markers_have_no_length():
    frame = SOI_ + bytes((0xFF, TEM)) + bytes((0xFF, RST0)) + SOS_HEADER + b"\x12" + EOI_
    assert frame_end(frame) == len(frame)


def test_every_truncation_raises(jpeg):
    for cut in range(len(jpeg)):
        with pytest.raises(JpegError, match="truncated" if cut >= 2 else "not a JPEG"):
            frame_end(jpeg[:cut])
        assert not is_complete_jpeg(jpeg[:cut])


def test_every_truncation_of_a_thumbnail_jpeg_raises(thumbnail_jpeg):
    for cut in range(2, len(thumbnail_jpeg)):
        with pytest.raises(JpegError, match="truncated"):
            frame_end(thumbnail_jpeg[:cut])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"\x00\xd8" + EOI_, "not a JPEG", id="no-soi"),
        pytest.param(SOI_ + b"\x00" + EOI_, "corrupt JPEG: byte 0x00 at offset 2", id="not-marker"),
        pytest.param(SOI_ + b"\xff\xe0\x00\x01" + EOI_, "length 1 < 2", id="length-1"),
        pytest.param(SOI_ + b"\xff\xe0\x00\x00" + EOI_, "length 0 < 2", id="length-0"),
        pytest.param(SOI_ + b"\xff\x00" + EOI_, "unexpected FF00", id="ff00-outside-scan"),
        pytest.param(SOI_ + SOI_ + EOI_, "unexpected SOI", id="second-soi"),
        pytest.param(SOI_ + b"\xff\xe0\x00\x10abc", "past end of data", id="length-past-end"),
        pytest.param(SOI_ + SOS_HEADER + b"\x12\xff", "entropy-coded data", id="scan-no-end"),
    ],
)
def test_malformed(data, message):
    with pytest.raises(JpegError, match=message):
        frame_end(data)
    assert not is_complete_jpeg(data)


def test_jpeg_error_is_a_value_error():
    assert issubclass(JpegError, ValueError)


def test_start_not_at_soi(jpeg):
    with pytest.raises(JpegError, match="no SOI .* at offset 1"):
        frame_end(jpeg, 1)
    with pytest.raises(JpegError, match="not a JPEG"):
        frame_end(jpeg, len(jpeg))


def test_is_complete_jpeg(jpeg, thumbnail_jpeg):
    assert is_complete_jpeg(jpeg)
    assert is_complete_jpeg(thumbnail_jpeg)
    assert is_complete_jpeg(memoryview(jpeg))
    assert not is_complete_jpeg(jpeg + jpeg)  # two frames glued
    assert not is_complete_jpeg(jpeg[1:])  # first bytes missing
    assert not is_complete_jpeg(jpeg[2:])
    assert not is_complete_jpeg(jpeg[:-1])
    assert not is_complete_jpeg(jpeg + b"\x00")
    assert not is_complete_jpeg(b"")


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (SOF0, "SOF0"),
        (SOF2, "SOF2"),
        (DHT, "DHT"),
        (RST0 + 5, "RST5"),
        (EOI, "EOI"),
        (SOS, "SOS"),
        (APP1, "APP1"),
        (COM, "COM"),
        (0x02, "RES(0x02)"),
    ],
)
def test_marker_name(code, name):
    assert marker_name(code) == name


def test_a_walk_is_remembered_for_the_same_bytes_only(jpeg):
    # The same bytes object asked twice (a frame checked, then taken apart) is one walk.
    assert frame_bounds(jpeg) == frame_bounds(jpeg)
    # A buffer that can change is walked every time: its bytes may not be those walked.
    data = bytearray(jpeg)
    assert frame_end(data) == len(jpeg)
    data[-1] = 0x00
    with pytest.raises(JpegError, match="truncated"):
        frame_end(data)
    # Another object with other bytes is walked for itself.
    with pytest.raises(JpegError, match="truncated"):
        frame_end(bytes(jpeg[:-2]))
    assert frame_end(jpeg) == len(jpeg)
