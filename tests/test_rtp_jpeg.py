"""RFC 2435 RTP/JPEG: header vectors, JPEG parsing and refusals, round trips judged by pixels,
tables from Q, and a depacketizer that counts what is wrong instead of raising."""

import io
import random
import re
import shutil
import struct
import subprocess

import pytest
from PIL import Image

from rtsplab.payload.rfc2435.depacketizer import JpegDepacketizer
from rtsplab.payload.rfc2435.frame import UnsupportedJpeg, parse_jpeg
from rtsplab.payload.rfc2435.header import (
    MAX_OFFSET,
    RESTART_COUNT_ANY,
    JpegPayloadHeader,
    RtpJpegError,
)
from rtsplab.payload.rfc2435.packetizer import jpeg_to_payloads, packetize
from rtsplab.payload.rfc2435.tables import STD_HUFFMAN, ZIGZAG, make_headers, make_tables

MAX_PAYLOAD = 1400
TABLES = bytes(range(1, 65)) + bytes(range(65, 129))  # two recognisable 64-byte tables


def picture(size=(320, 240), seed=1) -> Image.Image:
    """Gradients with noise: smooth enough to look like video, noisy enough that the scan
    holds stuffed 0xFF bytes and spans many packets."""
    rng = random.Random(seed)
    noise = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    ramp = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (Image.blend(ramp, noise, 0.3), noise, ramp.rotate(90)))


def pillow_jpeg(size=(320, 240), seed=1, **options) -> bytes:
    out = io.BytesIO()
    picture(size, seed).save(out, "JPEG", **{"quality": 90, **options})
    return out.getvalue()


def pixels(jpeg: bytes) -> tuple:
    with Image.open(io.BytesIO(jpeg)) as image:
        return image.mode, image.size, image.tobytes()


def items(payloads, first_seq=1000, timestamp=0):
    """(ext_seq, timestamp, marker, payload) for one frame's payloads, in order."""
    last = len(payloads) - 1
    return [(first_seq + i, timestamp, i == last, p) for i, p in enumerate(payloads)]


def feed(depacketizer, packets):
    return [f for p in packets if (f := depacketizer.push(*p)) is not None]


def segments(jpeg: bytes):
    """(code, body) of each marker segment up to SOS (test pictures have no fill bytes)."""
    pos, out = 2, []
    while True:
        code = jpeg[pos + 1]
        length = int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
        out.append((code, jpeg[pos + 4 : pos + 2 + length]))
        if code == 0xDA:
            return out
        pos += 2 + length


def dqt_tables(jpeg: bytes) -> dict[int, bytes]:
    tables = {}
    for code, body in segments(jpeg):
        if code == 0xDB:
            for i in range(0, len(body), 65):
                tables[body[i] & 15] = body[i + 1 : i + 65]
    return tables


def replace_segment(jpeg: bytes, code: int, body: bytes) -> bytes:
    """`jpeg` with its first segment `code` holding `body` instead."""
    pos = 2
    while jpeg[pos + 1] != code:
        pos += 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
    old_end = pos + 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
    return (
        jpeg[:pos] + bytes((0xFF, code)) + struct.pack("!H", len(body) + 2) + body + jpeg[old_end:]
    )


@pytest.fixture(scope="module")
def source():
    return pillow_jpeg()


# --- Payload header vectors ------------------------------------------------------------------

MAIN_ONLY = (
    b"\x00"  # type-specific 0
    b"\x00\x05\x78"  # fragment offset 1400
    b"\x01"  # type 1: Y 2x2, chroma 1x1 (4:2:0)
    b"\x32"  # Q 50: tables computed from Q, none on the wire
    b"\x50"  # width 80 x 8 = 640
    b"\x3c"  # height 60 x 8 = 480
)
WITH_RESTART = (
    b"\x00"  # type-specific 0
    b"\x00\x00\x10"  # fragment offset 16
    b"\x40"  # type 64: type 0 (Y 2x1) with restart markers
    b"\x4b"  # Q 75
    b"\xa0"  # width 160 x 8 = 1280
    b"\x5a"  # height 90 x 8 = 720
    b"\x00\x08"  # restart interval 8 MCUs
    b"\xff\xff"  # F=1 L=1 restart count 0x3FFF: not aligned, reassemble whole frame
)
WITH_TABLES = (
    b"\x00"  # type-specific 0
    b"\x00\x00\x00"  # fragment offset 0: the first packet, which carries the tables
    b"\x41"  # type 65: type 1 with restart markers
    b"\xff"  # Q 255: tables in-band, may change every frame
    b"\x00"  # width 0: over 2040, the SDP's a=x-dimensions says
    b"\x00"  # height 0: likewise
    b"\x01\x00"  # restart interval 256
    b"\x80\x05"  # F=1 L=0 restart count 5
    b"\x00"  # MBZ
    b"\x00"  # precision: bit i = 0, table i is 8-bit
    b"\x00\x80"  # length 128: two 64-byte tables
) + TABLES  # quantization table data: Y's then chroma's


@pytest.mark.parametrize(
    "wire, header",
    [
        pytest.param(
            MAIN_ONLY,
            JpegPayloadHeader(offset=1400, type=1, q=50, width=80, height=60),
            id="main",
        ),
        pytest.param(
            WITH_RESTART,
            JpegPayloadHeader(offset=16, type=64, q=75, width=160, height=90, restart_interval=8),
            id="restart",
        ),
        pytest.param(
            WITH_TABLES,
            JpegPayloadHeader(
                offset=0,
                type=65,
                q=255,
                width=0,
                height=0,
                restart_interval=256,
                restart_first=True,
                restart_last=False,
                restart_count=5,
                qtables=TABLES,
            ),
            id="tables",
        ),
    ],
)
def test_header_vectors_decode_field_by_field_and_encode_back(wire, header):
    decoded, data = JpegPayloadHeader.decode(wire + b"\xfc\x00\xab")
    assert decoded == header
    assert data == b"\xfc\x00\xab"
    assert header.encode() == wire
    assert decoded.encode() == wire


def test_header_fields_at_their_limits():
    top = JpegPayloadHeader(offset=MAX_OFFSET, type=1, q=99, width=255, height=255,
                            type_specific=255)  # fmt: skip
    wire = top.encode()
    assert wire == b"\xff\xff\xff\xff\x01\x63\xff\xff"
    assert JpegPayloadHeader.decode(wire) == (top, b"")
    with pytest.raises(ValueError, match="offset must be an integer in 0..16777215"):
        JpegPayloadHeader(offset=MAX_OFFSET + 1, type=1, q=99, width=1, height=1).encode()
    with pytest.raises(ValueError, match="width"):
        JpegPayloadHeader(offset=0, type=1, q=99, width=256, height=1).encode()
    with pytest.raises(ValueError, match="restart_count"):
        JpegPayloadHeader(offset=0, type=64, q=1, width=1, height=1,
                          restart_count=RESTART_COUNT_ANY + 1).encode()  # fmt: skip
    with pytest.raises(ValueError, match="qtables must be given exactly when"):
        JpegPayloadHeader(offset=0, type=1, q=255, width=1, height=1).encode()
    with pytest.raises(ValueError, match="Q=255 needs the tables"):
        JpegPayloadHeader(offset=0, type=1, q=255, width=1, height=1, qtables=b"").encode()


def test_every_truncation_of_the_headers_is_an_error():
    # 8 main + 4 restart + 4 quantization header + 128 tables = 144 bytes of headers.
    for size in range(len(WITH_TABLES)):
        with pytest.raises(RtpJpegError) as error:
            JpegPayloadHeader.decode(WITH_TABLES[:size])
        if size < 8:
            assert "shorter than the 8-byte main JPEG header" in str(error.value)
        elif size < 12:
            assert "needs the restart marker header" in str(error.value)
        elif size < 16:
            assert "needs the quantization table header" in str(error.value)
        else:
            assert "quantization table length 128 runs past the payload end" in str(error.value)
    assert JpegPayloadHeader.decode(WITH_TABLES)[1] == b""


def test_header_errors_on_the_wire():
    no_tables = b"\x00\x00\x00\x00\x01\xff\x10\x10" + b"\x00\x00\x00\x00" + b"data"
    with pytest.raises(RtpJpegError, match="Q=255 first packet without tables"):
        JpegPayloadHeader.decode(no_tables)
    with pytest.raises(RtpJpegError, match="type 128 is dynamic"):
        JpegPayloadHeader.decode(b"\x00\x00\x00\x00\x80\x32\x10\x10data")
    # Q >= 128 has no quantization header past the first packet: the rest is data.
    later = b"\x00\x00\x00\x10\x01\xff\x10\x10" + b"\x00\x00\x00\x00"
    assert JpegPayloadHeader.decode(later)[1] == b"\x00\x00\x00\x00"


# --- Tables ----------------------------------------------------------------------------------


def test_zigzag_is_t81_figure_a6():
    assert ZIGZAG[:16] == (0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5)
    assert ZIGZAG[-8:] == (53, 60, 61, 54, 47, 55, 62, 63)
    assert sorted(ZIGZAG) == list(range(64))


def test_q50_tables_are_annex_k_in_zigzag_order():
    luma, chroma = make_tables(50)  # scale 100%: K.1 and K.2 themselves
    assert list(luma[:10]) == [16, 11, 12, 14, 12, 10, 16, 14, 13, 14]
    assert list(chroma[:10]) == [17, 18, 18, 24, 21, 24, 47, 26, 26, 47]
    assert luma[-1] == 99 and set(chroma[20:]) == {99}
    assert make_tables(1) == (b"\xff" * 64, b"\xff" * 64)  # scale 5000%, clamped to 8 bits
    assert set(make_tables(99)[0]) == {1, 2} == set(make_tables(99)[1])  # scale 2%, floor 1
    with pytest.raises(ValueError):
        make_tables(100)


def test_tables_from_q_equal_pillow_quality_q_for_every_q():
    """libjpeg's quality scaling is RFC 2435 Appendix A: same tables for every Q in 1..99."""
    small = picture((16, 16))
    for q in range(1, 100):
        out = io.BytesIO()
        small.save(out, "JPEG", quality=q)
        assert (dqt_tables(out.getvalue())[0], dqt_tables(out.getvalue())[1]) == make_tables(q), q


def test_standard_huffman_tables_are_the_ones_pillow_writes(source):
    written = {}
    for code, body in segments(source):
        if code == 0xC4:
            written[(body[0] >> 4, body[0] & 15)] = body[1:]
    assert written == STD_HUFFMAN


# --- parse_jpeg ------------------------------------------------------------------------------


def test_parse_reads_the_frame(source):
    frame = parse_jpeg(source)
    assert (frame.width, frame.height, frame.type, frame.restart_interval) == (320, 240, 1, 0)
    tables = dqt_tables(source)
    assert frame.qtables == (tables[0], tables[1])
    sos_end = source.index(b"\xff\xda") + 2 + 12  # SOS marker, length 12 with 3 components
    assert frame.scan == source[sos_end:-2]
    assert source.endswith(b"\xff\xd9")
    assert "scan=" in repr(frame)
    assert parse_jpeg(source + b"\x00junk").scan == frame.scan  # after EOI: ignored


def test_parse_skips_segments_by_length(source):
    """An APP1 holding a whole thumbnail JPEG (its own SOI...EOI), a comment and fill bytes
    before a marker do not change what is carried."""
    thumbnail = pillow_jpeg((16, 16), seed=9)
    app1 = b"\xff\xe1" + struct.pack("!H", len(thumbnail) + 2) + thumbnail
    com = b"\xff\xfe\x00\x06\xff\xd9\xff\xd8"  # a comment that looks like EOI, SOI
    sof_at = source.index(b"\xff\xc0")
    dressed = source[:2] + app1 + com + source[2:sof_at] + b"\xff\xff" + source[sof_at:]
    assert parse_jpeg(dressed) == parse_jpeg(source)


@pytest.mark.parametrize(
    "subsampling, expected_type", [(2, 1), (1, 0)], ids=["4:2:0-type1", "4:2:2-type0"]
)
def test_parse_types(subsampling, expected_type):
    assert parse_jpeg(pillow_jpeg(subsampling=subsampling)).type == expected_type


def test_parse_restart_interval():
    jpeg = pillow_jpeg(restart_marker_blocks=4)
    frame = parse_jpeg(jpeg)
    assert frame.restart_interval == 4 and frame.type == 64 + 1
    assert b"\xff\xd0" in frame.scan  # RST0 sits inside the scan, carried as data


def unsupported_cases():
    base = pillow_jpeg((64, 48))
    sof = dict(segments(base))[0xC0]
    # SOF0 body: P, Y(2), X(2), Nf, then (id, HV, Tq) for Y, Cb, Cr; Cr's Tq is the last byte.
    cr_table_0 = replace_segment(base, 0xC0, sof[:-1] + b"\x00")
    dqt16 = b"\x10" + bytes(range(128))  # Pq=1 Tq=0: 64 16-bit entries
    return [
        pytest.param(pillow_jpeg(progressive=True), "SOF2 (progressive)", id="progressive"),
        pytest.param(base.replace(b"\xff\xc0", b"\xff\xc1", 1), "SOF1", id="extended-sof1"),
        pytest.param(pillow_jpeg(subsampling=0), "sampling Y 1x1", id="444"),
        pytest.param(pillow_jpeg(optimize=True), "Huffman table 0 of component 0", id="optimized"),
        pytest.param(cr_table_0, "Cb and Cr use different quantization tables", id="3-qtables"),
        pytest.param(replace_segment(base, 0xDB, dqt16), "16-bit precision", id="16-bit-dqt"),
        pytest.param(pillow_jpeg((2044, 16)), "width 2044 is over 2040", id="width-2044"),
        pytest.param(pillow_jpeg((16, 2050)), "height 2050 is over 2040", id="height-2050"),
    ]


@pytest.mark.parametrize("jpeg, reason", unsupported_cases())
def test_unsupported_jpegs_are_refused_with_the_reason(jpeg, reason):
    with pytest.raises(UnsupportedJpeg, match=re.escape(reason)):
        parse_jpeg(jpeg)


def test_grayscale_is_refused():
    out = io.BytesIO()
    picture((64, 48)).convert("L").save(out, "JPEG")
    with pytest.raises(UnsupportedJpeg, match="1 component"):
        parse_jpeg(out.getvalue())


def test_sizes_over_2040_in_whole_blocks_are_accepted():
    frame = parse_jpeg(pillow_jpeg((2048, 16)))
    assert (frame.width, frame.height) == (2048, 16)


def test_corrupt_jpegs_raise_value_errors(source):
    for broken in (b"", source[:100], b"\xff\xd8\xff\xd9"):
        with pytest.raises(ValueError):
            parse_jpeg(broken)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
@pytest.mark.parametrize("huffman", ["default", "optimal"])
def test_ffmpeg_jpegs_standard_huffman_carried_optimal_refused(tmp_path, huffman):
    # yuvj420p pins the sampling RFC 2435 carries (testsrc alone gives ffmpeg 4:4:4), so the
    # Huffman tables are the only difference between the two files.
    out = tmp_path / f"{huffman}.jpg"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240",
         "-frames:v", "1", "-pix_fmt", "yuvj420p", "-huffman", huffman, str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    jpeg = out.read_bytes()
    if huffman == "optimal":
        with pytest.raises(UnsupportedJpeg, match="not the standard one"):
            parse_jpeg(jpeg)
    else:  # an encoder other than libjpeg, judged by pixels after the round trip
        [rebuilt] = feed(JpegDepacketizer(), items(jpeg_to_payloads(jpeg, MAX_PAYLOAD)))
        assert pixels(rebuilt) == pixels(jpeg)


# --- packetize -------------------------------------------------------------------------------


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


# --- Round trips, judged by pixels -----------------------------------------------------------


@pytest.mark.parametrize("quality", [50, 90])
@pytest.mark.parametrize("subsampling", [2, 1], ids=["4:2:0", "4:2:2"])
@pytest.mark.parametrize("size", [(320, 240), (200, 136)], ids=["320x240", "200x136"])
def test_round_trip_gives_the_same_pixels(quality, subsampling, size):
    jpeg = pillow_jpeg(size, quality=quality, subsampling=subsampling)
    depacketizer = JpegDepacketizer()
    [rebuilt] = feed(depacketizer, items(jpeg_to_payloads(jpeg, MAX_PAYLOAD)))
    assert rebuilt != jpeg  # headers are rebuilt, not copied
    assert rebuilt.endswith(b"\xff\xd9")
    assert pixels(rebuilt) == pixels(jpeg)
    assert depacketizer.stats.frames == 1 and depacketizer.buffered_bytes == 0


def test_round_trip_with_restart_markers():
    jpeg = pillow_jpeg(restart_marker_rows=1)
    [rebuilt] = feed(JpegDepacketizer(), items(jpeg_to_payloads(jpeg, MAX_PAYLOAD)))
    assert parse_jpeg(jpeg).restart_interval == 20  # one row of 16x16 MCUs at 320 wide
    assert b"\xff\xdd\x00\x04\x00\x14" in rebuilt  # DRI rebuilt: length 4, interval 20
    assert pixels(rebuilt) == pixels(jpeg)


def test_round_trip_4k_with_x_dimensions():
    jpeg = pillow_jpeg((3840, 2160), quality=75)
    payloads = jpeg_to_payloads(jpeg, MAX_PAYLOAD)
    assert JpegPayloadHeader.decode(payloads[0])[0].width == 0
    without = JpegDepacketizer()
    assert feed(without, items(payloads)) == []
    assert without.stats.malformed == len(payloads)  # every packet: size unknown
    [rebuilt] = feed(JpegDepacketizer(x_dimensions=(3840, 2160)), items(payloads))
    assert pixels(rebuilt) == pixels(jpeg)


def test_packets_reordered_within_a_frame_are_reassembled(source):
    packets = items(jpeg_to_payloads(source, MAX_PAYLOAD))
    random.Random(7).shuffle(packets)
    depacketizer = JpegDepacketizer()
    frames = feed(depacketizer, packets)
    assert len(frames) == 1 and pixels(frames[0]) == pixels(source)


def test_next_frame_starting_before_the_last_packet_of_this_one():
    a, b = pillow_jpeg(seed=1), pillow_jpeg(seed=2)
    first = items(jpeg_to_payloads(a, MAX_PAYLOAD), 100, 0)
    second = items(jpeg_to_payloads(b, MAX_PAYLOAD), first[-1][0] + 1, 3000)
    order = first[:-1] + second[:2] + first[-1:] + second[2:]
    frames = feed(JpegDepacketizer(), order)
    assert [pixels(f) for f in frames] == [pixels(a), pixels(b)]


def test_q50_without_tables_decodes_like_pillow_quality_50():
    """Q=50 sends no tables; the receiver computes Annex K scaled tables, which are exactly
    libjpeg's quality-50 tables, so the picture decodes to Pillow's own pixels."""
    jpeg = pillow_jpeg(quality=50)
    payloads = packetize(parse_jpeg(jpeg), MAX_PAYLOAD, q=50)
    header, _ = JpegPayloadHeader.decode(payloads[0])
    assert header.q == 50 and header.qtables is None
    [rebuilt] = feed(JpegDepacketizer(), items(payloads))
    assert dqt_tables(rebuilt) == dqt_tables(jpeg)
    assert pixels(rebuilt) == pixels(jpeg)


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


# --- Depacketizer: what the network brings ---------------------------------------------------


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
    assert [pixels(f) for f in frames] == [pixels(jpegs[0]), pixels(jpegs[2])]
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
    assert [pixels(f) for f in frames] == [pixels(jpegs[1]), pixels(jpegs[2])]
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
    assert pixels(rebuilt) == pixels(source)
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
    assert len(frames) == 1 and pixels(frames[0]) == pixels(source)

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
    assert len(frames) == 1 and pixels(frames[0]) == pixels(source)
    receiver.flush()
    assert receiver.summary()["frames"] == 1 and receiver.summary()["dropped_frames"] == 0
