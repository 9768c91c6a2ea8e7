"""A file's sound to the multicast group, beside its video (`rtsplab.server.multicast`).

The group's sound is one more RTP stream with a port pair of its own (RFC 3550 §5.2: one
medium a session), sent once for every member, as the video is. It starts when the group's
video starts, at the same instant of the clip (`start(position, now)`: the video's position,
its first packet due when the video's first frame is) and stops with it; a member sets it up
as the second track of its session (`rtsplab.server.session`). Its RTCP is the group's too:
sender reports from the same clocks as the video's, under the same CNAME (§6.5.1: one source,
two SSRCs), every member's reports read from the group, and BYE at the end of the sound.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from rtsplab.rtcp.group import Address, RtcpGroup
from rtsplab.rtcp.session import SenderRtcp
from rtsplab.rtcp.timing import RTCP_BANDWIDTH_FRACTION
from rtsplab.rtp.ports import bind_multicast_socket, multicast_sending_socket
from rtsplab.rtp.sender import RtpSender
from rtsplab.server.audio_setup import audio_bandwidth, audio_sender, rtptime_at, start_sample
from rtsplab.server.audio_source import AudioSource
from rtsplab.server.audio_stream import AudioStream
from rtsplab.server.rtcp import ServerRtcp
from rtsplab.server.session import StreamConfig
from rtsplab.server.stream import Streaming

__all__ = ["GroupSound"]


class GroupSound:
    def __init__(
        self, source: AudioSource, port: int, config: StreamConfig, streaming: Streaming,
        cname: str, own_ip: str, is_member: Callable[[Address], bool],
    ) -> None:  # fmt: skip
        """`source` is the group's from now on (closed by `close`, or here on failure);
        `cname`: the video's; `own_ip`: where our datagrams to the group leave from (and so
        where our RTCP comes back from); `is_member(address)`: whether RTCP from there is a
        member's (and it was heard)."""
        multicast = config.multicast
        assert multicast is not None
        self.source, self.port, self.streaming = source, port, streaming
        self.group, self._own_ip = multicast.group, own_ip
        self.sender: RtpSender = audio_sender(source, RtpSender)
        self._is_member = is_member
        self._stream: AudioStream | None = None
        # The sample the stream started from and its RTP timestamp: the stream's timestamps
        # run with its samples (a packet's step is its samples), so this maps any instant.
        self._anchor: tuple[int, int] | None = None
        opened: list[socket.socket] = []
        try:
            self._rtp = multicast_sending_socket(multicast.interface, multicast.ttl)
            opened.append(self._rtp)
            self._rtcp_out = multicast_sending_socket(multicast.interface, multicast.ttl)
            opened.append(self._rtcp_out)
            self._rtcp_out.bind((multicast.interface, 0))  # its port: how ours come back
            self._rtcp_in = bind_multicast_socket(self.group, port + 1, multicast.interface)
            opened.append(self._rtcp_in)
            self.rtcp = self._start_rtcp(cname, config.rtcp_reduced_minimum)
        except BaseException:
            for sock in opened:
                sock.close()
            source.close()
            raise

    def _start_rtcp(self, cname: str, reduced_minimum: bool) -> ServerRtcp:
        now, bandwidth = time.monotonic(), audio_bandwidth(self.source)
        members = RtcpGroup(self.sender.ssrc, RTCP_BANDWIDTH_FRACTION * bandwidth, now,
                            cname=cname, reduced_minimum=reduced_minimum)  # fmt: skip
        engine = SenderRtcp(self.sender, cname, bandwidth, now, group=members)
        rtcp = ServerRtcp(engine, f"group-{self.port}", self._rtcp_in, self._send_rtcp,
                          accept=self._accept, quiet=self._not_streaming)  # fmt: skip
        rtcp.start()
        return rtcp

    def start(self, position: float, now: float) -> None:
        """The group's video starts at `position` seconds, its first frame due at `now`:
        the sound from the same instant (under the group's lock)."""
        self.stop()
        first = start_sample(self.source, position)
        self._anchor = (first, self.sender.play_position()[1])
        stream = AudioStream(f"group {self.group}:{self.port}", self.source, self.sender,
                             first, self._send, self.rtcp.say_bye)  # fmt: skip
        self._stream = stream
        self.streaming.loop.add(stream, stream.start(now))

    def play_position(self, position: float) -> tuple[int, int]:
        """RTP-Info for a member joining at the video's `position` (s): the next packet's
        number, and the timestamp of the sample at `position`, exactly, whichever packet
        is about to leave."""
        seq, rtptime = self.sender.play_position()
        anchor = self._anchor
        if anchor is None:  # not started: its first packet is the position's
            return seq, rtptime
        return seq, rtptime_at(self.source, anchor, position)

    def stop(self) -> None:
        """Nothing leaves after this; the RTP clock stops (SR)."""
        stream, self._stream = self._stream, None
        self._anchor = None  # the next start's first packet is its position's
        if stream is not None:
            self.streaming.loop.remove(stream)
            self.sender.pause()

    def close(self) -> None:
        self.stop()
        self.rtcp.stop("no member left")
        for sock in (self._rtp, self._rtcp_out, self._rtcp_in):
            sock.close()
        self.source.close()

    def _send(self, datagram: bytes) -> None:
        self._rtp.sendto(datagram, (self.group, self.port))

    def _send_rtcp(self, datagram: bytes) -> None:
        self._rtcp_out.sendto(datagram, (self.group, self.port + 1))

    def _accept(self, source: Address) -> bool:
        """A member's RTCP counts; our own, looped back, does not."""
        own = (self._own_ip, self._rtcp_out.getsockname()[1])
        return source != own and self._is_member(source)

    def _not_streaming(self) -> bool:
        stream = self._stream
        return stream is None or not stream.active
