"""RTCP source descriptions (rtsplab.rtcp.sdes, RFC 3550 section 6.5): the known-answer
vector, chunks null-terminated to 32 bits, CNAMEs, every item type, malformed and unencodable
SDES packets."""

import pytest

from rtcp_vectors import SDES, SDES_BYTES, SSRC, assert_decode_rejects, assert_round_trip
from rtsplab.ntp import MAX_U32
from rtsplab.rtcp.compound import decode_compound
from rtsplab.rtcp.packet import RTCP_SDES
from rtsplab.rtcp.sdes import (
    SDES_CNAME,
    SDES_EMAIL,
    SDES_LOC,
    SDES_NAME,
    SDES_NOTE,
    SDES_PHONE,
    SDES_PRIV,
    SDES_TOOL,
    SdesChunk,
    SourceDescription,
)


def test_sdes_vector_fields():
    (sdes,) = decode_compound(SDES_BYTES, strict=False)
    assert sdes.packet_type == RTCP_SDES
    (chunk,) = sdes.chunks
    assert chunk.ssrc == 0x12345678
    assert chunk.items == [(SDES_CNAME, b"alice@host")]
    assert sdes.cnames() == {0x12345678: "alice@host"}
    assert SourceDescription.cname(0x12345678, "alice@host") == sdes


@pytest.mark.parametrize(
    "name, nulls",
    [("alice@host", 4), ("alice@host1", 3), ("alice@host12", 2), ("alice@host123", 1)],
)
def test_sdes_chunk_is_null_terminated_to_32_bits(name, nulls):
    data = SourceDescription.cname(7, name).encode()
    chunk = data[4:]  # after the header
    assert len(data) % 4 == 0
    assert (
        chunk[: 4 + 2 + len(name)] == b"\x00\x00\x00\x07\x01" + bytes((len(name),)) + name.encode()
    )
    assert chunk[4 + 2 + len(name) :] == bytes(nulls)
    assert SourceDescription.decode(data).cnames() == {7: name}


def test_sdes_chunk_without_items_is_four_nulls():
    data = SourceDescription([SdesChunk(0x01020304)]).encode()
    assert data == b"\x81\xca\x00\x02\x01\x02\x03\x04\x00\x00\x00\x00"
    assert SourceDescription.decode(data) == SourceDescription([SdesChunk(0x01020304, [])])


def test_sdes_cnames_and_text():
    sdes = SourceDescription(
        [
            SdesChunk(1, [(SDES_NAME, b"Alice"), (SDES_CNAME, b"a@h"), (SDES_CNAME, b"other")]),
            SdesChunk(2, [(SDES_TOOL, b"lab")]),
            SdesChunk(3, [(SDES_CNAME, "b\u00e9@h".encode())]),
            SdesChunk(4, [(SDES_CNAME, b"\xff")]),  # not UTF-8: replaced, never an error
        ]
    )
    assert SourceDescription.decode(sdes.encode()).cnames() == {
        1: "a@h",
        3: "b\u00e9@h",
        4: "\ufffd",
    }


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(SourceDescription(), id="sdes-no-chunks"),
        pytest.param(
            SourceDescription(
                [
                    SdesChunk(
                        1,
                        [
                            (SDES_CNAME, b"c"),
                            (SDES_NAME, b"n"),
                            (SDES_EMAIL, b"e@x"),
                            (SDES_PHONE, b"+1"),
                            (SDES_LOC, b"here"),
                            (SDES_TOOL, b"t"),
                            (SDES_NOTE, b""),
                            (SDES_PRIV, b"\x03abcvalue"),
                            (255, b"x" * 255),
                        ],
                    ),
                    SdesChunk(MAX_U32),
                ]
                + [SdesChunk(i, [(SDES_CNAME, b"x" * i)]) for i in range(29)]
            ),
            id="sdes-every-item-31-chunks",
        ),
    ],
)
def test_round_trip(packet):
    assert_round_trip(packet)


@pytest.mark.parametrize(
    "data, message",
    [
        pytest.param(
            b"\x81\xca\x00\x03" + SSRC + b"\x01\x14abcdef",  # CNAME length 20, 6 octets there
            r"SDES item running past its chunk: item type 1 in chunk 1 needs 22 bytes, 8 left",
            id="sdes-item-past-chunk",
        ),
        pytest.param(
            b"\x81\xca\x00\x02" + SSRC + b"\x01\x01a\x05",  # item type 5 with no length octet
            r"SDES item running past its chunk: item type 5 in chunk 1 needs 2 bytes, 1 left",
            id="sdes-item-header-past-chunk",
        ),
        pytest.param(
            b"\x81\xca\x00\x02" + SSRC + b"\x01\x02ab",  # no null after the item
            r"SDES chunk 1 \(SSRC 0x12345678\) runs to the end of the packet without its null",
            id="sdes-no-terminator",
        ),
        pytest.param(
            b"\x82\xca\x00\x02" + SSRC + b"\x00\x00\x00\x00",  # SC=2, one chunk
            r"SDES count 2 too large for the length: chunk 2 starts at body offset 8, only 0",
            id="sdes-count-too-large",
        ),
        pytest.param(
            b"\x81\xca\x00\x04" + SSRC + bytes(4) + SSRC + bytes(4),  # SC=1, two chunks
            r"SDES count 1 too small for the length: 8 bytes left after the last chunk",
            id="sdes-count-too-small",
        ),
    ],
)
def test_decode_rejects_malformed(data, message):
    assert_decode_rejects(data, message)


@pytest.mark.parametrize(
    "packet, message",
    [
        pytest.param(
            SourceDescription([SdesChunk(1)] * 32), r"SDES chunk count .* got 32", id="sdes-32"
        ),
        pytest.param(
            SourceDescription([SdesChunk(1, [(0, b"x")])]),
            r"SDES item 0 type must be an integer in 1\.\.255, got 0",
            id="sdes-item-type-0",
        ),
        pytest.param(
            SourceDescription([SdesChunk(1, [(256, b"x")])]),
            r"type .* got 256",
            id="sdes-item-type-256",
        ),
        pytest.param(
            SourceDescription([SdesChunk(1, [(1, b""), (1, b"x" * 256)])]),
            r"SDES item 1 text must be at most 255 bytes, got 256",
            id="sdes-text-256",
        ),
        pytest.param(
            SourceDescription([SdesChunk(1, [(1, b"x" * 255)] * 1100)]),
            r"SDES \(202\) packet of \d+ bytes exceeds the 262144 bytes",
            id="sdes-too-big",
        ),
    ],
)
def test_encode_rejects_bad_field(packet, message):
    with pytest.raises(ValueError, match=message):
        packet.encode()


def test_repr():
    assert (
        repr(SDES) == "SourceDescription([SdesChunk(ssrc=0x12345678, items=[CNAME='alice@host'])])"
    )
