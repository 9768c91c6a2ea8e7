"""The client's sound cache and the audio clock: L16 packets in by RTP timestamp, PCM out in
whatever blocks the sound device asks for.

Sound is the clock a player keeps the picture to (RFC 3550 §6.4.1's reason for SRs): the
device plays samples at its own steady rate, and `position` — the RTP timestamp of the next
sample it will take — says where in the stream the listener is. The picture is scheduled
against it (`rtsplab.player.av_clock`).

Packets may be of any length (a server may cut 20 ms, another what fits its MTU): the cache
walks sample positions, not packet numbers. Playback starts once `prefill` seconds are held.
Sound missing when its turn comes is concealed (`rtsplab.payload.l16.conceal`: the packet
before it, faded out) for the length of a packet, or up to the next packet held, never
skipped, so the clock keeps its place; a packet that comes after its turn is dropped as late.
Before the start, while paused and after the end, the device gets silence and the clock
stands still. Pure, with a lock: the device's thread pulls while the network's pushes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from RtpPacket import TIMESTAMP_MOD
from rtsplab.payload.l16 import PTIME_MS, conceal, frame_bytes, swapped

HALF = TIMESTAMP_MOD // 2
MAX_SECONDS = 10.0  # held at most: a hostile server cannot fill the client's memory

Mark = tuple[int, int]  # (RTP timestamp of a packet begun, its first sample's place in the block)


@dataclass
class AudioStats:
    packets: int = 0  # put in the cache
    played: int = 0  # packets played whole
    concealed: int = 0  # stretches of missing sound filled in when their turn came
    late: int = 0  # came after their turn
    dropped: int = 0  # over the bound, or duplicates


class AudioPlayout:
    def __init__(
        self, rate: int, channels: int, prefill: float = 0.2, ptime_ms: float = PTIME_MS
    ) -> None:
        self.rate, self.channels = rate, channels
        self._frame = frame_bytes(channels)
        # The length of concealment when nothing later is held: a packet's, learned from
        # the packets played (the SDP's ptime until then).
        self.step = max(1, round(rate * ptime_ms / 1000))
        self._prefill = max(1, round(prefill * rate))
        self._max = max(self._prefill, round(MAX_SECONDS * rate))
        self.stats = AudioStats()
        self._lock = threading.Lock()
        self.restart()

    def restart(self) -> None:
        """Forget what is held and where the clock is: a seek, a new session."""
        with self._lock:
            self._packets: dict[int, bytes] = {}  # timestamp -> little-endian PCM
            self._held = 0  # sampling instants held
            self._cursor: int | None = None  # the timestamp of the next sample to play
            self._current = b""  # what is left of the packet being played
            self._last = b""  # the sound played last, for concealment
            self._tail = False  # what is being played is the silence after the end
            self.playing = False
            self.paused = False
            self.ended = False  # the stream ended: what is missing now is silence, not loss

    def put(self, timestamp: int, payload: bytes) -> None:
        """An L16 packet (network byte order) with its RTP timestamp."""
        whole = len(payload) - len(payload) % self._frame
        with self._lock:
            cursor = self._cursor
            if self.playing and cursor is not None and self._before(timestamp, cursor):
                self.stats.late += 1
                return
            if not whole or self._held + whole // self._frame > self._max:
                self.stats.dropped += 1
                return
            if timestamp in self._packets:
                self.stats.dropped += 1
                return
            self._packets[timestamp] = swapped(payload[:whole])
            self._held += whole // self._frame
            self.stats.packets += 1
            if cursor is None or (not self.playing and self._before(timestamp, cursor)):
                self._cursor = timestamp
            if not self.playing and self._held >= self._prefill:
                self.playing = True

    def end(self) -> None:
        """The stream ended (BYE): play what is held, then silence; start if not started."""
        with self._lock:
            self.ended = True
            self.playing = self._cursor is not None

    def pause(self) -> None:
        with self._lock:
            self.paused = True

    def resume(self) -> None:
        with self._lock:
            self.paused = False
            self.ended = False

    @staticmethod
    def _before(a: int, b: int) -> bool:
        return 0 < (b - a) % TIMESTAMP_MOD < HALF

    @property
    def position(self) -> int | None:
        """The RTP timestamp of the next sample the device will take (None before the
        start): the audio clock."""
        with self._lock:
            return self._cursor if self.playing else None

    @property
    def running(self) -> bool:
        """Whether the clock moves: started, and not paused."""
        with self._lock:
            return self.playing and not self.paused

    @property
    def drained(self) -> bool:
        """The stream ended and everything held has been played."""
        with self._lock:
            return self.ended and not self._packets and (self._tail or not self._current)

    def pull(self, frames: int) -> bytes:
        """The next `frames` sampling instants of little-endian PCM for the device."""
        return self.pull_marked(frames)[0]

    def pull_marked(self, frames: int) -> tuple[bytes, list[Mark]]:
        """`pull`, with each packet that began in the block: its timestamp, and the sample of
        the block where it began (the playout log's rows)."""
        want = frames * self._frame
        with self._lock:
            if not self.playing or self.paused or self._cursor is None:
                return bytes(want), []
            out = bytearray()
            marks: list[Mark] = []
            while len(out) < want:
                if not self._current:
                    self._current, whole = self._take(self._cursor)
                    if whole:
                        marks.append((self._cursor, len(out) // self._frame))
                piece = self._current[: want - len(out)]
                self._current = self._current[len(piece) :]
                out += piece
                self._cursor = (self._cursor + len(piece) // self._frame) % TIMESTAMP_MOD
            return bytes(out), marks

    def _take(self, timestamp: int) -> tuple[bytes, bool]:
        """The sound from `timestamp` on: its packet (True), or a stand-in for what is
        missing up to the next packet held (False). Lock held."""
        packet = self._packets.pop(timestamp, None)
        self._tail = False
        if packet is not None:
            instants = len(packet) // self._frame
            self._held -= instants
            self.step = instants
            self.stats.played += 1
            self._last = packet
            return packet, True
        gap = self._gap(timestamp)
        length = self.step if gap is None else min(gap, self.step)
        if self.ended and gap is None:
            self._tail = True
            return bytes(length * self._frame), False
        self.stats.concealed += 1
        faded = conceal(self._last[: length * self._frame], self.channels)
        self._last = faded
        return faded.ljust(length * self._frame, b"\0"), False

    def _gap(self, timestamp: int) -> int | None:
        """Sampling instants from `timestamp` to the first packet held after it; None when
        none is held."""
        ahead = [(ts - timestamp) % TIMESTAMP_MOD for ts in self._packets]
        ahead = [distance for distance in ahead if 0 < distance < HALF]
        return min(ahead) if ahead else None
