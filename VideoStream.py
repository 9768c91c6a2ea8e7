"""Frames of an MJPEG video file: the lab's VideoStream class, extended for HD.

Two file formats, told apart by their first bytes:

``lab`` (FORMAT_LAB), the Kurose & Ross lab's ``movie.Mjpeg``::

    "05821" <5821-byte JPEG> "05790" <5790-byte JPEG> ...

  each frame is its JPEG length as 5 ASCII digits, then the JPEG, so a frame is at most
  99,999 bytes: enough for the lab's 384x288, not for HD.

``mjpeg`` (FORMAT_MJPEG), raw concatenated JPEG, what ``ffmpeg -f mjpeg`` writes::

    FFD8 ... FFD9 FFD8 ... FFD9 ...

  split by walking each JPEG's structure (`rtsplab.payload.jpeg.frame_end`).

The whole file is indexed once at open (offset and length of every frame): read whole
when it is at most INDEX_WHOLE_BYTES, else in windows of INDEX_CHUNK_BYTES, a window never
larger than one frame may be (MAX_FRAME_BYTES), so indexing holds bounded memory whatever
the file holds. A frame is then one positional read (``os.pread``) of exactly its bytes, so
random access is cheap and a session holds one frame, not the file. The file is never
mapped: a mapped file cut short while served raises SIGBUS, which kills the whole server.

A truncated or corrupt tail ends the video at the last whole frame with one logged
warning. A frame over MAX_FRAME_BYTES is skipped at indexing, with one warning for the
file, and the video goes on with the next frame; in a raw file a frame that has not ended
within the limit is passed over by searching for an EOI directly followed by the next SOI,
and a file with no such pair after it ends there. A partial frame is never returned. A file
that is not a video is remembered as such while it is unchanged, so asking again costs
nothing.

A file changed while it is served (cut short or rewritten in place) is noticed at each
read: fewer bytes than the index says, or bytes that are not exactly one whole JPEG, raise
VideoError ("the file changed while it was served: ..."); frames still intact are served
as before. While the file's size, modification and change times are still those it had
when it was indexed, a frame read is the bytes the index walked: it is checked by its
edges (SOI first, EOI last) and not walked again, which would cost as much as the rest of
reading and cutting it (~35 µs for a 94 KB 1080p frame); its walk's findings are handed on
(`rtsplab.payload.jpeg.vouch_bounds`) to the RFC 2435 payloader. Once they differ, every
frame read is walked whole, so a partial or corrupt frame is refused and intact frames
before a cut are still served. A write within the clock's tick of the end of indexing can
pass unseen by the times; the edges still refuse a frame cut short or moved. A file
replaced by rename is not a change to a stream open on it: the open file keeps the old
bytes, served whole to the end.
"""

from __future__ import annotations

import io
import logging
import os
import re
import threading
from types import TracebackType
from typing import NamedTuple, TypeVar

from rtsplab.errors import PeerError
from rtsplab.payload.jpeg import (
    EOI_BYTES,
    MARKER_SIZE,
    SOI_BYTES,
    JpegError,
    frame_bounds,
    frame_end,
    vouch_bounds,
)

__all__ = [
    "FORMAT_LAB",
    "FORMAT_MJPEG",
    "LAB_HEADER_SIZE",
    "LAB_MAX_FRAME_SIZE",
    "MAX_FRAME_BYTES",
    "VideoError",
    "VideoStream",
    "forget_indexes",
]

logger = logging.getLogger(__name__)

FORMAT_LAB = "lab"
FORMAT_MJPEG = "mjpeg"

# The lab's frame header: the JPEG length as 5 ASCII digits, hence at most 99,999 bytes.
LAB_HEADER_SIZE = 5
LAB_MAX_FRAME_SIZE = 10**LAB_HEADER_SIZE - 1

# The largest frame served: what one read may hold per session. A 4K JPEG is about 1 MB.
MAX_FRAME_BYTES = 16 * 2**20
# Indexing reads a file up to this size whole, once; a larger one in windows of
# INDEX_CHUNK_BYTES, grown for a frame longer than one window.
INDEX_WHOLE_BYTES = 64 * 2**20
INDEX_CHUNK_BYTES = 4 * 2**20

# Bytes shown in the "not an MJPEG file" message.
_SHOWN_HEAD = 16
# frame_end's messages for data that ends before EOI start with this.
_TRUNCATED = "truncated"
# Where one raw JPEG ends and the next begins: what passes over a frame too large to walk.
_NEXT_FRAME = re.compile(re.escape(EOI_BYTES + SOI_BYTES))

CHANGED = "the file changed while it was served"
# A frame's scan end when its index did not walk it (`_Index`).
NOT_WALKED = -2

# Indexes of files opened before, by (real path, device, inode, size, modification time,
# frame cap): bounded.
MAX_CACHED_INDEXES = 32
_IndexKey = tuple[str, int, int, int, int, int]
# A file as indexed: its size, modification and change times (`_identity`).
_Identity = tuple[int, int, int]
_T = TypeVar("_T")
_INDEXES: dict[_IndexKey, _Index] = {}
# Files found not to be a video, with why: asked again while unchanged, answered at once.
_REFUSED: dict[_IndexKey, str] = {}
_INDEXES_LOCK = threading.Lock()


def forget_indexes() -> None:
    """Forget every index kept, and every file refused: the next open walks its file again
    (for a benchmark of the first open, or a test)."""
    with _INDEXES_LOCK:
        _INDEXES.clear()
        _REFUSED.clear()


class _Index(NamedTuple):
    """Where each frame is (offset, length), where its first scan's entropy-coded data ends
    (`rtsplab.payload.jpeg.frame_bounds`, -2 when not walked), and the file as walked (None
    when it changed during the walk: its reads are then each walked again)."""

    format: str
    offsets: list[int]
    lengths: list[int]
    scan_ends: list[int]
    identity: _Identity | None


def _identity(stat: os.stat_result) -> _Identity:
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


class VideoError(PeerError):
    """A file that is not an MJPEG video in either format, has no whole frame, or changed
    while it was served."""


def _detect_format(head: bytes) -> str | None:
    if head.startswith(SOI_BYTES):
        return FORMAT_MJPEG
    header, rest = head[:LAB_HEADER_SIZE], head[LAB_HEADER_SIZE:]
    # bytes.isdigit() is ASCII-only; a lab file's first JPEG follows its header directly.
    if len(header) == LAB_HEADER_SIZE and header.isdigit() and rest.startswith(SOI_BYTES):
        return FORMAT_LAB
    return None


def read_at(fd: int, length: int, pos: int) -> bytes:
    """`length` bytes at `pos`, fewer only at the end of the file. One ``os.pread`` may
    return fewer than asked (Linux gives at most 0x7ffff000 bytes a call, and a signal can
    cut a read short): read on until the bytes are there or the file ends."""
    data = os.pread(fd, length, pos)
    if len(data) == length or not data:
        return data
    parts = [data]
    got = len(data)
    while got < length:
        more = os.pread(fd, length - got, pos + got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _remember(table: dict[_IndexKey, _T], key: _IndexKey, value: _T) -> None:
    """Keep `value` for an unchanged file, the oldest entry going past MAX_CACHED_INDEXES."""
    with _INDEXES_LOCK:
        if len(table) >= MAX_CACHED_INDEXES:
            table.pop(next(iter(table)))
        table[key] = value


class _Window:
    """The file's bytes for indexing, by pread: the whole file in one read when small,
    else a window that moves forward with the walk."""

    def __init__(self, filename: str, fd: int, size: int) -> None:
        self.filename, self.fd, self.size = filename, fd, size
        self.chunk = size if size <= INDEX_WHOLE_BYTES else INDEX_CHUNK_BYTES
        self.at = 0
        self.data = b""

    def get(self, pos: int, n: int) -> memoryview:
        """Bytes ``pos`` to ``pos + n``, fewer at the end of the file."""
        end = min(pos + n, self.size)
        if not (self.at <= pos and end <= self.at + len(self.data)):
            length = max(end - pos, min(self.chunk, self.size - pos))
            self.data = b""  # the old window goes before the new one is read
            data = read_at(self.fd, length, pos)
            if len(data) < length:
                raise VideoError(
                    f"{self.filename}: the file changed while it was indexed: "
                    f"{len(data)} of {length} bytes at offset {pos}"
                )
            self.at, self.data = pos, data
        return memoryview(self.data)[pos - self.at : end - self.at]


class VideoStream:
    """Frames of an MJPEG file, lab or raw format, read in order or at random.

    The lab's API: ``nextFrame()`` returns the next JPEG as bytes (``b""`` after the last
    frame) and ``frameNbr()`` the number of frames read so far, which the lab server uses
    as the frame number. Extensions: ``frame_count``, ``format``, ``seek()``,
    ``frame()``, ``close()`` and use as a context manager.

    A lab frame whose JPEG ends before its declared length (bytes after EOI) is served
    trimmed to the JPEG, so the client always gets exactly one whole JPEG per frame.
    Reads are positional, so ``frame()`` may be called from several threads.
    """

    def __init__(self, filename: str | os.PathLike[str]) -> None:
        self.filename = os.fspath(filename)
        self._file: io.FileIO | None = None
        self._offsets: list[int] = []
        self._lengths: list[int] = []
        self._scan_ends: list[int] = []
        self._identity: _Identity | None = None
        self._next = 0
        self._skipped = 0  # frames over MAX_FRAME_BYTES, while indexing
        # OSError (the lab's IOError) propagates for a missing or unreadable file.
        self._file = io.FileIO(self.filename, "rb")
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        fd = self.fileno()
        stat = os.fstat(fd)
        if stat.st_size == 0:
            raise VideoError(f"{self.filename}: empty file, not an MJPEG video")
        # A server opens the same file for every DESCRIBE and SETUP: the index of an
        # unchanged file is kept rather than walked again (a 4K file is ~0.1 s of walking).
        key = (os.path.realpath(self.filename), stat.st_dev, stat.st_ino, stat.st_size,
               stat.st_mtime_ns, MAX_FRAME_BYTES)  # fmt: skip
        cached = _INDEXES.get(key)
        if cached is not None:
            self.format, self._offsets, self._lengths, self._scan_ends, self._identity = cached
            return
        refused = _REFUSED.get(key)
        if refused is not None:
            raise VideoError(refused)
        try:
            self._index(_Window(self.filename, fd, stat.st_size))
        except VideoError as exc:
            _remember(_REFUSED, key, str(exc))
            raise
        if _identity(os.fstat(fd)) == _identity(stat):  # not changed while it was walked
            self._identity = _identity(stat)
        index = _Index(self.format, self._offsets, self._lengths, self._scan_ends, self._identity)
        _remember(_INDEXES, key, index)

    def _index(self, window: _Window) -> None:
        """Find every whole frame, or raise VideoError saying why the file is no video."""
        head = bytes(window.get(0, _SHOWN_HEAD))
        fmt = _detect_format(head)
        if fmt is None:
            raise VideoError(
                f"{self.filename}: not an MJPEG file: it starts with neither a JPEG (ff d8) "
                "nor the lab's 5-digit frame length before one"
            )
        self.format = fmt
        problem = self._index_lab(window) if fmt == FORMAT_LAB else self._index_mjpeg(window)
        if not self._offsets:
            why = problem or f"all {self._skipped} frames over {MAX_FRAME_BYTES} bytes"
            raise VideoError(f"{self.filename}: no whole frame: {why}")
        if problem:
            logger.warning(
                "%s: %s; the video ends at the %d whole frames before it",
                self.filename,
                problem,
                len(self._offsets),
            )

    # -- indexing ------------------------------------------------------------------------

    def _skip(self, number: int, pos: int, length: int) -> None:
        """Leave out a frame over MAX_FRAME_BYTES: one warning for the file, at the first."""
        if not self._skipped:
            logger.warning(
                "%s: frame %d at offset %d is %d bytes, over the %d-byte frame limit: "
                "skipped, with any other frame over it",
                self.filename,
                number,
                pos,
                length,
                MAX_FRAME_BYTES,
            )
        self._skipped += 1

    def _index_lab(self, window: _Window) -> str | None:
        """Index lab frames; return why indexing stopped early, or None at a clean end."""
        size = window.size
        pos = 0
        trimmed = 0
        while pos < size:
            number = len(self._offsets) + self._skipped
            header = bytes(window.get(pos, LAB_HEADER_SIZE))
            if len(header) < LAB_HEADER_SIZE or not header.isdigit():
                return (
                    f"frame {number} at offset {pos}: corrupt lab header {header!r}, not 5 digits"
                )
            length = int(header)
            start = pos + LAB_HEADER_SIZE
            end = start + length
            if end > size:
                return (
                    f"frame {number} at offset {pos}: length {length} runs past "
                    f"the end of the file at {size}"
                )
            if length > MAX_FRAME_BYTES:
                self._skip(number, pos, length)
                pos = end
                continue
            # Bounded to the frame, so a broken JPEG cannot run into the next frame.
            try:
                jpeg_length, scan_end = frame_bounds(window.get(start, length))
            except JpegError as exc:
                return f"frame {number} at offset {pos}: {exc}"
            if jpeg_length < length:
                trimmed += 1
            self._found(start, jpeg_length, scan_end)
            pos = end
        if trimmed:
            logger.debug("%s: %d lab frames had bytes after EOI, trimmed", self.filename, trimmed)
        return None

    def _index_mjpeg(self, window: _Window) -> str | None:
        """Index raw JPEG frames; return why indexing stopped early, or None.

        A frame is walked in a window that doubles until the frame fits, up to
        MAX_FRAME_BYTES and one marker more: a frame that has not ended by then is over the
        limit, and is passed over by `_frame_after` without being held.
        """
        size = window.size
        pos = 0
        want = INDEX_CHUNK_BYTES
        while pos < size:
            number = len(self._offsets) + self._skipped
            view = window.get(pos, want)
            scan_end = NOT_WALKED
            try:
                length, scan_end = frame_bounds(view)
                end = pos + length
            except JpegError as exc:
                runs_on = pos + len(view) < size and str(exc).startswith(_TRUNCATED)
                if runs_on and len(view) <= MAX_FRAME_BYTES:
                    want = min(2 * len(view), MAX_FRAME_BYTES + MARKER_SIZE)
                    continue
                if not runs_on:
                    return f"frame {number} at offset {pos}: {exc}"
                after = self._frame_after(window, pos)
                if after is None:
                    return (
                        f"frame {number} at offset {pos}: no EOI within the "
                        f"{MAX_FRAME_BYTES}-byte frame limit, and no frame after it"
                    )
                end = after
            want = INDEX_CHUNK_BYTES
            if end - pos > MAX_FRAME_BYTES:
                self._skip(number, pos, end - pos)
            else:
                self._found(pos, end - pos, scan_end)
            pos = end
        return None

    def _found(self, start: int, length: int, scan_end: int) -> None:
        self._offsets.append(start)
        self._lengths.append(length)
        self._scan_ends.append(scan_end)

    @staticmethod
    def _frame_after(window: _Window, pos: int) -> int | None:
        """Where the frame after the one at `pos` starts, found by searching windows for an
        EOI directly followed by an SOI (entropy-coded data holds neither: T.81 F.1.2.3);
        None when the file holds no such pair after `pos`."""
        at = pos + MARKER_SIZE
        while at < window.size:
            view = window.get(at, INDEX_CHUNK_BYTES)
            found = _NEXT_FRAME.search(view)
            if found is not None:
                return at + found.start() + MARKER_SIZE
            if at + len(view) >= window.size:
                return None
            at += len(view) - (len(EOI_BYTES + SOI_BYTES) - 1)  # a pair across two windows
        return None

    # -- the lab's API -------------------------------------------------------------------

    def nextFrame(self) -> bytes:
        """Return the next frame's JPEG, or b"" after the last frame.

        Raises VideoError if the file changed so that this frame is no longer whole; the
        position stays, so the same frame is tried again on the next call.
        """
        if self._next >= len(self._offsets):
            self.fileno()  # raises once closed
            return b""
        data = self.frame(self._next)
        self._next += 1
        return data

    def frameNbr(self) -> int:
        """Return the number of frames read so far (the lab's frame counter)."""
        return self._next

    # -- extensions ----------------------------------------------------------------------

    @property
    def frame_count(self) -> int:
        """Number of whole frames in the file (frames over MAX_FRAME_BYTES left out)."""
        return len(self._offsets)

    def frame(self, index: int) -> bytes:
        """Return frame ``index`` (0-based) without moving the nextFrame position.

        Raises VideoError if the file changed while served and the frame is no longer
        exactly one whole JPEG of the length indexed.
        """
        fd = self.fileno()
        if not 0 <= index < len(self._offsets):
            raise IndexError(f"frame {index} out of range 0..{len(self._offsets) - 1}")
        start, length = self._offsets[index], self._lengths[index]
        data = read_at(fd, length, start)
        scan_end = self._scan_ends[index]
        if (
            len(data) == length
            and scan_end != NOT_WALKED
            and self._identity == _identity(os.fstat(fd))  # after the read: what it read
            and data.startswith(SOI_BYTES)
            and data.endswith(EOI_BYTES)
        ):
            vouch_bounds(data, (length, scan_end))
            return data
        where = f"{self.filename}: {CHANGED}: frame {index} at offset {start}"
        if len(data) < length:
            raise VideoError(f"{where}: {len(data)} of its {length} bytes left")
        try:
            end = frame_end(data)
        except JpegError as exc:
            raise VideoError(f"{where} is no longer a whole JPEG: {exc}") from None
        if end != length:
            raise VideoError(f"{where} is no longer a whole JPEG: EOI at {end} of {length}")
        return data

    def seek(self, frame_index: int) -> None:
        """Make nextFrame() return frame ``frame_index``; frameNbr() becomes frame_index.

        ``frame_index == frame_count`` is allowed: the next nextFrame() returns b"".
        """
        self.fileno()  # raises once closed
        if not 0 <= frame_index <= len(self._offsets):
            raise IndexError(f"seek to frame {frame_index} out of range 0..{len(self._offsets)}")
        self._next = frame_index

    def close(self) -> None:
        """Release the file; further reads raise ValueError. Closing twice is harmless."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def fileno(self) -> int:
        """The file's descriptor; raises ValueError once the stream is closed."""
        if self._file is None:
            raise ValueError(f"{self.filename}: VideoStream is closed")
        return self._file.fileno()

    def __enter__(self) -> VideoStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._file is None else f"next={self._next}"
        return (
            f"<VideoStream {self.filename!r} format={getattr(self, 'format', None)} "
            f"frames={len(self._offsets)} {state}>"
        )
