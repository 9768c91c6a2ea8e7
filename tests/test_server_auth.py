"""Who may watch, end to end on loopback: `Server.py --add-user`, then a server with users
played by ffmpeg and GStreamer with the right credentials and refused with wrong ones; 401
with the Digest challenges and nothing about a file before authentication; a brute force
throttled; the lab's dialect on or off."""

import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, client_command, rtsp_connection, run_client, running_server
from rtsplab.server.auth import MAX_FAILURES, Authenticator, Gate
from rtsplab.server.users import read_users
from test_interop import ffmpeg_frame_md5s, needs_ffmpeg

PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def users(tmp_path_factory):
    path = tmp_path_factory.mktemp("auth") / "users"
    for name, password in (("alice", PASSWORD), ("bob", "other")):
        command = [sys.executable, str(ROOT / "Server.py"), "--add-user", str(path), name]
        done = subprocess.run(command, input=password + "\n", capture_output=True, text=True,
                              timeout=60, check=True)  # fmt: skip
        assert done.stdout.strip() == f"added {name} in {path}"
    assert PASSWORD not in path.read_text()
    return path


@pytest.fixture
def server(users):
    with running_server(ROOT) as server:
        server.config.gate = Gate(Authenticator(read_users(users), b"k" * 32))
        yield server


def url(server, user=None, password=None, name="movie.Mjpeg"):
    login = f"{user}:{password}@" if user else ""
    return f"rtsp://{login}127.0.0.1:{server.port}/{name}"


@needs_ffmpeg
def test_ffmpeg_plays_with_the_right_password_and_is_refused_a_wrong_one(server):
    reference, _, _ = ffmpeg_frame_md5s("-i", url(server, "alice", PASSWORD.replace(" ", "%20")),
                                        "-frames:v", "10")  # fmt: skip
    assert len(reference) == 10
    got, errors, code = ffmpeg_frame_md5s("-i", url(server, "alice", "guess"), "-frames:v", "10")
    assert got == [] and code != 0 and "401" in errors


@pytest.mark.skipif(shutil.which("gst-launch-1.0") is None, reason="needs gst-launch-1.0")
@pytest.mark.parametrize("password, ok", [(PASSWORD, True), ("guess", False)])
def test_gstreamer_plays_with_user_id_and_user_pw(server, password, ok):
    done = subprocess.run(
        ["gst-launch-1.0", "-q", "rtspsrc", f"location={url(server)}", "user-id=alice",
         f"user-pw={password}", "!", "rtpjpegdepay", "!", "jpegdec", "!", "fakesink",
         "num-buffers=10"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode == 0) == ok, done.stderr[-500:]


def test_401_says_how_and_nothing_about_the_file(server):
    with rtsp_connection(server.port) as rtsp:
        replies = [rtsp.ask(f"DESCRIBE {url(server, name=name)} RTSP/1.0\r\nCSeq: 1\r\n\r\n")
                   for name in ("movie.Mjpeg", "no-such-file.Mjpeg", "README.md")]  # fmt: skip
    assert [r.status for r in replies] == [401, 401, 401]
    assert len({r.body for r in replies}) == 1  # the same answer, whatever the file
    challenges = replies[0].headers.get_all("WWW-Authenticate")
    assert [c.split("algorithm=")[1].split(",")[0] for c in challenges] == ["SHA-256", "MD5"]
    assert all('qop="auth"' in c for c in challenges)


def test_a_brute_force_is_throttled(server):
    with rtsp_connection(server.port) as rtsp:
        statuses = []
        for n in range(MAX_FAILURES + 2):
            reply = rtsp.ask(f"OPTIONS {url(server)} RTSP/1.0\r\nCSeq: {n + 1}\r\n"
                             f'Authorization: Digest username="alice", realm="rtsplab", '
                             f'nonce="x", uri="{url(server)}", response="00"\r\n\r\n')  # fmt: skip
            statuses.append(reply.status)
    assert statuses[:MAX_FAILURES] == [401] * MAX_FAILURES and statuses[-1] == 403


@pytest.mark.parametrize("lab_dialect, status", [(True, 200), (False, 403)])
def test_the_labs_dialect_needs_no_credentials_unless_turned_off(server, lab_dialect, status):
    server.config.gate.lab_dialect = lab_dialect
    with rtsp_connection(server.port) as rtsp:
        reply = rtsp.ask("SETUP movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\n"
                         "Transport: RTP/UDP; client_port= 25000\r\n\r\n")  # fmt: skip
    assert reply.status == status


def test_add_user_needs_no_port_and_refuses_an_empty_password(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "Server.py"), "--add-user",
                           str(tmp_path / "u"), "carol"], input="\n", capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "empty password" in done.stderr
    assert not (tmp_path / "u").exists()


@pytest.mark.parametrize("password, code", [(PASSWORD, 0), ("guess", 1)])
def test_our_client_answers_the_401_with_the_urls_credentials(server, password, code):
    video = url(server, "alice", password.replace(" ", "%20"))
    done, summary, errors = run_client(server.port, video, "--frames", "10")
    assert done == code
    if code == 0:
        assert summary["frames"] >= 10
    else:
        assert errors.strip().splitlines()[-1].startswith("error: server answered 401")


def test_our_client_takes_the_password_from_standard_input_with_user(server):
    command = client_command(server.port, url(server), "--frames", "5", "--user", "alice")
    done = subprocess.run(command, input=PASSWORD + "\n", capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("password, ok", [(PASSWORD, True), ("guess", False)])
def test_pyav_plays_with_the_urls_credentials(server, password, ok):
    av = pytest.importorskip("av", reason="needs PyAV (pip install -r requirements-dev.txt)")
    video = url(server, "alice", password.replace(" ", "%20"))
    try:
        with av.open(video, options={"rtsp_transport": "tcp"}, timeout=20) as container:
            frames = 0
            for _ in container.decode(video=0):
                frames += 1
                if frames == 5:
                    break
    except av.error.HTTPUnauthorizedError:
        frames = 0
    assert (frames == 5) == ok
