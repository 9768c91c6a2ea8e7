"""Frames read and cut into RTP payloads once per file, shared by every session sending them.

A class watching one video is a hundred sessions sending the same frames: each would read a
frame, check it and cut it into payloads, where only the 12-byte RTP headers differ from one
session to the next (`rtsplab.rtp.sender`). The cache keeps the cut frames, keyed by the file
as the open descriptor sees it (device, inode, size, modification time), the frame's index
and how it is cut (the dialect's payloader and the packet size), so that the first session
to reach a frame does the work and the others take it.

A file changed while it is served (cut short, rewritten in place) has a new size or time:
its frames are read again, checked again (`VideoStream.frame`), and a frame no longer whole
raises `VideoError` as it would without a cache; a file replaced by rename is still the old
inode to the sessions that have it open, and they go on with the old frames.

A frame is kept from the second time it is cut (`min_uses`, as a web cache keeps a page
asked for twice): a student alone on a file, the lab's usual case, never reads a frame
again, and keeping it would cost more than cutting it (fresh memory for every frame, and
objects the garbage collector walks again and again: ~25% of the first session's CPU a 1080p
frame); a second session reaching the frame keeps it for everyone after.

Bounded: at most `max_bytes` of frames (a frame's payloads are views of it, so a cut frame
holds its frame's bytes and little more); past the bound the least recently used go first.
Thread-safe.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Protocol

from rtsplab.rtp.sender import CutFrame

DEFAULT_CACHE_BYTES = 256 * 2**20  # a 1080p clip of 1,300 frames, or 250 frames of 4K
# Frames cut once and not kept, remembered (by their key's hash) until this many: then
# forgotten all at once, so that a frame asked for again only much later is cut twice more.
MAX_SEEN = 2**16


class Media(Protocol):
    """What the cache needs of a video (`VideoStream` has it)."""

    def fileno(self) -> int: ...

    def frame(self, index: int) -> bytes: ...


class PayloadCache:
    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES, min_uses: int = 2) -> None:
        if max_bytes < 0:
            raise ValueError(f"the cache's size must be >= 0, got {max_bytes}")
        if min_uses not in (1, 2):
            raise ValueError(f"a frame is kept from its first or second cut, not {min_uses}")
        self.max_bytes = max_bytes
        self.min_uses = min_uses
        self._seen: set[int] = set()  # hashes of keys cut once, not kept (min_uses 2)
        self.bytes = 0  # held now
        self.hits = self.misses = 0
        self._frames: OrderedDict[Hashable, CutFrame] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, media: Media, index: int, cut: Callable[[bytes], CutFrame], how: Hashable
    ) -> CutFrame:
        """Frame `index` of `media`, cut by `cut` (whose payloads `how` names: the same `how`
        must always cut the same way). Raises what `media.frame` and `cut` raise, and caches
        nothing then."""
        stat = os.fstat(media.fileno())
        key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, how, index)
        with self._lock:
            frame = self._frames.get(key)
            if frame is not None:
                self._frames.move_to_end(key)
                self.hits += 1
                return frame
            self.misses += 1
        frame = cut(media.frame(index))  # outside the lock: reading and cutting take time
        if frame.octets > self.max_bytes:
            return frame
        with self._lock:
            if self.min_uses > 1 and not self._seen_before(hash(key)):
                return frame
            if key not in self._frames:
                self._frames[key] = frame
                self.bytes += frame.octets
            while self.bytes > self.max_bytes:
                _, oldest = self._frames.popitem(last=False)
                self.bytes -= oldest.octets
        return frame

    def _seen_before(self, key_hash: int) -> bool:
        """Whether a frame of this key was cut before; remembers it if not. Under the lock."""
        if key_hash in self._seen:
            self._seen.discard(key_hash)
            return True
        if len(self._seen) >= MAX_SEEN:
            self._seen.clear()
        self._seen.add(key_hash)
        return False

    def __len__(self) -> int:
        return len(self._frames)
