"""RtpSender met by three threads: the pacing loop numbers frames while the RTSP thread reads
where the stream is (RTP-Info) and the RTCP thread changes the SSRC (RFC 3550 §8.2)."""

import threading

import pytest

from RtpPacket import RtpPacket
from rtsplab.rtp.sender import RtpSender, joined

PACKETS_A_FRAME = 3
FRAMES = 20_000


def ssrcs(packets):
    decoded = []
    for packet in packets:
        rtp = RtpPacket()
        rtp.decode(joined(packet))
        decoded.append(rtp.ssrc())
    return decoded


def three_parts(frame, size):
    return [(b"", frame[:1]), (b"", frame[1:2]), (b"", frame[2:])]


def test_play_position_is_one_frames_numbers_while_another_thread_numbers_frames():
    sender = RtpSender(30.0, ssrc=1, first_seq=0, timestamp_origin=0, payloader=three_parts)
    cut = sender.cut(b"abcdef")
    done = threading.Event()

    def pacing():
        for _ in range(FRAMES):
            sender.packets(cut)
        done.set()

    thread = threading.Thread(target=pacing)
    thread.start()
    seen = 0
    while not done.is_set():
        seq, rtptime = sender.play_position()
        frame = seq // PACKETS_A_FRAME  # the frame those sequence numbers begin
        assert seq % PACKETS_A_FRAME == 0 and rtptime == sender.timestamp(frame)
        seen += 1
    thread.join()
    assert seen > 0
    assert sender.play_position() == (FRAMES * PACKETS_A_FRAME % 2**16, sender.timestamp(FRAMES))


def test_change_ssrc_takes_effect_from_the_next_frame_whole():
    sender = RtpSender(30.0, ssrc=0xAAAA, payloader=three_parts)
    cut = sender.cut(b"abcdef")
    before = ssrcs(sender.packets(cut))
    sender.change_ssrc(0xBBBB)
    after = ssrcs(sender.packets(cut))
    assert before == [0xAAAA] * 3 and after == [0xBBBB] * 3 and sender.ssrc == 0xBBBB
    for bad in (-1, 2**32):
        with pytest.raises(ValueError, match="32 bits"):
            sender.change_ssrc(bad)
    assert sender.ssrc == 0xBBBB
