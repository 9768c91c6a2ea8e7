"""RFC 2435 RTP/JPEG, what a frame becomes on the wire: the payload header's vectors and
limits, quantization and Huffman tables, and parsing a JPEG with the refusals of what the
RFC cannot carry."""

import io
import re
import shutil
import struct
import subprocess

import pytest

from helpers import decoded
from rfc2435_samples import (
    MAX_PAYLOAD,
    TABLES,
    dqt_tables,
    feed,
    items,
    picture,
    pillow_jpeg,
    replace_segment,
    segments,
)
from rtsplab.payload.jpeg import JpegError
from rtsplab.payload.rfc2435.depacketizer import JpegDepacketizer
from rtsplab.payload.rfc2435.frame import UnsupportedJpeg, parse_jpeg
from rtsplab.payload.rfc2435.header import (
    MAX_OFFSET,
    RESTART_COUNT_ANY,
    JpegPayloadHeader,
    RtpJpegError,
)
from rtsplab.payload.rfc2435.packetizer import jpeg_to_payloads
from rtsplab.payload.rfc2435.tables import STD_HUFFMAN, ZIGZAG, make_tables


@pytest.fixture(scope="module")
def source():
    return pillow_jpeg()


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
    parsed, data = JpegPayloadHeader.decode(wire + b"\xfc\x00\xab")
    assert parsed == header
    assert data == b"\xfc\x00\xab"
    assert header.encode() == wire
    assert parsed.encode() == wire


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


def test_a_frame_with_the_headers_of_the_last_takes_their_fields_and_its_own_scan():
    """A clip's frames share their headers: the second of two is taken apart from the first's
    findings, with its own scan; one with other headers, or headers cut short, afresh."""
    first, second = pillow_jpeg(seed=1), pillow_jpeg(seed=2)
    sos_end = first.index(b"\xff\xda") + 2 + 12
    assert first[:sos_end] == second[:sos_end] and first[sos_end:] != second[sos_end:]
    parse_jpeg(first)
    frame = parse_jpeg(second)
    assert frame.scan == second[sos_end:-2] and frame.qtables == parse_jpeg(first).qtables
    smaller = pillow_jpeg((160, 120), seed=2)
    assert (parse_jpeg(smaller).width, parse_jpeg(smaller).height) == (160, 120)
    other_tables = pillow_jpeg(seed=2, quality=40)
    assert parse_jpeg(other_tables).qtables == tuple(dqt_tables(other_tables).values())
    with pytest.raises(UnsupportedJpeg, match="progressive"):
        parse_jpeg(pillow_jpeg(seed=2, progressive=True))
    truncated = first[: sos_end - 1] + b"\xff\xd9"
    with pytest.raises(JpegError):
        parse_jpeg(truncated)


@pytest.mark.parametrize(
    "subsampling, expected_type", [(2, 1), (1, 0)], ids=["4:2:0-type1", "4:2:2-type0"]
)
def test_parse_types(subsampling, expected_type):
    assert parse_jpeg(pillow_jpeg(subsampling=subsampling)).type == expected_type


def test_parse_restart_interval():
    jpeg = pillow_jpeg(restart_marker_blocks=4)
    frame = parse_jpeg(jpeg)
    assert frame.restart_interval == 4 and frame.type == 64 + 1
    assert b"\xff\xd0" in bytes(frame.scan)  # RST0 sits inside the scan, carried as data


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
        assert decoded(rebuilt) == decoded(jpeg)
