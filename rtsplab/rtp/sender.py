"""The server's RTP source for one session: SSRC, sequence numbers and timestamps (RFC 3550).

Pure: it cuts a frame into payloads (`cut`, a `CutFrame` that every session sending the same
file can share: only the 12-byte RTP headers differ), numbers them (`packets`) and keeps the
count; the socket, the clock and the thread are the driver's.

Three threads meet here: the pacing loop numbers frames (`packets`, `skip_frame`), the RTCP
thread changes the SSRC after a collision (`change_ssrc`, RFC 3550 §8.2), and the RTSP thread
reads where the stream is for PLAY's RTP-Info (`play_position`). A small lock keeps the
SSRC, the next sequence number and the frame count of one frame together: taken once per
frame on the pacing side, and only the pacing loop writes the numbers. SSRC, first sequence number
and timestamp origin are random per session, as RFC 3550 §5.1 asks (so that a
known-plaintext start helps no one and sessions do not collide), and injectable so tests
are exact.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from operator import add, itemgetter

from RtpPacket import (
    JPEG_CLOCK_RATE,
    MAX_SSRC,
    PT_JPEG,
    RTP_HEADER_SIZE,
    SEQ_MOD,
    TIMESTAMP_MOD,
    fixed_headers,
)
from rtsplab.payload import Payload
from rtsplab.payload.jpeg import Buffer
from rtsplab.payload.lab import fragment_parts

# 1500 Ethernet MTU - 20 IPv4 - 8 UDP = 1472; 1400 leaves room for tunnels and IP options.
DEFAULT_MAX_PACKET = 1400
MIN_MAX_PACKET = 256  # a header and a useful slice of JPEG
MAX_MAX_PACKET = 65_507  # 65535 - 20 IPv4 - 8 UDP: the largest UDP payload


# A payload's headers and its slice of the frame, taken out of the payloader's pairs at C speed.
_HEAD, _BODY = itemgetter(0), itemgetter(1)

# One packet as it leaves: RTP header, payload headers, the payload's slice of the frame.
Packet = tuple[Buffer, bytes, Buffer]


@dataclass(frozen=True, slots=True)
class CutFrame:
    """A frame cut into payloads: the same for every session that sends it."""

    heads: list[bytes]  # each payload's headers (b"" in the lab's format)
    bodies: list[Buffer]  # each payload's slice of the frame
    octets: int  # payload octets in all, as SR counts them; about the frame's size
    # Every packet is `segment` bytes but the last, which is no longer: one UDP GSO call can
    # carry them (`rtsplab.server.udp_out`). None when the payloads are not so cut.
    segment: int | None


def joined(packet: Packet) -> bytes:
    """One packet as one bytes object (for a way out that takes a datagram whole)."""
    header, head, body = packet
    return b"".join((header, head, body))


class RtpSender:
    """Numbers and packetizes the frames of one RTP stream."""

    def __init__(
        self,
        fps: float,
        max_packet: int = DEFAULT_MAX_PACKET,
        *,
        ssrc: int | None = None,
        first_seq: int | None = None,
        timestamp_origin: int | None = None,
        payloader: Callable[[bytes, int], list[Payload]] = fragment_parts,
        payload_type: int = PT_JPEG,
        clock_rate: int = JPEG_CLOCK_RATE,
        marker: bool = True,
    ) -> None:
        """`payloader(frame, max_payload)` cuts a frame into payloads: the lab's
        `rtsplab.payload.lab.fragment_parts` (the default), or RFC 2435's
        `jpeg_payload_parts`. A "frame" is one unit of media at `fps` a second on a
        `clock_rate` RTP clock: a picture at 90 kHz, or one audio packet (`fps` 50, 20 ms)
        at the sampling rate. `marker`: M on each frame's last packet (video's end of
        frame); audio sends none."""
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if not MIN_MAX_PACKET <= max_packet <= MAX_MAX_PACKET:
            raise ValueError(
                f"max packet size must be {MIN_MAX_PACKET}..{MAX_MAX_PACKET}, got {max_packet}"
            )
        self.fps = fps
        self.max_payload = max_packet - RTP_HEADER_SIZE
        self.payloader = payloader
        self.payload_type, self.clock_rate, self.marker = payload_type, clock_rate, marker
        self.ssrc = secrets.randbits(32) if ssrc is None else ssrc
        self.next_seq = secrets.randbits(16) if first_seq is None else first_seq
        self.timestamp_origin = (
            secrets.randbits(32) if timestamp_origin is None else timestamp_origin
        )
        self.frames_sent = 0  # the media clock: frame k has timestamp origin + k/fps
        self.packets_sent = 0
        self.octets_sent = 0  # payload octets (headers not counted), as SR reports them
        self._clock: tuple[float, int] | None = None  # (when, index) of the last frame
        # ssrc, next_seq and frames_sent change together under it (see the module's doc).
        self._lock = threading.Lock()

    def timestamp(self, frame_index: int) -> int:
        """RTP timestamp of the frame_index-th frame sent: origin + index * clock / fps."""
        return (self.timestamp_origin + round(frame_index * self.clock_rate / self.fps)) % (
            TIMESTAMP_MOD
        )

    def timestamp_at(self, now: float) -> int:
        """The RTP clock's reading at `now` (monotonic s), for SR (RFC 3550 §6.4.1): the last
        frame's timestamp plus the time since it was due."""
        clock = self._clock  # once: the streamer's pause() may clear it meanwhile
        if clock is None:
            return self.timestamp(self.frames_sent)
        due, frame = clock
        return (self.timestamp(frame) + round((now - due) * self.clock_rate)) % TIMESTAMP_MOD

    def play_position(self) -> tuple[int, int]:
        """(sequence number, RTP timestamp) of the next frame to be sent, of one frame even
        while another thread numbers frames: PLAY's RTP-Info (RFC 2326 §12.33)."""
        with self._lock:
            return self.next_seq, self.timestamp(self.frames_sent)

    def change_ssrc(self, ssrc: int) -> None:
        """Our SSRC changes (a collision, RFC 3550 §8.2): the next frame carries the new
        one, and no frame carries both."""
        if not 0 <= ssrc <= MAX_SSRC:
            raise ValueError(f"SSRC must be 32 bits, got {ssrc}")
        with self._lock:
            self.ssrc = ssrc

    def skip_frame(self) -> None:
        """A frame not sent (one RFC 2435 cannot carry): its time passes all the same."""
        with self._lock:
            self.frames_sent += 1

    def pause(self) -> None:
        """The stream stopped: the RTP clock stops with it, and SR reports that."""
        self._clock = None

    def mark_due(self, due: float) -> None:
        """The last frame packetized goes out at `due` (monotonic s): the RTP clock's anchor."""
        self._clock = (due, self.frames_sent - 1)  # its timestamp made when an SR asks

    def cut(self, frame: bytes) -> CutFrame:
        """`frame` cut into this sender's payloads; raises what the payloader raises."""
        payloads = self.payloader(frame, self.max_payload)
        heads, bodies = [*map(_HEAD, payloads)], [*map(_BODY, payloads)]
        sizes = [*map(add, map(len, heads), map(len, bodies))]
        first = sizes[0]
        even = sizes[:-1].count(first) == len(sizes) - 1 and sizes[-1] <= first
        return CutFrame(heads, bodies, sum(sizes), RTP_HEADER_SIZE + first if even else None)

    def packets(self, frame: CutFrame) -> list[Packet]:
        """The next frame's packets: one timestamp, consecutive numbers, M on the last."""
        count = len(frame.bodies)
        with self._lock:
            seq, ssrc, timestamp = self.next_seq, self.ssrc, self.timestamp(self.frames_sent)
            self.next_seq = (seq + count) % SEQ_MOD
            self.frames_sent += 1
            self.packets_sent += count
            self.octets_sent += frame.octets
        headers = fixed_headers(seq, count, self.payload_type, ssrc, timestamp, self.marker)
        return list(zip(headers, frame.heads, frame.bodies, strict=True))

    def packetize(self, frame: bytes) -> list[bytes]:
        """`packets(cut(frame))`, each packet joined as bytes."""
        return [joined(packet) for packet in self.packets(self.cut(frame))]
