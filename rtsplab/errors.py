"""The project's error family: one base, a subclass per protocol.

Two kinds are told apart, because they are handled apart:

* `PeerError`: what came from outside broke a rule: a request, a reply, a datagram, an SDP,
  a file on disk. The peer is answered with its 4xx, or the datagram is counted and skipped,
  and the session goes on. Each protocol has its subclass (`RtpError`, `RtcpError`,
  `RtspError`, `PayloadError`, `SdpError`, `VideoError`), raised with one precise message.
* Anything else raised while handling input is a fault of our own: it is logged with its
  traceback, and the thread that met it survives it.

`PeerError` is a `ValueError`, as a malformed value is; code catches the protocol's subclass,
never a bare `ValueError`, so that a bug is not mistaken for bad input.
"""

from __future__ import annotations


class LabError(Exception):
    """Base of every error the project raises on purpose."""


class PeerError(LabError, ValueError):
    """Input from outside (a peer or a file) that breaks its format or its protocol."""


class PayloadError(PeerError):
    """A JPEG, or an RTP payload carrying one, that is malformed (`payload`)."""


class SdpError(PeerError):
    """A session description that does not parse (RFC 4566)."""


class ClientError(LabError):
    """A failure the client tells the user in one line: server down, 404, port in use..."""
