"""The RTSP request reader (rtsplab.rtsp.reader.RequestReader): framing the lab's and
standard requests from a byte stream in any chunks, and recovering after a malformed one
with the error to answer."""

import pytest

from rtsp_streams import (
    HEAD_START,
    HEAD_START_SIZE,
    LAB_SETUP,
    NEXT,
    assert_next,
    feed_chunks,
    filler,
)
from rtsplab.rtsp.errors import STATUS_REASONS, RtspError
from rtsplab.rtsp.headers.transport import parse_transport
from rtsplab.rtsp.reader import (
    MAX_BODY,
    MAX_HEAD,
    MAX_HEADERS,
    MAX_LINE,
    RequestReader,
)


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
        HEAD_START + filler(MAX_HEAD - HEAD_START_SIZE + 1) + b"\r\n", 400, 7, id="head>cap"
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
