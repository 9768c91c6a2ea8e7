"""The client's sound cache and the audio clock: L16 packets in by RTP timestamp, PCM out in
whatever blocks the sound device asks for.

Sound is the clock a player keeps the picture to (RFC 3550 §6.4.1's reason for SRs): the
device plays samples at its own steady rate, and `position` — the RTP timestamp of the next
sample it will take — says where in the stream the listener is. The picture is scheduled
against it (`rtsplab.rtp.sync`).

Playback starts once `prefill` seconds are held. A packet missing when its turn comes is
concealed (`rtsplab.payload.l16.conceal`: the sound before it, faded out), never skipped, so
the clock keeps its place; it is dropped as late if it comes after. Before the start, and
after the end, the device gets silence. Pure, with a lock: the device's thread pulls while
the network's pushes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from RtpPacket import TIMESTAMP_MOD
from rtsplab.payload.l16 import conceal, frame_bytes, samples_per_packet, swapped

HALF = TIMESTAMP_MOD // 2
MAX_SECONDS = 10.0  # held at most: a hostile server cannot fill the client's memory


@dataclass
class AudioStats:
    packets: int = 0  # put in the cache
    played: int = 0  # packets played whole
    concealed: int = 0  # missing when their turn came
    late: int = 0  # came after their turn
    dropped: int = 0  # over the bound, or duplicates


class AudioPlayout:
    def __init__(self, rate: int, channels: int, prefill: float = 0.2) -> None:
        self.rate, self.channels = rate, channels
        self.step = samples_per_packet(rate)
        self._frame = frame_bytes(channels)
        self._prefill = max(1, round(prefill * rate / self.step))
        self._max = max(self._prefill, round(MAX_SECONDS * rate / self.step))
        self.stats = AudioStats()
        self._packets: dict[int, bytes] = {}  # timestamp -> little-endian PCM
        self._next: int | None = None  # timestamp of the next packet to play
        self._current = b""  # what is left of the packet being played
        self._last = b""  # the packet played last, for concealment
        self.playing = False
        self.ended = False  # the stream ended: what is missing now is silence, not loss
        self._lock = threading.Lock()

    def put(self, timestamp: int, payload: bytes) -> None:
        """An L16 packet (network byte order) with its RTP timestamp."""
        with self._lock:
            if self.playing and self._next is not None and self._before(timestamp, self._next):
                self.stats.late += 1
                return
            if len(self._packets) >= self._max or timestamp in self._packets:
                self.stats.dropped += 1
                return
            self._packets[timestamp] = swapped(payload[: len(payload) - len(payload) % 2])
            self.stats.packets += 1
            if self._next is None or (not self.playing and self._before(timestamp, self._next)):
                self._next = timestamp
            if not self.playing and len(self._packets) >= self._prefill:
                self.playing = True

    def end(self) -> None:
        """The stream ended (BYE): play what is held, then silence; start if not started."""
        with self._lock:
            self.ended = True
            self.playing = self._next is not None

    @staticmethod
    def _before(a: int, b: int) -> bool:
        return 0 < (b - a) % TIMESTAMP_MOD < HALF

    @property
    def position(self) -> int | None:
        """The RTP timestamp of the next sample the device will take (None before the
        start): the audio clock."""
        with self._lock:
            if self._next is None or not self.playing:
                return None
            done = (len(self._last) - len(self._current)) // self._frame if self._current else 0
            start = (self._next - self.step) if self._current else self._next
            return (start + done) % TIMESTAMP_MOD

    def pull(self, frames: int) -> bytes:
        """The next `frames` sampling instants of little-endian PCM for the device."""
        want = frames * self._frame
        with self._lock:
            if not self.playing:
                return bytes(want)
            out = bytearray()
            while len(out) < want:
                if not self._current:
                    self._current = self._take_next()
                    self._last = self._current
                piece = self._current[: want - len(out)]
                self._current = self._current[len(piece) :]
                out += piece
            return bytes(out)

    def _take_next(self) -> bytes:
        assert self._next is not None
        timestamp = self._next
        self._next = (timestamp + self.step) % TIMESTAMP_MOD
        packet = self._packets.pop(timestamp, None)
        if packet is not None:
            self.stats.played += 1
            return packet.ljust(self.step * self._frame, b"\0")
        if self.ended and not self._packets:
            return bytes(self.step * self._frame)
        self.stats.concealed += 1
        faded = conceal(self._last, self.channels) if self._last else b""
        return faded.ljust(self.step * self._frame, b"\0")
