"""RTSP responses (rtsplab.rtsp.message.RtspResponse) and the client's reader of them
(rtsplab.rtsp.reader.ResponseReader): exact bytes, the lab server's replies without their
empty line, malformed responses."""

import pytest

from rtsp_streams import (
    feed_chunks,
)
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.message import Headers, RtspResponse
from rtsplab.rtsp.reader import (
    MAX_LINE,
    ResponseReader,
    RtspProtocolError,
)


def test_response_encode_exact_bytes_cseq_then_session():
    resp = RtspResponse(200, Headers([("CSeq", "1"), ("Session", "123456")]))
    wire = (
        b"RTSP/1.0 200 OK\r\n"  # status line
        b"CSeq: 1\r\n"  # line 2: the lab client reads the CSeq here
        b"Session: 123456\r\n"  # line 3: and the session here
        b"\r\n"  # end of head, no body
    )
    assert resp.encode() == wire
    # The lab's own client: lines = data.split('\n'); int(lines[1].split(' ')[1]) ...
    lines = wire.decode().split("\n")
    assert int(lines[1].split(" ")[1]) == 1
    assert int(lines[2].split(" ")[1]) == 123456


@pytest.mark.parametrize(
    ("resp", "wire"),
    [
        pytest.param(
            RtspResponse(454, [("CSeq", "3")]),
            b"RTSP/1.0 454 Session Not Found\r\nCSeq: 3\r\n\r\n",
            id="454",
        ),
        pytest.param(
            RtspResponse(455, [("CSeq", "4"), ("Session", "9")]),
            b"RTSP/1.0 455 Method Not Valid in This State\r\nCSeq: 4\r\nSession: 9\r\n\r\n",
            id="455",
        ),
        pytest.param(
            RtspResponse(200, [("CSeq", "2")], b"v=0\r\n", reason="Fine"),
            b"RTSP/1.0 200 Fine\r\nCSeq: 2\r\nContent-Length: 5\r\n\r\nv=0\r\n",
            id="body-and-reason",
        ),
        pytest.param(
            RtspResponse(299, [("CSeq", "2")]),
            b"RTSP/1.0 299 Unknown Status\r\nCSeq: 2\r\n\r\n",
            id="unknown-status",
        ),
    ],
)
def test_response_encode_and_round_trip(resp, wire):
    assert resp.encode() == wire
    [parsed] = ResponseReader().feed(wire)
    assert parsed.encode() == wire
    assert (parsed.status, parsed.cseq, parsed.body) == (resp.status, resp.cseq, resp.body)


@pytest.mark.parametrize("status", [0, 99, 1000])
def test_response_encode_refuses_status_not_three_digits(status):
    with pytest.raises(ValueError):
        RtspResponse(status, [("CSeq", "1")]).encode()


@pytest.mark.parametrize(
    ("headers", "cseq", "session"),
    [
        ([("CSeq", "5"), ("Session", "123456;timeout=60")], 5, "123456"),
        ([], None, None),
        ([("CSeq", "x"), ("Session", ";")], None, None),
    ],
)
def test_response_properties_are_lenient(headers, cseq, session):
    resp = RtspResponse(200, headers)
    assert (resp.cseq, resp.session) == (cseq, session)


# --------------------------------------------------------------------------- ResponseReader

LAB_REPLY = b"RTSP/1.0 200 OK\nCSeq: 1\nSession: 123456"  # the lab server's reply, as sent


@pytest.mark.parametrize("tail", [b"", b"\n", b"\r\n"])
def test_lab_reply_without_empty_line_comes_from_flush_partial(tail):
    reader = ResponseReader()
    assert reader.feed(LAB_REPLY + tail) == []
    assert reader.pending
    resp = reader.flush_partial()
    assert (resp.status, resp.reason, resp.cseq, resp.session) == (200, "OK", 1, "123456")
    assert resp.headers.items() == [("CSeq", "1"), ("Session", "123456")]
    assert not reader.pending
    assert reader.flush_partial() is None


def test_flush_partial_on_empty_reader_is_none():
    reader = ResponseReader()
    assert reader.flush_partial() is None
    reader.feed(b"\r\n")
    assert reader.flush_partial() is None


def test_flush_partial_waits_for_a_body_announced_by_content_length():
    reader = ResponseReader()
    reader.feed(b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 5")
    assert reader.flush_partial() is None
    reader.feed(b"\r\n\r\nv=0")
    assert reader.flush_partial() is None
    [resp] = reader.feed(b"\r\n")
    assert resp.body == b"v=0\r\n"


def test_response_reader_byte_at_a_time_and_pipelined():
    wire = (
        RtspResponse(200, [("CSeq", "1"), ("Session", "5")]).encode()
        + b"\r\n"
        + RtspResponse(200, [("CSeq", "2"), ("Session", "5")], b"x=1\r\n").encode()
    )
    for size in (None, 1):
        out = feed_chunks(ResponseReader(), wire, size)
        assert [(r.cseq, r.session, r.body) for r in out] == [(1, "5", b""), (2, "5", b"x=1\r\n")]


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nCSeq: 1\r\n\r\n", id="http"),
        pytest.param(b"RTSP/1.0 20 OK\r\nCSeq: 1\r\n\r\n", id="two-digit-status"),
        pytest.param(b"RTSP/1.0 OK\r\nCSeq: 1\r\n\r\n", id="no-status"),
        pytest.param(b"garbage\r\nCSeq: 1\r\n\r\n", id="garbage"),
        pytest.param(b"RTSP/1.0 200 OK\r\nCSeq 1\r\n\r\n", id="header-without-colon"),
        pytest.param(b"RTSP/1.0 200 \xffOK\r\nCSeq: 1\r\n\r\n", id="not-utf8"),
    ],
)
def test_response_reader_raises_on_malformed_response(wire):
    with pytest.raises(RtspProtocolError) as info:
        ResponseReader().feed(wire)
    assert info.value.status == 0
    assert isinstance(info.value, RtspError)
    assert str(info.value).startswith("Protocol Error: ")


def test_response_reader_error_keeps_responses_and_goes_on():
    first = RtspResponse(200, [("CSeq", "1")]).encode()
    second = RtspResponse(200, [("CSeq", "3")]).encode()
    reader = ResponseReader()
    with pytest.raises(RtspProtocolError) as info:
        reader.feed(first + b"BOGUS\r\nCSeq: 2\r\n\r\n" + second)
    assert info.value.cseq == 2
    assert [r.cseq for r in info.value.responses] == [1, 3]
    [resp] = reader.feed(RtspResponse(200, [("CSeq", "4")]).encode())
    assert resp.cseq == 4


def test_response_reader_flush_partial_raises_on_malformed_status_line():
    reader = ResponseReader()
    reader.feed(b"RTSP/1.0 2OO OK\nCSeq: 1")
    with pytest.raises(RtspProtocolError):
        reader.flush_partial()
    assert not reader.pending


def test_response_reader_endless_line_raises_once_and_stays_bounded():
    reader = ResponseReader()
    raised = 0
    for _ in range(256):
        try:
            reader.feed(b"R" * 1024)
        except RtspProtocolError:
            raised += 1
        assert reader.buffered <= MAX_LINE
    assert raised == 1
    [resp] = reader.feed(b"\r\n\r\n" + RtspResponse(200, [("CSeq", "8")]).encode())
    assert resp.cseq == 8
