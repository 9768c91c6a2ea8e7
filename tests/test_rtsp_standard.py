"""Standard RTSP (RFC 2326) on the server's session, without sockets: DESCRIBE and its SDP,
SETUP with RTP/AVP over UDP or TCP, PLAY with Range and RTP-Info, GET_PARAMETER."""

import io
import itertools

import pytest
from PIL import Image

from MakeVideo import make_clip
from RtpPacket import RtpPacket
from rtsplab.payload.rfc2435.depacketizer import JpegDepacketizer
from rtsplab.rtsp.headers.session import parse_session
from rtsplab.rtsp.headers.transport import parse_transport
from rtsplab.rtsp.message import Headers, RtspRequest
from rtsplab.rtsp.sdp import parse_sdp, resolve_control
from rtsplab.rtsp.state import State
from rtsplab.server.session import SESSION_TIMEOUT, ServerSession, StreamConfig

URL = "rtsp://127.0.0.1:8554/clip.mjpeg"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("standard")
    make_clip(root / "clip.mjpeg", 320, 240, 40, fmt="mjpeg")  # 2 s at 20 fps
    make_clip(root / "uhd.mjpeg", 3840, 2160, 2, fmt="mjpeg")
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(out, "JPEG", progressive=True)
    (root / "progressive.mjpeg").write_bytes(out.getvalue())
    return root


@pytest.fixture
def session(root):
    ids = (str(10**17 + n) for n in itertools.count())
    return ServerSession(
        StreamConfig(root, fps=20), "127.0.0.1", 5000,
        server_address=("127.0.0.1", 8554), make_session_id=lambda: next(ids),
    )  # fmt: skip


def ask(session, method, uri=URL, cseq=1, **headers):
    items = [("CSeq", str(cseq)), *((k.replace("_", "-"), v) for k, v in headers.items())]
    return session.handle(RtspRequest(method, uri, Headers(items)))


def test_options_lists_every_method(session):
    public = ask(session, "OPTIONS", "*").headers["Public"].split(", ")
    assert set(public) == {"OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN",
                           "GET_PARAMETER"}  # fmt: skip


def test_describe_returns_the_sdp_of_the_file(session):
    reply = ask(session, "DESCRIBE", Accept="application/sdp")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/sdp"
    assert reply.headers["Content-Base"] == URL + "/"
    assert int(reply.encode().split(b"Content-Length: ")[1].split(b"\r")[0]) == len(reply.body)
    sdp = parse_sdp(reply.body.decode())
    (video,) = sdp.media
    # RTP/AVPF: the server repairs losses for a client that NACKs (RFC 4585, 4588)
    assert (video.media, video.proto, video.payload_types) == ("video", "RTP/AVPF", [26, 97])
    assert video.rtpmap[26].encoding == "JPEG" and video.rtpmap[26].clock_rate == 90000
    assert video.framerate == 20 and sdp.range == (0, 2.0)
    assert video.x_dimensions is None  # 320x240 fits the payload header
    assert video.control is not None
    control = resolve_control(reply.headers["Content-Base"], video.control)
    assert control == URL + "/track1"
    assert session.state is State.INIT  # DESCRIBE changes nothing


def test_describe_of_4k_gives_x_dimensions(session):
    reply = ask(session, "DESCRIBE", URL.replace("clip", "uhd"))
    assert parse_sdp(reply.body.decode()).media[0].x_dimensions == (3840, 2160)


def test_the_labs_bare_name_gets_a_full_content_base(session):
    reply = ask(session, "DESCRIBE", "clip.mjpeg")
    assert reply.headers["Content-Base"] == "rtsp://127.0.0.1:8554/clip.mjpeg/"


def says_why(reply):
    """The reason a refusal gives in its text/plain body."""
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert int(reply.headers["Content-Length"]) == len(reply.body)
    wire = reply.encode()
    assert wire.endswith(b"\r\n\r\n" + reply.body)
    assert int(wire.split(b"Content-Length: ")[1].split(b"\r")[0]) == len(reply.body)
    return reply.body.decode("utf-8")


def test_a_jpeg_rtp_cannot_carry_is_refused_at_describe_and_setup_saying_why(session):
    reply = ask(session, "DESCRIBE", URL.replace("clip", "progressive"))
    assert reply.status == 415
    why = says_why(reply)
    assert "progressive.mjpeg cannot be sent as RTP/JPEG (RFC 2435)" in why
    assert "python MakeVideo.py convert IN OUT" in why
    transport = "RTP/AVP;unicast;client_port=6000-6001"
    reply = ask(session, "SETUP", URL.replace("clip", "progressive"), Transport=transport)
    assert reply.status == 415 and "RFC 2435" in says_why(reply)
    # the lab's payload carries any JPEG
    assert ask(session, "SETUP", "progressive.mjpeg",
               Transport="RTP/UDP; client_port= 6000").status == 200  # fmt: skip


def setup_udp(session):
    return ask(session, "SETUP", URL + "/track1", Transport="RTP/AVP;unicast;client_port=6000-6001")


def test_setup_on_the_track_url_over_udp(session):
    reply = setup_udp(session)
    assert reply.status == 200 and session.standard
    session_id, timeout = parse_session(reply.headers["Session"])
    assert session_id == session.session_id and timeout == SESSION_TIMEOUT
    (transport,) = parse_transport(reply.headers["Transport"])
    assert transport.protocol == "RTP/AVP" and transport.unicast
    assert transport.client_port == (6000, 6001) and transport.server_port == (5000, 5001)
    assert transport.ssrc == session.sender.ssrc
    assert session.rtp_destination == ("127.0.0.1", 6000)
    assert session.rtcp_destination == ("127.0.0.1", 6001)


def test_setup_interleaved_on_the_rtsp_connection(session):
    reply = ask(session, "SETUP", URL + "/track1", Transport="RTP/AVP/TCP;unicast;interleaved=4-5")
    assert reply.status == 200
    (transport,) = parse_transport(reply.headers["Transport"])
    assert transport.protocol == "RTP/AVP/TCP" and transport.interleaved == (4, 5)
    assert session.interleaved == (4, 5) and session.rtp_destination is None


def test_the_payload_follows_the_dialect(session, root):
    setup_udp(session)
    first = session.sender.packetize(session.media.frame(0))
    packet = RtpPacket()
    packet.decode(first[0])
    payload = packet.getPayload()
    assert payload[4] in (0, 1) and payload[5] == 255  # RFC 2435 header: type, Q=255
    depacketizer = JpegDepacketizer()
    frames = []
    for i, datagram in enumerate(first):
        p = RtpPacket()
        p.decode(datagram)
        got = depacketizer.push(i, p.timestamp(), bool(p.marker()), p.getPayload())
        if got is not None:
            frames.append(got)
    assert len(frames) == 1
    rebuilt = Image.open(io.BytesIO(frames[0])).convert("RGB")
    source = Image.open(io.BytesIO(session.media.frame(0))).convert("RGB")
    assert rebuilt.tobytes() == source.tobytes()  # pixel-identical

    lab = ServerSession(StreamConfig(root), "127.0.0.1", 5000)
    transport = ("Transport", "RTP/UDP; client_port= 6000")
    lab.handle(RtspRequest("SETUP", "clip.mjpeg", Headers([("CSeq", "1"), transport])))
    assert lab.sender is not None and lab.media is not None
    packet.decode(lab.sender.packetize(lab.media.frame(0))[0])
    assert packet.getPayload()[:2] == b"\xff\xd8"  # the JPEG itself
    assert lab.handle(RtspRequest("OPTIONS", "*", Headers([("CSeq", "2")]))).headers.get(
        "Session") == lab.session_id  # fmt: skip


def test_play_answers_range_and_rtp_info_matching_the_first_packet(session):
    sid = setup_udp(session).session
    sender = session.sender
    reply = ask(session, "PLAY", URL, 2, Session=sid, Range="npt=0.000-")
    assert reply.status == 200 and session.state is State.PLAYING
    assert reply.headers["Range"] == "npt=0.000-"
    info = dict(part.split("=", 1) for part in reply.headers["RTP-Info"].split(";"))
    packet = RtpPacket()
    packet.decode(sender.packetize(session.media.nextFrame())[0])
    assert info["url"] == URL + "/track1"  # the stream's own URL (RFC 2326 12.33)
    assert (int(info["seq"]), int(info["rtptime"])) == (packet.seqNum(), packet.timestamp())


def test_play_with_a_range_seeks_to_the_frame_at_that_time(session):
    sid = setup_udp(session).session
    reply = ask(session, "PLAY", URL, 2, Session=sid, Range="npt=1.25-")
    assert reply.headers["Range"] == "npt=1.250-"
    assert session.media.frameNbr() == 25  # 1.25 s at 20 fps
    assert ask(session, "PAUSE", URL, 3, Session=sid).status == 200
    reply = ask(session, "PLAY", URL, 4, Session=sid, Range="npt=9-")  # past the end
    assert reply.status == 457 and session.state is State.READY
    assert session.media.frameNbr() == 25  # unchanged
    assert ask(session, "PLAY", URL, 5, Session=sid, Range="clock=19961108T142300Z-").status == 457


def test_get_parameter_is_a_keep_alive_in_any_state(session):
    assert ask(session, "GET_PARAMETER").status == 200
    sid = setup_udp(session).session
    assert ask(session, "GET_PARAMETER", URL, 2, Session=sid).status == 200
    assert ask(session, "GET_PARAMETER", URL, 3, Session="999").status == 454


@pytest.mark.parametrize(
    "transport",
    [
        "RTP/UDP; client_port= 65535",
        "RTP/AVP/TCP;unicast;interleaved=255",
        "RTP/AVP/TCP;unicast;interleaved=254-256",
    ],  # fmt: skip
)
def test_a_transport_with_no_room_for_rtcp_is_refused_before_anything_changes(session, transport):
    reply = ask(session, "SETUP", URL + "/track1", Transport=transport)
    assert reply.status in (400, 461)
    assert (session.state, session.session_id, session.media) == (State.INIT, None, None)
    assert "Session" not in reply.headers


@pytest.mark.parametrize("value", ["npt=inf-", "npt=nan-", "npt=1e400-", "npt=x-"])
def test_a_range_that_is_no_time_gets_457(session, value):
    sid = setup_udp(session).session
    reply = ask(session, "PLAY", URL, 2, Session=sid, Range=value)
    assert reply.status == 457 and session.state is State.READY


def test_a_refusal_in_a_session_keeps_cseq_and_session_first_then_says_why(session):
    sid = setup_udp(session).session
    reply = ask(session, "PLAY", URL, cseq=2, Session=sid, Range="npt=99-")
    assert (reply.status, reply.cseq, reply.session) == (457, 2, sid)
    assert [name for name, _ in reply.headers.items()][:2] == ["CSeq", "Session"]
    assert "past the end" in says_why(reply)
