"""APP, application-defined (RFC 3550 section 6.7).

::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P| subtype |   PT=APP=204  |             length            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                           SSRC/CSRC                           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                          name (ASCII)                         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                   application-dependent data                ...
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from RtpPacket import MAX_SSRC
from rtsplab.rtcp.packet import (
    MAX_COUNT,
    RTCP_APP,
    SSRC_FORMAT,
    SSRC_SIZE,
    RtcpPacket,
    build_packet,
    check_body,
    check_field,
    check_words,
)

APP_NAME_SIZE = 4


@dataclass(repr=False)
class App(RtcpPacket):
    """APP (section 6.7): a 5-bit subtype, 4 ASCII octets of name and whole words of data."""

    packet_type: ClassVar[int] = RTCP_APP

    subtype: int
    ssrc: int
    name: bytes
    data: bytes = b""

    def encode(self) -> bytes:
        check_field("subtype", self.subtype, MAX_COUNT)
        check_field("ssrc", self.ssrc, MAX_SSRC)
        name = bytes(self.name)
        if len(name) != APP_NAME_SIZE or not name.isascii():
            raise ValueError(f"APP name must be {APP_NAME_SIZE} ASCII bytes, got {name!r}")
        data = bytes(self.data)
        check_words("APP data", data)
        return build_packet(RTCP_APP, self.subtype, SSRC_FORMAT.pack(self.ssrc) + name + data)

    @classmethod
    def decode_body(cls, count: int, body: bytes) -> App:
        fixed = SSRC_SIZE + APP_NAME_SIZE
        check_body("APP", "the SSRC and name", body, fixed)
        (ssrc,) = SSRC_FORMAT.unpack_from(body)
        return cls(count, ssrc, body[SSRC_SIZE:fixed], body[fixed:])

    def speaks_for(self) -> list[int]:
        return [self.ssrc]

    def __repr__(self) -> str:
        return (
            f"App(subtype={self.subtype}, ssrc=0x{self.ssrc:08x}, name={self.name!r}, "
            f"data={len(self.data)} bytes)"
        )
