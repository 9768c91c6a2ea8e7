"""RFC 2435 RTP/JPEG depacketizing what the network brings: lost, late, duplicated and
reordered packets, malformed payloads counted instead of raised, tables cached per Q,
memory bounded per frame."""

import io

import pytest
from PIL import Image

from helpers import decoded
from rfc2435_samples import (
    MAX_PAYLOAD,
    TABLES,
    feed,
    items,
    pillow_jpeg,
    segments,
)
from rtsplab.payload.rfc2435.depacketizer import JpegDepacketizer
from rtsplab.payload.rfc2435.frame import parse_jpeg
from rtsplab.payload.rfc2435.header import (
    JpegPayloadHeader,
)
from rtsplab.payload.rfc2435.packetizer import jpeg_to_payloads, packetize


@pytest.fixture(scope="module")
def source():
    return pillow_jpeg()


def three_frames(max_payload=MAX_PAYLOAD):
    jpegs = [pillow_jpeg((160, 120), seed=s) for s in (1, 2, 3)]
    packets, seq = [], 500
    for n, jpeg in enumerate(jpegs):
        frame = items(jpeg_to_payloads(jpeg, max_payload), seq, 3000 * n)
        packets += frame
        seq += len(frame)
    return jpegs, packets


@pytest.mark.parametrize("lost", ["first", "middle", "last"])
def test_a_frame_missing_a_packet_is_dropped_and_the_next_delivered(lost):
    jpegs, packets = three_frames()
    frame1 = [i for i, p in enumerate(packets) if p[1] == 3000]
    assert len(frame1) >= 3
    del packets[{"first": frame1[0], "middle": frame1[1], "last": frame1[-1]}[lost]]
    depacketizer = JpegDepacketizer()
    frames = feed(depacketizer, packets)
    assert [decoded(f) for f in frames] == [decoded(jpegs[0]), decoded(jpegs[2])]
    assert depacketizer.stats.frames == 2 and depacketizer.stats.dropped_frames == 1
    assert depacketizer.stats.malformed == 0
    assert depacketizer.buffered_bytes == 0


def test_the_last_frame_incomplete_is_dropped_at_flush():
    jpegs, packets = three_frames()
    depacketizer = JpegDepacketizer()
    assert len(feed(depacketizer, packets[:-1])) == 2
    assert depacketizer.buffered_bytes > 0
    depacketizer.flush()
    assert depacketizer.stats.dropped_frames == 1 and depacketizer.buffered_bytes == 0


def test_a_third_timestamp_drops_the_oldest_open_frame():
    jpegs, packets = three_frames()
    depacketizer = JpegDepacketizer()
    by_ts = {ts: [p for p in packets if p[1] == ts] for ts in (0, 3000, 6000)}
    # Frames 0 and 1 each lose their marker packet; frame 2 starting drops frame 0.
    feed(depacketizer, by_ts[0][:-1] + by_ts[3000][:-1] + by_ts[6000][:1])
    assert depacketizer.stats.dropped_frames == 1
    assert depacketizer.push(*by_ts[0][-1]) is None  # frame 0's last packet: too late
    assert depacketizer.stats.late_packets == 1  # and frame 1 is still open:
    frames = feed(depacketizer, by_ts[3000][-1:] + by_ts[6000][1:])
    assert [decoded(f) for f in frames] == [decoded(jpegs[1]), decoded(jpegs[2])]
    assert depacketizer.stats.dropped_frames == 1


def test_duplicates_and_late_packets_are_counted_not_delivered(source):
    packets = items(jpeg_to_payloads(source, MAX_PAYLOAD))
    depacketizer = JpegDepacketizer()
    frames = feed(depacketizer, packets[:3] + packets[1:2] + packets[3:] + packets[:1])
    assert len(frames) == 1
    assert depacketizer.stats.duplicates == 1 and depacketizer.stats.late_packets == 1


def test_sequence_numbers_must_follow_the_offsets(source):
    packets = items(jpeg_to_payloads(source, MAX_PAYLOAD))
    # Offsets contiguous, but a sequence number skipped: a packet in between is missing.
    skipped = packets[:2] + [(seq + 1, ts, m, p) for seq, ts, m, p in packets[2:]]
    depacketizer = JpegDepacketizer()
    assert feed(depacketizer, skipped) == []
    assert depacketizer.stats.dropped_frames == 1 and depacketizer.stats.frames == 0


def test_tables_of_a_static_q_are_cached_q255_never(source):
    frame = parse_jpeg(source)
    first = packetize(frame, MAX_PAYLOAD, q=200)
    header, data = JpegPayloadHeader.decode(first[0])
    bare = JpegPayloadHeader(offset=0, type=1, q=200, width=40, height=30, qtables=b"").encode()
    second = [bare + data] + first[1:]  # the same frame again, Length 0 in its first packet

    cold = JpegDepacketizer()
    assert feed(cold, items(second)) == []  # nothing cached yet
    assert cold.stats.malformed == 1 and cold.stats.frames == 0

    warm = JpegDepacketizer()
    assert len(feed(warm, items(first, 100, 0))) == 1
    [rebuilt] = feed(warm, items(second, 10_000, 3000))
    assert decoded(rebuilt) == decoded(source)
    other_q = JpegPayloadHeader(offset=0, type=1, q=201, width=40, height=30, qtables=b"")
    assert warm.push(20_000, 6000, False, other_q.encode() + data) is None
    assert warm.stats.malformed == 1

    dynamic = JpegDepacketizer()
    assert len(feed(dynamic, items(packetize(frame, MAX_PAYLOAD, q=255), 100, 0))) == 1
    q255_bare = b"\x00\x00\x00\x00\x01\xff\x28\x1e" + b"\x00\x00\x00\x00"  # Length 0
    assert dynamic.push(10_000, 3000, False, q255_bare + data) is None
    assert dynamic.stats.malformed == 1


def test_one_table_for_all_components(source):
    """Length 64: one table for Y and chroma (ffmpeg's payloader sends what the JPEG has)."""
    frame = parse_jpeg(source)
    payloads = packetize(frame, MAX_PAYLOAD)
    header, data = JpegPayloadHeader.decode(payloads[0])
    one = JpegPayloadHeader(offset=0, type=1, q=255, width=40, height=30, qtables=frame.qtables[0])
    [rebuilt] = feed(JpegDepacketizer(), items([one.encode() + data] + payloads[1:]))
    found = dict(segments(rebuilt))
    assert found[0xDB] == b"\x00" + frame.qtables[0]  # one table, id 0
    assert (found[0xC0][8], found[0xC0][11], found[0xC0][14]) == (0, 0, 0)  # every Tq is 0
    with Image.open(io.BytesIO(rebuilt)) as image:
        image.load()
        assert image.size == (320, 240)


def malformed_cases(source):
    payloads = jpeg_to_payloads(source, MAX_PAYLOAD)
    first_data = JpegPayloadHeader.decode(payloads[0])[1]
    main = b"\x00\x00\x00\x00\x01\x32\x28\x1e"  # offset 0, type 1, Q=50, 320x240
    return {
        "short header": b"\x00\x00\x00\x00\x01\x32\x28",
        "restart header missing": b"\x00\x00\x00\x00\x41\x32\x28\x1e\x00",
        "quant header short": b"\x00\x00\x00\x00\x01\xff\x28\x1e\x00\x00",
        "tables missing with Q=255": b"\x00\x00\x00\x00\x01\xff\x28\x1e\x00\x00\x00\x00xx",
        "zero size without x-dimensions": b"\x00\x00\x00\x00\x01\x32\x00\x00xx",
        "reserved Q": b"\x00\x00\x00\x00\x01\x64\x28\x1exx",
        "type 2": b"\x00\x00\x00\x00\x02\x32\x28\x1exx",
        "16-bit tables": b"\x00\x00\x00\x00\x01\xff\x28\x1e\x00\x01\x00\x80" + TABLES + b"xx",
        "table length 100": b"\x00\x00\x00\x00\x01\xff\x28\x1e\x00\x00\x00\x64" + TABLES[:100],
        "no data": main,
        "first data": main[:5] + b"\xff" + main[6:] + b"\x00\x00\x00\x80" + TABLES + first_data,
    }


@pytest.mark.parametrize(
    "case",
    ["short header", "restart header missing", "quant header short", "tables missing with Q=255",
     "zero size without x-dimensions", "reserved Q", "type 2", "16-bit tables",
     "table length 100", "no data"],
)  # fmt: skip
def test_malformed_packets_are_counted_and_skipped(source, case):
    depacketizer = JpegDepacketizer()
    assert depacketizer.push(1, 0, True, malformed_cases(source)[case]) is None
    assert depacketizer.stats.malformed == 1
    assert depacketizer.buffered_bytes == 0
    # and the stream goes on: the next frame is delivered
    assert len(feed(depacketizer, items(jpeg_to_payloads(source, MAX_PAYLOAD), 10))) == 1


def test_a_well_formed_single_packet_frame_is_the_control(source):
    """The malformed cases above are built like this one, which is accepted (so each of them
    fails for its own reason)."""
    frame = JpegDepacketizer().push(1, 0, False, malformed_cases(source)["first data"])
    assert frame is None  # no marker yet: held, not malformed


def test_offsets_past_the_frame_and_overlaps_are_malformed(source):
    packets = items(jpeg_to_payloads(source, MAX_PAYLOAD))
    first_end = len(JpegPayloadHeader.decode(packets[0][3])[1])
    last_header, last_data = JpegPayloadHeader.decode(packets[-1][3])
    end = last_header.offset + len(last_data)
    ts = packets[0][1]

    def at(offset, data=b"\x00" * 10):
        return JpegPayloadHeader(offset=offset, type=1, q=255, width=40, height=30).encode() + data

    depacketizer = JpegDepacketizer()
    feed(depacketizer, [packets[0], packets[-1]])  # the marker packet sets the frame's end
    bad = {
        "past the end": (False, at(end)),
        "overlaps the fragment before": (False, at(first_end - 3)),
        "overlaps the fragment after": (False, at(last_header.offset - 5)),
        "a second marker": (True, at(end - 3, b"\x00")),
    }
    for n, (marker, payload) in enumerate(bad.values()):
        assert depacketizer.push(5000 + n, ts, marker, payload) is None
        assert depacketizer.stats.malformed == n + 1
    frames = feed(depacketizer, packets[1:-1])
    assert len(frames) == 1 and decoded(frames[0]) == decoded(source)

    # A marker packet ending the frame before data already held (no marker seen yet).
    early = JpegDepacketizer()
    seq, _, _, last = packets[-1]
    feed(early, [packets[0], (seq, ts, False, last)])
    assert early.push(6000, ts, True, at(first_end)) is None
    assert early.stats.malformed == 1 and early.buffered_bytes == first_end + len(last_data)


def test_fields_must_agree_within_a_frame(source):
    packets = items(jpeg_to_payloads(source, MAX_PAYLOAD))
    seq, ts, marker, payload = packets[1]
    changed = payload[:6] + b"\x29" + payload[7:]  # width 41 blocks instead of 40
    depacketizer = JpegDepacketizer()
    feed(depacketizer, packets[:1] + [(seq, ts, marker, changed)])
    assert depacketizer.stats.malformed == 1


def test_memory_per_frame_is_bounded(source):
    payloads = jpeg_to_payloads(source, 200)
    small = JpegDepacketizer(max_frame_bytes=1000)
    feed(small, items(payloads))
    assert small.stats.frames == 0 and small.stats.malformed > 0
    assert small.buffered_bytes <= 1000
    few = JpegDepacketizer(max_frame_packets=4)
    feed(few, items(payloads))
    assert few.stats.frames == 0 and few.stats.malformed == len(payloads) - 4


def test_drop_in_for_the_rtp_receiver(source):
    """RtpReceiver takes the depacketizer in place of the lab's LabAssembler."""
    from RtpPacket import PT_JPEG, RtpPacket
    from rtsplab.rtp.receiver import RtpReceiver

    receiver = RtpReceiver(None, assembler=JpegDepacketizer())
    frames = []
    for seq, ts, marker, payload in items(jpeg_to_payloads(source, MAX_PAYLOAD), 65530):
        packet = RtpPacket()
        packet.encode(2, 0, 0, 0, seq % 65536, int(marker), PT_JPEG, 1, payload, timestamp=ts)
        if (frame := receiver.receive(packet.getPacket(), "127.0.0.1", 0.0)) is not None:
            frames.append(frame)
    assert len(frames) == 1 and decoded(frames[0]) == decoded(source)
    receiver.flush()
    assert receiver.summary()["frames"] == 1 and receiver.summary()["dropped_frames"] == 0


@pytest.mark.parametrize("window, delivered", [(0, 2), (8, 3)])
def test_a_frame_waits_for_its_repair_only_with_a_repair_window(window, delivered):
    jpegs, packets = three_frames()
    frame1 = [i for i, p in enumerate(packets) if p[1] == 3000]
    missing = packets.pop(frame1[1])  # its repair comes after the frames that follow
    depacketizer = JpegDepacketizer()
    depacketizer.repair_window = window
    frames = feed(depacketizer, [*packets, missing])
    assert len(frames) == delivered
    assert sorted(decoded(f) for f in frames) == sorted(
        decoded(j) for j in (jpegs if window else [jpegs[0], jpegs[2]])
    )
