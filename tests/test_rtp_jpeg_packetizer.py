"""RFC 2435 RTP/JPEG packetizing: payloads within the budget, restart headers, and round
trips through the depacketizer judged by the decoded picture (mode, size, pixels)."""

import dataclasses
import random

import pytest

from helpers import decoded
from rfc2435_samples import (
    MAX_PAYLOAD,
    dqt_tables,
    feed,
    items,
    pillow_jpeg,
    segments,
)
from rtsplab.payload.rfc2435.depacketizer import JpegDepacketizer
from rtsplab.payload.rfc2435.frame import parse_jpeg
from rtsplab.payload.rfc2435.header import (
    RESTART_COUNT_ANY,
    JpegPayloadHeader,
)
from rtsplab.payload.rfc2435.packetizer import jpeg_to_payloads, packetize
from rtsplab.payload.rfc2435.tables import make_headers, make_tables


@pytest.fixture(scope="module")
def source():
    return pillow_jpeg()


def test_packetize_splits_within_the_budget(source):
    frame = parse_jpeg(source)
    payloads = packetize(frame, MAX_PAYLOAD)
    assert len(payloads) > 10 and all(len(p) <= MAX_PAYLOAD for p in payloads)
    expected_offset = 0
    for i, payload in enumerate(payloads):
        header, data = JpegPayloadHeader.decode(payload)
        assert (header.type, header.q, header.width, header.height) == (1, 255, 40, 30)
        assert header.offset == expected_offset
        assert header.qtables == (b"".join(frame.qtables) if i == 0 else None)
        assert len(payload) == MAX_PAYLOAD or i == len(payloads) - 1
        expected_offset += len(data)
    assert expected_offset == len(frame.scan)
    assert jpeg_to_payloads(source, MAX_PAYLOAD) == payloads


def test_packetize_restart_header_in_every_packet():
    payloads = jpeg_to_payloads(pillow_jpeg(restart_marker_blocks=4), 500)
    for payload in payloads:
        header, _ = JpegPayloadHeader.decode(payload)
        assert header.type == 65 and header.restart_interval == 4
        assert header.restart_first and header.restart_last
        assert header.restart_count == RESTART_COUNT_ANY


def test_packetize_refuses_what_would_decode_wrong(source):
    frame = parse_jpeg(source)  # quality 90 tables
    with pytest.raises(ValueError, match="not those of Q=50"):
        packetize(frame, MAX_PAYLOAD, q=50)
    assert packetize(frame, MAX_PAYLOAD, q=90)  # they are Q=90's
    for q in (0, 100, 127, 256):
        with pytest.raises(ValueError, match="Q must be"):
            packetize(frame, MAX_PAYLOAD, q=q)
    # 8 main + 4 quantization header + 128 tables: no byte left for data in 140.
    with pytest.raises(ValueError, match="no room for data"):
        packetize(frame, 140, q=255)
    assert len(packetize(frame, 141, q=255)[0]) == 141


def test_packetize_rounds_small_odd_sizes_up_to_blocks():
    payload = jpeg_to_payloads(pillow_jpeg((100, 61)), MAX_PAYLOAD)[0]
    header, _ = JpegPayloadHeader.decode(payload)
    assert (header.width, header.height) == (13, 8)  # 104 x 64


@pytest.mark.parametrize("quality", [50, 90])
@pytest.mark.parametrize("subsampling", [2, 1], ids=["4:2:0", "4:2:2"])
@pytest.mark.parametrize("size", [(320, 240), (200, 136)], ids=["320x240", "200x136"])
def test_round_trip_gives_the_same_pixels(quality, subsampling, size):
    jpeg = pillow_jpeg(size, quality=quality, subsampling=subsampling)
    depacketizer = JpegDepacketizer()
    [rebuilt] = feed(depacketizer, items(jpeg_to_payloads(jpeg, MAX_PAYLOAD)))
    assert rebuilt != jpeg  # headers are rebuilt, not copied
    assert rebuilt.endswith(b"\xff\xd9")
    assert decoded(rebuilt) == decoded(jpeg)
    assert depacketizer.stats.frames == 1 and depacketizer.buffered_bytes == 0


def test_round_trip_with_restart_markers():
    jpeg = pillow_jpeg(restart_marker_rows=1)
    [rebuilt] = feed(JpegDepacketizer(), items(jpeg_to_payloads(jpeg, MAX_PAYLOAD)))
    assert parse_jpeg(jpeg).restart_interval == 20  # one row of 16x16 MCUs at 320 wide
    assert b"\xff\xdd\x00\x04\x00\x14" in rebuilt  # DRI rebuilt: length 4, interval 20
    assert decoded(rebuilt) == decoded(jpeg)


def test_round_trip_4k_with_x_dimensions():
    jpeg = pillow_jpeg((3840, 2160), quality=75)
    payloads = jpeg_to_payloads(jpeg, MAX_PAYLOAD)
    assert JpegPayloadHeader.decode(payloads[0])[0].width == 0
    without = JpegDepacketizer()
    assert feed(without, items(payloads)) == []
    assert without.stats.malformed == len(payloads)  # every packet: size unknown
    [rebuilt] = feed(JpegDepacketizer(x_dimensions=(3840, 2160)), items(payloads))
    assert decoded(rebuilt) == decoded(jpeg)


def test_packets_reordered_within_a_frame_are_reassembled(source):
    packets = items(jpeg_to_payloads(source, MAX_PAYLOAD))
    random.Random(7).shuffle(packets)
    depacketizer = JpegDepacketizer()
    frames = feed(depacketizer, packets)
    assert len(frames) == 1 and decoded(frames[0]) == decoded(source)


def test_next_frame_starting_before_the_last_packet_of_this_one():
    a, b = pillow_jpeg(seed=1), pillow_jpeg(seed=2)
    first = items(jpeg_to_payloads(a, MAX_PAYLOAD), 100, 0)
    second = items(jpeg_to_payloads(b, MAX_PAYLOAD), first[-1][0] + 1, 3000)
    order = first[:-1] + second[:2] + first[-1:] + second[2:]
    frames = feed(JpegDepacketizer(), order)
    assert [decoded(f) for f in frames] == [decoded(a), decoded(b)]


def test_q50_without_tables_decodes_like_pillow_quality_50():
    """Q=50 sends no tables; the receiver computes Annex K scaled tables, which are exactly
    libjpeg's quality-50 tables, so the picture decodes to Pillow's own pixels."""
    jpeg = pillow_jpeg(quality=50)
    payloads = packetize(parse_jpeg(jpeg), MAX_PAYLOAD, q=50)
    header, _ = JpegPayloadHeader.decode(payloads[0])
    assert header.q == 50 and header.qtables is None
    [rebuilt] = feed(JpegDepacketizer(), items(payloads))
    assert dqt_tables(rebuilt) == dqt_tables(jpeg)
    assert decoded(rebuilt) == decoded(jpeg)


def test_make_headers_structure():
    tables = make_tables(75)
    headers = make_headers(65, 640, 480, tables, restart_interval=10)
    found = segments(headers)
    codes = [code for code, _ in found]
    assert headers[:2] == b"\xff\xd8"
    assert codes == [0xE0, 0xDB, 0xDD, 0xC0, 0xC4, 0xDA]  # APP0 DQT DRI SOF0 DHT SOS
    body = dict(found)
    assert body[0xE0][:5] == b"JFIF\x00"
    assert body[0xDB] == b"\x00" + tables[0] + b"\x01" + tables[1]
    assert body[0xDD] == b"\x00\x0a"
    assert body[0xC0] == (
        b"\x08"  # 8-bit samples
        b"\x01\xe0"  # height 480
        b"\x02\x80"  # width 640
        b"\x03"  # 3 components
        b"\x01\x22\x00"  # Y: 2x2, table 0
        b"\x02\x11\x01"  # Cb: 1x1, table 1
        b"\x03\x11\x01"  # Cr: 1x1, table 1
    )
    assert body[0xDA] == b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00"
    assert 0xDD not in dict(segments(make_headers(1, 640, 480, tables)))
    assert dict(segments(make_headers(0, 64, 8, tables)))[0xC0][7] == 0x21  # type 0: Y 2x1
    for bad in ((2, 640, 480, tables), (1, 0, 480, tables), (1, 640, 480, tables[:1] * 3)):
        with pytest.raises(ValueError):
            make_headers(*bad)


def test_no_frame_ends_with_a_one_byte_fragment(source):
    whole = parse_jpeg(source)
    head = packetize(whole, MAX_PAYLOAD)[0]
    first = MAX_PAYLOAD - len(JpegPayloadHeader.decode(head)[0].encode())  # scan bytes in it
    room = MAX_PAYLOAD - 8  # the main header alone after the first payload
    # A scan cut so that, filling every payload, the last would hold one byte.
    frame = dataclasses.replace(whole, scan=whole.scan[: first + 40 * room + 1])
    payloads = packetize(frame, MAX_PAYLOAD)
    parts = [JpegPayloadHeader.decode(p) for p in payloads]
    data = [body for _, body in parts]
    # The byte moved: the last carries two, the one before it one fewer than it could.
    assert len(payloads) == 42 and len(data[-1]) == 2 and len(data[-2]) == room - 1
    assert all(len(p) == MAX_PAYLOAD for p in payloads[:-2])
    assert [h.offset for h, _ in parts] == [sum(map(len, data[:i])) for i in range(len(data))]
    assert b"".join(data) == bytes(frame.scan)
    [rebuilt] = feed(JpegDepacketizer(), items(payloads))
    assert rebuilt.endswith(bytes(frame.scan) + b"\xff\xd9")


def test_a_scan_that_fits_one_payload_stays_one(source):
    frame = parse_jpeg(source)
    head = packetize(frame, MAX_PAYLOAD)[0]
    first = len(head) - len(JpegPayloadHeader.decode(head)[1])
    [payload] = packetize(frame, first + len(frame.scan))
    assert JpegPayloadHeader.decode(payload)[1] == bytes(frame.scan)


def test_each_frame_gets_headers_of_its_own_size_tables_and_q(source):
    """Frames in turn: the headers made for the one before serve a frame like it only."""
    frame = parse_jpeg(source)
    cases = [
        (frame, 255, (1, 255, 40, 30), b"".join(frame.qtables)),
        (parse_jpeg(pillow_jpeg((160, 120))), 255, (1, 255, 20, 15), None),
        (parse_jpeg(pillow_jpeg(quality=50)), 50, (1, 50, 40, 30), None),
        (parse_jpeg(pillow_jpeg(quality=40)), 255, (1, 255, 40, 30), None),
        (frame, 255, (1, 255, 40, 30), b"".join(frame.qtables)),
    ]
    for parsed, q, fields, tables in cases:
        for _ in range(2):
            first, *_ = packetize(parsed, MAX_PAYLOAD, q)
            header, _ = JpegPayloadHeader.decode(first)
            assert (header.type, header.q, header.width, header.height) == fields
            want = (b"".join(parsed.qtables) if q == 255 else None) if tables is None else tables
            assert header.qtables == want
