"""MakeVideo: test clips drawn with Pillow, conversion through ffmpeg, the command line."""

import argparse
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageChops, JpegImagePlugin

import MakeVideo
import rtsplab.media.ffmpeg
from MakeVideo import (
    PRESETS,
    FfmpegNotFound,
    MakeVideoError,
    convert,
    encode_jpeg,
    ffmpeg_qscale,
    format_for_path,
    generate_frames,
    make_clip,
    make_frame,
    parse_size,
    write_lab,
    write_mjpeg,
)
from VideoStream import FORMAT_LAB, FORMAT_MJPEG, VideoStream

ROOT = Path(__file__).resolve().parent.parent
FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(
    FFMPEG is None, reason="ffmpeg is not installed (apt install ffmpeg)"
)

# The standard DC luminance Huffman table (T.81 Table K.3) as a DHT segment holds it:
# Tc/Th = 0/0, the counts of codes of length 1..16, then the 12 symbols.
STANDARD_DC_LUMINANCE = (
    b"\x00" + bytes((0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)) + bytes(range(12))
)

WIDTH, HEIGHT = 96, 64


def decode(jpeg):
    image = Image.open(io.BytesIO(jpeg))
    image.load()
    return image


def read_frames(path):
    with VideoStream(path) as stream:
        return stream.format, [stream.frame(i) for i in range(stream.frame_count)]


@pytest.mark.parametrize(
    ("name", "fmt", "expected"),
    [
        ("clip.Mjpeg", None, FORMAT_LAB),
        ("clip.mjpeg", None, FORMAT_MJPEG),
        ("clip.Mjpeg", FORMAT_MJPEG, FORMAT_MJPEG),
        ("clip.bin", FORMAT_LAB, FORMAT_LAB),
    ],
)
def test_make_clip_reads_back(tmp_path, name, fmt, expected):
    path = tmp_path / name
    assert make_clip(path, WIDTH, HEIGHT, frames=6, quality=80, fmt=fmt) == 6
    got_format, frames = read_frames(path)
    assert got_format == expected
    assert len(frames) == 6
    assert len(set(frames)) == 6  # every frame differs
    for jpeg in frames:
        image = decode(jpeg)
        assert image.size == (WIDTH, HEIGHT)
        assert image.mode == "RGB"
    assert not list(tmp_path.glob("*.part"))


def test_frames_are_baseline_420_with_standard_huffman_tables():
    jpeg = next(generate_frames(WIDTH, HEIGHT, 1, quality=80))
    image = decode(jpeg)
    assert JpegImagePlugin.get_sampling(image) == 2  # 4:2:0
    assert not image.info.get("progressive")
    assert b"\xff\xc0" in jpeg  # SOF0, baseline
    assert STANDARD_DC_LUMINANCE in jpeg


def test_frame_number_is_drawn():
    # Frames 1 at 1 fps and 2 at 2 fps show the same moment (scroll and ball), so the
    # middle of the picture differs only by the big frame number drawn there.
    one, two = make_frame(WIDTH, HEIGHT, 1, fps=1), make_frame(WIDTH, HEIGHT, 2, fps=2)
    middle = (WIDTH // 4, HEIGHT // 4, 3 * WIDTH // 4, 3 * HEIGHT // 4)
    assert ImageChops.difference(one.crop(middle), two.crop(middle)).getbbox() is not None
    # ... and the same frame twice is the same picture (samples are reproducible).
    assert make_frame(WIDTH, HEIGHT, 1, fps=1).tobytes() == one.tobytes()


def test_picture_moves():
    first, later = make_frame(WIDTH, HEIGHT, 0), make_frame(WIDTH, HEIGHT, 10)
    # Right of the middle: no text, and the ball is still on the left; only the scroll.
    side = (4 * WIDTH // 5, HEIGHT // 3, WIDTH, 2 * HEIGHT // 3)
    assert ImageChops.difference(first.crop(side), later.crop(side)).getbbox() is not None


def test_lab_format_refuses_a_frame_over_99999_bytes(tmp_path):
    path = tmp_path / "big.Mjpeg"
    with pytest.raises(MakeVideoError, match=r"99,999.*lower --quality or --size"):
        make_clip(path, 1280, 720, frames=2, quality=95)
    assert not path.exists()
    assert not list(tmp_path.iterdir())  # no half-written file either


def padded_jpeg(jpeg, total):
    """``jpeg`` grown to exactly ``total`` bytes with COM segments after SOI."""
    filler = b""
    missing = total - len(jpeg)
    while missing:
        # A COM segment is FF FE, a 2-byte length (<= 65535) counting itself, payload.
        payload = min(missing - 4, 0xFFFF - 2)
        filler += b"\xff\xfe" + (payload + 2).to_bytes(2, "big") + bytes(payload)
        missing -= payload + 4
    return jpeg[:2] + filler + jpeg[2:]


def test_lab_format_cap_is_exactly_99999_bytes(tmp_path):
    jpeg = encode_jpeg(make_frame(WIDTH, HEIGHT, 0))
    largest, too_big = padded_jpeg(jpeg, 99_999), padded_jpeg(jpeg, 100_000)
    assert (len(largest), len(too_big)) == (99_999, 100_000)
    path = tmp_path / "edge.Mjpeg"
    assert write_lab([largest], path) == 1
    assert path.read_bytes() == b"99999" + largest
    with pytest.raises(MakeVideoError, match="frame 1 is 100,000 bytes"):
        write_lab([largest, too_big], path)
    assert path.read_bytes() == b"99999" + largest  # the old file is left as it was


@pytest.mark.parametrize("writer", [write_lab, write_mjpeg])
def test_writers_refuse_what_is_not_one_whole_jpeg(tmp_path, writer):
    jpeg = encode_jpeg(make_frame(WIDTH, HEIGHT, 0))
    for bad, message in [
        (jpeg + b"junk", "bytes after the JPEG's EOI"),
        (jpeg[:-2], "truncated"),
        (b"not a jpeg", "not a JPEG"),
    ]:
        with pytest.raises(MakeVideoError, match=message):
            writer([jpeg, bad], tmp_path / "out")
        assert not (tmp_path / "out").exists()


def test_mjpeg_writer_round_trip(tmp_path):
    jpegs = list(generate_frames(WIDTH, HEIGHT, 3, quality=50))
    path = tmp_path / "three.mjpeg"
    assert write_mjpeg(jpegs, path) == 3
    assert path.read_bytes() == b"".join(jpegs)
    assert read_frames(path) == (FORMAT_MJPEG, jpegs)


def test_format_for_path():
    assert format_for_path("video/movie.Mjpeg") == FORMAT_LAB
    assert format_for_path(Path("hd720.mjpeg")) == FORMAT_MJPEG
    assert format_for_path("clip.avi") == FORMAT_MJPEG


def test_parse_size():
    assert parse_size("1280x720") == (1280, 720)
    assert parse_size("2160p") == PRESETS["2160p"] == (3840, 2160)
    for bad in ("1280", "0x720", "axb", "70000x10"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_size(bad)


def test_ffmpeg_qscale():
    assert ffmpeg_qscale(80) == 3
    assert ffmpeg_qscale(50) == 6
    assert ffmpeg_qscale(100) == 2
    assert ffmpeg_qscale(1) == 31
    scales = [ffmpeg_qscale(q) for q in range(1, 101)]
    assert scales == sorted(scales, reverse=True)
    with pytest.raises(MakeVideoError):
        ffmpeg_qscale(0)


@pytest.fixture(scope="module")
def ffmpeg_input(tmp_path_factory):
    """One second of ffmpeg's test pattern at 10 fps, as MPEG-4 in AVI."""
    path = tmp_path_factory.mktemp("input") / "testsrc.avi"
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi",
         "-i", "testsrc=size=160x120:rate=10", "-t", "1", "-c:v", "mpeg4", str(path)],
        check=True,
    )  # fmt: skip
    return path


@needs_ffmpeg
@pytest.mark.parametrize(
    ("name", "fmt"), [("out.Mjpeg", FORMAT_LAB), ("out.mjpeg", FORMAT_MJPEG)], ids=["lab", "mjpeg"]
)
def test_convert(tmp_path, ffmpeg_input, name, fmt):
    path = tmp_path / name
    assert convert(ffmpeg_input, path, size=(128, 96), quality=80) == 10
    got_format, frames = read_frames(path)
    assert got_format == fmt
    assert len(frames) == 10
    for jpeg in frames:
        image = decode(jpeg)
        assert image.size == (128, 96)
        assert JpegImagePlugin.get_sampling(image) == 2
        assert STANDARD_DC_LUMINANCE in jpeg  # -huffman default
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@needs_ffmpeg
def test_convert_resamples_frame_rate(tmp_path, ffmpeg_input):
    assert convert(ffmpeg_input, tmp_path / "slow.mjpeg", fps=5) == 5
    _, frames = read_frames(tmp_path / "slow.mjpeg")
    assert decode(frames[0]).size == (160, 120)


@needs_ffmpeg
def test_convert_refuses_lab_frames_over_the_cap(tmp_path):
    source = tmp_path / "noisy.mjpeg"  # our textured picture, unlike testsrc, is big
    make_clip(source, 1280, 720, frames=2)
    with pytest.raises(MakeVideoError, match=r"frame 0 is .* bytes; the lab format caps"):
        convert(source, tmp_path / "big.Mjpeg", quality=100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noisy.mjpeg"]
    assert convert(source, tmp_path / "big.mjpeg", quality=100) == 2


@needs_ffmpeg
def test_convert_reports_ffmpeg_failure(tmp_path):
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"this is not a video")
    with pytest.raises(MakeVideoError, match="ffmpeg failed"):
        convert(junk, tmp_path / "out.mjpeg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.avi"]


def test_convert_without_ffmpeg(tmp_path, monkeypatch, caplog):
    source = tmp_path / "in.avi"
    source.write_bytes(b"")
    monkeypatch.setattr(rtsplab.media.ffmpeg.shutil, "which", lambda name: None)
    with pytest.raises(FfmpegNotFound, match="ffmpeg not found"):
        convert(source, tmp_path / "out.mjpeg")
    assert MakeVideo.main(["convert", str(source), str(tmp_path / "out.mjpeg")]) == 2
    assert "ffmpeg not found" in caplog.text


def run_cli(*args):
    done = subprocess.run(
        [sys.executable, "MakeVideo.py", *args], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cli_help():
    top = run_cli("--help")
    assert top.startswith("usage: MakeVideo.py")
    for command in ("clip", "convert", "samples", "testset"):
        assert command in top
    clip = run_cli("clip", "--help")
    assert "--preset" in clip
    assert "2160p=3840x2160" in clip


def test_cli_verbose_before_or_after_the_command():
    parser = MakeVideo._build_parser()
    assert parser.parse_args(["-v", "clip", "out.mjpeg"]).verbose is True
    assert parser.parse_args(["clip", "out.mjpeg", "-v"]).verbose is True
    assert parser.parse_args(["clip", "out.mjpeg"]).verbose is False


def test_cli_clip(tmp_path):
    out = tmp_path / "cli.Mjpeg"
    assert MakeVideo.main(["clip", str(out), "--size", "64x48", "--frames", "3"]) == 0
    fmt, frames = read_frames(out)
    assert (fmt, len(frames), decode(frames[2]).size) == (FORMAT_LAB, 3, (64, 48))
    too_big = tmp_path / "big.Mjpeg"
    args = ["clip", str(too_big), "--preset", "720p", "--frames", "1", "--quality", "95"]
    assert MakeVideo.main(args) == 1
    assert not too_big.exists()
