"""The client's RTP half without the socket: datagrams in, complete JPEG frames out.

`RtpReceiver.receive(datagram, source_ip, now, source_port)` is everything the client does with
one UDP datagram: parse it (`RtpPacket.decode`), take it only from the session's source, count
it (`rtsplab.rtp.reception.ReceptionStatistics`: loss and jitter, RFC 3550 A.1-A.8), and hand its
payload to the frame assembler (`rtsplab.payload`). Nothing here raises on bad input: a datagram
that is not RTP is counted in `stats.malformed`, valid RTP from anyone else in `stats.foreign`,
and either is skipped. The socket and the thread that feed it live in `rtsplab.client.media`.

Which packets are the session's source:

* Only from `server_ip`. The port the SETUP reply named (`server_port=`) is where RTP should
  come from, but a server behind NAT, or a relay, sends from another: from another port of
  the server's address a source is taken by its SSRC when the reply named one (`ssrc=`), or
  else by the probation below, the port then logged once. With `strict_ports` only the
  named port counts (`stats.wrong_port` counts, within `foreign`, what came from the
  server's address but not that port). A caller that cannot tell the source port passes
  None: the address alone counts.
* Only with `payload_type` (26, or the dynamic type the SDP maps to JPEG/90000) and, when the
  SETUP reply named it (`ssrc=`), only that SSRC.
* Of what passes those filters, a source, an (SSRC, source port) pair, is locked once it has
  sent MIN_SEQUENTIAL packets in sequence: A.1's probation, applied to choosing the source.
  Until then every candidate competes and none reaches the assembler: a forger on the server's
  address that sends first does not capture the session unless it sends a valid run before
  the server's first two packets arrive (a known `ssrc` shuts out anyone who did not see the
  SETUP reply, and with `strict_ports` a known `server_port` other ports). A candidate's
  packets are held (at most MAX_HELD) and, when it wins, replayed into the statistics and
  the assembler with their arrival times, so the stream's first frame is not lost to
  probation; the losers' packets count as foreign. That replay can complete two frames at
  once (one packet per frame): `receive_frames` returns them all, `receive` only the newest.
* Once locked, another source is foreign unless the locked one has left, by RTCP BYE
  (`source_left`, §6.3.4) or by SOURCE_TIMEOUT seconds of silence (§6.3.5); then
  candidates compete again. The locked source sending again after a silence simply goes on,
  so a PAUSE longer than the timeout costs nothing unless someone else sends meanwhile.

* A source that changes its SSRC and says so in RTCP (a BYE for the old one beside the new
  one's SDES with the same CNAME, §6.5.1, §8.2: the client's RTCP side tells it, `follow`)
  goes on under the new SSRC as the same stream: no restart, no gap. Its packets under the new
  SSRC that arrive before the RTCP that announces it are held (a frame's worth: at most
  MAX_SUCCESSOR_PACKETS and MAX_SUCCESSOR_BYTES, counted in `foreign` until then) and replayed
  when it is followed; its packets under the old SSRC read after that RTCP (sent before it,
  read after it) are still the stream's.

A different source taking over is a new stream (§8: a new SSRC): its statistics start afresh
(the same `ReceptionStatistics` object, which the RTCP side holds, restarted), and its extended
sequence numbers are placed above the old source's, so the assembler sees one rising sequence.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from RtpPacket import MAX_PT, MAX_SEQ, MAX_SSRC, PT_JPEG, SEQ_MOD, RtpError, RtpPacket
from rtsplab.payload.assembler import FrameAssembler
from rtsplab.payload.lab import LabAssembler
from rtsplab.rtp.reception import MIN_SEQUENTIAL, ReceptionStatistics
from rtsplab.rtp.rtx import unwrap

log = logging.getLogger(__name__)

# Sequence numbers remembered to tell a duplicate from a new packet: a few 4K frames' worth.
DUPLICATE_WINDOW = 4096
# RTP silence after which the locked source counts as gone, and another may take its place.
# RFC 3550 §6.3.5 times a member out after five RTCP intervals of silence, and stops counting it
# as a sender after two; RTCP's intervals are 5 s and more, far too long to wait before taking
# a restarted server's new stream. RTP's interval is a frame: the lab's streams run at 20-30
# fps, 1 fps at the slowest, so 3 s is several missed frames even then (60-90 at the usual
# rates): a source that has stopped, not a Wi-Fi stall of a second.
SOURCE_TIMEOUT = 3.0
# Candidate sources tracked at once while none is locked, and packets held per candidate: a
# forger cannot make the receiver hold more than 8 x 8 datagrams (4 MiB at the 64 KiB UDP
# maximum). A real stream's probation takes MIN_SEQUENTIAL packets, a few more if reordered.
MAX_CANDIDATES = 8
MAX_HELD = 8
# Packets of the locked source's port under another SSRC, held until RTCP says whether it is
# the source's new one (§8.2): a whole frame in flight at the change, 4K's ~540 packets
# included, and no more than a few MB whoever sends them.
MAX_SUCCESSOR_PACKETS = 1024
MAX_SUCCESSOR_BYTES = 2 * 1024 * 1024
MIN_PORT, MAX_PORT = 1, 0xFFFF  # UDP ports; 0 is no port (RFC 768)
REPAIRED_FRAMES = 64  # frames remembered as holding a repaired packet, to count the rescued


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
class ReceiverCounts:
    packets: int = 0  # RTP packets accepted (duplicates included)
    bytes: int = 0  # their size on the wire, RTP header included
    duplicates: int = 0
    malformed: int = 0  # datagrams that are not valid RTP (from anyone)
    foreign: int = 0  # valid RTP not from this session's source: address, port, SSRC, PT
    wrong_port: int = 0  # of `foreign`: from the server's address, not its RTP port
    source_changes: int = 0  # another source locked after the first one (BYE, timeout)
    retransmissions: int = 0  # RFC 4588 packets whose original was taken
    rescued: int = 0  # frames completed with a packet that was asked for again (a NACK)


class ReceivedFrame(NamedTuple):
    data: bytes  # the whole JPEG
    timestamp: int  # its RTP timestamp


Source = tuple[int, int | None]  # (SSRC, source port or None when the caller cannot tell)


@dataclass
class _Held:
    packet: RtpPacket
    size: int  # the datagram's size
    arrival: float


@dataclass
class _Candidate:
    """A source on probation: its run of sequential packets, and its packets so far."""

    held: deque[_Held] = field(default_factory=deque)
    last_seq: int | None = None
    run: int = 0  # packets in sequence, ending with the last one

    def add(self, held: _Held) -> int:
        """Hold one more packet; return how many the MAX_HELD bound pushed out (0 or 1)."""
        seq = held.packet.seqNum()
        sequential = self.last_seq is not None and seq == (self.last_seq + 1) % SEQ_MOD
        self.run = self.run + 1 if sequential else 1  # as A.1's probation, in 16 bits
        self.last_seq = seq
        self.held.append(held)
        if len(self.held) > MAX_HELD:
            self.held.popleft()
            return 1
        return 0


class RtpReceiver:
    """Accepts RTP datagrams from the session's one source and reassembles its frames."""

    def __init__(
        self,
        server_ip: str | None,
        assembler: FrameAssembler | None = None,
        *,
        server_port: int | None = None,
        ssrc: int | None = None,
        payload_type: int = PT_JPEG,
        strict_ports: bool = False,
    ) -> None:
        if server_port is not None and not MIN_PORT <= server_port <= MAX_PORT:
            raise ValueError(f"server_port must be {MIN_PORT}..{MAX_PORT}, got {server_port}")
        if ssrc is not None and not 0 <= ssrc <= MAX_SSRC:
            raise ValueError(f"ssrc must be 0..0x{MAX_SSRC:X}, got {ssrc}")
        if not 0 <= payload_type <= MAX_PT:
            raise ValueError(f"payload_type must be 0..{MAX_PT}, got {payload_type}")
        self.server_ip = server_ip  # None accepts any address (tests only)
        self.server_port = server_port  # the SETUP reply's server_port=, RTP half
        self.strict_ports = strict_ports  # only from server_port, when it is known
        self.expected_ssrc = ssrc  # the SETUP reply's ssrc=
        self.payload_type = payload_type
        self.assembler = assembler if assembler is not None else LabAssembler()
        self.counts = ReceiverCounts()
        self.reception = ReceptionStatistics()  # sequence, loss and jitter, as RTCP reports them
        self.last_timestamp: int | None = None  # RTP timestamp of the last frame delivered
        self.source: Source | None = None  # the locked source
        self._previous: Source | None = None  # the last source locked, gone or not
        self._last_heard = 0.0  # arrival of the locked source's latest packet
        self._candidates: dict[Source, _Candidate] = {}  # least recently heard first
        self._expected_first: int | None = None  # RTP-Info seq, until a source counts from it
        self._lost_before = 0  # packets lost from sources that were replaced
        self._ext_base = 0  # added to the unwrapped seq: each new source starts above the last
        self._unwrapper = SeqUnwrapper()
        self._recent: set[int] = set()
        self._recent_order: deque[int] = deque()
        self._successor: deque[_Held] = deque()  # the locked port's packets under another SSRC
        self._successor_bytes = 0
        self._predecessor: int | None = None  # the locked source's SSRC before it followed
        # Repairs (RFC 4585 NACKs, RFC 4588 retransmission): the payload type of the server's
        # retransmission packets, their SSRC once seen, and who is told of each new packet.
        self.rtx_payload_type: int | None = None
        self._rtx_ssrc: int | None = None
        self.on_seq: Callable[[int], bool] | None = None  # True: it was asked for again
        self._repaired: deque[int] = deque(maxlen=REPAIRED_FRAMES)  # their frames' timestamps

    @property
    def ssrc(self) -> int | None:
        """The session's media SSRC: the locked source's, else the SETUP reply's, else None."""
        return self.source[0] if self.source is not None else self.expected_ssrc

    def receive(
        self, datagram: bytes, source_ip: str, now: float, source_port: int | None = None
    ) -> bytes | None:
        """Take one datagram arriving at `now` (monotonic s); return the frame it completes.

        The datagram that locks a source replays that source's held packets, and so may
        complete more than one frame: this returns the newest; `receive_frames` gives all.
        """
        frames = self.receive_frames(datagram, source_ip, now, source_port)
        return frames[-1].data if frames else None

    def receive_frames(
        self, datagram: bytes, source_ip: str, now: float, source_port: int | None = None
    ) -> list[ReceivedFrame]:
        """Take one datagram arriving at `now`; return the frames it completes, oldest first."""
        packet = RtpPacket()
        try:
            packet.decode(datagram)
        except RtpError as exc:
            self.counts.malformed += 1
            if self.counts.malformed == 1:
                log.warning("skipping a malformed RTP datagram from %s: %s", source_ip, exc)
            return []
        if self.server_ip is not None and source_ip != self.server_ip:
            return self._foreign("address %s", source_ip)
        if (
            self.strict_ports
            and self.server_port is not None
            and source_port not in (None, self.server_port)
        ):
            self.counts.wrong_port += 1
            return self._foreign("port %s", source_port)
        if packet.payloadType() == self.rtx_payload_type:
            return self._from_rtx(packet, len(datagram), now)
        if packet.payloadType() != self.payload_type:
            return self._foreign("payload type %d", packet.payloadType())
        if self._from_predecessor(packet.ssrc(), source_port):
            self._last_heard = now
            frame = self._deliver(packet, len(datagram), now)
            return [] if frame is None else [frame]
        if self._from_locked_port(packet.ssrc(), source_port) and (
            now - self._last_heard < SOURCE_TIMEOUT
        ):
            self._hold_successor(_Held(packet, len(datagram), now))
            return self._foreign("SSRC %08X from the source's port", packet.ssrc())
        if self.expected_ssrc is not None and packet.ssrc() != self.expected_ssrc:
            return self._foreign("SSRC %08X", packet.ssrc())
        if self._from_locked(packet.ssrc(), source_port):
            self._last_heard = now
            frame = self._deliver(packet, len(datagram), now)
            return [] if frame is None else [frame]
        if self.source is not None:
            if now - self._last_heard < SOURCE_TIMEOUT:
                return self._foreign("SSRC %08X while another source is locked", packet.ssrc())
            log.info("source %s silent for %.1f s: another may take its place",
                     _name(self.source), now - self._last_heard)  # fmt: skip
            self.source = None
        return self._compete((packet.ssrc(), source_port), _Held(packet, len(datagram), now))

    def _from_rtx(self, packet: RtpPacket, size: int, now: float) -> list[ReceivedFrame]:
        """An RFC 4588 packet from the server: the original it carries (OSN, then the payload;
        the timestamp and marker its own, §4), delivered as the locked source's. Its SSRC is
        the first one such packets came under."""
        source, rtx_ssrc = self.source, packet.ssrc()
        if source is None or rtx_ssrc == source[0]:
            return self._foreign("retransmission SSRC %08X", rtx_ssrc)
        if self._rtx_ssrc is None:
            self._rtx_ssrc = rtx_ssrc
        elif rtx_ssrc != self._rtx_ssrc:
            return self._foreign("retransmission SSRC %08X", rtx_ssrc)
        try:
            osn, payload = unwrap(packet.getPayload())
            original = RtpPacket()
            original.encode(2, 0, 0, 0, osn, packet.marker(), self.payload_type, source[0],
                            payload, timestamp=packet.timestamp())  # fmt: skip
        except (RtpError, ValueError) as exc:
            self.counts.malformed += 1
            log.debug("skipping a retransmission packet: %s", exc)
            return []
        self.counts.retransmissions += 1
        frame = self._deliver(original, size, now, repaired=True)
        return [] if frame is None else [frame]

    def source_left(self, ssrc: int) -> bool:
        """RTCP BYE named `ssrc` (RFC 3550 §6.3.4): if it is the locked source, release it, so
        that the next source to pass probation is taken. Return whether it was released."""
        if self.source is None or self.source[0] != ssrc:
            return False
        log.info("source %s left (BYE)", _name(self.source))
        self.source = self._predecessor = None
        return True

    def follow(self, old: int, new: int) -> list[ReceivedFrame]:
        """The source changed its SSRC from `old` to `new` and said so in RTCP (§8.2, the
        same CNAME): the same stream goes on under `new`, and the packets it already sent
        under it are replayed. Returns the frames they complete."""
        if self.expected_ssrc == old:
            self.expected_ssrc = new
        held, self._successor, self._successor_bytes = self._successor, deque(), 0
        if self.source is None or self.source[0] != old:
            return []
        log.info("source %s goes on as SSRC %08X", _name(self.source), new)
        self.source = self._previous = (new, self.source[1])
        self._predecessor = old
        frames = []
        for h in held:
            if h.packet.ssrc() == new:
                self.counts.foreign -= 1  # counted while it was not known to be the source's
                self._last_heard = h.arrival
                frame = self._deliver(h.packet, h.size, h.arrival)
                if frame is not None:
                    frames.append(frame)
        return frames

    def expect_first_seq(self, seq: int) -> None:
        """The PLAY reply's RTP-Info seq=: count packets lost before the first one heard.

        Before the source is locked (the usual order) it is kept, and given to the statistics
        when a source is locked; after (RTP can beat the reply), given at once. Either way
        `ReceptionStatistics.expect_first` ignores a number that cannot be this stream's start.
        """
        if not 0 <= seq <= MAX_SEQ:
            raise ValueError(f"expected first sequence number must be 0..{MAX_SEQ}, got {seq}")
        self._expected_first = seq
        if self.source is not None:
            self.reception.expect_first(seq)
            self._forget_expected_first_if_used()

    def flush(self) -> None:
        self.assembler.flush()

    def summary(self) -> dict[str, int]:
        asm = self.assembler.stats
        return {
            "frames": asm.frames,
            "dropped_frames": asm.dropped_frames,
            "packets": self.counts.packets,
            "lost_packets": self._lost_before + max(0, self.reception.cumulative_lost),
            "bytes": self.counts.bytes,
            "duplicates": self.counts.duplicates,
            "late_packets": asm.late_packets,
            "malformed": self.counts.malformed,
            # The RFC 2435 depacketizer's payloads skipped; the lab's payload has no header.
            "malformed_payloads": getattr(asm, "malformed", 0),
            "foreign": self.counts.foreign,
            "wrong_port": self.counts.wrong_port,
            "retransmissions": self.counts.retransmissions,
            "rescued_frames": self.counts.rescued,
        }

    def _from_locked(self, ssrc: int, port: int | None) -> bool:
        return self.source is not None and _same_source(self.source, (ssrc, port))

    def _from_predecessor(self, ssrc: int, port: int | None) -> bool:
        """The locked source's old SSRC, from its port: sent before the RTCP that announced
        the new one, read after it. Its sequence numbers go on: the same stream."""
        return ssrc == self._predecessor and self._on_locked_port(port)

    def _hold_successor(self, held: _Held) -> None:
        """Hold a packet that may be the locked source's under its new SSRC, the oldest
        pushed out past MAX_SUCCESSOR_PACKETS or MAX_SUCCESSOR_BYTES."""
        self._successor.append(held)
        self._successor_bytes += held.size
        while (
            len(self._successor) > MAX_SUCCESSOR_PACKETS
            or self._successor_bytes > MAX_SUCCESSOR_BYTES
        ):
            self._successor_bytes -= self._successor.popleft().size

    def _from_locked_port(self, ssrc: int, port: int | None) -> bool:
        """Another SSRC from the locked source's port (or where ports are not told)."""
        return self.source is not None and ssrc != self.source[0] and self._on_locked_port(port)

    def _on_locked_port(self, port: int | None) -> bool:
        source = self.source
        return source is not None and (port is None or source[1] is None or port == source[1])

    def _compete(self, key: Source, held: _Held) -> list[ReceivedFrame]:
        """No source is locked: `held` joins its candidate's run, which may win the lock."""
        candidate = self._candidates.pop(key, None)
        if candidate is None:
            candidate = _Candidate()
            if len(self._candidates) >= MAX_CANDIDATES:
                oldest = next(iter(self._candidates))
                self.counts.foreign += len(self._candidates.pop(oldest).held)
        self._candidates[key] = candidate  # last: the most recently heard
        self.counts.foreign += candidate.add(held)
        if candidate.run < MIN_SEQUENTIAL:
            return []
        del self._candidates[key]
        self.counts.foreign += sum(len(c.held) for c in self._candidates.values())
        self._candidates.clear()
        self._lock(key)
        self._last_heard = held.arrival
        frames = [f for h in candidate.held if (f := self._deliver(h.packet, h.size, h.arrival))]
        self._forget_expected_first_if_used()
        return frames

    def _lock(self, key: Source) -> None:
        previous = self._previous
        self.source = self._previous = key
        self._predecessor = None
        port = key[1]
        if port is not None and self.server_port not in (None, port):
            log.warning("RTP comes from port %d, not the server_port %d its SETUP reply named "
                        "(NAT, or a relay): taken by its %s", port, self.server_port,
                        "SSRC" if self.expected_ssrc is not None else "probation")  # fmt: skip
        if previous is None:
            log.info("receiving from source %s", _name(key))
        elif _same_source(previous, key):
            log.info("source %s is back", _name(key))  # its statistics go on
        else:
            # A new stream (§8): its own statistics, and sequence numbers above the old one's.
            log.info("receiving from source %s, in place of %s", _name(key), _name(previous))
            self.counts.source_changes += 1
            self._lost_before += max(0, self.reception.cumulative_lost)
            self.reception.restart()
            self.assembler.flush()  # the old source's open frames cannot complete now
            self._ext_base += (self._unwrapper.highest or 0) + SEQ_MOD
            self._unwrapper = SeqUnwrapper()
            self._recent.clear()
            self._recent_order.clear()
            self.last_timestamp = None
        if self._expected_first is not None:
            # Before the replay: a fresh source counts from it when its probation ends.
            self.reception.expect_first(self._expected_first)

    def _forget_expected_first_if_used(self) -> None:
        """Once the statistics count from an RTP-Info seq it is spent; one they found
        implausible is kept for the next source locked (the first may have been a forger)."""
        if self.reception.first_seq is not None:
            self._expected_first = None

    def _deliver(
        self, packet: RtpPacket, size: int, arrival: float, repaired: bool = False
    ) -> ReceivedFrame | None:
        """Count one packet of the locked source and give it to the assembler. A packet
        `repaired` (out of an RFC 4588 one) is left out of the reception statistics: RTCP
        reports what the network lost, and the repair hides nothing of it."""
        stats = self.counts
        stats.packets += 1
        stats.bytes += size
        seq, timestamp = packet.seqNum(), packet.timestamp()
        ext = self._ext_base + self._unwrapper.extend(seq)
        if self._seen(ext):
            stats.duplicates += 1
            return None
        if not repaired:
            self.reception.update(seq, timestamp, arrival)
        if self.on_seq is not None and self.on_seq(ext):
            self._repaired.append(timestamp)
        frame = self.assembler.push(ext, timestamp, bool(packet.marker()), packet.getPayload())
        if frame is None:
            return None
        self.last_timestamp = timestamp
        if timestamp in self._repaired:
            stats.rescued += 1
        return ReceivedFrame(frame, timestamp)

    def _seen(self, ext: int) -> bool:
        if ext in self._recent:
            return True
        self._recent.add(ext)
        self._recent_order.append(ext)
        if len(self._recent_order) > DUPLICATE_WINDOW:
            self._recent.discard(self._recent_order.popleft())
        return False

    def _foreign(self, what: str, value: object) -> list[ReceivedFrame]:
        self.counts.foreign += 1
        if self.counts.foreign == 1:
            log.warning("ignoring RTP from " + what + " (not this session's)", value)
        return []


def _same_source(a: Source, b: Source) -> bool:
    """One SSRC, and one port unless either side could not tell its port."""
    return a[0] == b[0] and (a[1] is None or b[1] is None or a[1] == b[1])


def _name(source: Source) -> str:
    ssrc, port = source
    return f"SSRC {ssrc:08X}" + ("" if port is None else f" port {port}")
