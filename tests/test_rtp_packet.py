"""RtpPacket: known-answer vectors, round trips, field limits and every malformed case."""

import time

import pytest

from helpers import BUFFER_KINDS
from RtpPacket import (
    MAX_CC,
    MAX_PADDING,
    MAX_PT,
    MAX_SEQ,
    MAX_SSRC,
    MAX_TIMESTAMP,
    PT_JPEG,
    RTP_HEADER_SIZE,
    RtpError,
    RtpPacket,
    fixed_header,
    fixed_headers,
)

POSITIONAL = ("version", "padding", "extension", "cc", "seqnum", "marker", "pt", "ssrc", "payload")


def make_fields(**overrides):
    fields = {
        "version": 2,
        "padding": 0,
        "extension": 0,
        "cc": 0,
        "seqnum": 0,
        "marker": 0,
        "pt": PT_JPEG,
        "ssrc": 0,
        "payload": b"",
        "timestamp": 0,
        "csrcs": (),
        "extension_profile": 0,
        "extension_data": b"",
        "padding_size": None,
    }
    fields.update(overrides)
    return fields


def encode(fields) -> RtpPacket:
    keywords = dict(fields)
    positional = [keywords.pop(name) for name in POSITIONAL]
    packet = RtpPacket()
    packet.encode(*positional, **keywords)
    return packet


def decode(data) -> RtpPacket:
    packet = RtpPacket()
    packet.decode(data)
    return packet


def fields_of(packet: RtpPacket):
    """The encode arguments that rebuild `packet`, read back through the accessors."""
    data = packet.getPacket()
    return make_fields(
        version=packet.version(),
        padding=packet.padding(),
        extension=packet.extension(),
        cc=packet.cc(),
        seqnum=packet.seqNum(),
        marker=packet.marker(),
        pt=packet.payloadType(),
        ssrc=packet.ssrc(),
        payload=packet.getPayload(),
        timestamp=packet.timestamp(),
        csrcs=packet.csrcs(),
        extension_profile=packet.extension_profile(),
        extension_data=packet.extension_data(),
        padding_size=data[-1] if packet.padding() else None,
    )


def assert_fields(packet: RtpPacket, fields) -> None:
    assert packet.version() == fields["version"]
    assert packet.padding() == fields["padding"]
    assert packet.extension() == fields["extension"]
    assert packet.cc() == fields["cc"]
    assert packet.seqNum() == fields["seqnum"]
    assert packet.marker() == fields["marker"]
    assert packet.payloadType() == fields["pt"]
    assert packet.ssrc() == fields["ssrc"]
    assert packet.timestamp() == fields["timestamp"]
    assert packet.csrcs() == tuple(fields["csrcs"])
    assert packet.extension_profile() == fields["extension_profile"]
    assert packet.extension_data() == fields["extension_data"]
    assert packet.getPayload() == fields["payload"]
    if fields["padding"] and fields["padding_size"] is not None:
        assert packet.getPacket()[-1] == fields["padding_size"]


# A packet with every optional part: 2 CSRCs, an extension and padding. The payload octets are
# chosen so that the prefixes of this packet hit every padding case (see test_every_truncation).
FULL_PACKET = (
    b"\xb2"  # V=2 P=1 X=1 CC=2
    b"\x9a"  # M=1 PT=26
    b"\xff\xfa"  # sequence number 65530
    b"\x00\x01\x5f\x90"  # timestamp 90000
    b"\x12\x34\x56\x78"  # SSRC 0x12345678
    b"\x00\x00\x00\x0a"  # CSRC[0] 10
    b"\x00\x00\x00\x0b"  # CSRC[1] 11
    b"\xbe\xde\x00\x02"  # extension profile 0xBEDE, length 2 words
    b"\x10\xaa\x21\xbb\xcc\x00\x00\x00"  # extension data (8 octets)
    b"\x00\x01\x02\x09\xff\x03"  # payload (6 octets)
    b"\x00\x02"  # padding: one zero octet, then the count 2
)
FULL_FIELDS = make_fields(
    padding=1,
    extension=1,
    cc=2,
    seqnum=65530,
    marker=1,
    ssrc=0x12345678,
    payload=b"\x00\x01\x02\x09\xff\x03",
    timestamp=90000,
    csrcs=(10, 11),
    extension_profile=0xBEDE,
    extension_data=b"\x10\xaa\x21\xbb\xcc\x00\x00\x00",
    padding_size=2,
)
FULL_EXTENSION_END = 32  # 12 fixed + 2 * 4 CSRC + 4 extension header + 8 extension data

VECTORS = [
    pytest.param(
        b"\x80"  # V=2 P=0 X=0 CC=0
        b"\x1a"  # M=0 PT=26 (JPEG)
        b"\x00\x01"  # sequence number 1
        b"\x00\x00\x00\x00"  # timestamp 0
        b"\x01\x02\x03\x04"  # SSRC 0x01020304
        b"\xff\xd8",  # payload: JPEG SOI
        make_fields(seqnum=1, ssrc=0x01020304, payload=b"\xff\xd8"),
        id="minimal",
    ),
    pytest.param(
        b"\x80"  # V=2 P=0 X=0 CC=0
        b"\x9a"  # M=1 PT=26
        b"\x12\x34"  # sequence number 0x1234
        b"\x00\x01\x5f\x90"  # timestamp 90000
        b"\xde\xad\xbe\xef"  # SSRC 0xDEADBEEF
        b"\xff\xd9",  # payload: JPEG EOI
        make_fields(seqnum=0x1234, marker=1, ssrc=0xDEADBEEF, timestamp=90000, payload=b"\xff\xd9"),
        id="marker",
    ),
    pytest.param(
        b"\x82"  # V=2 P=0 X=0 CC=2
        b"\x60"  # M=0 PT=96 (dynamic)
        b"\x00\x07"  # sequence number 7
        b"\x00\x00\x0b\xb8"  # timestamp 3000
        b"\x11\x22\x33\x44"  # SSRC 0x11223344
        b"\xaa\xbb\xcc\xdd"  # CSRC[0] 0xAABBCCDD
        b"\x01\x02\x03\x04"  # CSRC[1] 0x01020304
        b"\x00",  # payload
        make_fields(
            cc=2,
            seqnum=7,
            pt=96,
            ssrc=0x11223344,
            timestamp=3000,
            csrcs=(0xAABBCCDD, 0x01020304),
            payload=b"\x00",
        ),
        id="two-csrcs",
    ),
    pytest.param(
        b"\x90"  # V=2 P=0 X=1 CC=0
        b"\x1a"  # M=0 PT=26
        b"\x00\x02"  # sequence number 2
        b"\xff\xff\xff\xff"  # timestamp 2^32-1
        b"\x00\x00\x00\x01"  # SSRC 1
        b"\xbe\xde\x00\x01"  # extension profile 0xBEDE, length 1 word
        b"\x10\xaa\x00\x00"  # extension data: RFC 8285 element id=1 len=1 0xAA, 2 pad octets
        b"\xff\xd8",  # payload
        make_fields(
            extension=1,
            seqnum=2,
            ssrc=1,
            timestamp=MAX_TIMESTAMP,
            extension_profile=0xBEDE,
            extension_data=b"\x10\xaa\x00\x00",
            payload=b"\xff\xd8",
        ),
        id="extension",
    ),
    pytest.param(
        b"\xa0"  # V=2 P=1 X=0 CC=0
        b"\x9a"  # M=1 PT=26
        b"\xff\xff"  # sequence number 65535
        b"\x00\x00\x00\x01"  # timestamp 1
        b"\xff\xff\xff\xff"  # SSRC 2^32-1
        b"\xab\xcd"  # payload
        b"\x00\x02",  # padding: one zero octet, then the count 2
        make_fields(
            padding=1,
            seqnum=65535,
            marker=1,
            ssrc=MAX_SSRC,
            timestamp=1,
            payload=b"\xab\xcd",
            padding_size=2,
        ),
        id="padding",
    ),
    pytest.param(FULL_PACKET, FULL_FIELDS, id="everything"),
]


@pytest.mark.parametrize("data, fields", VECTORS)
def test_vector_decodes_to_fields(data, fields):
    packet = decode(data)
    assert_fields(packet, fields)
    assert packet.getPacket() == data


@pytest.mark.parametrize("data, fields", VECTORS)
def test_vector_encodes_to_bytes(data, fields):
    assert encode(fields).getPacket() == data


@pytest.mark.parametrize("data, fields", VECTORS)
def test_vector_reencodes_to_same_bytes(data, fields):
    assert encode(fields_of(decode(data))).getPacket() == data


ROUND_TRIPS = [
    pytest.param(make_fields(seqnum=0), id="seq-0"),
    pytest.param(make_fields(seqnum=MAX_SEQ), id="seq-65535"),
    pytest.param(make_fields(timestamp=0), id="ts-0"),
    pytest.param(make_fields(timestamp=MAX_TIMESTAMP), id="ts-max"),
    pytest.param(make_fields(ssrc=0), id="ssrc-0"),
    pytest.param(make_fields(ssrc=MAX_SSRC), id="ssrc-max"),
    pytest.param(make_fields(pt=0), id="pt-0"),
    pytest.param(make_fields(pt=MAX_PT), id="pt-127"),
    pytest.param(make_fields(marker=0, payload=b"\xff\xd8"), id="marker-0"),
    pytest.param(make_fields(marker=1, payload=b"\xff\xd9"), id="marker-1"),
    pytest.param(
        make_fields(cc=MAX_CC, csrcs=tuple(range(MAX_SSRC - MAX_CC + 1, MAX_SSRC + 1))),
        id="15-csrcs",
    ),
    pytest.param(
        make_fields(extension=1, extension_profile=0x1000, extension_data=bytes(range(12))),
        id="extension-data",
    ),
    pytest.param(make_fields(extension=1, extension_profile=0xFFFF), id="extension-empty"),
    pytest.param(make_fields(padding=1, padding_size=1, payload=b"abc"), id="padding-1"),
    pytest.param(
        make_fields(padding=1, padding_size=MAX_PADDING, payload=b"abc"), id="padding-255"
    ),
    pytest.param(make_fields(padding=1, padding_size=4), id="padding-empty-payload"),
    pytest.param(make_fields(payload=b""), id="empty-payload"),
    pytest.param(make_fields(payload=bytes(range(256)) * 6), id="1536-byte-payload"),
    pytest.param(
        make_fields(
            padding=1,
            extension=1,
            cc=MAX_CC,
            seqnum=MAX_SEQ,
            marker=1,
            pt=MAX_PT,
            ssrc=MAX_SSRC,
            payload=b"\xff" * 1388,
            timestamp=MAX_TIMESTAMP,
            csrcs=(MAX_SSRC,) * MAX_CC,
            extension_profile=0xFFFF,
            extension_data=b"\xff" * 16,
            padding_size=MAX_PADDING,
        ),
        id="all-at-limits",
    ),
]


@pytest.mark.parametrize("fields", ROUND_TRIPS)
def test_round_trip(fields):
    encoded = encode(fields)
    assert_fields(encoded, fields)
    decoded = decode(encoded.getPacket())
    assert_fields(decoded, fields)
    assert decoded.getPacket() == encoded.getPacket()
    assert encode(fields_of(decoded)).getPacket() == encoded.getPacket()


@pytest.mark.parametrize("fields", ROUND_TRIPS)
def test_round_trip_length(fields):
    header = RTP_HEADER_SIZE + 4 * fields["cc"]
    if fields["extension"]:
        header += 4 + len(fields["extension_data"])
    padding = fields["padding_size"] if fields["padding"] else 0
    assert len(encode(fields).getPacket()) == header + len(fields["payload"]) + padding


def test_sequence_wrap():
    sent = [(65530 + i) & MAX_SEQ for i in range(12)]
    received = [decode(encode(make_fields(seqnum=seq)).getPacket()).seqNum() for seq in sent]
    assert received == [65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "payload_size, padding_size",
    [(0, 4), (1, 3), (2, 2), (3, 1), (4, 4), (5, 3), (1386, 2), (1387, 1), (1388, 4)],
)
def test_default_padding_aligns_to_32_bits(payload_size, padding_size):
    payload = b"\xaa" * payload_size
    data = encode(make_fields(padding=1, payload=payload)).getPacket()
    assert len(data) == RTP_HEADER_SIZE + payload_size + padding_size
    assert data[-padding_size:] == bytes(padding_size - 1) + bytes((padding_size,))
    assert decode(data).getPayload() == payload


def test_lab_positional_call_uses_wall_clock_timestamp(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 2**32 + 7.9)
    packet = RtpPacket()
    packet.encode(2, 0, 0, 0, 1, 0, PT_JPEG, 0x01020304, b"\xff\xd8")
    assert packet.timestamp() == 7
    assert packet.getPacket() == (
        b"\x80\x1a\x00\x01"  # V=2, PT=26, sequence number 1
        b"\x00\x00\x00\x07"  # timestamp: int(time.time()) mod 2^32
        b"\x01\x02\x03\x04"  # SSRC
        b"\xff\xd8"
    )


def test_encode_accepts_bytearray_and_memoryview_payload():
    expected = encode(make_fields(payload=b"\x01\x02\x03")).getPacket()
    for payload in (bytearray(b"\x01\x02\x03"), memoryview(b"\x00\x01\x02\x03")[1:]):
        packet = encode(make_fields(payload=payload))
        assert packet.getPacket() == expected
        assert type(packet.getPayload()) is bytes


@pytest.mark.parametrize(
    "overrides, message",
    [
        pytest.param({"seqnum": MAX_SEQ + 1}, r"seqnum .* 0\.\.65535, got 65536", id="seq-65536"),
        pytest.param({"seqnum": -1}, r"seqnum .* got -1", id="seq-negative"),
        pytest.param({"seqnum": 1.5}, r"seqnum .* got 1\.5", id="seq-float"),
        pytest.param({"seqnum": "1"}, r"seqnum .* got '1'", id="seq-str"),
        pytest.param({"timestamp": 2**32}, r"timestamp .* got 4294967296", id="ts-2^32"),
        pytest.param({"timestamp": -1}, r"timestamp .* got -1", id="ts-negative"),
        pytest.param({"pt": 128}, r"pt .* 0\.\.127, got 128", id="pt-128"),
        pytest.param({"ssrc": 2**32}, r"ssrc .* got 4294967296", id="ssrc-2^32"),
        pytest.param({"version": 4}, r"version .* 0\.\.3, got 4", id="version-4"),
        pytest.param({"marker": 2}, r"marker .* 0\.\.1, got 2", id="marker-2"),
        pytest.param({"padding": 2}, r"padding .* 0\.\.1, got 2", id="padding-2"),
        pytest.param({"extension": 2}, r"extension .* 0\.\.1, got 2", id="extension-2"),
        pytest.param({"cc": 16, "csrcs": range(16)}, r"cc .* 0\.\.15, got 16", id="cc-16"),
        pytest.param({"cc": 2}, r"cc is 2 but 0 csrcs", id="cc-without-csrcs"),
        pytest.param({"csrcs": (1,)}, r"cc is 0 but 1 csrcs", id="csrcs-without-cc"),
        pytest.param({"cc": 2, "csrcs": (1, 2**32)}, r"csrcs\[1\] .* got", id="csrc-2^32"),
        pytest.param(
            {"extension": 1, "extension_data": b"\x00" * 6},
            r"extension_data must be a multiple of 4 bytes, got 6",
            id="extension-data-6-bytes",
        ),
        pytest.param(
            {"extension": 1, "extension_data": bytes(4 * 0x10000)},
            r"extension_data must be at most 65535 words, got 65536",
            id="extension-data-too-long",
        ),
        pytest.param(
            {"extension": 1, "extension_profile": 0x10000},
            r"extension_profile .* got 65536",
            id="extension-profile-65536",
        ),
        pytest.param(
            {"extension_data": b"\x00" * 4}, r"extension is 0", id="extension-data-without-x"
        ),
        pytest.param(
            {"extension_profile": 0xBEDE}, r"extension is 0", id="extension-profile-without-x"
        ),
        pytest.param({"padding": 1, "padding_size": 0}, r"padding_size .* got 0", id="pad-0"),
        pytest.param({"padding": 1, "padding_size": 256}, r"padding_size .* got 256", id="pad-256"),
        pytest.param({"padding_size": 4}, r"padding_size given but padding is 0", id="pad-no-p"),
    ],
)
def test_encode_rejects_bad_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        encode(make_fields(**overrides))


def test_failed_encode_leaves_packet_unchanged():
    packet = encode(FULL_FIELDS)
    with pytest.raises(ValueError, match="seqnum"):
        packet.encode(2, 0, 0, 0, MAX_SEQ + 1, 0, PT_JPEG, 1, b"new", timestamp=0)
    assert packet.getPacket() == FULL_PACKET
    assert_fields(packet, FULL_FIELDS)


FIXED_HEADER_REST = (
    b"\x00\x01"  # sequence number 1
    b"\x00\x00\x00\x00"  # timestamp 0
    b"\x01\x02\x03\x04"  # SSRC
)

MALFORMED = [
    pytest.param(b"", r"too short: 0 bytes, the fixed header needs 12", id="empty"),
    pytest.param(
        b"\x80\x1a\x00\x01\x00\x00\x00\x00\x01\x02\x03",  # one octet short of the fixed header
        r"too short: 11 bytes, the fixed header needs 12",
        id="11-bytes",
    ),
    pytest.param(
        b"\x00\x1a" + FIXED_HEADER_REST,  # V=0
        r"RTP version 0 not supported, expected 2",
        id="version-0",
    ),
    pytest.param(
        b"\x40\x1a" + FIXED_HEADER_REST,  # V=1
        r"RTP version 1 not supported, expected 2",
        id="version-1",
    ),
    pytest.param(
        b"\xc0\x1a" + FIXED_HEADER_REST,  # V=3
        r"RTP version 3 not supported, expected 2",
        id="version-3",
    ),
    pytest.param(
        b"\x83\x1a" + FIXED_HEADER_REST + b"\x00\x00\x00\x0a" * 2,  # CC=3, only 2 CSRCs
        r"too short for the CSRC list: cc says 3, needs 24 bytes, got 20",
        id="csrc-list-short",
    ),
    pytest.param(
        b"\x90\x1a" + FIXED_HEADER_REST + b"\xbe\xde",  # X=1, half an extension header
        r"too short for the extension header: needs 16 bytes, got 14",
        id="extension-header-short",
    ),
    pytest.param(
        b"\x90\x1a" + FIXED_HEADER_REST + b"\xbe\xde\x00\x02" + b"\x00" * 4,  # 2 words, 1 there
        r"extension length past the end: 2 words need 24 bytes, got 20",
        id="extension-length-past-end",
    ),
    pytest.param(
        b"\xa0\x1a" + FIXED_HEADER_REST,  # P=1, nothing after the header
        r"padding bit set but no room for padding after the header",
        id="padding-no-room",
    ),
    pytest.param(
        b"\xa0\x1a" + FIXED_HEADER_REST + b"\xff\x00",  # P=1, count 0
        r"padding count is 0",
        id="padding-count-0",
    ),
    pytest.param(
        b"\xa0\x1a" + FIXED_HEADER_REST + b"\xff\x03",  # P=1, count 3, only 2 octets follow
        r"padding count 3 larger than the 2 bytes after the header",
        id="padding-count-too-large",
    ),
    pytest.param(
        # P=1 X=1: the count 9 would eat into the 8 octets of extension (4 header + 4 data).
        b"\xb0\x1a" + FIXED_HEADER_REST + b"\xbe\xde\x00\x01" + b"\x00" * 4 + b"\x00\x09",
        r"padding count 9 larger than the 2 bytes after the header",
        id="padding-into-extension",
    ),
]


@pytest.mark.parametrize("data, message", MALFORMED)
def test_decode_rejects_malformed(data, message):
    with pytest.raises(RtpError, match=message):
        decode(data)


@pytest.mark.parametrize("data, message", MALFORMED)
def test_failed_decode_leaves_packet_unchanged(data, message):
    packet = decode(FULL_PACKET)
    with pytest.raises(RtpError, match=message):
        packet.decode(data)
    assert packet.getPacket() == FULL_PACKET
    assert_fields(packet, FULL_FIELDS)


def test_rtp_error_is_a_value_error():
    assert issubclass(RtpError, ValueError)
    with pytest.raises(ValueError):
        decode(b"\x40\x1a" + FIXED_HEADER_REST)


def test_padding_may_fill_everything_after_the_header():
    packet = decode(b"\xa0\x1a" + FIXED_HEADER_REST + b"\x00\x02")  # P=1, count 2, no payload
    assert packet.getPayload() == b""
    assert packet.padding() == 1


TRUNCATED_HEADER = r"too short: \d+ bytes, the fixed header needs 12"
TRUNCATED_CSRCS = r"too short for the CSRC list: cc says 2, needs 20 bytes"
TRUNCATED_EXTENSION_HEADER = r"too short for the extension header: needs 24 bytes"
TRUNCATED_EXTENSION_DATA = r"extension length past the end: 2 words need 32 bytes"

# Prefixes of FULL_PACKET that end after the extension data: their last octet is read as the
# padding count. Each maps to its error, or to the payload left once that count is stripped.
PADDED_PREFIXES = {
    32: r"padding bit set but no room",  # nothing after the extension
    33: r"padding count is 0",  # last octet 0x00
    34: b"\x00",  # last octet 0x01: strips itself
    35: b"\x00",  # last octet 0x02: strips 0x01 0x02
    36: r"padding count 9 larger than the 4 bytes",  # last octet 0x09
    37: r"padding count 255 larger than the 5 bytes",  # last octet 0xff
    38: b"\x00\x01\x02",  # last octet 0x03: strips 0x09 0xff 0x03
    39: r"padding count is 0",  # last octet 0x00 (first octet of the real padding)
}


def expected_for_prefix(length):
    if length < RTP_HEADER_SIZE:
        return TRUNCATED_HEADER
    if length < 20:
        return TRUNCATED_CSRCS
    if length < 24:
        return TRUNCATED_EXTENSION_HEADER
    if length < FULL_EXTENSION_END:
        return TRUNCATED_EXTENSION_DATA
    return PADDED_PREFIXES[length]


@pytest.mark.parametrize("length", range(len(FULL_PACKET)))
def test_every_truncation(length):
    expected = expected_for_prefix(length)
    if isinstance(expected, str):
        with pytest.raises(RtpError, match=expected):
            decode(FULL_PACKET[:length])
    else:
        packet = decode(FULL_PACKET[:length])
        assert packet.getPayload() == expected
        assert packet.csrcs() == FULL_FIELDS["csrcs"]
        assert packet.extension_data() == FULL_FIELDS["extension_data"]
        assert packet.getPacket() == FULL_PACKET[:length]


def test_every_prefix_short_of_the_extension_data_raises():
    for length in range(FULL_EXTENSION_END):
        with pytest.raises(RtpError):
            decode(FULL_PACKET[:length])


@pytest.mark.parametrize("make_buffer", BUFFER_KINDS)
def test_decode_accepts_buffers(make_buffer):
    buffer = make_buffer(FULL_PACKET)
    packet = decode(buffer)
    assert_fields(packet, FULL_FIELDS)
    assert type(packet.getPacket()) is bytes
    assert type(packet.getPayload()) is bytes
    assert type(packet.extension_data()) is bytes
    assert packet.getPacket() == FULL_PACKET


def test_decode_copies_a_mutable_buffer():
    buffer = bytearray(FULL_PACKET)
    packet = decode(buffer)
    buffer[:] = bytes(len(buffer))  # the receive buffer is reused for the next datagram
    assert packet.getPacket() == FULL_PACKET
    assert packet.getPayload() == FULL_FIELDS["payload"]


def test_packets_do_not_share_state():
    first = decode(FULL_PACKET)
    second = RtpPacket()
    assert second.getPacket() == b""
    assert second.getPayload() == b""
    second.decode(VECTORS[0].values[0])
    assert first.seqNum() == 65530
    assert first.getPacket() == FULL_PACKET
    assert second.seqNum() == 1


def test_repr():
    packet = encode(
        make_fields(seqnum=5, timestamp=90000, marker=1, ssrc=0x12345678, payload=bytes(1388))
    )
    assert repr(packet) == (
        "RtpPacket(seq=5, ts=90000, pt=26, ssrc=0x12345678, M=1, payload=1388 bytes)"
    )
    assert repr(decode(VECTORS[0].values[0])) == (
        "RtpPacket(seq=1, ts=0, pt=26, ssrc=0x01020304, M=0, payload=2 bytes)"
    )


def test_fixed_header_known_answer():
    # V=2 P=0 X=0 CC=0 -> 0x80; M=1 PT=26 -> 0x9A; seq 0x1234; ts 0x01020304; ssrc 0xCAFEBABE
    assert fixed_header(0x1234, 1, PT_JPEG, 0xCAFEBABE, 0x01020304) == bytes.fromhex(
        "80 9A 1234 01020304 CAFEBABE"
    )


def test_fixed_headers_number_a_frame_across_the_wrap_with_the_marker_on_the_last():
    headers = [bytes(h) for h in fixed_headers(65534, 4, PT_JPEG, 7, 90000)]
    assert headers == [
        bytes.fromhex("801A FFFE 00015F90 00000007"),
        bytes.fromhex("801A FFFF 00015F90 00000007"),
        bytes.fromhex("801A 0000 00015F90 00000007"),
        bytes.fromhex("809A 0001 00015F90 00000007"),
    ]


def test_fixed_headers_are_what_encode_builds():
    for seq, count in ((0, 1), (100, 37), (65500, 100)):
        packets = []
        for i in range(count):
            packet = RtpPacket()
            packet.encode(2, 0, 0, 0, (seq + i) % 65536, int(i == count - 1), PT_JPEG,
                          0x01020304, b"", timestamp=123456)  # fmt: skip
            packets.append(packet.getPacket())
        assert [bytes(h) for h in fixed_headers(seq, count, PT_JPEG, 0x01020304, 123456)] == packets
