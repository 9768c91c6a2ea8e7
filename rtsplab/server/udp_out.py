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
"""

from __future__ import annotations

import errno
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
    """Sends bursts to one destination from one socket, with GSO when `gso` says so."""

    def __init__(self, sock: socket.socket, destination: tuple[str, int], *, gso: bool) -> None:
        self.sock = sock
        self.destination = destination
        self.gso = gso
        self.calls = 0  # system calls made, for the benchmark's figures

    def send(self, packets: Sequence[Packet], segment: int | None = None) -> None:
        """Send `packets` in order; raises OSError as a send does (the client is gone).
        `segment`: every packet is that many bytes but the last, which is no longer (a
        `CutFrame` knows); None: each packet's size is looked at."""
        sent = 0
        if self.gso and len(packets) > 1:
            sent = self._send_segmented(packets, segment)
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
        else:
            most = most_segments(segment)
            cuts = [(first, min(first + most, n), segment) for first in range(0, n, most)]
        for first, end, size in cuts:
            if end - first == 1:
                self.sock.sendmsg(packets[first], (), 0, self.destination)
            else:
                buffers = list(chain.from_iterable(packets[first:end]))
                control = [(SOL_UDP, UDP_SEGMENT, _SEGMENT_SIZE.pack(size))]
                try:
                    self.sock.sendmsg(buffers, control, 0, self.destination)
                except OSError as exc:
                    if exc.errno not in UNSUPPORTED:
                        raise
                    log.warning("UDP GSO refused (%s): each packet is sent alone from now on",
                                exc.strerror)  # fmt: skip
                    self.gso = False
                    return first
            self.calls += 1
        return len(packets)
