"""Indexing a file in bounded memory: a broken file cannot make the server read it whole, a
refusal is remembered while the file is unchanged, and a short read is only a read."""

import logging
import os
import tracemalloc

import pytest

import VideoStream as video_module
from jpeg_samples import jpeg
from VideoStream import MAX_FRAME_BYTES, VideoError, VideoStream

SOS_MARKER = b"\xff\xda"


@pytest.fixture
def frames():
    return [jpeg(i) for i in range(3)]


def broken_file(path, size):
    """A JPEG's header up to its scan, then `size` bytes of zeros (a sparse file): entropy
    data that never ends."""
    head = jpeg(1)
    sos = head.index(SOS_MARKER)
    scan_header_end = sos + 2 + int.from_bytes(head[sos + 2 : sos + 4], "big")
    path.write_bytes(head[:scan_header_end])
    os.truncate(path, size)
    return path


def counted_preads(monkeypatch, most=None):
    """Count os.pread calls (and cut each to `most` bytes, as a kernel may)."""
    calls = []
    real_pread = os.pread

    def pread(fd, n, at):
        calls.append(n)
        return real_pread(fd, n if most is None else min(n, most), at)

    monkeypatch.setattr(video_module.os, "pread", pread)
    return calls


def test_a_scan_that_never_ends_is_refused_in_bounded_memory(tmp_path):
    path = broken_file(tmp_path / "broken.mjpeg", 512 * 2**20)
    tracemalloc.start()
    try:
        with pytest.raises(VideoError, match="no EOI within the 16777216-byte frame limit"):
            VideoStream(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One window of at most a frame's limit (and a marker), then search windows: never the
    # file (512 MiB), nor a doubling window past the limit.
    assert peak < 2 * MAX_FRAME_BYTES + 8 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_a_refusal_is_remembered_while_the_file_is_unchanged(tmp_path, monkeypatch):
    path = broken_file(tmp_path / "broken.mjpeg", 64 * 2**20)
    with pytest.raises(VideoError) as first:
        VideoStream(path)
    reads = counted_preads(monkeypatch)
    with pytest.raises(VideoError) as again:
        VideoStream(path)
    assert str(again.value) == str(first.value)
    assert reads == []  # answered from memory

    path.write_bytes(jpeg(2))  # changed: a new look, and now a video
    with VideoStream(path) as video:
        assert video.frame_count == 1
    assert reads


@pytest.mark.parametrize("fmt", ["lab", "mjpeg"])
def test_short_reads_give_the_same_frames(tmp_path, frames, monkeypatch, fmt):
    path = tmp_path / f"clip.{fmt}"
    if fmt == "lab":
        path.write_bytes(b"".join(b"%05d" % len(f) + f for f in frames))
    else:
        path.write_bytes(b"".join(frames))
    reads = counted_preads(monkeypatch, most=100)
    with VideoStream(path) as video:
        assert [video.frame(i) for i in range(video.frame_count)] == frames
    assert len(reads) > len(frames)  # many short reads, each taken as part of one


def test_a_frame_past_the_limit_is_passed_over_without_being_held(
    tmp_path, frames, monkeypatch, caplog
):
    big = jpeg(7, (320, 240))
    cap = max(len(f) for f in frames)
    monkeypatch.setattr(video_module, "MAX_FRAME_BYTES", cap)
    monkeypatch.setattr(video_module, "INDEX_WHOLE_BYTES", 64)  # windows, not the file
    monkeypatch.setattr(video_module, "INDEX_CHUNK_BYTES", 100)
    path = tmp_path / "big.mjpeg"
    path.write_bytes(b"".join([frames[0], big, frames[1], big, frames[2]]))
    reads = counted_preads(monkeypatch)
    with caplog.at_level(logging.WARNING), VideoStream(path) as video:
        assert [video.frame(i) for i in range(video.frame_count)] == frames
    assert max(reads) <= cap + 2 < len(big)  # the big frames were never read whole
    assert "over the" in caplog.text and "skipped" in caplog.text


def test_a_frame_past_the_limit_with_nothing_after_it_ends_the_video(
    tmp_path, frames, monkeypatch, caplog
):
    big = jpeg(7, (320, 240))
    monkeypatch.setattr(video_module, "MAX_FRAME_BYTES", max(len(f) for f in frames))
    monkeypatch.setattr(video_module, "INDEX_WHOLE_BYTES", 64)
    monkeypatch.setattr(video_module, "INDEX_CHUNK_BYTES", 100)
    path = tmp_path / "tail.mjpeg"
    path.write_bytes(frames[0] + big[:-2])  # no EOI, so no EOI+SOI pair after it
    with caplog.at_level(logging.WARNING), VideoStream(path) as video:
        assert video.frame_count == 1 and video.frame(0) == frames[0]
    assert "no EOI within" in caplog.text and "no frame after it" in caplog.text
