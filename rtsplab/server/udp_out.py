"""A burst of RTP packets out of a UDP socket: one `sendmsg` with UDP GSO, or a send each.

Linux's UDP generic segmentation offload (UDP_SEGMENT, since 4.18) takes one buffer and a
segment size and sends the buffer as datagrams of that size, the last one shorter: one
system call where there were sixteen, and the kernel cuts the datagrams later, on the NIC
where it can. The packets of a frame are all the same size but the last (the payloaders fill
every packet), so a burst goes out in one call; `sendmsg` gathers each packet's RTP header,
payload headers and slice of the frame from where they lie, so nothing is joined either.

Where the kernel lacks it (another system, an old kernel, a device that cannot checksum)
`gso_available` says why, the server says so once at start, and each packet is its own
`sendmsg`. A send with GSO that fails as unsupported turns GSO off for that socket and sends
the burst again packet by packet: a burst is never lost to the choice.

GSO is used only when the load needs it (`batching_pays`, the one rule): a capture on
loopback sees a GSO buffer before the kernel cuts it, as one datagram, so a lab session, or a
handful, is sent packet by packet and Wireshark shows exactly the packets the client gets.
From BATCH_FROM_SESSIONS sessions playing at once, or while the pacing loop is busy most of
the time, bursts leave batched. `Gso` holds the answer for every socket of the server; the
pacing loop feeds it its load (`Gso.update`), and `--gso on|off` forces either.
"""

from __future__ import annotations

import errno
import functools
import logging
import socket
import struct
from collections.abc import Sequence
from itertools import chain

from rtsplab.rtp.sender import Packet

log = logging.getLogger(__name__)

SOL_UDP = getattr(socket, "SOL_UDP", 17)
UDP_SEGMENT = getattr(socket, "UDP_SEGMENT", 103)  # linux/udp.h
MAX_SEGMENTS = 64  # UDP_MAX_SEGMENTS in linux/udp.h
# The datagrams of one call are one IP packet to the kernel until it cuts them: the whole
# must fit in IPv4's 16-bit total length, less the IP and UDP headers.
MAX_GSO_BYTES = 65_535 - 20 - 8
# What a kernel without UDP GSO, or a device that cannot do it, answers.
UNSUPPORTED = {errno.ENOPROTOOPT, errno.EINVAL, errno.EIO, errno.EOPNOTSUPP}

_SEGMENT_SIZE = struct.Struct("=H")  # the cmsg's u16

ON, OFF, AUTO = "on", "off", "auto"
MODES = (ON, OFF, AUTO)
# Sessions playing at once from which bursts leave batched: a lab session or a class's
# handful stays visible packet by packet; at this many the system calls are most of the cost.
BATCH_FROM_SESSIONS = 16
# The pacing loop's share of time spent stepping streams (not waiting for the next one due)
# from which bursts leave batched, and below which they leave packet by packet again: apart,
# so that the saving GSO brings does not switch it off at once.
BUSY_ON = 0.5
BUSY_OFF = 0.2


def batching_pays(mode: str, playing: int, busy: float, batching: bool) -> bool:
    """Whether bursts should leave with GSO: `mode` (on, off, auto), `playing` streams on
    the pacing loop, `busy` its share of time stepping them (0..1), `batching` the answer
    until now (the busy threshold has a gap, so the answer does not flap)."""
    if mode == ON:
        return True
    if mode == OFF:
        return False
    if playing >= BATCH_FROM_SESSIONS:
        return True
    return busy >= (BUSY_OFF if batching else BUSY_ON)


class Gso:
    """Whether bursts leave with UDP GSO now, for every socket of a server: `mode` as
    `--gso` says, `why_not` why the kernel cannot (None: it can), and `now` the answer,
    which `update` moves with the load where the mode is auto."""

    def __init__(self, mode: str = AUTO, why_not: str | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"GSO mode {mode!r}: one of {', '.join(MODES)}")
        self.mode, self.why_not = mode, why_not
        self.now = why_not is None and mode == ON

    @classmethod
    def fixed(cls, on: bool) -> Gso:
        """Always on, or always off (a test's, a benchmark's choice)."""
        return cls(ON if on else OFF)

    def update(self, playing: int, busy: float) -> None:
        """The pacing loop's load (`PacingLoop`'s `on_load`)."""
        if self.why_not is not None:
            return
        now = batching_pays(self.mode, playing, busy, self.now)
        if now != self.now:
            how = "with UDP GSO" if now else "packet by packet"
            log.info("RTP bursts leave %s (%d playing, pacing loop %.0f%% busy)", how, playing,
                     100 * busy)  # fmt: skip
        self.now = now

    def describe(self) -> str:
        """What the server says at start."""
        if self.why_not is not None:
            return f"RTP packets leave one system call each ({self.why_not})"
        if self.mode == AUTO:
            return (
                "RTP packets leave one system call each, bursts with UDP GSO from "
                f"{BATCH_FROM_SESSIONS} sessions or a busy pacing loop (--gso auto)"
            )
        if self.mode == ON:
            return "RTP bursts leave with UDP GSO: one system call each (--gso on)"
        return "RTP packets leave one system call each (--gso off)"


def gso_available() -> str | None:
    """None if this kernel sends UDP GSO on loopback, else why not (for the log)."""
    if not hasattr(socket.socket, "sendmsg"):
        return "no sendmsg() on this system"
    try:
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
        ):
            receiver.bind(("127.0.0.1", 0))
            receiver.settimeout(1.0)
            segment = _SEGMENT_SIZE.pack(4)
            sender.sendmsg([b"abcd", b"efg"], [(SOL_UDP, UDP_SEGMENT, segment)], 0,
                           receiver.getsockname())  # fmt: skip
            got = [receiver.recv(16), receiver.recv(16)]
    except OSError as exc:
        return f"UDP GSO not available: {exc.strerror or exc}"
    if got != [b"abcd", b"efg"]:
        return f"UDP GSO sent {got!r} for two segments"
    return None


@functools.lru_cache(maxsize=64)
def _segment_control(size: int) -> tuple[tuple[int, int, bytes]]:
    """The ancillary data of a GSO send of `size`-byte segments, made once a size."""
    return ((SOL_UDP, UDP_SEGMENT, _SEGMENT_SIZE.pack(size)),)


def most_segments(size: int, limit: int = MAX_GSO_BYTES) -> int:
    """How many packets of `size` bytes one GSO call can carry (an empty one goes alone)."""
    return min(MAX_SEGMENTS, max(1, limit // size)) if size else 1


def runs(sizes: Sequence[int], limit: int = MAX_GSO_BYTES) -> list[tuple[int, int]]:
    """Cut packets of `sizes` into runs one GSO call can carry: (first, end) each, every
    packet of a run the size of its first but the last, which may be shorter, at most
    MAX_SEGMENTS packets and `limit` bytes."""
    result = []
    first, n = 0, len(sizes)
    while first < n:
        size = sizes[first]
        most = most_segments(size, limit)
        end = first + 1
        # An empty datagram cannot be a segment: it leaves alone.
        while end < n and end - first < most and 0 < sizes[end] <= size:
            end += 1
            if sizes[end - 1] < size:
                break  # a shorter packet can only end a run
        result.append((first, end))
        first = end
    return result


class UdpOut:
    """Sends bursts to one destination from one socket, with GSO when `gso` says so (the
    server's `Gso`, or always on or off)."""

    def __init__(
        self, sock: socket.socket, destination: tuple[str, int], *, gso: bool | Gso
    ) -> None:
        self.sock = sock
        self.destination = destination
        self.rule = gso if isinstance(gso, Gso) else Gso.fixed(gso)
        self.refused = False  # the kernel refused GSO on this socket: never again
        self.calls = 0  # system calls made, for the benchmark's figures

    @property
    def gso(self) -> bool:
        """Whether the next burst leaves with GSO."""
        return self.rule.now and not self.refused

    def send(self, packets: Sequence[Packet], segment: int | None = None) -> None:
        """Send `packets` in order; raises OSError as a send does (the client is gone).
        `segment`: every packet is that many bytes but the last, which is no longer (a
        `CutFrame` knows); None: each packet's size is looked at."""
        sent = self._send_segmented(packets, segment) if self.gso and len(packets) > 1 else 0
        if sent < len(packets):
            sendmsg, destination = self.sock.sendmsg, self.destination
            for packet in packets[sent:]:
                sendmsg(packet, (), 0, destination)
            self.calls += len(packets) - sent

    def _send_segmented(self, packets: Sequence[Packet], segment: int | None) -> int:
        """Send runs of `packets` with GSO; how many went (all, unless GSO was refused)."""
        n = len(packets)
        if segment is None:
            sizes = [len(a) + len(b) + len(c) for a, b, c in packets]
            cuts = [(first, end, sizes[first]) for first, end in runs(sizes)]
        elif n <= (most := most_segments(segment)):
            cuts = [(0, n, segment)]  # a burst in one call: the usual case
        else:
            cuts = [(first, min(first + most, n), segment) for first in range(0, n, most)]
        for made, (first, end, size) in enumerate(cuts):
            if end - first == 1:
                self.sock.sendmsg(packets[first], (), 0, self.destination)
            else:
                burst = packets if end - first == n else packets[first:end]
                buffers = chain.from_iterable(burst)  # sendmsg takes any iterable
                try:
                    self.sock.sendmsg(buffers, _segment_control(size), 0, self.destination)
                except OSError as exc:
                    if exc.errno not in UNSUPPORTED:
                        raise
                    log.warning("UDP GSO refused (%s): each packet is sent alone from now on",
                                exc.strerror)  # fmt: skip
                    self.refused = True
                    self.calls += made
                    return first
        self.calls += len(cuts)
        return n
