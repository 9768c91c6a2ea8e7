"""Malformed names: a URL that does not parse is 400, a name that resolves to no served file
(a symlink loop, a segment longer than the file system allows) is 404, each answered with
one log line and no traceback, on the pure session and on the wire."""

import itertools
import logging
import os
from pathlib import Path

import pytest

from conftest import rtsp_connection, running_server
from MakeVideo import make_clip
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.message import Headers, RtspRequest
from rtsplab.rtsp.state import State
from rtsplab.server.media_root import resolve
from rtsplab.server.session import ServerSession, StreamConfig

LAB_TRANSPORT = "RTP/UDP; client_port= 25000"
LONG_SEGMENT = "a" * 300 + ".Mjpeg"  # past NAME_MAX (255 on Linux): ENAMETOOLONG

MALFORMED_URLS = [
    "rtsp://[::1/movie.Mjpeg",  # unbalanced "[": urllib's "Invalid IPv6 URL"
    "rtsp://127.0.0.1]:8554/movie.Mjpeg",
    "rtsp://[not-an-address]/movie.Mjpeg",
]
UNRESOLVABLE_NAMES = [
    "loop.Mjpeg",  # a symlink to itself
    "ping.Mjpeg",  # ping -> pong -> ping
    "loop.Mjpeg/movie.Mjpeg",  # a loop as a folder
    LONG_SEGMENT,
    "video/" + LONG_SEGMENT,
    "rtsp://127.0.0.1:8554/" + LONG_SEGMENT,
    LONG_SEGMENT + "/movie.Mjpeg",
]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("names")
    (root / "video").mkdir()
    make_clip(root / "video" / "movie.Mjpeg", 64, 48, 3, fmt="lab")
    os.symlink("loop.Mjpeg", root / "loop.Mjpeg")
    os.symlink("pong.Mjpeg", root / "ping.Mjpeg")
    os.symlink("ping.Mjpeg", root / "pong.Mjpeg")
    return root


@pytest.fixture
def session(root) -> ServerSession:
    ids = (str(10**17 + n) for n in itertools.count())
    return ServerSession(StreamConfig(root), "127.0.0.1", 5004, make_session_id=lambda: next(ids))


def ask(session, method, uri, cseq=1, **headers):
    items = [("CSeq", str(cseq)), *headers.items()]
    return session.handle(RtspRequest(method, uri, Headers(items)))


def server_records(caplog):
    return [r for r in caplog.records if r.name == "ServerWorker" or r.name.startswith("rtsplab")]


@pytest.mark.parametrize("uri", MALFORMED_URLS)
def test_resolve_calls_a_url_that_does_not_parse_400(root, uri):
    with pytest.raises(RtspError) as caught:
        resolve(root, uri)
    assert caught.value.status == 400


@pytest.mark.parametrize("uri", UNRESOLVABLE_NAMES)
def test_resolve_calls_a_name_that_resolves_to_no_file_404(root, uri):
    with pytest.raises(RtspError) as caught:
        resolve(root, uri)
    assert caught.value.status == 404
    assert str(root) not in str(caught.value)  # the client learns nothing of the server's disk


@pytest.mark.parametrize("method", ["SETUP", "DESCRIBE"])
@pytest.mark.parametrize(
    "uri, status", [*((u, 400) for u in MALFORMED_URLS), *((u, 404) for u in UNRESOLVABLE_NAMES)]
)
def test_the_session_answers_malformed_names_with_one_log_line(session, caplog, method, uri,
                                                               status):  # fmt: skip
    caplog.set_level(logging.DEBUG)
    reply = ask(session, method, uri, cseq=5, Transport=LAB_TRANSPORT)
    assert (reply.status, reply.cseq) == (status, 5)
    assert session.state is State.INIT and session.media is None and session.session_id is None
    (record,) = server_records(caplog)
    assert record.levelno == logging.INFO and record.exc_info is None
    assert "\n" not in record.getMessage() and len(record.getMessage()) < 300


def test_a_good_name_still_plays_beside_the_bad_ones(session, root):
    reply = ask(session, "SETUP", "movie.Mjpeg", Transport=LAB_TRANSPORT)
    assert reply.status == 200
    assert session.path == (root / "video" / "movie.Mjpeg").resolve()


@pytest.mark.parametrize(
    "uri, status",
    [("rtsp://[::1/movie.Mjpeg", 400), ("loop.Mjpeg", 404), (LONG_SEGMENT, 404)],
)
def test_on_the_wire_a_malformed_name_is_a_4xx_and_no_traceback(root, caplog, uri, status):
    caplog.set_level(logging.DEBUG)
    with running_server(root) as server, rtsp_connection(server.port) as rtsp:
        request = f"SETUP {uri} RTSP/1.0\r\nCSeq: 3\r\nTransport: {LAB_TRANSPORT}\r\n\r\n"
        reply = rtsp.ask(request)
        assert (reply.status, reply.cseq) == (status, 3)
        # The connection goes on: the next request on it is served.
        good = f"SETUP movie.Mjpeg RTSP/1.0\r\nCSeq: 4\r\nTransport: {LAB_TRANSPORT}\r\n\r\n"
        assert rtsp.ask(good).status == 200
    records = server_records(caplog)
    assert records, "the server logged nothing"
    assert not [r for r in records if r.exc_info or r.levelno >= logging.ERROR]
    assert not [r for r in records if "Traceback" in r.getMessage()]
    (answer,) = [r for r in records if f" {status} " in f" {r.getMessage()} "]
    assert "\n" not in answer.getMessage()
