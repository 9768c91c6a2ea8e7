"""L16 audio (rtsplab.payload.l16, RFC 3551 §4.5.11) against hand-computed bytes, and the
timeline that ties audio and video together (rtsplab.rtp.sync, RFC 3550 §6.4.1)."""

import struct

import pytest

from rtsplab.ntp import ntp_from_unix
from rtsplab.payload.l16 import conceal, packets, samples_per_packet, swapped
from rtsplab.rtp.sync import LipSync


def test_samples_go_out_big_endian_in_20_ms_packets():
    # 8 kHz stereo: 160 instants of 4 bytes a packet; the samples count 0, 1, 2, ...
    pcm = struct.pack("<402h", *range(402))  # 201 instants: one packet and a 41-instant tail
    out = packets(pcm, 8000, 2)
    assert [len(p) for p in out] == [640, 164]
    assert out[0][:6] == b"\x00\x00\x00\x01\x00\x02"  # 0, 1, 2 in network order
    assert out[1] == struct.pack(">82h", *range(320, 402))
    assert samples_per_packet(44100) == 882 and samples_per_packet(48000) == 960


def test_swapping_twice_gives_the_samples_back_and_odd_bytes_are_refused():
    assert swapped(b"\x01\x02\x03\x04") == b"\x02\x01\x04\x03"
    assert swapped(swapped(b"abcdef")) == b"abcdef"
    with pytest.raises(ValueError, match="whole 16-bit samples"):
        swapped(b"abc")
    with pytest.raises(ValueError, match="whole number of samples"):
        samples_per_packet(22050, 3)


def test_a_lost_packet_is_the_one_before_faded_to_silence():
    previous = struct.pack("<8h", *([1000, -1000] * 4))  # stereo, 4 instants
    assert struct.unpack("<8h", conceal(previous, 2)) == (750, -750, 500, -500, 250, -250, 0, 0)


def test_rtp_info_ties_the_streams_until_both_have_sender_reports():
    sync = LipSync(90_000, 48_000)
    assert sync.video_after_audio(0, 0) is None
    sync.video.on_rtp_info(1_000_000, 10.0)
    assert not sync.ready()
    sync.audio.on_rtp_info(4_294_000_000, 10.0)  # close to the 32-bit wrap
    # video 1 s in (90,000 ticks); audio 0.5 s in (24,000 ticks, across the wrap)
    later_audio = (4_294_000_000 + 24_000) % 2**32
    assert sync.video_after_audio(1_090_000, later_audio) == pytest.approx(0.5)
    # one SR alone does not move the timeline; both do
    sync.video.on_sender_report(ntp_from_unix(1000.0), 1_090_000)
    assert sync.video_after_audio(1_090_000, later_audio) == pytest.approx(0.5)
    sync.audio.on_sender_report(ntp_from_unix(1000.2), later_audio)  # the audio's SR 0.2 s on
    assert sync.video_after_audio(1_090_000, later_audio) == pytest.approx(-0.2, abs=1e-6)


def test_a_timestamp_before_the_anchor_is_earlier_not_a_wrap_later():
    sync = LipSync(90_000, 8_000)
    sync.video.on_rtp_info(100, 0.0)
    sync.audio.on_rtp_info(100, 0.0)
    assert sync.video_after_audio((100 - 9000) % 2**32, 100) == pytest.approx(-0.1)


def test_a_play_ties_the_streams_again_until_both_report_after_it():
    sync = LipSync(90_000, 8_000)
    sync.video.on_rtp_info(0, 0.0)
    sync.audio.on_rtp_info(0, 0.0)
    sync.video.on_sender_report(ntp_from_unix(100.0), 9_000)  # both 0.1 s in, same instant
    sync.audio.on_sender_report(ntp_from_unix(100.0), 800)
    assert sync.video_after_audio(9_000, 800) == pytest.approx(0.0, abs=1e-6)
    # PAUSE, then PLAY from 3 s: each track goes on from its own clock, the audio's a 20 ms
    # packet (160 ticks) further than the video's; by the old SRs they would be 20 ms apart.
    sync.video.on_rtp_info(90_000, 3.0)
    sync.audio.on_rtp_info(8_160, 3.0)
    assert sync.video_after_audio(90_000, 8_160) == pytest.approx(0.0)
    # SRs from before the PLAY (or while paused: the clock stopped at rtptime) are left out
    sync.video.on_sender_report(ntp_from_unix(101.0), 90_000)
    sync.audio.on_sender_report(ntp_from_unix(101.0), 8_000)
    assert sync.video_after_audio(90_000, 8_160) == pytest.approx(0.0)
    # both streams' SRs after it: the timeline is theirs (the audio's says 10 ms later)
    sync.video.on_sender_report(ntp_from_unix(200.0), 99_000)
    sync.audio.on_sender_report(ntp_from_unix(200.01), 8_960)
    assert sync.video_after_audio(90_000, 8_160) == pytest.approx(-0.01, abs=1e-6)
