"""The headless client always ends: whatever the server does, within a bound, with exit
status 1 and a one-line error; and it does not end a stream that is only held up.

Each test runs the real headless client (`ClientLauncher.py --headless`) as a process, against
a scripted server (`fake_rtsp.FakeRtspServer`) or our own.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT, client_command, free_port, running_server, wait_until
from fake_rtsp import CLOSE, RESET, SILENT, FakeRtspServer, ok, reply
from MakeVideo import make_clip
from netns import netns, netns_unavailable

URL = "rtsp://127.0.0.1:{port}/movie.Mjpeg"
# What each case may take: a request unanswered costs the reply timeout (5 s), the switch to
# TCP the UDP fallback's wait (3 s) first; the rest is the interpreter starting (seconds on a
# loaded machine), with margin. A client that hangs never ends: the bounds tell it apart.
FALLBACK_BOUND = 20.0
REPLY_BOUND = 15.0
RUN_TIMEOUT = 120  # a whole session, at most


def tcp_setup(answer):
    """A server that plays nothing over UDP, then answers the client's TCP SETUP so."""

    def script(request, n):
        transport = request.headers.get("Transport") or ""
        if request.method == "SETUP" and "TCP" in transport:
            return answer(request) if callable(answer) else answer
        return ok(request)

    return script


def run_bounded(port, bound, *extra, video=None):
    """The headless client to its end; (exit status, stderr, seconds it took)."""
    started = time.monotonic()
    done = subprocess.run(client_command(port, video or URL.format(port=port), *extra),
                          capture_output=True, text=True, timeout=bound + 20)  # fmt: skip
    return done.returncode, done.stderr, time.monotonic() - started


def error_line(stderr):
    """The one line that says what went wrong (logging's warnings aside)."""
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (lambda request: reply(request, "461 Unsupported Transport"), "461"),
        (CLOSE, "closed the connection"),
        (RESET, "reset"),
        (SILENT, "no reply to SETUP"),
    ],
    ids=["461", "close", "reset", "silent"],
)
def test_the_tcp_fallback_refused_ends_the_client_with_an_error(answer, said):
    with FakeRtspServer(tcp_setup(answer)) as server:
        code, stderr, took = run_bounded(server.port, FALLBACK_BOUND)
    assert code == 1
    line = error_line(stderr)
    assert "no RTP over UDP, and over TCP" in line and said in line, line
    assert took < FALLBACK_BOUND
    setups = [r for r in server.requests if r.startswith("SETUP")]
    assert len(setups) == 2 and "TCP" in setups[1]  # it did try TCP, once


@pytest.mark.parametrize(
    ("script", "said"),
    [
        (lambda request, n: SILENT, "no reply to OPTIONS"),
        (lambda request, n: b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPT", "no reply to OPTIONS"),
        (lambda request, n: CLOSE if request.method == "PLAY" else ok(request), "PLAY"),
    ],
    ids=["never-answers", "reply-never-ends", "closes-at-play"],
)
def test_a_server_that_never_answers_ends_the_client_within_the_reply_timeout(script, said):
    with FakeRtspServer(script) as server:
        code, stderr, took = run_bounded(server.port, REPLY_BOUND)
    assert code == 1
    assert said in error_line(stderr)
    assert took < REPLY_BOUND


# -- our own server, held up or killed ---------------------------------------------------


def long_clip(tmp_path, seconds, fps=20):
    clip = tmp_path / "long.Mjpeg"
    make_clip(clip, 160, 120, int(seconds * fps), fmt="lab", fps=fps)
    return clip


def saved_frames(path):
    return path.stat().st_size if path.exists() else 0


def test_a_server_killed_mid_stream_ends_the_client_with_exit_1(tmp_path):
    clip = long_clip(tmp_path, 30)
    port = free_port(socket.SOCK_STREAM)
    server = subprocess.Popen([sys.executable, str(ROOT / "Server.py"), str(port), "--root",
                               str(tmp_path)], stderr=subprocess.DEVNULL)  # fmt: skip
    out = tmp_path / "out.mjpeg"
    try:
        wait_until(lambda: _listening(port), timeout=10, what="the server listening")
        client = subprocess.Popen(
            client_command(port, clip.name, "--save", str(out)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_until(lambda: saved_frames(out) > 0, timeout=15, what="frames arriving")
        server.kill()
        _, stderr = client.communicate(timeout=REPLY_BOUND)
    finally:
        server.kill()
        server.wait(timeout=5)
    assert client.returncode == 1
    assert "the server closed the connection while playing" in error_line(stderr)


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def test_a_client_stopped_for_20_s_goes_on_and_ends_normally(tmp_path):
    """kill -STOP (a laptop lid): on waking, what waited is read before silence is judged."""
    fps, seconds, stop = 20, 40, 20.0
    clip = long_clip(tmp_path, seconds, fps)
    out = tmp_path / "out.mjpeg"
    with running_server(tmp_path, fps=fps) as server:
        client = subprocess.Popen(
            client_command(server.port, f"rtsp://127.0.0.1:{server.port}/{clip.name}",
                           "--save", str(out)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            wait_until(lambda: saved_frames(out) > 0, timeout=15, what="frames arriving")
            os.kill(client.pid, signal.SIGSTOP)
            time.sleep(stop)  # the stop itself, not a wait for anything
            os.kill(client.pid, signal.SIGCONT)
            stdout, stderr = client.communicate(timeout=seconds + 30)
        finally:
            client.kill()
    assert client.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["outages"] >= 1 and summary["outage_seconds"] >= stop - 1
    # It played on to the end of the file: the frames after the stop came, the last included.
    assert summary["frames"] > (seconds - stop) * fps
    assert summary["frames"] + summary["dropped_frames"] >= seconds * fps - summary["lost_packets"]


@pytest.mark.skipif(netns_unavailable() is not None, reason=str(netns_unavailable()))
def test_a_5_s_outage_of_the_network_is_waited_out(tmp_path):
    """Loopback down for 5 s in a namespace of its own: the client waits (the server does
    not answer its probe), and plays on to the end when the network comes back."""
    fps, seconds, outage = 20, 20, 5.0
    clip = long_clip(tmp_path, seconds, fps)
    out = tmp_path / "out.mjpeg"
    port = 8554
    with netns("outage") as ns:
        ns.popen([sys.executable, str(ROOT / "Server.py"), str(port), "--root", str(tmp_path)],
                 stderr=subprocess.DEVNULL)  # fmt: skip
        wait_until(lambda: ns.run(["python3", "-c", _CONNECT.format(port=port)],
                                  timeout=5).returncode == 0,
                   timeout=10, what="the server listening")  # fmt: skip
        client = ns.popen(
            client_command(port, f"rtsp://127.0.0.1:{port}/{clip.name}", "--save", str(out)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_until(lambda: saved_frames(out) > 0, timeout=15, what="frames arriving")
        ns.ip("link", "set", "lo", "down")
        time.sleep(outage)  # the outage itself
        ns.ip("link", "set", "lo", "up")
        stdout, stderr = client.communicate(timeout=seconds + 60)
    assert client.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["outages"] >= 1 and summary["outage_seconds"] >= outage - 1
    assert summary["frames"] > (seconds - outage - 5) * fps  # it went on after the outage
    assert summary["lost_packets"] > 0  # what the outage took is counted lost


_CONNECT = "import socket; socket.create_connection(('127.0.0.1', {port}), timeout=0.5).close()"
