"""The RTSP Session header (rtsplab.rtsp.headers.session, RFC 2326 section 12.37): parse,
format, round trips, the errors (400)."""

import pytest

from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.headers.session import format_session, parse_session


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
