"""VideoStream: the lab's frame reader, for the lab's format and raw MJPEG."""

import io
import logging
import os
import random
from pathlib import Path

import pytest
from PIL import Image

import rtsplab.payload.jpeg as jpeg_module
import VideoStream as video_module
from rtsplab.payload.rfc2435.frame import parse_jpeg
from VideoStream import (
    CHANGED,
    FORMAT_LAB,
    FORMAT_MJPEG,
    LAB_MAX_FRAME_SIZE,
    VideoError,
    VideoStream,
)

ROOT = Path(__file__).resolve().parent.parent


def make_jpeg(seed, size=(40, 24)):
    rng = random.Random(seed)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=75)
    return out.getvalue()


def with_thumbnail(jpeg, thumb):
    """The JPEG with a whole small JPEG in an APP1 segment after SOI, like an EXIF one."""
    payload = b"Exif\x00\x00" + thumb
    return jpeg[:2] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def lab_bytes(frames):
    return b"".join(b"%05d" % len(frame) + frame for frame in frames)


@pytest.fixture(scope="module")
def frames():
    """Five distinct frames of different lengths."""
    result = [make_jpeg(seed, (40 + 8 * seed, 24)) for seed in range(5)]
    assert len({len(frame) for frame in result}) == 5
    return result


@pytest.fixture
def lab_file(tmp_path, frames):
    path = tmp_path / "movie.Mjpeg"
    path.write_bytes(lab_bytes(frames))
    return path


@pytest.fixture
def raw_file(tmp_path, frames):
    path = tmp_path / "clip.mjpeg"
    path.write_bytes(b"".join(frames))
    return path


def read_all(stream):
    result = []
    while frame := stream.nextFrame():
        result.append(frame)
    return result


@pytest.mark.parametrize(
    ("file", "fmt"), [("lab_file", FORMAT_LAB), ("raw_file", FORMAT_MJPEG)], ids=["lab", "mjpeg"]
)
def test_reads_back_the_frames_written(request, frames, file, fmt, caplog):
    path = request.getfixturevalue(file)
    with VideoStream(path) as stream:
        assert stream.format == fmt
        assert stream.frame_count == len(frames)
        assert stream.frameNbr() == 0
        first = stream.nextFrame()
        assert isinstance(first, bytes)
        assert first == frames[0]
        assert stream.frameNbr() == 1
        assert [first, *read_all(stream)] == frames
        assert stream.frameNbr() == len(frames)
        assert stream.nextFrame() == b""  # the lab's end of video
        assert stream.frameNbr() == len(frames)
    assert not caplog.records


def test_accepts_str_and_pathlike(raw_file, frames):
    with VideoStream(str(raw_file)) as by_name, VideoStream(raw_file) as by_path:
        assert by_name.filename == by_path.filename == str(raw_file)
        assert by_name.nextFrame() == by_path.nextFrame() == frames[0]


def test_seek_and_random_access(raw_file, frames):
    with VideoStream(raw_file) as stream:
        stream.seek(3)
        assert stream.frameNbr() == 3
        assert stream.nextFrame() == frames[3]
        assert stream.frameNbr() == 4
        assert stream.frame(1) == frames[1]
        assert stream.frameNbr() == 4  # frame() does not move the position
        assert stream.nextFrame() == frames[4]
        stream.seek(0)
        assert read_all(stream) == frames
        stream.seek(len(frames))
        assert stream.nextFrame() == b""
        for bad in (-1, len(frames) + 1):
            with pytest.raises(IndexError):
                stream.seek(bad)
        for bad in (-1, len(frames)):
            with pytest.raises(IndexError):
                stream.frame(bad)


def test_close(raw_file):
    stream = VideoStream(raw_file)
    assert "frames=5" in repr(stream)
    stream.close()
    stream.close()
    with pytest.raises(ValueError, match="closed"):
        stream.nextFrame()
    with pytest.raises(ValueError, match="closed"):
        stream.frame(0)
    with VideoStream(raw_file) as stream:
        pass
    with pytest.raises(ValueError, match="closed"):
        stream.nextFrame()


def _only_warning(caplog):
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    return warnings[0].getMessage()


def test_truncated_raw_file_ends_at_last_whole_frame(tmp_path, frames, caplog):
    path = tmp_path / "cut.mjpeg"
    whole = b"".join(frames[:-1])
    path.write_bytes(whole + frames[-1][: len(frames[-1]) // 2])
    with VideoStream(path) as stream:
        assert stream.frame_count == len(frames) - 1
        assert read_all(stream) == frames[:-1]
    message = _only_warning(caplog)
    assert str(path) in message
    assert f"frame {len(frames) - 1} at offset {len(whole)}" in message
    assert "truncated" in message


def test_truncated_lab_file_ends_at_last_whole_frame(tmp_path, frames, caplog):
    path = tmp_path / "cut.Mjpeg"
    data = lab_bytes(frames)
    last_at = len(lab_bytes(frames[:-1]))
    path.write_bytes(data[: last_at + (len(data) - last_at) // 2])
    with VideoStream(path) as stream:
        assert stream.format == FORMAT_LAB
        assert read_all(stream) == frames[:-1]
    message = _only_warning(caplog)
    assert f"{path}: frame 4 at offset {last_at}" in message
    assert "past the end of the file" in message


@pytest.mark.parametrize(
    ("header", "message"),
    [(b"12a45", "corrupt lab header"), (b"\xff\xd8\xff\xe0\x00", "corrupt lab header")],
)
def test_corrupt_lab_header(tmp_path, frames, caplog, header, message):
    path = tmp_path / "bad.Mjpeg"
    good = lab_bytes(frames[:2])
    path.write_bytes(good + header + frames[2] + lab_bytes(frames[3:]))
    with VideoStream(path) as stream:
        assert read_all(stream) == frames[:2]
    assert f"frame 2 at offset {len(good)}: {message}" in _only_warning(caplog)


def test_partial_header_at_the_end(tmp_path, frames, caplog):
    path = tmp_path / "tail.Mjpeg"
    path.write_bytes(lab_bytes(frames) + b"012")
    with VideoStream(path) as stream:
        assert stream.frame_count == len(frames)
    assert "corrupt lab header b'012'" in _only_warning(caplog)


def test_lab_frame_that_is_not_a_whole_jpeg(tmp_path, frames, caplog):
    path = tmp_path / "broken.Mjpeg"
    broken = frames[1][:-10]  # a header that matches, a JPEG that does not end
    path.write_bytes(lab_bytes([frames[0], broken, *frames[2:]]))
    with VideoStream(path) as stream:
        assert read_all(stream) == frames[:1]
    assert "frame 1 at offset" in _only_warning(caplog)


def test_lab_frame_with_junk_after_eoi_is_trimmed(tmp_path, frames, caplog):
    path = tmp_path / "junk.Mjpeg"
    path.write_bytes(lab_bytes([frames[0], frames[1] + b"junk\x00\x00", *frames[2:]]))
    with VideoStream(path) as stream:
        assert read_all(stream) == frames
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_thumbnail_frame_in_a_raw_file_splits_correctly(tmp_path, frames):
    thumbed = with_thumbnail(frames[1], make_jpeg(99, (16, 16)))
    expected = [frames[0], thumbed, thumbed, frames[2]]
    path = tmp_path / "exif.mjpeg"
    path.write_bytes(b"".join(expected))
    with VideoStream(path) as stream:
        assert read_all(stream) == expected


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"GIF89a\x01\x00\x01\x00", "not an MJPEG file: it starts with neither a JPEG"),
        (b"12345abc", "not an MJPEG file"),
        (b"\x00\x00\x00\x00\x00\xff\xd8", "not an MJPEG file"),
        (b"\xff\xd8\xff\xe0\x00", "no whole frame"),
        (b"00006\xff\xd8\xff\xe0\x00\x10", "no whole frame: frame 0 at offset 0: truncated"),
    ],
    ids=["empty", "gif", "digits-no-jpeg", "zeros", "raw-cut", "lab-first-frame-cut"],
)
def test_not_a_video(tmp_path, content, message):
    path = tmp_path / "file.bin"
    path.write_bytes(content)
    with pytest.raises(VideoError, match=message):
        VideoStream(path)


def test_missing_file_raises_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        VideoStream(tmp_path / "missing.Mjpeg")


def test_lab_limit_constant():
    assert LAB_MAX_FRAME_SIZE == 99_999
    assert issubclass(VideoError, ValueError)


def test_shipped_lab_movie():
    with VideoStream(ROOT / "video" / "movie.Mjpeg") as stream:
        assert stream.format == FORMAT_LAB
        assert stream.frame_count == 200
        for _ in range(stream.frame_count):
            frame = stream.nextFrame()
            assert len(frame) <= LAB_MAX_FRAME_SIZE
            assert Image.open(io.BytesIO(frame)).size == (384, 288)
        assert stream.nextFrame() == b""
        Image.open(io.BytesIO(stream.frame(199))).load()  # decodes to the end


def test_shipped_hd_sample():
    with VideoStream(ROOT / "video" / "hd720.mjpeg") as stream:
        assert stream.format == FORMAT_MJPEG
        assert stream.frame_count == 40
        image = Image.open(io.BytesIO(stream.frame(39)))
        assert image.size == (1280, 720)
        image.load()


def test_an_unchanged_file_is_indexed_once_and_a_changed_one_again(tmp_path, monkeypatch):
    from MakeVideo import make_clip

    path = tmp_path / "clip.mjpeg"
    make_clip(path, 64, 48, 4, fmt="mjpeg")
    walks = []
    real = VideoStream._index_mjpeg

    def counted(self, window):
        walks.append(1)
        return real(self, window)

    monkeypatch.setattr(VideoStream, "_index_mjpeg", counted)
    for _ in range(3):
        with VideoStream(path) as video:
            assert video.frame_count == 4
    assert len(walks) == 1
    make_clip(path, 64, 48, 6, fmt="mjpeg")  # rewritten: another size and time
    with VideoStream(path) as video:
        assert video.frame_count == 6
    assert len(walks) == 2


# -- a file changed while served ---------------------------------------------------------------


@pytest.mark.parametrize("file", ["lab_file", "raw_file"], ids=["lab", "mjpeg"])
def test_cut_short_after_open_refuses_the_frames_past_the_cut(request, frames, file):
    path = request.getfixturevalue(file)
    with VideoStream(path) as stream:
        third = stream._offsets[2]  # the cut falls inside frame 2
        os.truncate(path, third + len(frames[2]) // 2)
        assert [stream.frame(0), stream.frame(1)] == frames[:2]  # before the cut: whole
        for index in range(2, len(frames)):
            with pytest.raises(VideoError, match=f"{CHANGED}: frame {index} at offset"):
                stream.frame(index)
        assert [stream.nextFrame(), stream.nextFrame()] == frames[:2]
        with pytest.raises(VideoError, match=f"frame 2 at offset {third}: .* bytes left"):
            stream.nextFrame()
        assert stream.frameNbr() == 2  # nothing was read: the position stays


@pytest.mark.parametrize("file", ["lab_file", "raw_file"], ids=["lab", "mjpeg"])
def test_rewritten_in_place_with_another_file_refuses_every_frame(request, file):
    path = request.getfixturevalue(file)
    others = [make_jpeg(10 + seed, (64, 48)) for seed in range(6)]  # longer frames
    with VideoStream(path) as stream:
        count = stream.frame_count
        path.write_bytes(lab_bytes(others) if stream.format == FORMAT_LAB else b"".join(others))
        for index in range(count):
            with pytest.raises(VideoError, match=f"{CHANGED}: frame {index} .*whole JPEG"):
                stream.frame(index)


def counted_walks(monkeypatch):
    """The walks of a JPEG's markers made from now on, as the offsets they started at."""
    walks = []
    real = jpeg_module._walk

    def walk(data, start):
        walks.append(start)
        return real(data, start)

    monkeypatch.setattr(jpeg_module, "_walk", walk)
    return walks


def test_an_unchanged_file_is_read_without_a_walk_and_cut_from_the_index(monkeypatch):
    with VideoStream(ROOT / "video" / "hd720.mjpeg") as stream:  # indexed: walked once
        walks = counted_walks(monkeypatch)
        for index in (0, 7, stream.frame_count - 1):
            jpeg = stream.frame(index)
            parsed = parse_jpeg(jpeg)  # RFC 2435's payloader takes the index's findings
            assert walks == []
            fresh = parse_jpeg(bytearray(jpeg))  # another object: walked
            assert walks == [0]
            assert bytes(parsed.scan) == bytes(fresh.scan) and len(parsed.scan) > 1000
            walks.clear()


def test_a_file_changed_while_indexed_is_walked_at_every_read(raw_file, frames, monkeypatch):
    real = video_module.frame_bounds
    changed = []

    def bounds_then_change(data, start=0):
        if not changed:  # a write while the index is made: the file's change time moves
            os.chmod(raw_file, 0o600)
            changed.append(1)
        return real(data, start)

    monkeypatch.setattr(video_module, "frame_bounds", bounds_then_change)
    with VideoStream(raw_file) as stream:
        walks = counted_walks(monkeypatch)
        assert [stream.frame(i) for i in range(len(frames))] == frames
        assert len(walks) == len(frames)  # not one frame taken on the index's word


def test_a_frame_whose_edges_moved_is_walked_and_refused_though_the_times_agree(raw_file, frames):
    """A rewrite the times cannot show (within their tick, or put back): the frame's edges
    no longer SOI and EOI, it is walked, and refused."""
    with VideoStream(raw_file) as stream:
        stat = os.stat(raw_file)
        data = bytearray(raw_file.read_bytes())
        data[len(frames[0]) - 1] ^= 0xFF  # frame 0's EOI is no longer one
        raw_file.write_bytes(bytes(data))
        os.utime(raw_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        stream._identity = video_module._identity(os.stat(raw_file))  # as if within a tick
        with pytest.raises(VideoError, match=f"{CHANGED}: frame 0 .*whole JPEG"):
            stream.frame(0)
        assert stream.frame(1) == frames[1]


def test_replaced_by_rename_serves_the_open_file_to_its_end(tmp_path, raw_file, frames):
    """The open file keeps its bytes: whole frames, not a change to refuse."""
    with VideoStream(raw_file) as stream:
        new = tmp_path / "new.mjpeg"
        new.write_bytes(make_jpeg(42))
        os.replace(new, raw_file)
        assert read_all(stream) == frames
    with VideoStream(raw_file) as stream:  # not the cached index of the old file
        assert stream.frame_count == 1


# -- frames over the cap, and indexing in windows ------------------------------------------


@pytest.mark.parametrize("fmt", [FORMAT_LAB, FORMAT_MJPEG])
def test_frame_over_the_cap_is_skipped_with_one_warning(tmp_path, frames, monkeypatch, caplog, fmt):
    big = make_jpeg(7, (160, 120))
    cap = max(len(frame) for frame in frames)
    assert len(big) > cap
    monkeypatch.setattr(video_module, "MAX_FRAME_BYTES", cap)
    content = [frames[0], big, frames[1], big, frames[2]]
    path = tmp_path / "big.mjpeg"
    path.write_bytes(lab_bytes(content) if fmt == FORMAT_LAB else b"".join(content))
    with VideoStream(path) as stream:
        assert stream.format == fmt
        assert stream.frame_count == 3
        assert read_all(stream) == frames[:3]  # the stream goes on past each big frame
    message = _only_warning(caplog)
    at = len(lab_bytes(frames[:1])) if fmt == FORMAT_LAB else len(frames[0])
    assert f"{path}: frame 1 at offset {at} is {len(big)} bytes" in message
    assert f"over the {cap}-byte frame limit: skipped" in message


def test_a_file_of_only_frames_over_the_cap_is_not_a_video(raw_file, monkeypatch):
    monkeypatch.setattr(video_module, "MAX_FRAME_BYTES", 100)
    with pytest.raises(VideoError, match="no whole frame: all 5 frames over 100 bytes"):
        VideoStream(raw_file)


@pytest.mark.parametrize("file", ["lab_file", "raw_file"], ids=["lab", "mjpeg"])
def test_a_large_file_is_indexed_in_windows(request, frames, monkeypatch, caplog, file):
    """Windows far smaller than a frame: each grows until its frame fits, then moves on."""
    path = request.getfixturevalue(file)
    monkeypatch.setattr(video_module, "INDEX_WHOLE_BYTES", 64)
    monkeypatch.setattr(video_module, "INDEX_CHUNK_BYTES", 100)
    reads = []
    real_pread = os.pread

    def pread(fd, n, at):
        reads.append(n)
        return real_pread(fd, n, at)

    monkeypatch.setattr(video_module.os, "pread", pread)
    with VideoStream(path) as stream:
        assert read_all(stream) == frames
    assert max(reads) < path.stat().st_size  # never the whole file in one read
    assert not caplog.records


def test_a_truncated_tail_in_windows_ends_at_the_last_whole_frame(
    tmp_path, frames, monkeypatch, caplog
):
    monkeypatch.setattr(video_module, "INDEX_WHOLE_BYTES", 64)
    monkeypatch.setattr(video_module, "INDEX_CHUNK_BYTES", 100)
    path = tmp_path / "cut.mjpeg"
    whole = b"".join(frames[:-1])
    path.write_bytes(whole + frames[-1][: len(frames[-1]) // 2])
    with VideoStream(path) as stream:
        assert read_all(stream) == frames[:-1]
    assert f"frame {len(frames) - 1} at offset {len(whole)}: truncated" in _only_warning(caplog)
