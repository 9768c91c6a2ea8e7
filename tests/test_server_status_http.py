"""The status page's HTTP server on loopback, read by real clients: the page, the JSON API
and /metrics; 401 and the Digest challenge without credentials, the page with them (the
standard library's Digest client); bounded; and the live page in a real headless Chromium."""

import json
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from rtsplab.client.auth import ClientAuth, Login
from rtsplab.rtsp.headers.authorization import parse_challenges
from rtsplab.server.auth import Authenticator
from rtsplab.server.status import ServerStatus, SessionStatus
from rtsplab.server.status_http import StatusServer
from rtsplab.server.users import UserDigests

SESSION = SessionStatus("A1B2C3", "127.0.0.2:40000", "movie.Mjpeg", "lab", "udp", "playing",
                        packets_sent=1200, bytes_sent=1_500_000, rate_bps=2.4e6,
                        fraction_lost=0.05, cumulative_lost=60, jitter_seconds=0.0021,
                        round_trip_seconds=0.0005)  # fmt: skip


def snapshot():
    return ServerStatus(started=1_800_000_000.0, max_clients=256, sessions_allowed=4000,
                        connections=1, connections_total=3, refused_total=0,
                        sessions=[SESSION], files=["movie.Mjpeg"])  # fmt: skip


@pytest.fixture
def server(request):
    guard = getattr(request, "param", None)
    status = StatusServer("127.0.0.1", 0, snapshot, guard)
    status.start()
    yield status
    status.close()


def get(server, path, opener=None):
    url = f"http://127.0.0.1:{server.port}{path}"
    with (opener or urllib.request.build_opener()).open(url, timeout=10) as reply:
        return reply.status, reply.headers.get("Content-Type"), reply.read()


def test_page_api_and_metrics(server):
    code, kind, page = get(server, "/")
    assert code == 200 and kind.startswith("text/html") and b"/api/status" in page
    code, kind, body = get(server, "/api/sessions")
    assert kind == "application/json" and json.loads(body)[0]["client"] == "127.0.0.2:40000"
    assert json.loads(get(server, "/api/status")[2])["max_clients"] == 256
    code, kind, body = get(server, "/metrics")
    assert kind.startswith("text/plain; version=0.0.4")
    assert b'rtsplab_session_round_trip_seconds{session="A1B2C3"' in body
    with pytest.raises(urllib.error.HTTPError) as error:
        get(server, "/nothing")
    assert error.value.code == 404


def guard():
    return Authenticator({"alice": UserDigests.from_password("alice", "secret")}, b"k" * 16)


@pytest.mark.parametrize("server", [guard()], indirect=True)
def test_with_users_the_page_needs_the_same_digest_credentials(server):
    with pytest.raises(urllib.error.HTTPError) as error:
        get(server, "/metrics")
    assert error.value.code == 401
    challenges = error.value.headers.get_all("WWW-Authenticate")
    assert [parse_challenges(c)[0]["algorithm"] for c in challenges] == ["SHA-256", "MD5"]
    for password, code in (("secret", 200), ("guess", 401)):
        client = ClientAuth(Login("alice", password))
        assert client.answer_401(challenges) is None
        request = urllib.request.Request(f"http://127.0.0.1:{server.port}/metrics")
        request.add_header("Authorization", client.authorization("GET", "/metrics"))
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                assert reply.status == code
        except urllib.error.HTTPError as refused:
            assert refused.code == code


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt install chromium)")
def test_the_live_page_shows_the_sessions_in_a_real_browser():
    asked = []

    def counted():
        asked.append(1)
        return snapshot()

    server = StatusServer("127.0.0.1", 0, counted)
    server.start()
    try:
        dom = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--virtual-time-budget=5000", "--dump-dom", f"http://127.0.0.1:{server.port}/"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip
    finally:
        server.close()
    assert "127.0.0.2:40000" in dom and "5.0 %" in dom and "0.5 ms" in dom
    assert "2.40 Mbit/s" in dom and "movie.Mjpeg" in dom
    assert len(asked) >= 3  # the page asked again and again, without a reload
