"""A clip's sound as the server sends it: the companion WAV (`rtsplab.media.sound`) read 20
ms at a time as L16 payloads (RFC 3551 §4.5.11), at any packet index — PLAY's Range moves the
sound with the picture.

The file is opened once and read where asked, so memory stays one packet whatever its
length; a file that shrinks or breaks while it plays ends the sound (AudioError), not the
server.
"""

from __future__ import annotations

import os
import wave

from rtsplab.errors import LabError
from rtsplab.media import MakeVideoError
from rtsplab.media.sound import read_sound
from rtsplab.payload.l16 import frame_bytes, samples_per_packet, swapped


class AudioError(LabError):
    """The sound file cannot be read (any more)."""


class AudioSource:
    """The packets of one companion WAV, by index."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            sound = read_sound(path)
        except MakeVideoError as exc:
            raise AudioError(str(exc)) from None
        self.path = sound.path
        self.rate, self.channels = sound.rate, sound.channels
        self.step = samples_per_packet(self.rate)  # the RTP timestamp's step
        self.packet_count = -(-sound.frames // self.step)
        self.frames = sound.frames  # sampling instants
        self._wav = wave.open(os.fspath(path), "rb")

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    def index_at(self, npt: float) -> int:
        """The packet that holds the sound at `npt` seconds (the last one past the end)."""
        return min(max(0, int(npt * self.rate) // self.step), max(0, self.packet_count - 1))

    def payload(self, index: int) -> bytes:
        """Packet `index`'s L16 payload (network byte order); AudioError past the end or
        when the file no longer holds what it said."""
        if not 0 <= index < self.packet_count:
            raise AudioError(f"{self.path.name}: no packet {index} of {self.packet_count}")
        return self.payload_from(index * self.step)

    def payload_from(self, sample: int) -> bytes:
        """The packet of sound that starts at sampling instant `sample` (a PLAY's start
        falls anywhere, not only on the 20 ms grid): `step` instants, or what is left."""
        if not 0 <= sample < self.frames:
            raise AudioError(f"{self.path.name}: no sound at instant {sample} of {self.frames}")
        want = min(self.step, self.frames - sample)
        try:
            self._wav.setpos(sample)
            data = self._wav.readframes(want)
        except (wave.Error, OSError, EOFError) as exc:
            raise AudioError(f"{self.path.name}: cannot read at {sample}: {exc}") from None
        if len(data) != want * frame_bytes(self.channels):
            raise AudioError(f"{self.path.name}: the file changed while it played")
        return swapped(data)

    def close(self) -> None:
        self._wav.close()

    def __enter__(self) -> AudioSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
