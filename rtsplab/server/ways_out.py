"""How a session's RTP or RTCP reaches its client: a function that sends one datagram.

Its interleaved channel on the RTSP connection (RFC 2326 §10.12), its UDP port from one of
the server's sockets, or nowhere (a multicast member: its file's stream sends to the group);
and, on the lab's impaired network, through the session's `ImpairedLink` first. The video
and the sound of a session choose the same way, each with its own channels or sockets.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from functools import partial

from rtsplab.server.impaired_link import ImpairedLink

Send = Callable[[bytes], object]
SendInterleaved = Callable[[int, bytes], object]

RTP, RTCP = 0, 1  # which of a pair of channels or ports


def _nowhere(data: bytes) -> None:
    """A multicast member's own way out: its stream and reports go to the group instead."""


def way_out(
    send_interleaved: SendInterleaved, interleaved: tuple[int, int] | None, which: int,
    sock: socket.socket | None, destination: tuple[str, int] | None,
) -> Send:  # fmt: skip
    """How RTP (`which` RTP) or RTCP (RTCP) reaches the client: its interleaved channel,
    or its UDP port from `sock` (neither: nowhere)."""
    if interleaved is not None:
        return partial(send_interleaved, interleaved[which])
    if destination is None or sock is None:
        return _nowhere
    to, udp = destination, sock

    def send_udp(data: bytes) -> int:
        return udp.sendto(data, to)

    return send_udp


def through(link: Callable[[], ImpairedLink | None], deliver: Send) -> Send:
    """`deliver`, through the session's impaired link when it has one at the time."""

    def send(data: bytes) -> None:
        current = link()
        if current is None:
            deliver(data)
        else:
            current.send(data, deliver)

    return send
