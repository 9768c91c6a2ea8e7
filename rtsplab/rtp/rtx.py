"""The RTP retransmission payload format (RFC 4588 section 4): a lost packet sent again in a
stream of its own, so that a receiver's statistics of the original stream stay true.

::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                         RTP Header                            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |            OSN                |                               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               |
    |                  Original RTP Packet Payload                  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Streams are told apart by SSRC (SSRC-multiplexing, section 5.3), as gst-rtsp-server and
ffmpeg do it over RTSP: the retransmission stream has its own SSRC, payload type (the SDP's
``rtx/90000`` with ``apt=`` naming the original's) and sequence numbers; it keeps the
original's timestamp and marker (section 4), and OSN, the original sequence number, leads
the payload.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from RtpPacket import (
    MARKER_SHIFT,
    MAX_PT,
    MAX_SSRC,
    SEQ_MOD,
    RtpError,
    fixed_header,
)
from rtsplab.rtp.sender import Packet

OSN = struct.Struct("!H")
OSN_SIZE = OSN.size
_SEQ_AND_TIMESTAMP = struct.Struct("!HI")  # at offset 2 of the fixed header


@dataclass
class RtxStream:
    """A sender's retransmission stream: its payload type, SSRC and next sequence number."""

    pt: int
    ssrc: int
    next_seq: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.pt <= MAX_PT or not 0 <= self.ssrc <= MAX_SSRC:
            raise ValueError(f"RTX payload type {self.pt} or SSRC {self.ssrc} out of range")

    def wrap(self, packet: Packet) -> Packet:
        """`packet` (as the sender numbered it) as this stream's next retransmission packet:
        a header of our own, then OSN before the original payload, which is not copied."""
        header, head, body = packet
        marker = header[1] >> MARKER_SHIFT
        osn, timestamp = _SEQ_AND_TIMESTAMP.unpack_from(header, 2)
        seq = self.next_seq
        self.next_seq = (seq + 1) % SEQ_MOD
        rtx_header = fixed_header(seq, marker, self.pt, self.ssrc, timestamp)
        return rtx_header + OSN.pack(osn), head, body


def unwrap(payload: bytes | memoryview) -> tuple[int, memoryview]:
    """(OSN, the original payload) of a retransmission packet's payload (section 4).

    Raises RtpError when the payload cannot hold the OSN: an empty retransmission packet
    (section 4 allows them, for keeping a NAT open) carries no original packet."""
    view = memoryview(payload)
    if len(view) < OSN_SIZE:
        raise RtpError(
            f"RTX packet of {len(view)} payload bytes has no original sequence number "
            f"(RFC 4588 section 4 needs {OSN_SIZE})"
        )
    (osn,) = OSN.unpack_from(view)
    return osn, view[OSN_SIZE:]
