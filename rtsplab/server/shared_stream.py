"""What a session knows of the server's multicast streams (`rtsplab.server.multicast`):
where they go (`MulticastConfig`) and a file's stream as a session sees it, so that the pure
session (`rtsplab.server.session`) needs neither sockets nor threads to join one."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rtsplab.rtp.sender import RtpSender
from rtsplab.server.audio_source import AudioSource
from VideoStream import VideoStream


def unmapped(address: str) -> str:
    """An IPv4-mapped IPv6 address (a dual-stack socket's word for an IPv4 peer) as IPv4."""
    try:
        mapped = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return address
    ipv4 = mapped.ipv4_mapped if isinstance(mapped, ipaddress.IPv6Address) else None
    return address if ipv4 is None else str(ipv4)


@dataclass(frozen=True)
class MulticastConfig:
    """Where the server's multicast streams go: its choice, never a client's (§12.39)."""

    group: str  # an IPv4 multicast address, e.g. 239.255.12.42 (administratively scoped)
    port: int  # even: a stream's RTP; RTCP on the next; a second stream at port + 2, ...
    ttl: int = 1  # 1: the stream stays on the local link
    interface: str = "0.0.0.0"  # the interface's address to send from; any: the route's


class SharedSound(Protocol):
    """A file's sound to the group as a session sees it (the driver's `GroupSound`)."""

    source: AudioSource
    sender: RtpSender
    port: int

    def play_position(self, position: float) -> tuple[int, int]:
        """RTP-Info for a member joining at the video's `position` (s): the next packet's
        sequence number, and the RTP timestamp of the sample at `position`."""
        ...


class SharedStream(Protocol):
    """A file's multicast stream as a session sees it (the driver's `MulticastStream`)."""

    media: VideoStream
    sender: RtpSender
    port: int
    source: str  # the address its datagrams leave from ("0.0.0.0": unknown)

    @property
    def sound(self) -> SharedSound | None:
        """The file's sound beside it, if it has one."""
        ...

    def rewind_if_played(self) -> None:
        """PLAY after the end (`rtsplab.server.position`): the stream, played to its end,
        starts again from its first frame, for every member."""
        ...


class SharedStreams(Protocol):
    """The server's multicast streams, one a file (the driver's `MulticastStreams`)."""

    def join(self, path: Path) -> SharedStream:
        """The file's stream, made if there is none, with one more member set up on it;
        RtspError 453 past the server's streams."""
        ...
