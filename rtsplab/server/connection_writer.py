"""The one writer of an RTSP connection: replies and interleaved `$` frames, queued, bounded.

RFC 2326 §10.12 lets RTP and RTCP ride the RTSP connection, each packet framed as
`$ channel length data`. Written straight from the streamer, a client that stops reading
fills the kernel's buffer and `sendall()` blocks the stream, and with it everything that
waits for the connection, for ever. So one thread writes and everyone else enqueues:

* RTSP replies are always queued (they are small, and one per request); they keep their
  place in line with the frames, so that nothing sent before a PAUSE reply follows it.
  A client that pipelines MAX_QUEUED_REPLY_BYTES of replies without reading them is not a
  slow reader but a hostile one: its connection is shut down.
* `$` frames are queued while the queue holds fewer than `max_frames` frames and
  `max_bytes` bytes of them; past that a frame is dropped whole (never half a packet on
  the wire), counted, and logged once.
* A reader that accepts no byte for STALLED_READER seconds while something waits for it
  has its connection shut down: the RTSP thread reads the end and frees the session.

The writer never closes the socket (its owner does, after `close()` has joined it), so no
file descriptor is reused under it.

Over TLS (rtsps://) the writer seals each item as it takes it from the queue
(`rtsplab.rtsp.tls`): a frame dropped by the bound was never sealed, and records leave in
the order they were made. An empty reply queued (`flush`) sends the records the handshake
left waiting; close_notify goes last.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections import deque

from rtsplab.rtsp.tls import TlsLayer

log = logging.getLogger(__name__)

# Seconds a reader may take no byte while data waits for it (mediamtx's write timeout is 10 s).
STALLED_READER = 10.0
# About 4 s of a 4 Mbit/s stream, and a few hundred packets of 1400 bytes: enough for a
# reader that is slow for a moment, small enough that a stalled one costs little.
MAX_QUEUED_BYTES = 2 * 1024 * 1024
MAX_QUEUED_FRAMES = 1024
MAX_QUEUED_REPLY_BYTES = 256 * 1024  # thousands of replies: no honest client waits for so many
WRITE_POLL = 0.1  # seconds between looks at the stall deadline and at close()
# poll() where the platform has it: select() cannot watch a descriptor numbered above 1023.
Selector: type[selectors.BaseSelector] = getattr(
    selectors, "PollSelector", selectors.SelectSelector
)
# socket.MSG_DONTWAIT where the platform has it (Linux, BSD, macOS): a send() after a poll
# never blocks even when the buffer has room for less than the whole item.
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


class ConnectionWriter:
    """Queue bytes for one connection and write them from one thread, with a deadline."""

    def __init__(
        self, sock: socket.socket, name: str, max_bytes: int | None = None,
        max_frames: int | None = None, tls: TlsLayer | None = None,
    ) -> None:  # fmt: skip
        self.sock = sock
        self.name = name
        self.tls = tls
        # The module's caps, read now (not at import) so that a test can lower them.
        self.max_bytes = MAX_QUEUED_BYTES if max_bytes is None else max_bytes
        self.max_frames = MAX_QUEUED_FRAMES if max_frames is None else max_frames
        self.dropped = 0  # frames dropped because the queue was full
        self.stalled = False  # the connection was shut down for a reader that took nothing
        self._queue: deque[tuple[bytes, bool]] = deque()  # (data, is a frame)
        self._frame_bytes = 0
        self._frames = 0
        self._reply_bytes = 0
        self._wake = threading.Condition()
        self._closed = False
        self._linger_until = 0.0  # once closed, what is queued may still go out until then
        self._failed = False  # a write failed or stalled: nothing more goes out
        self._writable = Selector()  # the writer thread's alone
        self._writable.register(sock, selectors.EVENT_WRITE)
        self._thread = threading.Thread(target=self._run, name=f"writer-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    # -- the producers' side: never blocks for more than the lock ------------------------

    def send_reply(self, data: bytes) -> None:
        """Queue an RTSP message; it is never dropped while the connection lives."""
        with self._wake:
            if self._closed or self._failed:
                return
            unread = self._reply_bytes
            if unread + len(data) <= MAX_QUEUED_REPLY_BYTES:
                self._queue.append((data, False))
                self._reply_bytes += len(data)
                self._wake.notify()
                return
        log.warning("%s: %d bytes of replies unread: closing the connection", self.name, unread)
        self._fail()

    def send_frame(self, data: bytes) -> bool:
        """Queue a whole `$` frame, or drop it whole if the queue is full. True if queued."""
        with self._wake:
            if self._closed or self._failed:
                return False
            if self._frames >= self.max_frames or self._frame_bytes + len(data) > self.max_bytes:
                self.dropped += 1
                if self.dropped == 1:
                    log.warning("%s: the client reads too slowly, interleaved frames dropped "
                                "(queue of %d frames, %d bytes)", self.name, self._frames,
                                self._frame_bytes)  # fmt: skip
                return False
            self._queue.append((data, True))
            self._frames += 1
            self._frame_bytes += len(data)
            self._wake.notify()
            return True

    def flush(self) -> None:
        """Send the TLS records waiting (the handshake's), in turn with the queue."""
        self.send_reply(b"")

    @property
    def queued(self) -> int:
        with self._wake:
            return len(self._queue)

    def close(self, linger: float = 0.0) -> None:
        """Take nothing more; write what is queued for up to `linger` seconds (a client that
        half-closed still reads its last reply), drop the rest and join the thread."""
        with self._wake:
            self._closed = True
            self._linger_until = time.monotonic() + linger
            self._wake.notify()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        if self.dropped:
            log.info("%s: %d interleaved frames dropped for a slow reader", self.name, self.dropped)

    # -- the writer thread ---------------------------------------------------------------

    def _next(self) -> tuple[bytes, bool] | None:
        with self._wake:
            while not self._queue and not self._closed and not self._failed:
                self._wake.wait()
            if not self._queue or self._lingered():
                return None
            return self._queue[0]

    def _lingered(self) -> bool:
        """Closed, and past the time given to what was queued (call with the lock held)."""
        return self._closed and time.monotonic() >= self._linger_until

    def _done_with_head(self, is_frame: bool, size: int) -> None:
        with self._wake:
            if self._queue:
                self._queue.popleft()
                if is_frame:
                    self._frames -= 1
                    self._frame_bytes -= size
                else:
                    self._reply_bytes -= size

    def _run(self) -> None:
        """Write items whole, one after the other, until closed, stalled or failed."""
        try:
            while (item := self._next()) is not None:
                data, is_frame = item
                if not self._write(self.tls.seal(data) if self.tls else data):
                    return
                self._done_with_head(is_frame, len(data))
            if self.tls is not None and self.tls.established and not self._lingered():
                self._write(self.tls.close())
        except Exception:
            log.exception("%s: writer failed", self.name)
            self._fail()
        finally:
            self._writable.close()  # the thread's alone: it goes with the thread

    def _write(self, data: bytes) -> bool:
        """Write all of `data`; False when closed, or the reader stalled or went away."""
        view = memoryview(data)
        last_progress = time.monotonic()
        while view:
            with self._wake:
                if self._lingered():
                    return False
                closing = self._linger_until - time.monotonic() if self._closed else WRITE_POLL
            left = last_progress + STALLED_READER - time.monotonic()
            if left <= 0:
                log.warning("%s: the client took no byte for %g s: closing the connection",
                            self.name, STALLED_READER)  # fmt: skip
                self.stalled = True
                self._fail()
                return False
            try:
                if not self._writable.select(min(WRITE_POLL, left, closing)):
                    continue
                sent = self.sock.send(view, _DONTWAIT)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                log.info("%s: write failed: %s", self.name, exc)
                self._fail()
                return False
            if sent:
                view = view[sent:]
                last_progress = time.monotonic()
        return True

    def _fail(self) -> None:
        """Nothing more can go out: drop the queue and end the connection, whose reader
        (the RTSP thread) then sees the end and frees the session."""
        with self._wake:
            self._failed = True
            self._queue.clear()
            self._frames = self._frame_bytes = self._reply_bytes = 0
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
