"""RTSP over TLS (rtsps://) on loopback with the real players: ffmpeg decodes every frame
through our server's TLS port, the media interleaved on the connection; a SETUP that would
send it in the clear is refused; plain RTSP to the TLS port gets nothing."""

import base64
import socket
import ssl

import pytest

from conftest import run_client, running_server
from MakeVideo import make_clip
from rtsplab.rtsp.reader import ResponseReader
from rtsplab.rtsp.tls import server_context
from rtsplab.server.auth import Authenticator, Gate
from rtsplab.server.users import UserDigests
from test_interop import FRAMES, ffmpeg_frame_md5s, needs_ffmpeg


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rtsps")
    make_clip(folder / "hd.mjpeg", 1280, 720, FRAMES, fmt="mjpeg")
    return folder / "hd.mjpeg"


@pytest.fixture
def tls_server(clip, tls_certificate):
    cert, key = tls_certificate
    with running_server(clip.parent, tls=server_context(cert, key)) as server:
        yield server


@needs_ffmpeg
def test_ffmpeg_plays_every_frame_over_rtsps(clip, tls_server):
    reference, _, _ = ffmpeg_frame_md5s("-i", str(clip))
    url = f"rtsps://127.0.0.1:{tls_server.port}/{clip.name}"
    got, errors, code = ffmpeg_frame_md5s("-rtsp_transport", "tcp", "-i", url)
    assert (errors, code) == ("", 0)
    assert got == reference


def ask(tls, text):
    tls.sendall(text.encode())
    reader = ResponseReader()
    while True:
        data = tls.recv(65536)
        assert data, "the server closed the connection"
        replies = reader.feed(data)
        if replies:
            return replies[0]


def test_a_setup_for_udp_over_tls_is_refused(clip, tls_server, tls_certificate):
    context = ssl.create_default_context(cafile=str(tls_certificate[0]))
    raw = socket.create_connection(("127.0.0.1", tls_server.port), timeout=10)
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        url = f"rtsps://localhost:{tls_server.port}/{clip.name}"
        describe = ask(tls, f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        assert describe.status == 200 and describe.headers["Content-Base"] == url + "/"
        udp = ask(tls, f"SETUP {url}/track1 RTSP/1.0\r\nCSeq: 2\r\n"
                       "Transport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n")  # fmt: skip
        assert udp.status == 461 and b"interleaved" in udp.body
        tcp = ask(tls, f"SETUP {url}/track1 RTSP/1.0\r\nCSeq: 3\r\n"
                       "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n")  # fmt: skip
        assert tcp.status == 200


def test_plain_rtsp_to_the_tls_port_gets_no_answer(clip, tls_server):
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=10) as sock:
        sock.sendall(b"OPTIONS rtsp://127.0.0.1/ RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        assert b"RTSP/1.0" not in data  # at most a TLS alert, then the end


def test_our_client_plays_rtsps_and_checks_the_certificate(clip, tls_server):
    video = f"rtsps://localhost:{tls_server.port}/{clip.name}"
    code, summary, _ = run_client(tls_server.port, video, "--insecure", "--frames", "10")
    assert code == 0 and summary["frames"] >= 10  # a lab's self-signed certificate, taken
    code, _, errors = run_client(tls_server.port, video, "--frames", "10")
    assert code == 1 and "certificate not trusted" in errors  # not by default


def test_basic_credentials_are_taken_over_tls_only(clip, tls_certificate):
    users = {"alice": UserDigests.from_password("alice", "secret")}
    basic = "Basic " + base64.b64encode(b"alice:secret").decode()
    cert, key = tls_certificate
    for tls in (True, False):
        context = server_context(cert, key) if tls else None
        with running_server(clip.parent, tls=context) as server:
            server.config.gate = Gate(Authenticator(users, b"k" * 32, basic=tls))
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            client = ssl.create_default_context(cafile=str(cert))
            conn = client.wrap_socket(raw, server_hostname="localhost") if tls else raw
            with conn:
                where = f"{'rtsps' if tls else 'rtsp'}://localhost:{server.port}/{clip.name}"
                request = f"DESCRIBE {where} RTSP/1.0\r\nCSeq: 1\r\nAuthorization: {basic}\r\n"
                reply = ask(conn, request + "\r\n")
            assert reply.status == (200 if tls else 401)
