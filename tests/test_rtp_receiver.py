"""rtp.receiver.RtpReceiver: which datagrams are the session's source, without a socket.

Every datagram is built by hand with RtpPacket.encode. A frame is a 12-byte JPEG, a COM segment
between SOI and EOI, cut into two packets, so a test can tell each frame (and a forger's) apart:

    FF D8 | FF FE 00 06 | tag n n n | FF D9
    SOI     COM, len 6    4 bytes     EOI      packet 1: bytes 0-5, packet 2: bytes 6-11 (marker)
"""

import logging

import pytest

from RtpPacket import PT_JPEG, SEQ_MOD, RtpPacket
from rtsplab.payload.rfc2435.depacketizer import JpegDepacketizer
from rtsplab.rtp.receiver import (
    MAX_CANDIDATES,
    MAX_HELD,
    MAX_SUCCESSOR_BYTES,
    MAX_SUCCESSOR_PACKETS,
    SOURCE_TIMEOUT,
    ReceivedFrame,
    RtpReceiver,
)
from rtsplab.rtp.reception import MAX_DROPOUT, MIN_SEQUENTIAL

SERVER_IP = "192.0.2.1"  # TEST-NET-1
SERVER_PORT = 5004  # the SETUP reply's server_port=5004-5005
OTHER_PORT = 6000  # someone else on the server's address
REAL = 0x5EED0001  # the SETUP reply's ssrc=
FORGED = 0xBAD0BAD0
FRAME_STEP = 3000  # RTP timestamp step of one frame at 30 fps on the 90 kHz clock
PACKET_GAP = 1 / 64  # seconds between datagrams; a power of two keeps the times exact
PT_DYNAMIC = 96  # RFC 3551 §6: 96-127 are dynamic, mapped by the SDP's a=rtpmap


def jpeg_of(tag: bytes, n: int) -> bytes:
    return b"\xff\xd8" + b"\xff\xfe\x00\x06" + tag + n.to_bytes(3, "big") + b"\xff\xd9"


def rtp(seq: int, ssrc: int = REAL, timestamp: int = 0, marker: int = 1,
        payload: bytes = b"", pt: int = PT_JPEG) -> bytes:  # fmt: skip
    packet = RtpPacket()
    packet.encode(2, 0, 0, 0, seq % SEQ_MOD, marker, pt, ssrc, payload, timestamp=timestamp)
    return packet.getPacket()


def stream(ssrc=REAL, first_seq=100, frames=3, tag=b"R", first_frame=0, pt=PT_JPEG):
    """`frames` frames of two packets each, in consecutive sequence numbers from first_seq."""
    out = []
    for i in range(first_frame, first_frame + frames):
        data = jpeg_of(tag, i)
        for k, part in enumerate((data[:6], data[6:])):
            seq = first_seq + 2 * (i - first_frame) + k
            out.append(rtp(seq, ssrc, (FRAME_STEP * i) % 2**32, k, part, pt))
    return out


def feed(receiver, datagrams, port=SERVER_PORT, start=0.0, ip=SERVER_IP, gap=PACKET_GAP):
    """Every frame the datagrams complete (receive_frames), `gap` apart from `start`."""
    frames = []
    for i, datagram in enumerate(datagrams):
        got = receiver.receive_frames(datagram, ip, start + i * gap, port)
        frames += [frame.data for frame in got]
    return frames


def frames_of(tag=b"R", count=3, first=0):
    return [jpeg_of(tag, i) for i in range(first, first + count)]


def test_the_datagrams_are_the_bytes_computed_by_hand():
    assert rtp(0x0064, REAL, 0x00000BB8, 1, b"\xff\xd9") == bytes.fromhex(
        "80"  # V=2, P=0, X=0, CC=0
        "9a"  # M=1, PT=26 (JPEG)
        "0064"  # sequence number 100
        "00000bb8"  # timestamp 3000
        "5eed0001"  # SSRC
        "ffd9"  # payload
    )
    assert rtp(7, FORGED, 0, 0, b"", PT_DYNAMIC)[:2] == bytes.fromhex("8060")  # M=0, PT=96
    assert jpeg_of(b"R", 0x010203) == bytes.fromhex("ffd8 fffe0006 52010203 ffd9")


def test_a_clean_stream_is_delivered_whole():
    receiver = RtpReceiver(SERVER_IP)
    assert feed(receiver, stream(frames=5)) == frames_of(count=5)
    assert receiver.source == (REAL, SERVER_PORT) and receiver.ssrc == REAL
    summary = receiver.summary()
    assert (summary["packets"], summary["lost_packets"], summary["foreign"]) == (10, 0, 0)


def test_with_strict_ports_other_ports_are_always_foreign():
    receiver = RtpReceiver(SERVER_IP, server_port=SERVER_PORT, strict_ports=True)
    # The forger copies the real SSRC and numbering and sends first, from another port.
    forged = stream(REAL, first_seq=100, frames=3, tag=b"X")
    assert feed(receiver, forged, port=OTHER_PORT) == []
    assert receiver.source is None
    got = []
    for real, fake in zip(stream(frames=3), stream(REAL, 106, 3, b"X", 3), strict=True):
        got += feed(receiver, [fake], port=OTHER_PORT)
        got += feed(receiver, [real], port=SERVER_PORT)
    assert got == frames_of(count=3)
    stats = receiver.counts
    assert (stats.foreign, stats.wrong_port, stats.packets) == (12, 12, 6)
    assert receiver.summary()["wrong_port"] == 12


def test_rtp_from_another_port_of_the_server_is_taken_by_the_ssrc_the_reply_named(caplog):
    """A server behind NAT, or a relay: its RTP leaves from another port than server_port."""
    receiver = RtpReceiver(SERVER_IP, server_port=SERVER_PORT, ssrc=REAL)
    forged = [rtp(1000 + n, FORGED, 0, 1, jpeg_of(b"X", n)) for n in range(10)]
    with caplog.at_level(logging.WARNING, logger="rtsplab.rtp.receiver"):
        assert feed(receiver, forged, port=OTHER_PORT) == []  # another SSRC: never taken
        assert feed(receiver, stream(frames=3), port=OTHER_PORT, start=1.0) == frames_of(count=3)
    assert receiver.source == (REAL, OTHER_PORT)
    stats = receiver.counts
    assert (stats.packets, stats.foreign, stats.wrong_port) == (6, 10, 0)
    moved = [r for r in caplog.records if "not the server_port" in r.getMessage()]
    assert len(moved) == 1 and f"port {OTHER_PORT}" in moved[0].getMessage()


def test_rtp_from_another_port_without_a_named_ssrc_passes_the_probation():
    receiver = RtpReceiver(SERVER_IP, server_port=SERVER_PORT)
    assert feed(receiver, stream(frames=3), port=OTHER_PORT) == frames_of(count=3)
    assert receiver.source == (REAL, OTHER_PORT)
    # Still only the server's address.
    assert feed(receiver, stream(frames=1), port=OTHER_PORT, ip="192.0.2.2", start=1.0) == []
    assert receiver.counts.foreign == 2


def test_a_caller_that_cannot_tell_the_port_is_filtered_by_address_only():
    receiver = RtpReceiver(SERVER_IP, server_port=SERVER_PORT, strict_ports=True)
    assert feed(receiver, stream(frames=2), port=None) == frames_of(count=2)
    assert feed(receiver, stream(frames=1), port=None, ip="192.0.2.2") == []
    assert (receiver.counts.foreign, receiver.counts.wrong_port) == (2, 0)


def test_the_ssrc_from_setup_is_the_only_one_taken():
    receiver = RtpReceiver(SERVER_IP, ssrc=REAL)
    assert receiver.ssrc == REAL  # known before any RTP: the RTCP side can use it at once
    # 50 forged packets in sequence, from the server's very port, before the real stream.
    forged = [rtp(1000 + n, FORGED, 0, 1, jpeg_of(b"X", n)) for n in range(50)]
    assert feed(receiver, forged) == []
    assert feed(receiver, stream(frames=3), start=1.0) == frames_of(count=3)
    assert receiver.counts.foreign == 50 and receiver.source == (REAL, SERVER_PORT)


def forged_flood(kind):
    """50 forged packets from another port that never make a run of MIN_SEQUENTIAL."""
    if kind == "fresh-ssrc-each":
        return [rtp(100 + n, FORGED + n, 0, 1, jpeg_of(b"X", n)) for n in range(50)]
    if kind == "one-seq-replayed":
        return [rtp(100, FORGED, 0, 1, jpeg_of(b"X", 0))] * 50
    assert kind == "seq-step-2"
    return [rtp(100 + 2 * n, FORGED, 0, 1, jpeg_of(b"X", n)) for n in range(50)]


@pytest.mark.parametrize("kind", ["fresh-ssrc-each", "one-seq-replayed", "seq-step-2"])
def test_forged_packets_first_do_not_capture_the_receiver(kind):
    receiver = RtpReceiver(SERVER_IP)  # no server_port, no ssrc: the SETUP reply named none
    assert feed(receiver, forged_flood(kind), port=OTHER_PORT) == []
    assert receiver.source is None and receiver.ssrc is None
    assert feed(receiver, stream(frames=4), start=1.0) == frames_of(count=4)  # every frame
    assert receiver.source == (REAL, SERVER_PORT)
    summary = receiver.summary()
    assert (summary["foreign"], summary["packets"], summary["lost_packets"]) == (50, 8, 0)
    assert (summary["frames"], summary["dropped_frames"]) == (4, 0)


def test_forged_packets_between_the_servers_first_two_do_not_break_its_probation():
    receiver = RtpReceiver(SERVER_IP)
    real = stream(frames=2)
    got = feed(receiver, real[:1], start=0.0)
    for n in range(MAX_CANDIDATES - 1):  # one fewer than would push the real one out
        got += feed(receiver, [rtp(500, FORGED + n, 0, 1, jpeg_of(b"X", n))], OTHER_PORT, 0.1)
    got += feed(receiver, real[1:], start=0.2)
    assert got == frames_of(count=2)
    assert receiver.counts.foreign == MAX_CANDIDATES - 1


def test_a_candidate_holds_at_most_max_held_packets():
    receiver = RtpReceiver(SERVER_IP)
    # 10 packets of one frame's start, never in sequence: the oldest two are pushed out.
    feed(receiver, [rtp(100 + 2 * n, REAL, 0, 0, jpeg_of(b"R", 0)[:6]) for n in range(10)])
    assert receiver.counts.foreign == 10 - MAX_HELD and receiver.counts.packets == 0


def test_single_packet_frames_held_on_probation_all_come_out_at_the_lock():
    receiver = RtpReceiver(SERVER_IP)
    one = rtp(100, REAL, 0, 1, jpeg_of(b"R", 0))
    two = rtp(101, REAL, FRAME_STEP, 1, jpeg_of(b"R", 1))
    assert receiver.receive_frames(one, SERVER_IP, 0.0, SERVER_PORT) == []
    assert receiver.receive_frames(two, SERVER_IP, 0.01, SERVER_PORT) == [
        ReceivedFrame(jpeg_of(b"R", 0), 0),
        ReceivedFrame(jpeg_of(b"R", 1), FRAME_STEP),
    ]  # fmt: skip
    again = RtpReceiver(SERVER_IP)
    again.receive(one, SERVER_IP, 0.0, SERVER_PORT)
    assert again.receive(two, SERVER_IP, 0.01, SERVER_PORT) == jpeg_of(b"R", 1)  # the newest
    assert again.last_timestamp == FRAME_STEP and again.summary()["frames"] == 2


def test_a_forged_run_that_comes_first_is_locked_until_silent_then_the_server_takes_over():
    # The limit of probation alone (no server_port, no ssrc): a forger whose run comes first
    # wins, until it falls silent for SOURCE_TIMEOUT.
    receiver = RtpReceiver(SERVER_IP)
    forged = stream(FORGED, 7000, frames=25, tag=b"X")  # 50 packets in sequence
    assert feed(receiver, forged, port=OTHER_PORT) == frames_of(b"X", 25)
    last_forged = 49 * PACKET_GAP
    assert receiver.source == (FORGED, OTHER_PORT)
    real = stream(frames=4)
    early = last_forged + SOURCE_TIMEOUT - PACKET_GAP
    assert feed(receiver, real[:2], start=early, gap=0) == []  # foreign: the lock still holds
    taken = feed(receiver, real[2:], start=last_forged + SOURCE_TIMEOUT)
    assert taken == frames_of(count=3, first=1)  # frame 0 went while the forger held the lock
    assert receiver.source == (REAL, SERVER_PORT)
    assert receiver.counts.foreign == 2 and receiver.counts.source_changes == 1


def locked_receiver(**kw):
    receiver = RtpReceiver(SERVER_IP, **kw)
    assert feed(receiver, stream(first_seq=40000, frames=3)) == frames_of(count=3)
    return receiver  # last packet at 5 * PACKET_GAP


def test_another_source_is_refused_while_the_locked_one_is_live():
    receiver = locked_receiver()
    assert feed(receiver, stream(FORGED, 10, 3, b"X"), start=0.1) == []  # another SSRC
    assert feed(receiver, stream(REAL, 10, 3, b"X"), OTHER_PORT, 0.2) == []  # another port
    assert receiver.source_left(FORGED) is False  # a BYE for someone else changes nothing
    assert feed(receiver, stream(FORGED, 20, 2, b"X"), start=0.3) == []
    assert receiver.counts.foreign == 16 and receiver.source == (REAL, SERVER_PORT)
    # The locked source goes on, its numbering intact.
    assert feed(receiver, stream(first_seq=40006, frames=1, first_frame=3), start=0.4) == [
        jpeg_of(b"R", 3)
    ]  # fmt: skip
    assert receiver.summary()["lost_packets"] == 0


def test_after_bye_a_new_ssrc_is_a_new_stream():
    receiver = locked_receiver()
    reception = receiver.reception
    lost = stream(first_seq=40006, frames=2, first_frame=3)
    feed(receiver, lost[1:], start=0.1)  # one packet of the old source lost
    assert receiver.source_left(REAL) is True
    assert receiver.source is None and receiver.ssrc is None
    # The new source numbers from 10, far below the old one's 40009: still delivered.
    assert feed(receiver, stream(FORGED, 10, 3, b"N"), start=0.2) == frames_of(b"N", 3)
    assert receiver.source == (FORGED, SERVER_PORT) and receiver.ssrc == FORGED
    assert receiver.reception is reception  # the RTCP side holds this very object
    assert (reception.base_seq, reception.received, reception.cumulative_lost) == (11, 5, 0)
    summary = receiver.summary()
    assert summary["lost_packets"] == 1  # the old source's loss is not forgotten
    assert (summary["dropped_frames"], summary["late_packets"]) == (1, 0)
    assert receiver.counts.source_changes == 1


def test_a_new_source_drops_the_old_ones_open_frame():
    receiver = locked_receiver()
    feed(receiver, stream(first_seq=40006, frames=1, first_frame=3)[:1], start=0.1)  # half
    receiver.source_left(REAL)
    start = jpeg_of(b"N", 0)
    new = [rtp(10, FORGED, 0, 0, start[:6]), rtp(11, FORGED, 0, 0, start[6:8])]  # no end yet
    assert feed(receiver, new, start=0.2) == []
    assert receiver.summary()["dropped_frames"] == 1  # the old frame can never complete
    assert receiver.assembler.buffered_bytes == 8  # only the new source's 6 + 2 bytes


def test_after_bye_the_same_source_coming_back_goes_on():
    receiver = locked_receiver()
    receiver.source_left(REAL)
    more = stream(first_seq=40006, frames=2, first_frame=3)
    assert feed(receiver, more, start=1.0) == frames_of(count=2, first=3)
    assert receiver.counts.source_changes == 0
    assert receiver.reception.received == 9  # 40001..40009: counted on, not restarted


@pytest.mark.parametrize(
    "silence, taken",
    [(SOURCE_TIMEOUT - 0.001, False), (SOURCE_TIMEOUT, True)],
    ids=["just-under-timeout", "timeout"],
)
def test_after_silence_another_source_may_take_over(silence, taken):
    receiver = locked_receiver()
    start = 5 * PACKET_GAP + silence
    got = feed(receiver, stream(FORGED, 10, 2, b"N"), start=start, gap=0)
    assert got == (frames_of(b"N", 2) if taken else [])
    assert receiver.source == ((FORGED, SERVER_PORT) if taken else (REAL, SERVER_PORT))


def test_the_locked_source_resumes_after_a_long_pause():
    receiver = locked_receiver()
    after = stream(first_seq=40006, frames=2, first_frame=3)
    assert feed(receiver, after, start=60.0) == frames_of(count=2, first=3)
    assert receiver.counts.source_changes == 0 and receiver.counts.foreign == 0


def test_a_dynamic_payload_type_from_the_sdp():
    receiver = RtpReceiver(SERVER_IP, payload_type=PT_DYNAMIC)
    assert feed(receiver, stream(frames=2, pt=PT_JPEG)) == []
    assert receiver.counts.foreign == 4
    assert feed(receiver, stream(first_seq=104, frames=2, pt=PT_DYNAMIC), start=1.0) == frames_of(
        count=2
    )
    default = RtpReceiver(SERVER_IP)
    assert feed(default, stream(frames=2, pt=PT_DYNAMIC)) == []
    assert default.counts.foreign == 4


def test_expected_first_seq_counts_the_packets_lost_before_the_first_one():
    receiver = RtpReceiver(SERVER_IP)
    receiver.expect_first_seq(65530)  # PLAY's RTP-Info seq=65530; 65530..65532 are lost
    feed(receiver, stream(first_seq=65533, frames=3))  # 65533..65535, 0..2
    reception = receiver.reception
    assert (reception.base_seq, reception.cycles, reception.max_seq) == (65530, 1, 2)
    assert (reception.expected, reception.received) == (9, 6)
    assert receiver.summary()["lost_packets"] == 3


def test_expected_first_seq_after_the_first_packets():
    receiver = RtpReceiver(SERVER_IP)
    feed(receiver, stream(first_seq=65533, frames=2))  # RTP beat the PLAY reply
    assert receiver.summary()["lost_packets"] == 0
    receiver.expect_first_seq(65530)
    assert receiver.summary()["lost_packets"] == 3
    assert receiver.reception.first_seq == 65530


def test_expected_first_seq_survives_a_forger_that_held_the_lock():
    receiver = RtpReceiver(SERVER_IP)
    receiver.expect_first_seq(100)
    feed(receiver, stream(FORGED, 30000, frames=2, tag=b"X"), port=OTHER_PORT)
    assert receiver.reception.first_seq is None  # implausible for the forger's stream: kept
    feed(receiver, stream(first_seq=102, frames=2), start=SOURCE_TIMEOUT + 1.0)
    assert receiver.reception.first_seq == 100
    assert receiver.summary()["lost_packets"] == 2  # 100 and 101; the forger's stream lost none


@pytest.mark.parametrize("seq", [-1, SEQ_MOD])
def test_expected_first_seq_must_be_16_bits(seq):
    with pytest.raises(ValueError, match=f"must be 0..65535, got {seq}"):
        RtpReceiver(SERVER_IP).expect_first_seq(seq)


def test_expected_first_seq_far_behind_is_ignored():
    receiver = RtpReceiver(SERVER_IP)
    receiver.expect_first_seq((1000 - MAX_DROPOUT - 1) % SEQ_MOD)
    feed(receiver, stream(first_seq=1000, frames=2))
    assert receiver.summary()["lost_packets"] == 0 and receiver.reception.first_seq is None


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"server_port": 0}, "server_port must be 1..65535, got 0"),
        ({"server_port": 65536}, "server_port must be 1..65535, got 65536"),
        ({"ssrc": 2**32}, "ssrc must be 0..0xFFFFFFFF, got 4294967296"),
        ({"ssrc": -1}, "ssrc must be 0..0xFFFFFFFF, got -1"),
        ({"payload_type": 128}, "payload_type must be 0..127, got 128"),
    ],
)
def test_bad_arguments_are_refused(kw, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        RtpReceiver(SERVER_IP, **kw)


def test_summary_gives_the_depacketizers_malformed_payloads():
    lab = RtpReceiver(SERVER_IP)
    feed(lab, stream(frames=1))
    assert lab.summary()["malformed_payloads"] == 0  # the lab's payload has no header
    rfc = RtpReceiver(SERVER_IP, JpegDepacketizer())
    # RFC 2435 §3.1: an 8-byte main header; 3 bytes cannot be one.
    feed(rfc, [rtp(100, REAL, 0, 0, b"\x00\x00\x00"), rtp(101, REAL, 0, 1, b"\x00\x00\x00")])
    assert rfc.summary()["malformed_payloads"] == 2


def test_constants():
    assert MIN_SEQUENTIAL == 2 and SOURCE_TIMEOUT == 3.0
    assert (MAX_CANDIDATES, MAX_HELD) == (8, 8)


# -- the source changing its SSRC, announced by RTCP (RFC 3550 §8.2) ------------------------

NEW = 0x0E0E0E0E  # the server's SSRC after a collision


def changing(change_at: int, frames: int) -> list[bytes]:
    """`stream()`'s frames with the SSRC changed from REAL to NEW at packet `change_at`:
    the sequence numbers and timestamps go on, as the server's do."""
    out = []
    for n, datagram in enumerate(stream(REAL, frames=frames)):
        packet = RtpPacket()
        packet.decode(datagram)
        ssrc = REAL if n < change_at else NEW
        out.append(rtp(packet.seqNum(), ssrc, packet.timestamp(), packet.marker(),
                       packet.getPayload()))  # fmt: skip
    return out


def test_a_frames_worth_under_the_new_ssrc_before_the_rtcp_is_held_and_every_frame_kept():
    """A 720p frame is ~70 packets: the RTCP announcing the change can come after that many
    under the new SSRC; the change falls mid-frame (packet 41: frame 20's second half)."""
    datagrams = changing(41, 100)
    receiver = RtpReceiver(SERVER_IP, server_port=SERVER_PORT, ssrc=REAL)
    before = feed(receiver, datagrams[:141])
    assert before == frames_of(count=20)
    followed = [frame.data for frame in receiver.follow(REAL, NEW)]
    assert followed == frames_of(count=50, first=20)  # 20 (completed) to 69
    after = feed(receiver, datagrams[141:], start=141 * PACKET_GAP)
    assert before + followed + after == frames_of(count=100)
    assert (receiver.counts.foreign, receiver.summary()["lost_packets"]) == (0, 0)


def test_packets_under_the_old_ssrc_read_after_the_rtcp_are_still_the_streams():
    """The RTCP is read before the RTP that was sent ahead of it (the client reads RTCP first
    in a wake-up): the old SSRC's last packets still belong to the stream."""
    datagrams = changing(41, 30)
    receiver = RtpReceiver(SERVER_IP, server_port=SERVER_PORT, ssrc=REAL)
    got = feed(receiver, datagrams[:30])
    assert receiver.follow(REAL, NEW) == []
    got += feed(receiver, datagrams[30:], start=30 * PACKET_GAP)
    assert got == frames_of(count=30) and receiver.counts.foreign == 0
    # Not from another port: that is not the source's, whatever its SSRC.
    assert feed(receiver, [rtp(200, REAL, 0, 1, jpeg_of(b"F", 0))], port=OTHER_PORT) == []


@pytest.mark.parametrize(
    "payload, held",
    [(b"", MAX_SUCCESSOR_PACKETS), (bytes(60_000), MAX_SUCCESSOR_BYTES // 60_012)],
)
def test_what_is_held_for_a_successor_is_bounded_in_packets_and_in_bytes(payload, held):
    """Packets under another SSRC from the source's port: a frame's worth is held, then the
    oldest go. How many were held shows when they are replayed: no longer foreign."""
    receiver = RtpReceiver(SERVER_IP, server_port=SERVER_PORT, ssrc=REAL)
    feed(receiver, stream(REAL, frames=2))
    others = [rtp(1000 + i, FORGED, 0, 0, payload) for i in range(held + 10)]
    feed(receiver, others, start=1.0, gap=0.0)
    assert receiver.counts.foreign == held + 10
    receiver.follow(REAL, FORGED)
    assert receiver.counts.foreign == 10
