"""The client's RTP half without the socket: datagrams in, complete JPEG frames out.

`RtpReceiver.receive(datagram, source_ip, now)` is everything the client does with one UDP
datagram: accept it only from the RTSP server's address and from one SSRC, parse it
(`RtpPacket.decode`), count it (`rtsplab.rtp.reception.ReceiverStats`: loss and jitter, RFC 3550
A.1-A.8), and hand its payload to the frame assembler (`rtsplab.payload`). Nothing here raises
on bad input: a datagram that is not RTP, or comes from elsewhere, is counted and skipped. The
socket and the thread that feed it live in `rtsplab.rtsp.client.RtspClient`.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from RtpPacket import PT_JPEG, SEQ_MOD, RtpError, RtpPacket
from rtsplab.payload.assembler import FrameAssembler
from rtsplab.payload.lab import LabAssembler
from rtsplab.rtp.reception import ReceiverStats

log = logging.getLogger(__name__)

# Sequence numbers remembered to tell a duplicate from a new packet: a few 4K frames' worth.
DUPLICATE_WINDOW = 4096


class SeqUnwrapper:
    """Extends 16-bit RTP sequence numbers to a count that does not wrap (RFC 3550 A.1).

    Each number is placed nearest the highest one seen so far, so 65535 followed by 0 is
    65535 then 65536, and a packet a little late across the wrap lands just below it.
    """

    def __init__(self) -> None:
        self.highest: int | None = None

    def extend(self, seq: int) -> int:
        if self.highest is None:
            self.highest = seq
            return seq
        delta = (seq - self.highest) % SEQ_MOD
        if delta >= SEQ_MOD // 2:
            delta -= SEQ_MOD  # behind the highest: reordered or duplicate
        ext = self.highest + delta
        self.highest = max(self.highest, ext)
        return ext


@dataclass
class ReceptionStats:
    packets: int = 0  # RTP packets accepted (duplicates included)
    bytes: int = 0  # their size on the wire, RTP header included
    duplicates: int = 0
    malformed: int = 0  # datagrams that are not valid RTP
    foreign: int = 0  # valid RTP from another address, SSRC or payload type


class RtpReceiver:
    """Accepts RTP datagrams from one source and reassembles its frames."""

    def __init__(self, server_ip: str | None, assembler: FrameAssembler | None = None) -> None:
        self.server_ip = server_ip  # None accepts any address (tests only)
        self.ssrc: int | None = None  # locked to the first valid packet's SSRC
        self.assembler = assembler if assembler is not None else LabAssembler()
        self.stats = ReceptionStats()
        self.reception = ReceiverStats()  # sequence, loss and jitter, as RTCP reports them
        self.last_timestamp: int | None = None  # RTP timestamp of the last frame delivered
        self._unwrapper = SeqUnwrapper()
        self._recent: set[int] = set()
        self._recent_order: deque[int] = deque()

    def receive(self, datagram: bytes, source_ip: str, now: float) -> bytes | None:
        """Take one datagram arriving at `now` (monotonic s); return the frame it completes."""
        if self.server_ip is not None and source_ip != self.server_ip:
            self._foreign("address %s", source_ip)
            return None
        packet = RtpPacket()
        try:
            packet.decode(datagram)
        except RtpError as exc:
            self.stats.malformed += 1
            if self.stats.malformed == 1:
                log.warning("skipping a malformed RTP datagram from %s: %s", source_ip, exc)
            return None
        if packet.payloadType() != PT_JPEG:
            self._foreign("payload type %d", packet.payloadType())
            return None
        if self.ssrc is None:
            self.ssrc = packet.ssrc()
        elif packet.ssrc() != self.ssrc:
            self._foreign("SSRC %08X", packet.ssrc())
            return None

        stats = self.stats
        stats.packets += 1
        stats.bytes += len(datagram)
        ext = self._unwrapper.extend(packet.seqNum())
        if self._seen(ext):
            stats.duplicates += 1
            return None
        self.reception.update(packet.seqNum(), packet.timestamp(), now)
        frame = self.assembler.push(
            ext, packet.timestamp(), bool(packet.marker()), packet.getPayload()
        )
        if frame is not None:
            self.last_timestamp = packet.timestamp()
        return frame

    def flush(self) -> None:
        self.assembler.flush()

    def summary(self) -> dict[str, int]:
        asm = self.assembler.stats
        return {
            "frames": asm.frames,
            "dropped_frames": asm.dropped_frames,
            "packets": self.stats.packets,
            "lost_packets": max(0, self.reception.cumulative_lost),
            "bytes": self.stats.bytes,
            "duplicates": self.stats.duplicates,
            "late_packets": asm.late_packets,
            "malformed": self.stats.malformed,
            "foreign": self.stats.foreign,
        }

    def _seen(self, ext: int) -> bool:
        if ext in self._recent:
            return True
        self._recent.add(ext)
        self._recent_order.append(ext)
        if len(self._recent_order) > DUPLICATE_WINDOW:
            self._recent.discard(self._recent_order.popleft())
        return False

    def _foreign(self, what: str, value: object) -> None:
        self.stats.foreign += 1
        if self.stats.foreign == 1:
            log.warning("ignoring RTP from " + what + " (not this session's)", value)
