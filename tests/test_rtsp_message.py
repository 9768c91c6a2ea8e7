"""RTSP messages and their reader: framing, recovery, caps, encoding, Transport, Session."""

import pickle
import random

import pytest

from rtsplab.rtsp.errors import STATUS_REASONS, RtspError
from rtsplab.rtsp.headers.session import format_session, parse_session
from rtsplab.rtsp.headers.transport import TransportSpec, format_transport, parse_transport
from rtsplab.rtsp.message import Headers, InterleavedFrame, RtspRequest, RtspResponse
from rtsplab.rtsp.reader import (
    MAX_BODY,
    MAX_HEAD,
    MAX_HEADERS,
    MAX_LINE,
    RequestReader,
    ResponseReader,
    RtspProtocolError,
)

# The lab's client, byte for byte, plus the closing empty line.
LAB_SETUP = b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000\n\n"
# A well-formed request sent after each malformed one: it must still come out.
NEXT = b"OPTIONS * RTSP/1.0\r\nCSeq: 99\r\n\r\n"


def feed_chunks(reader, data, size):
    """Feed `data` in chunks of `size` bytes (all at once for None); collect the output."""
    if size is None:
        return reader.feed(data)
    out = []
    for i in range(0, len(data), size):
        out += reader.feed(data[i : i + size])
    return out


def assert_next(item):
    assert isinstance(item, RtspRequest), item
    assert (item.method, item.uri, item.cseq) == ("OPTIONS", "*", 99)


# --------------------------------------------------------------------------- RequestReader


def test_lab_setup_exact_form():
    [req] = RequestReader().feed(LAB_SETUP)
    assert req.method == "SETUP"
    assert req.uri == "movie.Mjpeg"
    assert req.version == "RTSP/1.0"
    assert req.cseq == 1
    assert req.session is None
    assert req.body == b""
    assert req.headers.items() == [("CSeq", "1"), ("Transport", "RTP/UDP; client_port= 25000")]
    [spec] = parse_transport(req.headers["Transport"])
    assert (spec.protocol, spec.client_port, spec.lower_transport) == (
        "RTP/UDP",
        (25000, None),
        "UDP",
    )


def test_lab_setup_one_byte_at_a_time():
    reader = RequestReader()
    outputs = [reader.feed(LAB_SETUP[i : i + 1]) for i in range(len(LAB_SETUP))]
    assert outputs[:-1] == [[]] * (len(LAB_SETUP) - 1)
    assert outputs[-1] == RequestReader().feed(LAB_SETUP)
    assert not reader.pending


BODY_REQUEST = (
    b"SET_PARAMETER movie.Mjpeg RTSP/1.0\r\n"
    b"CSeq: 5\r\n"
    b"Content-Length: 14\r\n"
    b"\r\n"
    b"a: 1\r\n\r\nb: 2\r\n"  # 14 bytes; the empty line inside is body, not framing
)


@pytest.mark.parametrize("split", range(1, len(BODY_REQUEST)))
def test_request_with_body_split_anywhere(split):
    reader = RequestReader()
    assert reader.feed(BODY_REQUEST[:split]) == []
    assert reader.pending
    [req] = reader.feed(BODY_REQUEST[split:])
    assert (req.method, req.cseq, req.body) == ("SET_PARAMETER", 5, b"a: 1\r\n\r\nb: 2\r\n")
    assert not reader.pending
    assert reader.buffered == 0


def test_three_pipelined_requests_in_one_feed():
    data = (
        b"SETUP movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/UDP; client_port= 25000\r\n\r\n"
        b"PLAY movie.Mjpeg RTSP/1.0\r\nCSeq: 2\r\nSession: 123456\r\n\r\n"
        b"PAUSE movie.Mjpeg RTSP/1.0\r\nCSeq: 3\r\nSession: 123456\r\n\r\n"
    )
    reqs = RequestReader().feed(data)
    assert [(r.method, r.cseq, r.session) for r in reqs] == [
        ("SETUP", 1, None),
        ("PLAY", 2, "123456"),
        ("PAUSE", 3, "123456"),
    ]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"PLAY movie.Mjpeg RTSP/1.0\r\nCSeq: 2\nSession: 123456\r\n\n", id="crlf-lf"),
        pytest.param(b"PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\r\nSession: 123456\n\r\n", id="lf-crlf"),
        pytest.param(b"PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: 123456\n\n", id="lf"),
        pytest.param(b"PLAY movie.Mjpeg RTSP/1.0\r\nCSeq: 2\r\nSession: 123456\r\n\r\n", id="crlf"),
    ],
)
def test_line_ends_crlf_lf_and_mixed(data):
    for size in (None, 1):
        [req] = feed_chunks(RequestReader(), data, size)
        assert req.headers.items() == [("CSeq", "2"), ("Session", "123456")]
        assert (req.method, req.uri, req.version) == ("PLAY", "movie.Mjpeg", "RTSP/1.0")


def test_header_names_any_case_any_order():
    data = b"play movie.Mjpeg RTSP/1.0\r\nSESSION: 77;timeout=60\r\ncseq: 4\r\nX-Thing:  v \r\n\r\n"
    [req] = RequestReader().feed(data)
    assert req.method == "play"  # kept as sent: the server answers 501
    assert req.cseq == 4
    assert req.session == "77"
    assert req.headers["Cseq"] == "4"
    assert req.headers["x-thing"] == "v"
    assert req.headers.items() == [
        ("SESSION", "77;timeout=60"),
        ("cseq", "4"),
        ("X-Thing", "v"),
    ]


def test_leading_and_separating_empty_lines_are_skipped():
    data = b"\r\n\n\r\n" + LAB_SETUP + b"\r\n\r\n\n" + NEXT
    for size in (None, 1, 3):
        setup, options = feed_chunks(RequestReader(), data, size)
        assert (setup.method, setup.cseq) == ("SETUP", 1)
        assert_next(options)


def test_keepalive_crlf_alone_yields_nothing():
    reader = RequestReader()
    assert reader.feed(b"\r\n" * 1000) == []
    assert not reader.pending


def test_version_1x_and_unknown_methods_are_passed_on():
    data = b"FOO * RTSP/1.1\r\nCSeq: 1\r\n\r\nGET_PARAMETER rtsp://h/m RTSP/1.0\r\nCSeq: 2\r\n\r\n"
    foo, get = RequestReader().feed(data)
    assert (foo.method, foo.uri, foo.version) == ("FOO", "*", "RTSP/1.1")
    assert (get.method, get.uri, get.cseq) == ("GET_PARAMETER", "rtsp://h/m", 2)


def _filler(total):
    """Header lines 'X: aaa' (each at most MAX_LINE) whose contents add up to `total` bytes."""
    lines = []
    while total:
        size = min(total, MAX_LINE)
        if 0 < total - size < 4:  # leave room for one more "X: a"
            size -= 4
        lines.append(b"X: " + b"a" * (size - 3) + b"\r\n")
        total -= size
    return b"".join(lines)


HEAD_START = b"OPTIONS * RTSP/1.0\r\nCSeq: 7\r\n"
HEAD_START_SIZE = len(b"OPTIONS * RTSP/1.0") + len(b"CSeq: 7")

# Each one a malformed request, then NEXT: (data, status, cseq echoed in the error).
MALFORMED = [
    pytest.param(b"SETUP movie.Mjpeg\r\nCSeq: 7\r\n\r\n", 400, 7, id="no-version"),
    pytest.param(b"SETUP  movie.Mjpeg RTSP/1.0\r\nCSeq: 7\r\n\r\n", 400, 7, id="two-spaces"),
    pytest.param(b" movie.Mjpeg RTSP/1.0\r\nCSeq: 7\r\n\r\n", 400, 7, id="empty-method"),
    pytest.param(b"SETUP movie RTSP/1.0 x\r\nCSeq: 7\r\n\r\n", 400, 7, id="four-parts"),
    pytest.param(b"SETUP\tmovie\tRTSP/1.0\r\nCSeq: 7\r\n\r\n", 400, 7, id="tabs"),
    pytest.param(b"SE(TUP movie RTSP/1.0\r\nCSeq: 7\r\n\r\n", 400, 7, id="method-not-token"),
    pytest.param(b"GET / HTTP/1.1\r\nCSeq: 7\r\n\r\n", 400, 7, id="http"),
    pytest.param(b"SETUP movie rtsp/1.0\r\nCSeq: 7\r\n\r\n", 400, 7, id="lowercase-version"),
    pytest.param(b"SETUP movie RTSP/1\r\nCSeq: 7\r\n\r\n", 400, 7, id="version-no-minor"),
    pytest.param(b"SETUP movie\xff RTSP/1.0\r\nCSeq: 7\r\n\r\n", 400, 7, id="not-utf8"),
    pytest.param(b"SETUP movie RTSP/2.0\r\nCSeq: 7\r\n\r\n", 505, 7, id="rtsp-2.0"),
    pytest.param(b"SETUP movie RTSP/0.9\r\nCSeq: 7\r\n\r\n", 505, 7, id="rtsp-0.9"),
    pytest.param(b"PLAY m RTSP/1.0\r\nCSeq: 7\r\nSession 1\r\n\r\n", 400, 7, id="no-colon"),
    pytest.param(b"PLAY m RTSP/1.0\r\nSession 1\r\nCSeq: 7\r\n\r\n", 400, 7, id="no-colon-1st"),
    pytest.param(b"PLAY m RTSP/1.0\r\n: 1\r\nCSeq: 7\r\n\r\n", 400, 7, id="empty-name"),
    pytest.param(b"PLAY m RTSP/1.0\r\nC Seq: 7\r\n\r\n", 400, None, id="space-in-name"),
    pytest.param(b"PLAY m RTSP/1.0\r\nCSeq: 7\r\nX: a\rb\r\n\r\n", 400, 7, id="stray-cr"),
    pytest.param(b"PLAY m RTSP/1.0\r\nCSeq: 7\r\nX: \xfe\r\n\r\n", 400, 7, id="header-not-utf8"),
    pytest.param(b"PLAY m RTSP/1.0\r\nCSeq: seven\r\nX\r\n\r\n", 400, None, id="cseq-unreadable"),
    pytest.param(
        b"SET_PARAMETER m RTSP/1.0\r\nCSeq: 7\r\nContent-Length: abc\r\n\r\nx: 1\r\ny: 2\r\n\r\n",
        400,
        7,
        id="content-length-abc",
    ),
    pytest.param(
        b"SET_PARAMETER m RTSP/1.0\r\nCSeq: 7\r\nContent-Length: -3\r\n\r\nx\r\n\r\n",
        400,
        7,
        id="content-length-negative",
    ),
    pytest.param(
        b"SET_PARAMETER m RTSP/1.0\r\nCSeq: 7\r\nContent-Length: 3\r\nContent-Length: 4\r\n"
        b"\r\nabcd\r\n\r\n",
        400,
        7,
        id="content-length-conflict",
    ),
    pytest.param(
        b"BAD LINE\r\nCSeq: 7\r\nContent-Length: 12\r\n\r\nOPTIONS * \r\n",
        400,
        7,
        id="bad-line-body-skipped",
    ),
    pytest.param(
        b"SETUP " + b"a" * MAX_LINE + b" RTSP/1.0\r\nCSeq: 7\r\n\r\n", 414, None, id="line>cap"
    ),
    pytest.param(
        HEAD_START + b"X: " + b"a" * (MAX_LINE - 2) + b"\r\nY: 1\r\n\r\n", 400, 7, id="header>cap"
    ),
    pytest.param(HEAD_START + b"X: 1\r\n" * MAX_HEADERS + b"\r\n", 400, 7, id="headers>cap"),
    pytest.param(
        HEAD_START + _filler(MAX_HEAD - HEAD_START_SIZE + 1) + b"\r\n", 400, 7, id="head>cap"
    ),
    pytest.param(
        b"ANNOUNCE m RTSP/1.0\r\nCSeq: 7\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1)
        # a body full of requests: skipping it by length must not parse any of them
        + (b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n" * MAX_BODY)[: MAX_BODY + 1],
        413,
        7,
        id="body>cap",
    ),
]


@pytest.mark.parametrize("size", [None, 1, 1000], ids=["whole", "bytewise", "1000"])
@pytest.mark.parametrize(("data", "status", "cseq"), MALFORMED)
def test_malformed_request_yields_error_then_next_request(data, status, cseq, size):
    reader = RequestReader()
    out = feed_chunks(reader, data + NEXT, size)
    assert len(out) == 2, out
    error, following = out
    assert isinstance(error, RtspError)
    assert (error.status, error.cseq) == (status, cseq)
    assert error.reason == STATUS_REASONS[status]
    assert_next(following)
    assert not reader.pending


def test_errors_come_out_in_stream_order():
    data = LAB_SETUP + b"PLAY movie RTSP/2.0\r\nCSeq: 2\r\n\r\n" + NEXT
    setup, error, options = RequestReader().feed(data)
    assert setup.cseq == 1
    assert (error.status, error.cseq) == (505, 2)
    assert_next(options)


def test_bad_content_length_discards_up_to_next_empty_line():
    # The body's extent is unknown, so the request right after it (no empty line between)
    # is dropped with it; the one after the next empty line comes out.
    data = b"PLAY m RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 1e3\r\n\r\n" + LAB_SETUP + NEXT
    error, options = RequestReader().feed(data)
    assert (error.status, error.cseq) == (400, 3)
    assert_next(options)


# Exactly at the caps: accepted. One byte/line more: refused (see MALFORMED).
def test_request_line_exactly_max_line():
    uri = b"u" * (MAX_LINE - len(b"SETUP  RTSP/1.0"))
    line = b"SETUP " + uri + b" RTSP/1.0"
    assert len(line) == MAX_LINE
    [req] = RequestReader().feed(line + b"\r\nCSeq: 1\r\n\r\n")
    assert req.uri == uri.decode()
    [error] = RequestReader().feed(b"SETUP u" + uri + b" RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    assert error.status == 414


def test_header_line_exactly_max_line():
    header = b"X: " + b"a" * (MAX_LINE - 3)
    [req] = RequestReader().feed(HEAD_START + header + b"\r\n\r\n")
    assert len(req.headers["X"]) == MAX_LINE - 3


def test_exactly_max_headers():
    data = HEAD_START + b"X: 1\r\n" * (MAX_HEADERS - 1) + b"\r\n"
    [req] = RequestReader().feed(data)
    assert len(req.headers) == MAX_HEADERS


def test_head_exactly_max_head():
    data = HEAD_START + _filler(MAX_HEAD - HEAD_START_SIZE) + b"\r\n"
    [req] = RequestReader().feed(data)
    assert req.cseq == 7


@pytest.mark.parametrize("size", [None, 1, 4096])
def test_body_exactly_max_body(size):
    data = b"ANNOUNCE m RTSP/1.0\r\nCSeq: 7\r\nContent-Length: %d\r\n\r\n" % MAX_BODY
    [req] = feed_chunks(RequestReader(), data + b"\n" * MAX_BODY, size)
    assert req.body == b"\n" * MAX_BODY


@pytest.mark.parametrize(
    ("start", "status", "cseq"),
    [
        pytest.param(b"", 414, None, id="request-line"),
        pytest.param(b"SETUP m RTSP/1.0\r\nCSeq: 12\r\nX: ", 400, 12, id="header-line"),
    ],
)
def test_endless_line_keeps_memory_bounded(start, status, cseq):
    reader = RequestReader()
    errors = reader.feed(start)
    chunk = b"A" * 1024
    for _ in range(1024):  # 1 MiB without a line end
        errors += reader.feed(chunk)
        assert reader.buffered <= len(start) + MAX_LINE + 1
    assert [(e.status, e.cseq) for e in errors] == [(status, cseq)]
    assert reader.buffered <= 2  # discarding: only enough to spot an empty line
    [options] = reader.feed(b"\r\n\r\n" + NEXT)
    assert_next(options)


def test_endless_head_keeps_memory_bounded():
    reader = RequestReader()
    errors = reader.feed(b"SETUP m RTSP/1.0\r\nCSeq: 13\r\n")
    for _ in range(1024):
        errors += reader.feed(b"X: 1\r\n" * 170)  # ~1 KiB of short header lines
        assert reader.buffered <= MAX_HEAD
    assert [(e.status, e.cseq) for e in errors] == [(400, 13)]
    [options] = reader.feed(b"\r\n" + NEXT)
    assert_next(options)


def test_partial_line_over_head_cap_is_refused_before_its_line_end():
    reader = RequestReader()
    assert reader.feed(HEAD_START + _filler(MAX_HEAD - HEAD_START_SIZE - 10)) == []
    [error] = reader.feed(b"Y: " + b"a" * 100)  # no line end yet: the cap trips anyway
    assert (error.status, error.cseq) == (400, 7)
    assert reader.buffered <= 2
    [options] = reader.feed(b"\r\n\r\n" + NEXT)
    assert_next(options)


def test_huge_body_is_skipped_without_buffering():
    reader = RequestReader()
    out = reader.feed(b"ANNOUNCE m RTSP/1.0\r\nCSeq: 4\r\nContent-Length: 1048576\r\n\r\n")
    assert [(e.status, e.cseq) for e in out] == [(413, 4)]
    for _ in range(1024):
        assert reader.feed(b"\r\n" * 512) == []
        assert reader.buffered == 0
    assert not reader.pending
    [options] = reader.feed(NEXT)
    assert_next(options)


def test_random_junk_never_raises_and_stays_bounded():
    rng = random.Random(2326)
    reader = RequestReader()
    alphabet = b"\r\n :ABC-/1.0RTSPCSeqContent-Length"
    for _ in range(2000):
        junk = bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 200)))
        for item in reader.feed(junk):
            assert isinstance(item, (RtspRequest, RtspError))
        assert reader.buffered <= MAX_HEAD + MAX_BODY
    reader.feed(b"\r\n\r\n")
    # Whatever state the junk left, a message boundary then a request gets through.
    assert_next(reader.feed(b"\r\n\r\n" + NEXT)[-1])


def test_request_reader_flush_partial_takes_lab_request_without_empty_line():
    reader = RequestReader()
    assert reader.feed(b"PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: 123456") == []
    assert reader.pending
    [req] = reader.flush_partial()
    assert (req.method, req.cseq, req.session) == ("PLAY", 2, "123456")
    assert not reader.pending
    assert reader.flush_partial() == []
    [options] = reader.feed(NEXT)  # the reader goes on normally afterwards
    assert_next(options)


def test_request_reader_flush_partial_reports_errors_and_waits_for_bodies():
    reader = RequestReader()
    reader.feed(b"PLAY movie.Mjpeg RTSP/3.0\nCSeq: 2")
    [error] = reader.flush_partial()
    assert (error.status, error.cseq) == (505, 2)
    reader.feed(b"SET_PARAMETER m RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 4\r\n\r\nab")
    assert reader.flush_partial() == []
    [req] = reader.feed(b"cd")
    assert req.body == b"abcd"


# --------------------------------------------------------------------------- RtspRequest


@pytest.mark.parametrize(
    ("value", "cseq"),
    [("0", 0), ("1", 1), (" 42 ", 42), ("4294967296", 2**32)],
)
def test_request_cseq(value, cseq):
    assert RtspRequest("PLAY", "m", Headers([("CSeq", value)])).cseq == cseq


@pytest.mark.parametrize("value", [None, "", "abc", "-1", "+1", "1.5", "0x10", "\u0663"])
def test_request_cseq_missing_or_bad_is_400(value):
    headers = Headers() if value is None else Headers([("CSeq", value)])
    with pytest.raises(RtspError) as info:
        RtspRequest("PLAY", "m", headers).cseq  # noqa: B018
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("value", "session"),
    [(None, None), ("12345", "12345"), ("12345;timeout=60", "12345"), (" ab ; x=1", "ab")],
)
def test_request_session(value, session):
    headers = Headers([("CSeq", "3")] + ([] if value is None else [("Session", value)]))
    assert RtspRequest("PLAY", "m", headers).session == session


def test_request_garbled_session_is_400_with_cseq():
    req = RtspRequest("PLAY", "m", Headers([("CSeq", "3"), ("Session", ";timeout=60")]))
    with pytest.raises(RtspError) as info:
        req.session  # noqa: B018
    assert (info.value.status, info.value.cseq) == (400, 3)


def test_request_encode_exact_bytes_and_round_trip():
    req = RtspRequest(
        "SETUP",
        "movie.Mjpeg",
        Headers([("CSeq", "1"), ("Transport", "RTP/UDP; client_port= 25000")]),
    )
    wire = (
        b"SETUP movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/UDP; client_port= 25000\r\n\r\n"
    )
    assert req.encode() == wire
    assert RequestReader().feed(wire) == [req]


def test_request_encode_adds_content_length_once():
    req = RtspRequest("SET_PARAMETER", "m", [("CSeq", "2")], b"a: 1\r\n")
    wire = b"SET_PARAMETER m RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 6\r\n\r\na: 1\r\n"
    assert req.encode() == wire
    [parsed] = RequestReader().feed(wire)
    assert parsed.body == b"a: 1\r\n"
    assert parsed.encode() == wire  # Content-Length now given: not added a second time


@pytest.mark.parametrize(("method", "uri"), [("PL AY", "m"), ("", "m"), ("PLAY", ""), ("A", "a b")])
def test_request_encode_refuses_broken_request_line(method, uri):
    with pytest.raises(ValueError):
        RtspRequest(method, uri, Headers([("CSeq", "1")])).encode()


# --------------------------------------------------------------------------- RtspResponse


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


# --------------------------------------------------------------------------- Headers


def test_headers_lookup_is_case_insensitive_and_first_wins():
    h = Headers([("CSeq", "1"), ("Session", "a"), ("cseq", "2")])
    assert h["CSEQ"] == "1"
    assert h.get("cseq") == "1"
    assert h.get_all("CSeq") == ["1", "2"]
    assert "session" in h and "Range" not in h
    assert h.get("Range") is None and h.get("Range", "x") == "x"
    assert len(h) == 3
    assert list(h) == ["CSeq", "Session", "cseq"]
    with pytest.raises(KeyError):
        h["Range"]  # noqa: B018


def test_headers_setitem_replaces_in_place_and_appends_new():
    h = Headers([("CSeq", "1"), ("Session", "a"), ("cseq", "2")])
    h["CSEQ"] = 5
    h["Transport"] = "RTP/AVP"
    assert h.items() == [("CSeq", "5"), ("Session", "a"), ("Transport", "RTP/AVP")]


def test_headers_equality_repr_and_mapping_init():
    h = Headers({"CSeq": "1", "Session": "a"})
    assert h == Headers([("cseq", "1"), ("SESSION", "a")])
    assert h != Headers([("Session", "a"), ("CSeq", "1")])  # order is on the wire
    assert h != Headers([("CSeq", "1"), ("Session", "A")])  # values are exact
    assert h != [("CSeq", "1"), ("Session", "a")]
    assert repr(h) == "Headers([('CSeq', '1'), ('Session', 'a')])"
    copy = Headers(h)
    copy["CSeq"] = "2"
    assert (copy.items(), h["CSeq"]) == ([("CSeq", "2"), ("Session", "a")], "1")


@pytest.mark.parametrize(
    ("name", "value"),
    [("X", "a\r\nInjected: 1"), ("X", "a\nb"), ("Bad Name", "x"), ("", "x"), ("X:", "y")],
)
def test_headers_refuse_what_would_break_framing(name, value):
    with pytest.raises(ValueError):
        Headers([(name, value)])
    with pytest.raises(ValueError):
        Headers()[name] = value


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (
            RtspError(455, "PLAY before SETUP"),
            "455 Method Not Valid in This State: PLAY before SETUP",
        ),
        (RtspError(400), "400 Bad Request"),
        (RtspError(461, "RTP/AVP/TCP", cseq=3), "461 Unsupported transport: RTP/AVP/TCP"),
        (RtspProtocolError("bad status line"), "Protocol Error: bad status line"),
    ],
)
def test_error_text(error, text):
    assert str(error) == text


def test_error_fields_and_pickle():
    error = RtspError(454, "no such session", cseq=6)
    assert (error.status, error.reason, error.message, error.cseq) == (
        454,
        "Session Not Found",
        "no such session",
        6,
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.status, copy.message, copy.cseq) == (454, "no such session", 6)
    proto = pickle.loads(pickle.dumps(RtspProtocolError("x", 2)))
    assert (proto.status, proto.message, proto.cseq) == (0, "x", 2)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (200, "OK"),
        (400, "Bad Request"),
        (404, "Not Found"),
        (413, "Request Entity Too Large"),
        (414, "Request-URI Too Large"),
        (415, "Unsupported Media Type"),
        (454, "Session Not Found"),
        (455, "Method Not Valid in This State"),
        (461, "Unsupported transport"),  # RFC 2326 §7.1.1 spelling
        (500, "Internal Server Error"),
        (501, "Not Implemented"),
        (505, "RTSP Version not supported"),  # RFC 2326 §7.1.1 spelling
    ],
)
def test_status_reasons(status, reason):
    assert STATUS_REASONS[status] == reason


# --------------------------------------------------------------------------- Transport


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        pytest.param(
            "RTP/UDP; client_port= 25000",
            TransportSpec("RTP/UDP", client_port=(25000, None)),
            id="lab",
        ),
        pytest.param(
            "RTP/AVP;unicast;client_port=25000-25001",
            TransportSpec("RTP/AVP", True, (25000, 25001)),
            id="avp",
        ),
        pytest.param(
            'RTP/AVP/UDP;unicast;client_port=25000-25001;mode="PLAY"',
            TransportSpec("RTP/AVP/UDP", True, (25000, 25001), mode="PLAY"),
            id="avp-udp-mode",
        ),
        pytest.param(
            "RTP/AVP/TCP;unicast;interleaved=0-1",
            TransportSpec("RTP/AVP/TCP", True, interleaved=(0, 1)),
            id="tcp-interleaved",
        ),
        pytest.param(
            "RTP/AVP;unicast;client_port=25000-25001;server_port=5000-5001;ssrc=1a2b3c4d",
            TransportSpec("RTP/AVP", True, (25000, 25001), (5000, 5001), ssrc=0x1A2B3C4D),
            id="server-reply",
        ),
        pytest.param(
            "RTP/AVP;multicast;destination=224.2.0.1;ttl=16;port=3456-3457",
            TransportSpec(
                "RTP/AVP", False, destination="224.2.0.1", port=(3456, 3457), ttl=16
            ),  # RFC 2326 §12.39's example
            id="multicast",
        ),
        pytest.param(
            "RTP/AVP ; UNICAST ; Client_Port = 0 - 65535 ; SSRC=0 ; append ;",
            TransportSpec("RTP/AVP", True, (0, 65535), ssrc=0, other={"append": None}),
            id="case-spaces-limits",
        ),
        pytest.param(
            "RTP/AVP;ssrc=FFFFFFFF;interleaved=255;mode=record",
            TransportSpec("RTP/AVP", ssrc=0xFFFFFFFF, interleaved=(255, None), mode="record"),
            id="ssrc-max",
        ),
    ],
)
def test_parse_transport(value, spec):
    assert parse_transport(value) == [spec]


def test_parse_transport_list_keeps_order_and_quoted_commas():
    specs = parse_transport(
        "RTP/AVP/TCP;unicast;interleaved=0-1, "
        'RTP/AVP;unicast;client_port=5000-5001;mode="PLAY,RECORD"'
    )
    assert [(s.lower_transport, s.interleaved, s.client_port, s.mode) for s in specs] == [
        ("TCP", (0, 1), None, None),
        ("UDP", None, (5000, 5001), "PLAY,RECORD"),
    ]
    assert format_transport(specs) == (
        'RTP/AVP/TCP;unicast;interleaved=0-1,RTP/AVP;unicast;client_port=5000-5001;mode="PLAY,RECORD"'
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "RTP/AVP;unicast,",
        ",RTP/AVP",
        "RTP/AVP,,RTP/AVP/TCP",
        "RTP",
        "RTP/AVP/UDP/X",
        "RTP AVP",
        ";unicast",
        "RTP/AVP;client_port=65536",
        "RTP/AVP;client_port=25000-65536",
        "RTP/AVP;client_port=abc",
        "RTP/AVP;client_port=",
        "RTP/AVP;client_port",
        "RTP/AVP;client_port=1-",
        "RTP/AVP;client_port=-1",
        "RTP/AVP;client_port=1,2",
        "RTP/AVP;interleaved=256",
        "RTP/AVP;ssrc=123456789",
        "RTP/AVP;ssrc=xyz",
        "RTP/AVP;ssrc=",
        "RTP/AVP;unicast=1",
        "RTP/AVP;unicast;multicast",
        "RTP/AVP;client_port=1;client_port=2",
        'RTP/AVP;mode="PLAY',
        'RTP/AVP;mode=""',
        'RTP/AVP;mode="PLAY"x',
        "RTP/AVP;bad name=1",
    ],
)
def test_parse_transport_errors_are_400(value):
    with pytest.raises(RtspError) as info:
        parse_transport(value)
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        (
            TransportSpec("RTP/AVP", True, (25000, 25001), (5000, 5001), ssrc=0x1A2B3C4D),
            "RTP/AVP;unicast;client_port=25000-25001;server_port=5000-5001;ssrc=1A2B3C4D",
        ),
        (TransportSpec("RTP/UDP", client_port=(25000, None)), "RTP/UDP;client_port=25000"),
        (TransportSpec("RTP/AVP", ssrc=0), "RTP/AVP;ssrc=00000000"),
        (TransportSpec("RTP/AVP", ssrc=0xFFFFFFFF), "RTP/AVP;ssrc=FFFFFFFF"),
        (
            TransportSpec("RTP/AVP/TCP", True, interleaved=(0, 1), mode="PLAY"),
            "RTP/AVP/TCP;unicast;interleaved=0-1;mode=PLAY",
        ),
        (
            TransportSpec("RTP/AVP", False, ttl=16, other={"append": None}),
            "RTP/AVP;multicast;ttl=16;append",
        ),
    ],
)
def test_transport_format_and_round_trip(spec, text):
    assert spec.format() == text
    assert parse_transport(text) == [spec]


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("RTP/UDP; client_port= 25000", "RTP/UDP;client_port=25000"),
        ('RTP/AVP/UDP;unicast;client_port=25000-25001;mode="PLAY"', None),
        ("RTP/AVP;unicast;client_port=25000-25001;ssrc=1a2b3c4d", None),
    ],
)
def test_transport_parse_format_parse_is_stable(value, canonical):
    [spec] = parse_transport(value)
    text = spec.format()
    if canonical is not None:
        assert text == canonical
    assert parse_transport(text) == [spec]
    assert parse_transport(text)[0].format() == text


@pytest.mark.parametrize(
    "spec",
    [
        TransportSpec(ssrc=-1),
        TransportSpec(ssrc=2**32),
        TransportSpec(client_port=(65536, None)),
        TransportSpec(server_port=(5000, 65536)),
        TransportSpec(interleaved=(0, 256)),
    ],
)
def test_transport_format_refuses_out_of_range(spec):
    with pytest.raises(ValueError):
        spec.format()


@pytest.mark.parametrize(
    ("protocol", "lower"),
    [
        ("RTP/AVP", "UDP"),
        ("RTP/AVP/UDP", "UDP"),
        ("RTP/AVP/TCP", "TCP"),
        ("rtp/avp/tcp", "TCP"),
        ("RTP/UDP", "UDP"),
        ("RTP/TCP", "TCP"),
    ],
)
def test_lower_transport(protocol, lower):
    assert TransportSpec(protocol).lower_transport == lower


# --------------------------------------------------------------------------- Session


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("123456", ("123456", None)),
        ("abc;timeout=60", ("abc", 60)),
        (" abc ; timeout = 60 ", ("abc", 60)),
        ("abc;TIMEOUT=0", ("abc", 0)),
        ("a$-_.+b;foo=bar", ("a$-_.+b", None)),
    ],
)
def test_parse_session(value, parsed):
    assert parse_session(value) == parsed


@pytest.mark.parametrize(
    "value", ["", " ", ";timeout=60", "a b", "abc;timeout=", "abc;timeout=x", "abc;timeout=-1"]
)
def test_parse_session_errors_are_400(value):
    with pytest.raises(RtspError) as info:
        parse_session(value)
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("abc",), "abc"),
        (("abc", 60), "abc;timeout=60"),
        ((123456,), "123456"),
        (("x", 0), "x;timeout=0"),
    ],
)
def test_format_session_round_trip(args, text):
    assert format_session(*args) == text
    session_id, timeout = parse_session(text)
    assert (session_id, timeout) == (str(args[0]), args[1] if len(args) > 1 else None)


@pytest.mark.parametrize("args", [("",), ("a;b",), ("a b",), ("abc", -1)])
def test_format_session_refuses_what_would_not_parse(args):
    with pytest.raises(ValueError):
        format_session(*args)


# ---------------------------------------------------------------- interleaved frames


def test_interleaved_frames_between_requests_one_byte_at_a_time():
    rtcp = bytes(range(40))
    frame = b"$\x01\x00\x28" + rtcp  # "$", channel 1, length 40
    request = b"GET_PARAMETER * RTSP/1.0\r\nCSeq: 9\r\n\r\n"
    reader = RequestReader()
    events = []
    for byte in frame + request + frame:
        events += reader.feed(bytes([byte]))
    assert events[0] == InterleavedFrame(1, rtcp)
    assert isinstance(events[1], RtspRequest) and events[1].cseq == 9
    assert events[2] == InterleavedFrame(1, rtcp)
    assert not reader.pending


def test_interleaved_frames_reach_the_client_in_order_with_replies():
    rtp = InterleavedFrame(0, b"\x80\x1a" + bytes(100))
    reply = RtspResponse(200, Headers([("CSeq", "3")])).encode()
    events = ResponseReader().feed(rtp.encode() + reply + rtp.encode())
    assert events[0] == rtp and events[2] == rtp
    assert isinstance(events[1], RtspResponse) and events[1].cseq == 3
    assert rtp.encode()[:4] == b"$\x00\x00\x66"


@pytest.mark.parametrize("ttl", ["256", "-1", "x", "1000", ""])
def test_a_bad_ttl_is_400(ttl):
    with pytest.raises(RtspError) as raised:
        TransportSpec.parse(f"RTP/AVP;multicast;ttl={ttl}")
    assert raised.value.status == 400


def test_the_multicast_parameters_round_trip():
    text = "RTP/AVP;multicast;destination=239.255.12.42;port=5000-5001;ttl=1"
    spec = TransportSpec.parse(text)
    assert (spec.unicast, spec.destination, spec.port, spec.ttl) == (
        False, "239.255.12.42", (5000, 5001), 1,
    )  # fmt: skip
    assert spec.format() == text
