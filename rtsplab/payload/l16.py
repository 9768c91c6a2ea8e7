"""L16 audio (RFC 3551 §4.5.11): uncompressed 16-bit signed samples in network byte order,
channels interleaved, the RTP clock running at the sampling rate.

A WAV file holds the same samples little-endian, so they are swapped on the way in and out.
Packets carry PTIME_MS of sound (RFC 3551 §4.2's default packetization interval for audio:
20 ms), the last one of a file whatever is left. A lost packet is concealed rather than
skipped (`conceal`): the packet before it again, faded out to silence, so that the sound
neither jumps (a click) nor loses its place in time.
"""

from __future__ import annotations

import sys
from array import array

from rtsplab.payload.assembler import AssemblyStats

SAMPLE_BYTES = 2
PTIME_MS = 20
MAX_CHANNELS = 8


def frame_bytes(channels: int) -> int:
    """Bytes of one sampling instant: one sample for each channel."""
    if not 1 <= channels <= MAX_CHANNELS:
        raise ValueError(f"channels must be 1..{MAX_CHANNELS}, got {channels}")
    return SAMPLE_BYTES * channels


def samples_per_packet(rate: int, ptime_ms: int = PTIME_MS) -> int:
    """Sampling instants in one packet: the RTP timestamp's step from packet to packet."""
    if rate <= 0 or ptime_ms <= 0 or rate * ptime_ms % 1000:
        raise ValueError(f"{ptime_ms} ms at {rate} Hz is not a whole number of samples")
    return rate * ptime_ms // 1000


def swapped(data: bytes | memoryview) -> bytes:
    """16-bit samples with their two bytes exchanged: little-endian (WAV) to network order
    and back. A trailing odd byte is not a sample: ValueError."""
    if len(data) % SAMPLE_BYTES:
        raise ValueError(f"{len(data)} bytes are not whole 16-bit samples")
    samples = array("h", bytes(data))
    samples.byteswap()
    return samples.tobytes()


def packets(pcm_le: bytes, rate: int, channels: int) -> list[bytes]:
    """Little-endian PCM cut into L16 payloads of PTIME_MS each, in network byte order."""
    step = samples_per_packet(rate) * frame_bytes(channels)
    whole = len(pcm_le) - len(pcm_le) % frame_bytes(channels)
    return [swapped(pcm_le[i : min(i + step, whole)]) for i in range(0, whole, step)]


def conceal(previous_le: bytes, channels: int) -> bytes:
    """Stand-in for a lost packet: `previous_le` (little-endian PCM) faded linearly from
    full to silence over its length."""
    samples = array("h", previous_le[: len(previous_le) - len(previous_le) % SAMPLE_BYTES])
    if sys.byteorder == "big":
        samples.byteswap()
    instants = max(1, len(samples) // channels)
    for index in range(len(samples)):
        samples[index] = int(samples[index] * (1 - (index // channels + 1) / instants))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


class L16Depacketizer:
    """The receiver's assembler (`rtsplab.payload.assembler.FrameAssembler`) for L16: every
    packet is whole on its own (RFC 3551 §4.5.11 has no payload header and no fragments), so
    each is handed on as it comes, in network byte order, with its timestamp. Order, loss and
    lateness are the sound cache's to deal with (`rtsplab.player.audio_playout`)."""

    def __init__(self) -> None:
        self.stats = AssemblyStats()
        self.buffered_bytes = 0  # nothing is held here
        self.repair_window = 0

    def push(self, ext_seq: int, timestamp: int, marker: bool, payload: bytes) -> bytes | None:
        if not payload:
            return None  # an empty packet carries no sound (a keep-alive)
        self.stats.frames += 1
        return payload

    def flush(self) -> None:
        """Nothing is ever incomplete."""
