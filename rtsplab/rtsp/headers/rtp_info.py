"""The RTP-Info header (RFC 2326 §12.33): where each stream's first packet after PLAY starts.

    RTP-Info: url=rtsp://host/movie.mjpeg/track1;seq=4812;rtptime=2930811

`seq` and `rtptime` let the client tell the packets of this PLAY from those sent before it,
and map the RTP clock onto the range the PLAY's Range header gives.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtsplab.rtsp.grammar import bounded_int

MAX_SEQ = 0xFFFF  # an RTP sequence number is 16 bits (RFC 3550 §5.1)
MAX_RTPTIME = 0xFFFF_FFFF  # an RTP timestamp is 32 bits


@dataclass(frozen=True)
class RtpInfo:
    url: str
    seq: int | None = None
    rtptime: int | None = None

    def format(self) -> str:
        parts = [f"url={self.url}"]
        if self.seq is not None:
            parts.append(f"seq={self.seq}")
        if self.rtptime is not None:
            parts.append(f"rtptime={self.rtptime}")
        return ";".join(parts)


def parse_rtp_info(value: str) -> list[RtpInfo]:
    """Every stream's entry; a `seq` or `rtptime` that is not a number in its field's range
    is left None (the header only helps the client, so a garbled one costs nothing but the
    help)."""
    infos = []
    for entry in value.split(","):
        fields: dict[str, str] = {}
        for parameter in entry.split(";"):
            name, _, text = parameter.strip().partition("=")
            fields[name.lower()] = text.strip()
        seq, rtptime = fields.get("seq", ""), fields.get("rtptime", "")
        infos.append(
            RtpInfo(
                fields.get("url", ""),
                bounded_int(seq, MAX_SEQ),
                bounded_int(rtptime, MAX_RTPTIME),
            )
        )
    return infos


def format_rtp_info(infos: list[RtpInfo]) -> str:
    return ",".join(info.format() for info in infos)


def first_rtptime(value: str | None) -> int | None:
    """The first rtptime a reply's RTP-Info gives: the timestamp of the first packet after
    PLAY. None when there is none."""
    times = [info.rtptime for info in parse_rtp_info(value or "") if info.rtptime is not None]
    return times[0] if times else None
