"""The benchmark's side of the sessions: one receiver reading every session's RTP in one
thread, and RTSP as little as the three servers (ours in both dialects, gst-rtsp-server) need
to set a session up and play it."""

from __future__ import annotations

import re
import selectors
import socket
import struct
import time
from dataclasses import dataclass

import _checkout  # noqa: F401 (the checkout's root on the path)
from rtsplab.rtp.ports import bind_multicast_socket

LOOPBACK = "127.0.0.1"
SOL_UDP = 17
UDP_GRO = 104  # linux/udp.h
RCVBUF = 4 * 2**20
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # past rmem_max, as root
REPLY_TIMEOUT = 10.0  # seconds a reply may take (a loaded server: --reply-timeout)


# -- the receiver --------------------------------------------------------------------------


_BELOW_MARKER = bytes(range(0x80))  # RTP's second byte without the marker bit


@dataclass
class Counts:
    """One session's RTP as received: packets, frames (markers), highest sequence number."""

    packets: int = 0
    frames: int = 0
    highest: int = -1  # extended
    last: int = -1  # the last 16-bit number, for the extension

    def snapshot(self) -> tuple[int, int, int]:
        return self.packets, self.frames, self.highest

    def count(self, data: bytes, size: int) -> None:
        """A datagram of RTP packets of `size` bytes each but the last (one packet, or a
        GRO batch: packets of one stream in the order they came). Its headers are read
        where they lie, not packet by packet in Python: the receiver stands in for other
        machines and should take as little of this one as it can."""
        if not data:
            return
        n = -(-len(data) // size)
        self.packets += n
        self.frames += len(data[1::size].translate(None, _BELOW_MARKER))  # M set: >= 0x80
        at = (n - 1) * size + 2
        seq = (data[at] << 8) | data[at + 1]  # the last packet's
        if self.last < 0:
            self.highest = self.last = seq
            return
        step = (seq - self.last) & 0xFFFF
        if step < 0x8000:  # forward (a late packet moves nothing)
            self.highest += step
            self.last = seq


class Receiver:
    """Every session's RTP socket, read by the caller's thread until `run` is told to stop."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.sockets: list[socket.socket] = []
        self.counts: list[Counts] = []

    def add(self) -> tuple[int, socket.socket]:
        """A new session's RTP socket (even port, with the next one bound for RTCP)."""
        for _ in range(100):
            rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                rtp.bind((LOOPBACK, 0))
                port = rtp.getsockname()[1]
                if port % 2 == 0:
                    rtcp.bind((LOOPBACK, port + 1))
                    break
            except OSError:
                pass
            rtp.close()
            rtcp.close()
        else:
            raise RuntimeError("no even port pair free on loopback")
        self.sockets.append(rtcp)
        return port, self._register(rtp)

    def add_member(self, group: str, port: int) -> socket.socket:
        """A multicast member's RTP socket: the group's port, joined on loopback."""
        return self._register(bind_multicast_socket(group, port, LOOPBACK))

    def _register(self, rtp: socket.socket) -> socket.socket:
        try:
            rtp.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)  # as root
        except OSError:
            rtp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        try:
            rtp.setsockopt(SOL_UDP, UDP_GRO, 1)
        except OSError:
            pass
        rtp.setblocking(False)
        self.selector.register(rtp, selectors.EVENT_READ, len(self.counts))
        self.sockets.append(rtp)
        self.counts.append(Counts())
        return rtp

    def run(self, until: float) -> None:
        """Read until `until` (monotonic s)."""
        select, counts = self.selector.select, self.counts
        space = socket.CMSG_SPACE(4)
        while (left := until - time.monotonic()) > 0:
            for key, _ in select(min(left, 0.1)):
                sock, c = key.fileobj, counts[key.data]
                assert isinstance(sock, socket.socket)
                while True:
                    try:
                        data, ancillary, _, _ = sock.recvmsg(65_536, space)
                    except BlockingIOError:
                        break
                    size = len(data)
                    for level, kind, value in ancillary:
                        if level == SOL_UDP and kind == UDP_GRO:
                            size = struct.unpack("=i", value[:4])[0]
                    c.count(data, size)

    def close(self) -> None:
        self.selector.close()
        for sock in self.sockets:
            sock.close()


# -- RTSP, as little as the three servers need -------------------------------------------


class Rtsp:
    """One RTSP connection: requests out, replies in (head, and body by Content-Length)."""

    def __init__(self, port: int, timeout: float = REPLY_TIMEOUT) -> None:
        self.sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
        self.cseq = 0
        self.buffer = b""

    def ask(self, method: str, url: str, *headers: str) -> tuple[int, dict[str, str], str]:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}", *headers, "", ""]
        self.sock.sendall("\r\n".join(lines).encode())
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *rest = head.decode("latin-1").split("\r\n")
        fields = {}
        for line in rest:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        length = int(fields.get("content-length", "0"))
        while len(self.buffer) < length:
            self._more()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        status = int(status_line.split()[1])
        if status != 200:
            raise RuntimeError(f"{method} {url}: {status_line}")
        return status, fields, body.decode("latin-1")

    def _more(self) -> None:
        data = self.sock.recv(65_536)
        if not data:
            raise RuntimeError("the server closed the connection")
        self.buffer += data

    def close(self) -> None:
        self.sock.close()


def play_lab(port: int, name: str, rtp_port: int, timeout: float = REPLY_TIMEOUT) -> Rtsp:
    rtsp = Rtsp(port, timeout)
    _, fields, _ = rtsp.ask("SETUP", name, f"Transport: RTP/UDP; client_port= {rtp_port}")
    rtsp.ask("PLAY", name, f"Session: {fields['session']}")
    return rtsp


def play_standard(port: int, url: str, rtp_port: int, timeout: float = REPLY_TIMEOUT) -> Rtsp:
    rtsp = Rtsp(port, timeout)
    _, fields, sdp = rtsp.ask("DESCRIBE", url, "Accept: application/sdp")
    base = fields.get("content-base", url)
    controls = re.findall(r"^a=control:(\S+)", sdp, re.M)
    track = controls[-1] if controls else "*"
    if track.startswith("rtsp://"):
        setup_url = track
    elif track == "*":
        setup_url = base
    else:
        setup_url = base.rstrip("/") + "/" + track
    _, fields, _ = rtsp.ask(
        "SETUP", setup_url, f"Transport: RTP/AVP;unicast;client_port={rtp_port}-{rtp_port + 1}"
    )
    session = fields["session"].split(";")[0]
    rtsp.ask("PLAY", url, f"Session: {session}", "Range: npt=0-")
    return rtsp
