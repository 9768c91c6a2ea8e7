"""Interleaved frames (RFC 2326 section 10.12) between RTSP messages, as both readers take
them apart."""

from rtsplab.rtsp.message import Headers, InterleavedFrame, RtspRequest, RtspResponse
from rtsplab.rtsp.reader import (
    RequestReader,
    ResponseReader,
)


def test_interleaved_frames_between_requests_one_byte_at_a_time():
    rtcp = bytes(range(40))
    frame = b"$\x01\x00\x28" + rtcp  # "$", channel 1, length 40
    request = b"GET_PARAMETER * RTSP/1.0\r\nCSeq: 9\r\n\r\n"
    reader = RequestReader()
    events = []
    for byte in frame + request + frame:
        events += reader.feed(bytes([byte]))
    assert events[0] == InterleavedFrame(1, rtcp)
    assert isinstance(events[1], RtspRequest) and events[1].cseq == 9
    assert events[2] == InterleavedFrame(1, rtcp)
    assert not reader.pending


def test_interleaved_frames_reach_the_client_in_order_with_replies():
    rtp = InterleavedFrame(0, b"\x80\x1a" + bytes(100))
    reply = RtspResponse(200, Headers([("CSeq", "3")])).encode()
    events = ResponseReader().feed(rtp.encode() + reply + rtp.encode())
    assert events[0] == rtp and events[2] == rtp
    assert isinstance(events[1], RtspResponse) and events[1].cseq == 3
    assert rtp.encode()[:4] == b"$\x00\x00\x66"
