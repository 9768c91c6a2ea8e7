"""Standard RTSP sessions over the network: timeout, keep-alive, PAUSE/PLAY continuity, and
the client's fall back from UDP to TCP."""

import socket
import threading
import time

from test_end_to_end import rtsp_connection, wait_until

from conftest import ROOT, free_port, running_server
from RtspClient import RtspClient

URL = "rtsp://127.0.0.1:{port}/movie.Mjpeg"  # video/movie.Mjpeg: 200 frames, 10 s at 20 fps


def count_requests(monkeypatch):
    """Methods the server's workers process, in order."""
    from ServerWorker import ServerWorker

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
            time.sleep(1.5)
            assert len(server.active_workers()) == 1  # the lab's session lives on


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
            time.sleep(4.5)  # over twice the session's timeout
            assert server.active_workers()  # still there
            client.play()
            wait_until(lambda: len(frames) >= 30)
        finally:
            client.close()
    assert "GET_PARAMETER" in client.public
    assert methods.count("GET_PARAMETER") >= 3  # every timeout / 2
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
            time.sleep(0.5)
            paused_at = len(stamps)
            client.play()
            assert client.play_rtptime == (stamps[-1] + 4500) % 2**32  # RTP-Info: the next one
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
    assert client.tcp
    assert len(frames) == 200  # the whole video, over TCP
