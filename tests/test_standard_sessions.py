"""Standard RTSP sessions over the network: timeout, keep-alive, PAUSE/PLAY continuity, and
the client's fall back from UDP to TCP."""

import json
import socket
import subprocess
import sys
import threading
import time

import pytest

import ServerWorker as worker_module
from conftest import ROOT, free_port, rtsp_connection, running_server, wait_until
from helpers import pixels, video_pixels
from rtsplab.client.connection import RtspClient
from rtsplab.rtsp.state import State
from rtsplab.server.session import StreamConfig
from Server import Server
from ServerWorker import ServerWorker

URL = "rtsp://127.0.0.1:{port}/movie.Mjpeg"  # video/movie.Mjpeg: 200 frames, 10 s at 20 fps


def count_requests(monkeypatch):
    """Methods the server's workers process, in order."""
    seen = []
    real = ServerWorker.processRtspRequest

    def counting(self, request):
        seen.append(request.method)
        real(self, request)

    monkeypatch.setattr(ServerWorker, "processRtspRequest", counting)
    return seen


def test_a_standard_session_unheard_for_its_timeout_is_ended_a_lab_one_is_not():
    with running_server(ROOT) as server:
        server.config.session_timeout = 1
        with rtsp_connection(server.port) as standard, rtsp_connection(server.port) as lab:
            reply = standard.ask(
                f"SETUP {URL.format(port=server.port)}/track1 RTSP/1.0\r\nCSeq: 1\r\n"
                f"Transport: RTP/AVP;unicast;client_port={free_port()}-{free_port()}\r\n\r\n"
            )
            assert reply.headers["Session"].endswith(";timeout=1")
            reply = lab.ask("SETUP movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\n"
                            f"Transport: RTP/UDP; client_port= {free_port()}\r\n\r\n")  # fmt: skip
            assert ";timeout" not in reply.headers["Session"]  # the lab's client reads int()
            assert len(server.active_workers()) == 2
            wait_until(lambda: len(server.active_workers()) == 1, timeout=4)
            assert standard.sock.recv(100) == b""  # the server closed the connection
            time.sleep(1.5)  # the interval is the test: past the timeout, nothing ends
            assert len(server.active_workers()) == 1  # the lab's session lives on


def test_a_session_reader_sleeps_till_its_quiet_limit_not_every_second():
    """A thousand sessions must not wake a thousand threads a second: the reader waits for
    the client until the session could first be ended for its quiet."""
    with running_server(ROOT) as server:
        server.config.session_timeout = 30
        with rtsp_connection(server.port) as standard:
            reply = standard.ask(
                f"SETUP {URL.format(port=server.port)}/track1 RTSP/1.0\r\nCSeq: 1\r\n"
                f"Transport: RTP/AVP;unicast;client_port={free_port()}-{free_port()}\r\n\r\n"
            )
            assert reply.status == 200
            (worker,) = server.active_workers()
            heard = worker.last_heard
            assert worker._quiet_limit() == pytest.approx(heard + 30, abs=0.01)
            assert 29 < worker._read_timeout() <= 30
            worker.last_heard -= 29.5  # heard long ago: looked at again in IDLE_CHECK
            assert worker._read_timeout() == pytest.approx(worker_module.IDLE_CHECK)


def test_the_client_keeps_a_paused_session_alive(monkeypatch):
    methods = count_requests(monkeypatch)
    with running_server(ROOT) as server:
        server.config.session_timeout = 2
        frames = []
        client = RtspClient("127.0.0.1", server.port, free_port(), URL.format(port=server.port),
                            on_frame=lambda frame, ts: frames.append(ts))  # fmt: skip
        try:
            client.setup()
            client.play()
            wait_until(lambda: len(frames) >= 5)
            client.pause()
            time.sleep(4.5)  # the interval is the test: over twice the session's timeout
            assert server.active_workers()  # still there
            client.play()
            wait_until(lambda: len(frames) >= 30)
        finally:
            client.close()
    assert "GET_PARAMETER" in client.session.public
    assert methods.count("GET_PARAMETER") >= 2  # every timeout / 2: about 4 in 4.5 s
    assert methods[:3] == ["OPTIONS", "DESCRIBE", "SETUP"]


def test_pause_and_play_continue_the_timestamps():
    with running_server(ROOT) as server:
        stamps = []
        client = RtspClient("127.0.0.1", server.port, free_port(), URL.format(port=server.port),
                            on_frame=lambda frame, ts: stamps.append(ts))  # fmt: skip
        try:
            client.setup()
            client.play()
            wait_until(lambda: len(stamps) >= 10)
            client.pause()
            # The frame in progress leaves whole at PAUSE, then nothing: wait for all of them.
            sender = server.active_workers()[0].session.sender
            wait_until(lambda: len(stamps) == sender.frames_sent, what="the frames on the way")
            paused_at = len(stamps)
            client.play()
            # RTP-Info: the one after the last before the pause (the new stream's first
            # frame may well be in before the reply)
            assert client.session.play_rtptime == (stamps[paused_at - 1] + 4500) % 2**32
            wait_until(lambda: len(stamps) >= paused_at + 10)
        finally:
            client.close()
    steps = {(b - a) % 2**32 for a, b in zip(stamps, stamps[1:], strict=False)}
    assert steps == {4500}  # 90000 / 20 fps, across the pause too


def test_the_client_falls_back_to_tcp_when_no_udp_arrives():
    with running_server(ROOT, fps=100) as server:
        frames = []
        ended = threading.Event()
        # As behind a firewall: the server's UDP goes to a port no one reads.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as black_hole:
            black_hole.bind(("127.0.0.1", 0))
            client = RtspClient(
                "127.0.0.1", server.port, free_port(), URL.format(port=server.port),
                on_frame=lambda frame, ts: frames.append(frame), on_end=ended.set,
                announce_port=black_hole.getsockname()[1], udp_fallback=1.0,
            )  # fmt: skip
            try:
                client.setup()
                client.play()
                assert ended.wait(10)
            finally:
                client.close()
    assert client.session.tcp
    assert len(frames) == 200  # the whole video, over TCP


def test_a_tcp_session_after_another_on_the_same_client():
    """The second session is a session of its own, interleaved like the first, and streams
    the video from its first frame."""
    with running_server(ROOT, fps=100) as server:
        frames, starts, sessions = [], [], []
        client = RtspClient("127.0.0.1", server.port, free_port(), URL.format(port=server.port),
                            on_frame=lambda frame, ts: frames.append(frame), tcp=True)  # fmt: skip
        try:
            for _ in range(2):
                client.setup()
                sessions.append(client.session.session_id)
                starts.append(len(frames))
                client.play()
                wait_until(lambda: len(frames) >= starts[-1] + 20, what="20 frames")
                assert client.session.tcp and client.state is State.PLAYING
                # Interleaved, the frames sent before the TEARDOWN's reply come before it.
                client.teardown()
                assert client.state is State.INIT
        finally:
            client.close()
    assert None not in sessions and sessions[0] != sessions[1]
    first = video_pixels(ROOT / "video" / "movie.Mjpeg")[:20]  # RFC 2435: the same pixels
    assert [[pixels(frame) for frame in frames[start : start + 20]] for start in starts] == [
        first,
        first,
    ]


def test_a_client_slow_to_send_an_interleaved_frame_breaks_nothing():
    """Half an RTCP frame, then nothing for longer than the lab's 0.2 s quiet rule."""
    with running_server(ROOT, fps=50) as server, rtsp_connection(server.port) as rtsp:
        url = URL.format(port=server.port)
        reply = rtsp.ask(f"SETUP {url}/track1 RTSP/1.0\r\nCSeq: 1\r\n"
                         "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n")  # fmt: skip
        sid = reply.session
        rtsp.sock.sendall(f"PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {sid}\r\n\r\n".encode())
        receiver_report = b"\x80\xc9\x00\x01\x00\x00\x00\x07"  # an empty RR
        rtsp.sock.sendall(b"$\x01\x00\x08" + receiver_report[:3])
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # keep reading the stream meanwhile
            rtsp.replies += rtsp.reader.feed(rtsp.sock.recv(65536))
        rtsp.sock.sendall(receiver_report[3:])
        rtsp.sock.sendall(f"PAUSE {url} RTSP/1.0\r\nCSeq: 3\r\nSession: {sid}\r\n\r\n".encode())
        replies, frames = [], 0
        deadline = time.monotonic() + 5
        while not any(r.cseq == 3 for r in replies) and time.monotonic() < deadline:
            for item in rtsp.reader.feed(rtsp.sock.recv(65536)):
                if hasattr(item, "status"):
                    replies.append(item)
        replies = [r for r in rtsp.replies + replies if hasattr(r, "status")]
        frames = [r for r in rtsp.replies if not hasattr(r, "status")]
        assert [(r.cseq, r.status) for r in replies] == [(2, 200), (3, 200)]
        assert len(frames) > 40  # a second of 50 fps, uninterrupted
        assert all(f.channel in (0, 1) for f in frames)


# -- where the client goes, and what it counts ------------------------------------------------


def headless(*args, timeout=60):
    command = [sys.executable, str(ROOT / "ClientLauncher.py"), *args, "--headless", "--idle", "1"]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def test_the_urls_host_and_port_win_over_the_positional_ones(tmp_path):
    with running_server(ROOT, fps=100) as server:
        wrong = free_port(socket.SOCK_STREAM)  # nothing listens there
        done = headless("127.0.0.1", str(wrong), str(free_port()), URL.format(port=server.port))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["frames"] == 200
    assert f"the arguments 127.0.0.1:{wrong}: using the URL's" in done.stderr


def test_tcp_with_the_labs_dialect_is_a_usage_error():
    done = headless("127.0.0.1", "1", "25000", "movie.Mjpeg", "--tcp")
    assert done.returncode == 2 and "--tcp needs standard RTSP" in done.stderr


def test_an_ipv6_literal_url_plays_from_a_server_on_the_ipv6_loopback(tmp_path):
    try:
        server = Server(0, StreamConfig(ROOT, 100.0), host="::1")
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    saved = tmp_path / "saved.mjpeg"
    try:
        url = f"rtsp://[::1]:{server.port}/movie.Mjpeg"
        done = headless("::1", str(server.port), str(free_port()), url, "--save", str(saved))
    finally:
        server.close()
        thread.join(timeout=5)
    assert done.returncode == 0, done.stderr
    # RFC 2435: the same pixels, whatever bytes carried them.
    assert video_pixels(saved) == video_pixels(ROOT / "video" / "movie.Mjpeg")


def test_loss_before_the_first_packet_is_counted_from_rtp_info(monkeypatch):
    """The server's first three packets after PLAY never leave it: the PLAY reply's RTP-Info
    says where the stream starts, so the client counts them lost though it never saw them."""
    real = ServerWorker.sendRtp
    held_back = [3]

    def losing_the_first_three(self, packets, segment=None):
        kept = packets[held_back[0] :]
        held_back[0] = max(0, held_back[0] - len(packets))
        real(self, kept, segment)

    monkeypatch.setattr(ServerWorker, "sendRtp", losing_the_first_three)
    with running_server(ROOT, fps=100) as server:
        client = RtspClient("127.0.0.1", server.port, free_port(), URL.format(port=server.port))
        try:
            client.setup()
            client.play()
            assert client.ended.wait(30), "no BYE at the end of the file"
            summary = client.summary()
        finally:
            client.close()
    assert summary["lost_packets"] == 3
