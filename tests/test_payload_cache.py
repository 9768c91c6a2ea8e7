"""PayloadCache: frames read and cut once per file, shared by every session, bounded, LRU."""

import os

import pytest

from MakeVideo import make_clip
from rtsplab.payload.lab import fragment_parts
from rtsplab.rtp.sender import CutFrame
from rtsplab.server import payload_cache
from rtsplab.server.payload_cache import PayloadCache
from VideoStream import VideoError, VideoStream

HOW = ("lab", 300)


class CountingCut:
    """A lab cut into 300-byte payloads that counts the frames it is given."""

    def __init__(self, max_payload=300):
        self.max_payload = max_payload
        self.frames = []

    def __call__(self, frame):
        self.frames.append(bytes(frame))
        payloads = fragment_parts(frame, self.max_payload)
        heads, bodies = [h for h, _ in payloads], [b for _, b in payloads]
        return CutFrame(heads, bodies, sum(len(h) + len(b) for h, b in payloads), None)


class Blob:
    """A media of frames of `sizes` bytes (frame i all bytes i), on a real file for the
    cache's fstat."""

    def __init__(self, path, sizes=(100, 100, 100, 100)):
        path.write_bytes(b"x")
        self._file = open(path, "rb")
        self.frames = [bytes([i]) * size for i, size in enumerate(sizes)]

    def fileno(self):
        return self._file.fileno()

    def frame(self, index):
        return self.frames[index]

    def close(self):
        self._file.close()


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.Mjpeg"
    make_clip(path, 64, 48, 4, fmt="lab")
    return path


@pytest.fixture
def blob(tmp_path):
    media = Blob(tmp_path / "blob")
    yield media
    media.close()


def joined_payloads(frame):
    return b"".join(bytes(h) + bytes(b) for h, b in zip(frame.heads, frame.bodies, strict=True))


def test_two_streams_of_one_file_share_its_cut_frames(clip):
    cache, cut = PayloadCache(min_uses=1), CountingCut()
    with VideoStream(clip) as first, VideoStream(clip) as second:
        originals = [first.frame(i) for i in range(4)]
        a = [cache.get(first, i, cut, HOW) for i in range(4)]
        b = [cache.get(second, i, cut, HOW) for i in range(4)]
    assert cut.frames == originals  # each frame cut once, by the first to want it
    assert all(x is y for x, y in zip(a, b, strict=True))  # the same objects, shared
    assert [joined_payloads(f) for f in b] == originals
    assert (cache.misses, cache.hits) == (4, 4)
    assert len(cache) == 4
    assert cache.bytes == sum(len(f) for f in originals)


def test_each_way_of_cutting_is_cached_apart(clip):
    cache, small, large = PayloadCache(min_uses=1), CountingCut(300), CountingCut(1000)
    with VideoStream(clip) as video:
        by_300 = cache.get(video, 0, small, ("lab", 300))
        by_1000 = cache.get(video, 0, large, ("lab", 1000))
        again = cache.get(video, 0, small, ("lab", 300))
        frame = video.frame(0)
    assert len(small.frames) == len(large.frames) == 1
    assert again is by_300
    assert len(by_300.bodies) == -(-len(frame) // 300)
    assert len(by_1000.bodies) == -(-len(frame) // 1000)
    assert joined_payloads(by_300) == joined_payloads(by_1000) == frame
    assert (cache.misses, cache.hits, len(cache)) == (2, 1, 2)


def flip_a_scan_byte(frame):
    """The same JPEG with one byte of its entropy-coded data changed: same length, still
    one whole JPEG, other bytes."""
    data = bytearray(frame)
    sos = frame.index(b"\xff\xda") + 2  # a baseline JPEG has one scan
    scan = sos + int.from_bytes(frame[sos : sos + 2], "big")  # past the scan header
    i = (scan + len(data) - 2) // 2  # its middle, before EOI
    while data[i] in (0xFE, 0xFF) or data[i - 1] == 0xFF:
        i += 1
    data[i] ^= 0x01
    return bytes(data)


def test_a_file_rewritten_in_place_is_read_again(clip):
    cache, cut = PayloadCache(min_uses=1), CountingCut()
    with VideoStream(clip) as video:
        old = video.frame(1)
        assert joined_payloads(cache.get(video, 1, cut, HOW)) == old
        new = flip_a_scan_byte(old)
        assert new != old and len(new) == len(old)
        offset = clip.read_bytes().index(old)
        before = os.stat(clip).st_mtime_ns
        with open(clip, "r+b") as file:  # in place: the same inode, the same size
            file.seek(offset)
            file.write(new)
        os.utime(clip, ns=(before + 7_000_000_123, before + 7_000_000_123))
        got = cache.get(video, 1, cut, HOW)
    assert joined_payloads(got) == new
    assert cut.frames == [old, new]
    assert cache.misses == 2 and cache.hits == 0


def test_a_frame_cut_short_raises_and_caches_nothing(clip):
    cache, cut = PayloadCache(min_uses=1), CountingCut()
    with VideoStream(clip) as video:
        frames = [video.frame(i) for i in range(4)]
        cache.get(video, 0, cut, HOW)
        held = (len(cache), cache.bytes)
        start_of_2 = clip.read_bytes().index(frames[2])
        os.truncate(clip, start_of_2 + len(frames[2]) // 2)
        with pytest.raises(VideoError, match="changed while it was served"):
            cache.get(video, 2, cut, HOW)
        assert (len(cache), cache.bytes) == held
        assert len(cut.frames) == 1  # cut never saw the partial frame
        # A frame still whole is served, read again since the file is not the same.
        assert joined_payloads(cache.get(video, 1, cut, HOW)) == frames[1]
    assert cut.frames == [frames[0], frames[1]]


def test_past_its_bound_the_least_recently_used_frame_goes_first(blob):
    cache, cut = PayloadCache(max_bytes=250, min_uses=1), CountingCut()
    cache.get(blob, 0, cut, HOW)
    cache.get(blob, 1, cut, HOW)
    cache.get(blob, 0, cut, HOW)  # 0 used last: 1 is now the oldest
    cache.get(blob, 2, cut, HOW)  # 300 bytes: one must go
    assert (len(cache), cache.bytes) == (2, 200)
    assert [f[0] for f in cut.frames] == [0, 1, 2]
    cache.get(blob, 0, cut, HOW)
    cache.get(blob, 2, cut, HOW)
    assert [f[0] for f in cut.frames] == [0, 1, 2]  # both still there
    cache.get(blob, 1, cut, HOW)  # gone: cut again, and pushes out 0, the oldest now
    assert [f[0] for f in cut.frames] == [0, 1, 2, 1]
    cache.get(blob, 2, cut, HOW)
    cache.get(blob, 0, cut, HOW)
    assert [f[0] for f in cut.frames] == [0, 1, 2, 1, 0]
    assert (cache.hits, cache.misses, len(cache), cache.bytes) == (4, 5, 2, 200)


def test_a_frame_bigger_than_the_cache_is_returned_but_not_kept(blob):
    cache, cut = PayloadCache(max_bytes=99, min_uses=1), CountingCut()
    first = cache.get(blob, 0, cut, HOW)
    assert joined_payloads(first) == blob.frames[0]
    assert (len(cache), cache.bytes) == (0, 0)
    cache.get(blob, 0, cut, HOW)
    assert len(cut.frames) == 2 and cache.misses == 2


def test_a_frame_bigger_than_the_cache_pushes_nothing_out(tmp_path):
    media = Blob(tmp_path / "blob", sizes=(100, 100, 300))
    try:
        cache, cut = PayloadCache(max_bytes=250, min_uses=1), CountingCut()
        for i in (0, 1, 2, 0, 1):
            assert joined_payloads(cache.get(media, i, cut, HOW)) == media.frames[i]
    finally:
        media.close()
    assert [f[0] for f in cut.frames] == [0, 1, 2]
    assert (len(cache), cache.bytes, cache.hits) == (2, 200, 2)


def test_a_cache_of_zero_bytes_keeps_nothing(clip):
    cache, cut = PayloadCache(max_bytes=0, min_uses=1), CountingCut()
    with VideoStream(clip) as video:
        for _ in range(2):
            for i in range(4):
                assert joined_payloads(cache.get(video, i, cut, HOW)) == video.frame(i)
    assert len(cut.frames) == 8
    assert (len(cache), cache.bytes, cache.hits, cache.misses) == (0, 0, 0, 8)


def test_a_frame_exactly_the_bound_is_kept(blob):
    cache, cut = PayloadCache(max_bytes=100, min_uses=1), CountingCut()
    cache.get(blob, 0, cut, HOW)
    cache.get(blob, 0, cut, HOW)
    assert (len(cache), cache.bytes, cache.hits) == (1, 100, 1)


def test_a_negative_size_is_refused():
    with pytest.raises(ValueError, match=">= 0"):
        PayloadCache(max_bytes=-1)


def test_a_failing_cut_caches_nothing(blob):
    def refuse(frame):
        raise ValueError("cannot cut")

    cache = PayloadCache(min_uses=1)
    with pytest.raises(ValueError, match="cannot cut"):
        cache.get(blob, 0, refuse, HOW)
    assert (len(cache), cache.bytes) == (0, 0)


def test_a_frame_is_kept_from_its_second_cut_by_default(blob):
    """The first session alone on a file keeps nothing; the second keeps each frame it
    cuts again; every later one takes them."""
    cache, cut = PayloadCache(), CountingCut()
    first = [cache.get(blob, i, cut, HOW) for i in range(4)]
    assert (len(cache), cache.bytes, cache.hits, cache.misses) == (0, 0, 0, 4)
    second = [cache.get(blob, i, cut, HOW) for i in range(4)]
    assert (len(cache), cache.bytes, cache.hits, cache.misses) == (4, 400, 0, 8)
    third = [cache.get(blob, i, cut, HOW) for i in range(4)]
    assert all(x is y for x, y in zip(second, third, strict=True))
    assert all(x is not y for x, y in zip(first, second, strict=True))
    assert [joined_payloads(f) for f in first] == [joined_payloads(f) for f in third]
    assert len(cut.frames) == 8 and cache.hits == 4
    assert cache.get(blob, 0, cut, ("lab", 200)) is not third[0]  # another way: its own count
    assert len(cache) == 4


def test_what_was_cut_once_is_forgotten_past_its_bound(blob, monkeypatch):
    monkeypatch.setattr(payload_cache, "MAX_SEEN", 2)
    cache, cut = PayloadCache(), CountingCut()
    for index in (0, 1, 2):  # the third forgets the first two
        cache.get(blob, index, cut, HOW)
    cache.get(blob, 0, cut, HOW)  # cut once more, as if new
    assert len(cache) == 0
    cache.get(blob, 2, cut, HOW)  # still remembered: kept now
    assert len(cache) == 1 and len(cut.frames) == 5
    with pytest.raises(ValueError, match="first or second"):
        PayloadCache(min_uses=3)
