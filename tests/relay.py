"""A lossy relay for end-to-end tests: a server's RTP and RTCP on their way to a client.

The client announces the relay's ports in SETUP (`RtspClient(announce_port=relay.port)`), so
the server streams to the relay, which forwards RTP from its port P to the client's Q and
RTCP from P+1 to Q+1, on 127.0.0.1 (the server's address, the only one the client takes
media from). The client's own RTCP goes straight to the server's RTCP port, named in the
SETUP reply, so only this direction passes here.

RTP packets are dropped, duplicated or held back and sent after the next one (reordered) by a
seeded pattern, so a run is the same every time; RTCP passes untouched. Every RTP packet
waiting here goes out before an RTCP packet that arrived after it, so the server's BYE still
comes after the last frame's packets. The relay runs on its own thread and stops at `stop()`
or after `lifetime` seconds, whichever is first.
"""

from __future__ import annotations

import contextlib
import random
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

from RtpPacket import SEQ_MOD
from rtsplab.rtp.ports import bind_port_pair

LOOPBACK = "127.0.0.1"
MAX_DATAGRAM = 65_535
RCVBUF_BYTES = 8 * 1024 * 1024  # a burst of a frame's packets must not overflow the relay
POLL = 0.02  # seconds: how often the thread looks up, and the idle time that frees a held packet
DRAIN_LIMIT = 10_000  # datagrams read per wake-up, a bound on the inner loop
SEQ_FIELD = slice(2, 4)  # RTP header bytes (RFC 3550 §5.1); our server sends nothing shorter
TIMESTAMP_FIELD = slice(4, 8)


def bind_pair(host: str = LOOPBACK) -> tuple[socket.socket, socket.socket]:
    """Two UDP sockets on ports P and P+1 (RTP and RTCP, RFC 3550 §11): the server's own."""
    return bind_port_pair(host)


def free_port_pair() -> int:
    """A port P such that P and P+1 are both free right now (for the client to bind)."""
    low, high = bind_pair()
    port = low.getsockname()[1]
    low.close()
    high.close()
    return port


@dataclass
class RelayCounts:
    received: int = 0  # RTP packets from the server
    dropped: int = 0
    duplicated: int = 0  # packets sent twice
    reordered: int = 0  # packets held back and sent after the next one
    datagrams_sent: int = 0  # RTP datagrams sent to the client, duplicates included
    rtcp: int = 0  # RTCP datagrams forwarded
    dropped_offsets: list[int] = field(default_factory=list)  # seq - first seq, mod 2^16
    highest_sent_offset: int = -1
    # Per RTP timestamp (one per frame), in the order the server sent them: [received, dropped].
    frames: dict[int, list[int]] = field(default_factory=dict)

    def frames_where(self, condition) -> list[int]:
        """Indexes, in sending order, of the frames whose (received, dropped) satisfy
        `condition`: e.g. the intact ones, with dropped == 0."""
        return [i for i, (got, lost) in enumerate(self.frames.values()) if condition(got, lost)]

    @property
    def drops_before_highest(self) -> int:
        """Drops a receiver can see: those below the highest sequence number it got (a
        receiver cannot know of packets lost after the last one to arrive)."""
        return sum(1 for d in self.dropped_offsets if d < self.highest_sent_offset)


class LossyRelay:
    def __init__(
        self,
        client_port: int,
        *,
        seed: int,
        drop: float = 0.0,
        reorder: float = 0.0,
        duplicate: float = 0.0,
        spare_first: int = 8,
        lifetime: float = 30.0,
        move_source_port: bool = False,
    ) -> None:
        """`move_source_port`: RTP leaves from another port than the one it came to (and
        than RTCP's), as from a server behind NAT: the client then hears it from a port no
        SETUP reply named."""
        self.client_rtp = (LOOPBACK, client_port)
        self.client_rtcp = (LOOPBACK, client_port + 1)
        self.server_rtcp: tuple[str, int] | None = None  # learnt from its first datagram
        self.rng = random.Random(seed)
        self.drop, self.reorder, self.duplicate = drop, reorder, duplicate
        # The first packets pass untouched: RFC 3550 A.1 counts no loss before a source
        # has passed probation, and they set the sequence origin here.
        self.spare_first = spare_first
        self.lifetime = lifetime
        self.counts = RelayCounts()
        self.rtp, self.rtcp = bind_pair()
        for sock in (self.rtp, self.rtcp):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
            sock.setblocking(False)
        self.port = self.rtp.getsockname()[1]  # what the client announces as client_port
        self.sender = self.rtp
        if move_source_port:
            self.sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sender.bind((LOOPBACK, 0))
        self._first_seq: int | None = None
        self._held: tuple[bytes, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lossy-relay", daemon=True)

    def __enter__(self) -> LossyRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in {self.rtp, self.rtcp, self.sender}:
            sock.close()

    @property
    def loss_rate(self) -> float:
        """What was injected: dropped over received."""
        return self.counts.dropped / self.counts.received if self.counts.received else 0.0

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        deadline = time.monotonic() + self.lifetime
        with selectors.DefaultSelector() as selector:
            selector.register(self.rtp, selectors.EVENT_READ)
            selector.register(self.rtcp, selectors.EVENT_READ)
            while not self._stop.is_set() and time.monotonic() < deadline:
                readable = [key.fileobj for key, _ in selector.select(POLL)]
                self._forward(readable)

    def _forward(self, readable: list) -> None:
        """Pass on what is waiting: RTCP first, so RTP sent before it is drained in order."""
        if self.rtcp in readable:
            # Every RTP packet the server sent before this RTCP one is queued by now.
            datagram, source = self.rtcp.recvfrom(MAX_DATAGRAM)
            if source == self.client_rtcp:  # the client's reports: on to the server
                if self.server_rtcp is not None:
                    with contextlib.suppress(OSError):
                        self.rtcp.sendto(datagram, self.server_rtcp)
                return
            self.server_rtcp = source
            self._drain_rtp()
            self._release_held()
            try:
                self.rtcp.sendto(datagram, self.client_rtcp)
                self.counts.rtcp += 1
            except OSError:
                pass
        elif self.rtp in readable:
            self._drain_rtp()
        else:
            self._release_held()  # quiet: a held packet waits no longer

    def _drain_rtp(self) -> None:
        for _ in range(DRAIN_LIMIT):
            try:
                datagram = self.rtp.recv(MAX_DATAGRAM)
            except BlockingIOError:
                return
            self._on_rtp(datagram)

    def _on_rtp(self, datagram: bytes) -> None:
        counts = self.counts
        counts.received += 1
        seq = int.from_bytes(datagram[SEQ_FIELD], "big")
        frame = counts.frames.setdefault(int.from_bytes(datagram[TIMESTAMP_FIELD], "big"), [0, 0])
        frame[0] += 1
        if self._first_seq is None:
            self._first_seq = seq
        offset = (seq - self._first_seq) % SEQ_MOD
        # Three draws for every packet, so one decision never shifts the others.
        drop, hold, twice = (self.rng.random() for _ in range(3))
        if counts.received <= self.spare_first:
            self._send(datagram, offset)
        elif drop < self.drop:
            counts.dropped += 1
            counts.dropped_offsets.append(offset)
            frame[1] += 1
        elif twice < self.duplicate:
            counts.duplicated += 1
            self._send(datagram, offset)
            self._send(datagram, offset)
            self._release_held()
        elif hold < self.reorder and self._held is None:
            counts.reordered += 1
            self._held = (datagram, offset)
        else:
            self._send(datagram, offset)
            self._release_held()

    def _release_held(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._send(*held)

    def _send(self, datagram: bytes, offset: int) -> None:
        try:
            self.sender.sendto(datagram, self.client_rtp)
        except OSError:  # the client has gone: nothing to count
            return
        self.counts.datagrams_sent += 1
        self.counts.highest_sent_offset = max(self.counts.highest_sent_offset, offset)
