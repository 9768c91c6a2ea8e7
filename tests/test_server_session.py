"""The server's RTSP session as a pure object: the state table, every error, the served root."""

import itertools
import os
from pathlib import Path

import pytest

from MakeVideo import make_clip
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.headers.transport import parse_transport
from rtsplab.rtsp.message import Headers, RtspRequest
from rtsplab.rtsp.state import IMPLEMENTED, TRANSITIONS, State, next_state
from rtsplab.server.position import played_to_end, rewind_if_played
from rtsplab.server.session import ServerSession, StreamConfig, new_session_id
from rtsplab.server.transports import Channels, UdpPorts

CLIENT_IP = "127.0.0.1"
LAB_TRANSPORT = "RTP/UDP; client_port= 25000"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """root/video/movie.Mjpeg, root/notes.txt, ../secret.Mjpeg outside, and a symlink out."""
    base = tmp_path_factory.mktemp("served")
    root = base / "root"
    (root / "video").mkdir(parents=True)
    make_clip(root / "video" / "movie.Mjpeg", 64, 48, 5, fmt="lab")
    make_clip(base / "secret.Mjpeg", 64, 48, 5, fmt="lab")
    (root / "notes.txt").write_text("not a video\n")
    os.symlink(base / "secret.Mjpeg", root / "link.Mjpeg")
    return root


@pytest.fixture
def session(root) -> ServerSession:
    ids = (str(10**17 + n) for n in itertools.count())
    return ServerSession(StreamConfig(root), CLIENT_IP, 5004, make_session_id=lambda: next(ids))


def request(method, uri="movie.Mjpeg", cseq=1, **headers):
    items = [("CSeq", str(cseq))] if cseq is not None else []
    return RtspRequest(method, uri, Headers(items + list(headers.items())))


def setup(session, uri="movie.Mjpeg", transport=LAB_TRANSPORT, cseq=1):
    return session.handle(request("SETUP", uri, cseq, Transport=transport))


def test_the_labs_walk_through_the_states(session):
    reply = setup(session)
    assert reply.status == 200 and session.state is State.READY
    assert [name.lower() for name, _ in reply.headers.items()][:2] == ["cseq", "session"]
    sid = reply.session
    (transport,) = parse_transport(reply.headers["Transport"])
    assert transport.client_port is not None and transport.client_port[0] == 25000
    assert transport.server_port == (5004, 5005)
    assert transport.ssrc == session.sender.ssrc
    assert session.rtp_destination == (CLIENT_IP, 25000)
    assert session.rtcp_destination == (CLIENT_IP, 25001)

    for cseq, method, state in [
        (2, "PLAY", State.PLAYING),
        (3, "PAUSE", State.READY),
        (4, "PLAY", State.PLAYING),
        (5, "PLAY", State.PLAYING),
        (6, "TEARDOWN", State.INIT),
    ]:
        reply = session.handle(request(method, cseq=cseq, Session=sid))
        assert (reply.status, reply.cseq, reply.session) == (200, cseq, sid)
        assert session.state is state
    assert session.session_id is None


def test_the_labs_client_can_read_the_reply_by_line_number(session):
    """The lab's parseRtspReply: lines[1] is CSeq, lines[2] is Session, read with int()."""
    data = setup(session, cseq=7).encode().decode()
    lines = data.split("\n")
    assert lines[0].split(" ")[1] == "200"
    assert int(lines[1].split(" ")[1]) == 7
    assert int(lines[2].split(" ")[1]) == int(session.session_id)
    assert data.count("\r\n") == data.count("\n")  # every line ends in CRLF


def test_the_state_table_is_the_labs_diagram():
    methods = ["SETUP", "PLAY", "PAUSE", "TEARDOWN"]
    expected = {
        (State.INIT, "SETUP"): State.READY,
        (State.READY, "PLAY"): State.PLAYING,
        (State.PLAYING, "PLAY"): State.PLAYING,
        (State.PLAYING, "PAUSE"): State.READY,
        (State.READY, "TEARDOWN"): State.INIT,
        (State.PLAYING, "TEARDOWN"): State.INIT,
    }
    requests = {key: target for key, target in TRANSITIONS.items() if key[1] in methods}
    assert requests == expected  # the one other entry is the client's END (test_rtsp_state)
    for state, method in itertools.product(State, methods):
        if (state, method) in expected:
            assert next_state(state, method) is expected[(state, method)]
        else:
            with pytest.raises(RtspError) as caught:
                next_state(state, method)
            assert caught.value.status == 455


def snapshot(session):
    return (session.state, session.session_id, session.media, session.sender, session.path)


@pytest.mark.parametrize(
    "method, headers, status",
    [
        ("PLAY", {}, 455),  # PLAY before SETUP
        ("PAUSE", {}, 455),
        ("TEARDOWN", {}, 455),
        ("RECORD", {}, 501),
        ("FLY", {}, 501),
        ("END", {}, 501),  # the client's end of stream is in the table, but is no request
    ],
)
def test_refusals_in_init(session, method, headers, status):
    reply = session.handle(request(method, cseq=9, **headers))
    assert (reply.status, reply.cseq) == (status, 9)
    assert snapshot(session) == (State.INIT, None, None, None, None)


def test_options_is_answered_in_any_state(session):
    reply = session.handle(request("OPTIONS", "*"))
    assert reply.status == 200
    assert set(reply.headers["Public"].split(", ")) == set(IMPLEMENTED)
    assert session.state is State.INIT


def test_a_request_without_cseq_gets_400(session):
    reply = session.handle(request("SETUP", cseq=None, Transport=LAB_TRANSPORT))
    assert reply.status == 400 and session.state is State.INIT


@pytest.mark.parametrize(
    "transport, status",
    [
        (None, 461),
        ("RTP/AVP/SCTP;unicast;client_port=5000-5001", 461),
        ("RTP/AVP;multicast;client_port=5000-5001", 461),
        ("RAW/RAW/UDP;unicast;client_port=5000", 461),
        ("RTP/AVP;unicast;client_port=99999", 400),
    ],
)
def test_setup_with_an_unsupported_or_bad_transport(session, transport, status):
    headers = {} if transport is None else {"Transport": transport}
    reply = session.handle(request("SETUP", **headers))
    assert reply.status == status
    assert snapshot(session) == (State.INIT, None, None, None, None)


@pytest.mark.parametrize(
    "transport, port",
    [
        ("RTP/UDP; client_port= 25000", 25000),
        ("RTP/AVP;unicast;client_port=25000-25001", 25000),
        ('RTP/AVP/UDP;unicast;client_port=6000-6001;mode="PLAY"', 6000),
        ("RTP/AVP/SCTP;client_port=8000-8001, RTP/AVP;unicast;client_port=7000-7001", 7000),
    ],
)
def test_both_dialects_of_transport_and_the_first_supported_of_a_list(session, transport, port):
    assert setup(session, transport=transport).status == 200
    assert session.rtp_destination == (CLIENT_IP, port)
    assert session.rtcp_destination == (CLIENT_IP, port + 1)


def test_rtp_goes_to_the_rtsp_peer_whatever_the_request_says(session):
    reply = setup(session, transport="RTP/AVP;unicast;destination=192.0.2.1;client_port=9000-9001")
    assert reply.status == 200
    assert session.rtp_destination == (CLIENT_IP, 9000)


@pytest.mark.parametrize(
    "uri",
    ["movie.Mjpeg", "video/movie.Mjpeg", "rtsp://127.0.0.1:8554/movie.Mjpeg", "./movie.Mjpeg"],
)
def test_the_labs_name_and_the_course_reports_path_both_play(session, root, uri):
    assert setup(session, uri=uri).status == 200
    assert session.path == (root / "video" / "movie.Mjpeg").resolve()


@pytest.mark.parametrize(
    "uri",
    [
        "nothing.Mjpeg",
        "../secret.Mjpeg",
        "video/../../secret.Mjpeg",
        "%2e%2e/secret.Mjpeg",
        "%2E%2E%2Fsecret.Mjpeg",
        "rtsp://127.0.0.1:8554/../secret.Mjpeg",
        "rtsp://127.0.0.1:8554/%2e%2e/secret.Mjpeg",
        "/etc/passwd",
        "link.Mjpeg",  # a symlink out of the root
        "video\\..\\..\\secret.Mjpeg",
        "video",  # a folder
    ],
)
def test_nothing_outside_the_served_root_is_served(session, uri):
    reply = setup(session, uri=uri)
    assert reply.status == 404
    assert snapshot(session) == (State.INIT, None, None, None, None)


def test_an_absolute_path_inside_the_root_is_refused_too(session, root):
    assert setup(session, uri=str(root / "video" / "movie.Mjpeg")).status == 404


def test_a_file_that_is_not_a_video_gets_415(session):
    assert setup(session, uri="notes.txt").status == 415
    assert session.state is State.INIT


def test_a_415_says_why_in_a_text_plain_body_naming_no_server_path(session, root):
    reply = setup(session, uri="notes.txt", cseq=3)
    assert (reply.status, reply.cseq) == (415, 3)
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert int(reply.headers["Content-Length"]) == len(reply.body)
    why = reply.body.decode("utf-8")
    assert why.startswith("notes.txt: not an MJPEG file: it starts with neither")
    assert "6e 6f 74" not in why and "not" not in why.split(":", 2)[2]  # no byte of the file
    assert str(root) not in why and "\n" not in why
    assert reply.encode().endswith(b"\r\n\r\n" + reply.body)


@pytest.mark.parametrize(
    "method, uri, status, why",
    [
        ("SETUP", "nothing.Mjpeg", 404, "no such file: 'nothing.Mjpeg'"),
        ("SETUP", "../secret.Mjpeg", 404, "refused name '../secret.Mjpeg'"),
        ("PLAY", "movie.Mjpeg", 455, "PLAY"),
        ("FLY", "movie.Mjpeg", 501, None),  # 5xx: no body
    ],
)
def test_a_4xx_refusal_says_why_in_its_body(session, method, uri, status, why):
    reply = session.handle(request(method, uri, Transport=LAB_TRANSPORT))
    assert reply.status == status
    if why is None:
        assert reply.body == b"" and "Content-Type" not in reply.headers
    else:
        assert why in reply.body.decode("utf-8")
        assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_our_own_fault_is_a_bare_500(session):
    reply = session.error_response(RtspError(500, "server fault", 4))
    assert (reply.status, reply.cseq, reply.body) == (500, 4, b"")
    assert reply.encode() == b"RTSP/1.0 500 Internal Server Error\r\nCSeq: 4\r\n\r\n"


def test_the_labs_200_reply_is_exactly_its_shape_with_no_body(session):
    reply = setup(session, cseq=7)
    transport = reply.headers["Transport"]
    lab_shape = f"RTSP/1.0 200 OK\r\nCSeq: 7\r\nSession: {session.session_id}\r\n"
    assert reply.encode() == f"{lab_shape}Transport: {transport}\r\n\r\n".encode()


def test_bad_requests_in_a_session_change_nothing(session):
    sid = setup(session).session
    session.handle(request("PLAY", cseq=2, Session=sid))
    before = snapshot(session)
    for bad, status in [
        (request("PAUSE", cseq=3, Session="123"), 454),
        (request("PAUSE", cseq=4), 454),
        (request("TEARDOWN", cseq=5, Session=sid + "0"), 454),
        (request("SETUP", cseq=6, Transport=LAB_TRANSPORT), 455),
        (request("RECORD", cseq=7, Session=sid), 501),
    ]:
        reply = session.handle(bad)
        assert (reply.status, reply.cseq) == (status, bad.cseq)
        assert snapshot(session) == before
    assert session.handle(request("PAUSE", cseq=8, Session=sid)).status == 200


def test_teardown_twice_is_455(session):
    sid = setup(session).session
    assert session.handle(request("TEARDOWN", cseq=2, Session=sid)).status == 200
    session.close()
    assert session.handle(request("TEARDOWN", cseq=3, Session=sid)).status == 455


def test_session_ids_are_long_random_numbers():
    ids = {new_session_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 18 and i.isdigit() and not i.startswith("0") for i in ids)


def test_what_setup_made_is_held_whole_until_close(session):
    sid = setup(session, transport="RTP/AVP/TCP;unicast;interleaved=4-5").session
    made = session.setup
    assert made is not None and made.session_id == sid and made.standard
    assert made.way == Channels(4, 5) and session.interleaved == (4, 5)
    assert session.rtp_destination is None and session.group is None
    assert (made.path, made.media, made.sender) == (session.path, session.media, session.sender)
    assert session.handle(request("TEARDOWN", cseq=2, Session=sid)).status == 200
    assert session.setup is made  # until the caller has stopped the stream
    session.close()
    assert session.setup is None and session.media is None and not session.standard
    with pytest.raises(ValueError):
        made.media.fileno()  # the file is closed


def test_the_way_out_of_a_udp_setup_is_the_peers_ports(session):
    reply = setup(session, transport="RTP/AVP;unicast;client_port=7000-7003")
    assert reply.status == 200 and session.setup is not None
    assert session.setup.way == UdpPorts((CLIENT_IP, 7000), (CLIENT_IP, 7003))
    assert session.interleaved is None and session.group is None


def test_play_after_the_end_starts_from_the_first_frame_and_a_seek_is_kept(session):
    sid = setup(session).session
    media = session.media
    assert media is not None
    media.seek(media.frame_count)  # the stream sent the last frame
    assert played_to_end(media)
    assert session.handle(request("PLAY", cseq=2, Session=sid)).status == 200
    assert media.frameNbr() == 0 and not played_to_end(media)
    media.seek(3)
    assert session.handle(request("PAUSE", cseq=3, Session=sid)).status == 200
    assert session.handle(request("PLAY", cseq=4, Session=sid)).status == 200
    assert media.frameNbr() == 3  # not at the end: PLAY goes on where it paused
    rewind_if_played(media)
    assert media.frameNbr() == 3
