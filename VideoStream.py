"""Frames of an MJPEG video file: the lab's VideoStream class, extended for HD.

Two file formats, told apart by their first bytes:

``lab`` (FORMAT_LAB), the Kurose & Ross lab's ``movie.Mjpeg``::

    "05821" <5821-byte JPEG> "05790" <5790-byte JPEG> ...

  each frame is its JPEG length as 5 ASCII digits, then the JPEG, so a frame is at most
  99,999 bytes: enough for the lab's 384x288, not for HD.

``mjpeg`` (FORMAT_MJPEG), raw concatenated JPEG, what ``ffmpeg -f mjpeg`` writes::

    FFD8 ... FFD9 FFD8 ... FFD9 ...

  split by walking each JPEG's structure (`rtsplab.payload.jpeg.frame_end`), no size
  limit.

The whole file is indexed once at open (offset and length of every frame) through an
mmap, so a frame is a slice of the mapping, random access is free, and a 100+ MB 4K file
opens in milliseconds. A truncated or corrupt tail ends the video at the last whole frame
with one logged warning: a partial frame is never returned.
"""

from __future__ import annotations

import logging
import mmap
import os
import threading
from types import TracebackType

from rtsplab.errors import PeerError
from rtsplab.payload.jpeg import SOI_BYTES, JpegError, frame_end

__all__ = [
    "FORMAT_LAB",
    "FORMAT_MJPEG",
    "LAB_HEADER_SIZE",
    "LAB_MAX_FRAME_SIZE",
    "VideoError",
    "VideoStream",
]

logger = logging.getLogger(__name__)

FORMAT_LAB = "lab"
FORMAT_MJPEG = "mjpeg"

# The lab's frame header: the JPEG length as 5 ASCII digits, hence at most 99,999 bytes.
LAB_HEADER_SIZE = 5
LAB_MAX_FRAME_SIZE = 10**LAB_HEADER_SIZE - 1

# Bytes shown in the "not an MJPEG file" message.
_SHOWN_HEAD = 16


# Indexes of files opened before, by (real path, size, modification time): bounded.
MAX_CACHED_INDEXES = 32
_INDEXES: dict[tuple[str, int, int], tuple[str, list[int], list[int]]] = {}
_INDEXES_LOCK = threading.Lock()


class VideoError(PeerError):
    """A file that is not an MJPEG video in either format, or has no whole frame."""


def _detect_format(head: bytes) -> str | None:
    if head.startswith(SOI_BYTES):
        return FORMAT_MJPEG
    header, rest = head[:LAB_HEADER_SIZE], head[LAB_HEADER_SIZE:]
    # bytes.isdigit() is ASCII-only; a lab file's first JPEG follows its header directly.
    if len(header) == LAB_HEADER_SIZE and header.isdigit() and rest.startswith(SOI_BYTES):
        return FORMAT_LAB
    return None


class VideoStream:
    """Frames of an MJPEG file, lab or raw format, read in order or at random.

    The lab's API: ``nextFrame()`` returns the next JPEG as bytes (``b""`` after the last
    frame) and ``frameNbr()`` the number of frames read so far, which the lab server uses
    as the frame number. Extensions: ``frame_count``, ``format``, ``seek()``,
    ``frame()``, ``close()`` and use as a context manager.

    A lab frame whose JPEG ends before its declared length (bytes after EOI) is served
    trimmed to the JPEG, so the client always gets exactly one whole JPEG per frame.
    """

    def __init__(self, filename: str | os.PathLike[str]) -> None:
        self.filename = os.fspath(filename)
        self._map: mmap.mmap | None = None
        self._offsets: list[int] = []
        self._lengths: list[int] = []
        self._next = 0
        # OSError (the lab's IOError) propagates for a missing or unreadable file.
        with open(self.filename, "rb") as file:
            stat = os.fstat(file.fileno())
            if stat.st_size == 0:
                raise VideoError(f"{self.filename}: empty file, not an MJPEG video")
            # The mapping keeps its own handle, so the file object can close now.
            self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        # A server opens the same file for every DESCRIBE and SETUP: the index of an
        # unchanged file is kept rather than walked again (a 4K file is ~0.1 s of walking).
        key = (os.path.realpath(self.filename), stat.st_size, stat.st_mtime_ns)
        cached = _INDEXES.get(key)
        if cached is not None:
            self.format, self._offsets, self._lengths = cached
            return
        try:
            head = self._map[:_SHOWN_HEAD]
            fmt = _detect_format(head)
            if fmt is None:
                raise VideoError(
                    f"{self.filename}: not an MJPEG file: first bytes {head.hex(' ')}; "
                    "expected a JPEG (ff d8) or the lab's 5-digit frame length before one"
                )
            self.format = fmt
            problem = self._index_lab() if fmt == FORMAT_LAB else self._index_mjpeg()
            if not self._offsets:
                raise VideoError(f"{self.filename}: no whole frame: {problem}")
            if problem:
                logger.warning(
                    "%s: %s; the video ends at the %d whole frames before it",
                    self.filename,
                    problem,
                    len(self._offsets),
                )
        except BaseException:
            self.close()
            raise
        with _INDEXES_LOCK:
            if len(_INDEXES) >= MAX_CACHED_INDEXES:
                _INDEXES.pop(next(iter(_INDEXES)))  # the oldest
            _INDEXES[key] = (self.format, self._offsets, self._lengths)

    # -- indexing ------------------------------------------------------------------------

    def _index_lab(self) -> str | None:
        """Index lab frames; return why indexing stopped early, or None at a clean end."""
        data = self._mapping()
        size = len(data)
        pos = 0
        trimmed = 0
        with memoryview(data) as view:
            while pos < size:
                number = len(self._offsets)
                header = data[pos : pos + LAB_HEADER_SIZE]
                if len(header) < LAB_HEADER_SIZE or not header.isdigit():
                    return (
                        f"frame {number} at offset {pos}: corrupt lab header {header!r}, "
                        "not 5 digits"
                    )
                length = int(header)
                start = pos + LAB_HEADER_SIZE
                end = start + length
                if end > size:
                    return (
                        f"frame {number} at offset {pos}: length {length} runs past "
                        f"the end of the file at {size}"
                    )
                # Bounded to the frame, so a broken JPEG cannot run into the next frame.
                with view[start:end] as jpeg:
                    try:
                        jpeg_length = frame_end(jpeg)
                    except JpegError as exc:
                        return f"frame {number} at offset {pos}: {exc}"
                if jpeg_length < length:
                    trimmed += 1
                self._offsets.append(start)
                self._lengths.append(jpeg_length)
                pos = end
        if trimmed:
            logger.debug("%s: %d lab frames had bytes after EOI, trimmed", self.filename, trimmed)
        return None

    def _index_mjpeg(self) -> str | None:
        """Index raw JPEG frames; return why indexing stopped early, or None."""
        data = self._mapping()
        size = len(data)
        pos = 0
        while pos < size:
            try:
                end = frame_end(data, pos)
            except JpegError as exc:
                return f"frame {len(self._offsets)} at offset {pos}: {exc}"
            self._offsets.append(pos)
            self._lengths.append(end - pos)
            pos = end
        return None

    # -- the lab's API -------------------------------------------------------------------

    def nextFrame(self) -> bytes:
        """Return the next frame's JPEG, or b"" after the last frame."""
        if self._next >= len(self._offsets):
            self._mapping()  # raises once closed
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
        """Number of whole frames in the file."""
        return len(self._offsets)

    def frame(self, index: int) -> bytes:
        """Return frame ``index`` (0-based) without moving the nextFrame position."""
        data = self._mapping()
        if not 0 <= index < len(self._offsets):
            raise IndexError(f"frame {index} out of range 0..{len(self._offsets) - 1}")
        start = self._offsets[index]
        return data[start : start + self._lengths[index]]

    def seek(self, frame_index: int) -> None:
        """Make nextFrame() return frame ``frame_index``; frameNbr() becomes frame_index.

        ``frame_index == frame_count`` is allowed: the next nextFrame() returns b"".
        """
        self._mapping()  # raises once closed
        if not 0 <= frame_index <= len(self._offsets):
            raise IndexError(f"seek to frame {frame_index} out of range 0..{len(self._offsets)}")
        self._next = frame_index

    def close(self) -> None:
        """Release the file; further reads raise ValueError. Closing twice is harmless."""
        if self._map is not None:
            self._map.close()
            self._map = None

    def _mapping(self) -> mmap.mmap:
        """The file's mapping; raises ValueError once the stream is closed."""
        if self._map is None:
            raise ValueError(f"{self.filename}: VideoStream is closed")
        return self._map

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
        state = "closed" if self._map is None else f"next={self._next}"
        return (
            f"<VideoStream {self.filename!r} format={getattr(self, 'format', None)} "
            f"frames={len(self._offsets)} {state}>"
        )
