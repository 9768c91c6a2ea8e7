"""RTSP requests (rtsplab.rtsp.message.RtspRequest, Headers) and the error family
(rtsplab.rtsp.errors): CSeq and Session read from a request, exact bytes out, headers that
cannot break the framing, status texts."""

import pickle

import pytest

from rtsplab.rtsp.errors import STATUS_REASONS, RtspError
from rtsplab.rtsp.message import Headers, RtspRequest
from rtsplab.rtsp.reader import (
    RequestReader,
    RtspProtocolError,
)


@pytest.mark.parametrize(
    ("value", "cseq"),
    [("0", 0), ("1", 1), (" 42 ", 42), ("4294967295", 2**32 - 1), ("0000000001", 1)],
)
def test_request_cseq(value, cseq):
    assert RtspRequest("PLAY", "m", Headers([("CSeq", value)])).cseq == cseq


@pytest.mark.parametrize(
    "value",
    [None, "", "abc", "-1", "+1", "1.5", "0x10", "\u0663", "4294967296", "00000000001", "9" * 400],
)
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
