"""The RTSP reader's caps (MAX_LINE, MAX_HEADERS, MAX_HEAD, MAX_BODY): exactly at a cap is
accepted, past it refused with its status, and a peer that never stops sending keeps the
reader's memory bounded."""

import random

import pytest

from rtsp_streams import (
    HEAD_START,
    HEAD_START_SIZE,
    NEXT,
    assert_next,
    feed_chunks,
    filler,
)
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.message import RtspRequest
from rtsplab.rtsp.reader import (
    MAX_BODY,
    MAX_HEAD,
    MAX_HEADERS,
    MAX_LINE,
    RequestReader,
)


# Exactly at the caps: accepted. One byte or line more: refused (test_rtsp_request_reader.py).
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
    data = HEAD_START + filler(MAX_HEAD - HEAD_START_SIZE) + b"\r\n"
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
    assert reader.feed(HEAD_START + filler(MAX_HEAD - HEAD_START_SIZE - 10)) == []
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
