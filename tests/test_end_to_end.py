"""Server and headless client on loopback: every frame byte-identical, errors, isolation."""

import concurrent.futures
import hashlib
import io
import socket
import subprocess
import sys
import threading
import time

import pytest
from PIL import Image

from conftest import (
    ROOT,
    can_connect,
    client_command,
    datagrams_arriving,
    frame_hashes,
    free_port,
    open_fds,
    rtsp_connection,
    run_client,
    running_server,
    wait_until,
)
from MakeVideo import make_clip
from rtsplab.server.udp_out import gso_available
from VideoStream import VideoStream

FAST = 100.0  # fps for tests: the lab's 20 fps would only make them slow


def test_the_labs_movie_at_288p_arrives_byte_identical(tmp_path, lab_movie):
    saved = tmp_path / "out.mjpeg"
    with running_server(ROOT, fps=FAST) as server:
        code, summary, err = run_client(server.port, "movie.Mjpeg", "--save", str(saved))
    assert code == 0, err
    source = frame_hashes(lab_movie)
    assert frame_hashes(saved) == source
    assert summary["frames"] == len(source) == 200
    assert summary["dropped_frames"] == 0 and summary["lost_packets"] == 0
    assert summary["packets"] >= 200 and summary["bytes"] > lab_movie.stat().st_size
    assert summary["seconds"] > 0


def test_a_4k_clip_arrives_byte_identical(tmp_path):
    clip = tmp_path / "uhd.mjpeg"
    make_clip(clip, 3840, 2160, 8, fmt="mjpeg")
    saved = tmp_path / "out.mjpeg"
    with running_server(tmp_path, fps=10) as server:
        code, summary, err = run_client(server.port, "uhd.mjpeg", "--save", str(saved))
    assert code == 0, err
    assert frame_hashes(saved) == frame_hashes(clip)
    assert summary["packets"] > 8 * 200  # fragmented: hundreds of packets a frame
    assert summary["lost_packets"] == 0


def test_frames_option_stops_after_n_frames_and_tears_down(tmp_path):
    saved = tmp_path / "out.mjpeg"
    with running_server(ROOT, fps=FAST) as server:
        code, summary, err = run_client(
            server.port, "video/movie.Mjpeg", "--frames", "10", "--save", str(saved)
        )
        assert code == 0, err
        assert summary["frames"] == 10
        assert summary["dropped_frames"] == 0  # the frame cut off by stopping is not a drop
        assert frame_hashes(saved) == frame_hashes(ROOT / "video" / "movie.Mjpeg")[:10]
        wait_until(lambda: not server.active_workers())


def test_five_sessions_at_once_each_get_their_whole_stream(tmp_path):
    clip = tmp_path / "clip.mjpeg"
    make_clip(clip, 640, 360, 60, fmt="mjpeg")
    source = frame_hashes(clip)
    with running_server(tmp_path, fps=40) as server:

        def one(n):
            out = tmp_path / f"out{n}.mjpeg"
            return run_client(server.port, "clip.mjpeg", "--save", str(out)), out

        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            results = list(pool.map(one, range(5)))
        cache = server.streaming.cache
    for (code, summary, err), out in results:
        assert code == 0, err
        assert summary["frames"] == len(source)
        assert frame_hashes(out) == source
    # Each frame read and cut twice, by the first two sessions to come to it (the second
    # kept it); the three others took it from the cache.
    assert (cache.misses, cache.hits) == (2 * len(source), 3 * len(source))


@pytest.mark.parametrize("gso", ["on", "off"], ids=["gso", "a-send-each"])
@pytest.mark.parametrize("dialect", ["lab", "standard"])
def test_bursts_with_gso_or_a_send_each_arrive_the_same(tmp_path, gso, dialect):
    """The two ways out of the server (one sendmsg per burst, or one per packet) deliver
    the same frames, every one whole."""
    if gso == "on" and gso_available() is not None:
        pytest.skip(f"UDP GSO not here: {gso_available()}")
    clip = tmp_path / "clip.mjpeg"
    make_clip(clip, 1280, 720, 12, fmt="mjpeg")
    saved = tmp_path / "out.mjpeg"
    with running_server(tmp_path, fps=30, gso=gso) as server:
        assert server.streaming.gso.now is (gso == "on")
        name = "clip.mjpeg" if dialect == "lab" else f"rtsp://127.0.0.1:{server.port}/clip.mjpeg"
        code, summary, err = run_client(server.port, name, "--save", str(saved))
    assert code == 0, err
    # RFC 2435 carries the scan and the tables, and the receiver writes the JPEG's headers
    # anew: the same picture, not the same bytes.
    assert pictures(saved) == pictures(clip)
    if dialect == "lab":
        assert frame_hashes(saved) == frame_hashes(clip)
    assert summary["lost_packets"] == 0 and summary["packets"] > 12 * 30


def pictures(path):
    with VideoStream(path) as video:
        return [
            hashlib.sha256(Image.open(io.BytesIO(video.frame(i))).convert("RGB").tobytes()).digest()
            for i in range(video.frame_count)
        ]


@pytest.mark.parametrize("name", ["../secret.Mjpeg", "%2e%2e/secret.Mjpeg", "/etc/passwd"])
def test_traversal_gets_404_and_nothing_is_streamed(tmp_path, name):
    root = tmp_path / "root"
    root.mkdir()
    make_clip(tmp_path / "secret.Mjpeg", 64, 48, 3, fmt="lab")
    rtp_port = free_port()
    with running_server(root) as server, rtsp_connection(server.port) as rtsp:
        reply = rtsp.ask(f"SETUP {name} RTSP/1.0\r\nCSeq: 1\r\n"
                         f"Transport: RTP/UDP; client_port= {rtp_port}\r\n\r\n")  # fmt: skip
        assert reply.status == 404
        assert rtsp.ask("PLAY x RTSP/1.0\r\nCSeq: 2\r\nSession: 1\r\n\r\n").status == 455
        assert datagrams_arriving(rtp_port, 0.5) == 0
    with running_server(root) as server:
        code, summary, err = run_client(server.port, name)
    assert code == 1 and summary is None
    assert "404" in err and len(err.strip().splitlines()) == 1


def test_client_errors_are_one_line_and_nonzero():
    dead = free_port(socket.SOCK_STREAM)
    code, _, err = run_client(dead, "movie.Mjpeg")
    assert code == 1 and "cannot connect" in err and len(err.strip().splitlines()) == 1

    with running_server(ROOT) as server, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("", 0))
        command = client_command(server.port, "movie.Mjpeg", rtp_port=busy.getsockname()[1])
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "cannot use RTP port" in done.stderr


def test_the_server_reads_requests_as_a_stream_and_survives_bad_ones():
    rtp_port = free_port()
    with running_server(ROOT, fps=FAST) as server, rtsp_connection(server.port) as rtsp:
        # malformed first: answered, and the connection goes on
        assert rtsp.ask("GARBAGE\r\n\r\n").status == 400
        assert rtsp.ask("FLY movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\n\r\n").status == 501
        # a SETUP split over three sends, with bare LF and headers in another order and case
        setup = (
            f"SETUP movie.Mjpeg RTSP/1.0\ntransport: RTP/UDP; client_port= {rtp_port}\ncseq: 2\n\n"
        )
        for part in (setup[:7], setup[7:40], setup[40:]):
            rtsp.sock.sendall(part.encode())
            # The pause is the test: pieces arriving apart, as from a slow client, yet well
            # under the 0.2 s after which a lab request is taken whole.
            time.sleep(0.01)
        reply = rtsp.read_reply()
        assert (reply.status, reply.cseq) == (200, 2)
        sid = reply.session
        # PLAY and PAUSE pipelined in one send
        rtsp.sock.sendall(
            f"PLAY movie.Mjpeg RTSP/1.0\r\nCSeq: 3\r\nSession: {sid}\r\n\r\n"
            f"PAUSE movie.Mjpeg RTSP/1.0\r\nCSeq: 4\r\nSession: {sid}\r\n\r\n".encode()
        )
        assert [(r.status, r.cseq) for r in rtsp.read_replies(2)] == [(200, 3), (200, 4)]
        assert rtsp.ask(f"PAUSE x RTSP/1.0\r\nCSeq: 5\r\nSession: {sid}\r\n\r\n").status == 455
        assert rtsp.ask("PLAY x RTSP/1.0\r\nCSeq: 6\r\nSession: 42\r\n\r\n").status == 454
        # an endless header line: 400, and the session goes on
        rtsp.sock.sendall(b"OPTIONS * RTSP/1.0\r\nX: " + b"a" * 100_000 + b"\r\n\r\n")
        assert rtsp.read_reply().status == 400
        assert rtsp.ask(f"PLAY x RTSP/1.0\r\nCSeq: 7\r\nSession: {sid}\r\n\r\n").status == 200
        reply = rtsp.ask(f"TEARDOWN x RTSP/1.0\r\nCSeq: 8\r\nSession: {sid}\r\n\r\n")
        assert (reply.status, reply.session) == (200, sid)
        assert rtsp.ask(f"TEARDOWN x RTSP/1.0\r\nCSeq: 9\r\nSession: {sid}\r\n\r\n").status == 455


def test_a_client_that_disconnects_without_teardown_ends_its_session(tmp_path):
    threads_before = threading.active_count()
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    rtp.settimeout(2)
    with running_server(ROOT, fps=FAST) as server:
        fds_before = open_fds()
        with rtsp_connection(server.port) as rtsp:
            sid = rtsp.ask(
                "SETUP movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\n"
                f"Transport: RTP/UDP; client_port= {rtp.getsockname()[1]}\r\n\r\n"
            ).session
            assert rtsp.ask(f"PLAY m RTSP/1.0\r\nCSeq: 2\r\nSession: {sid}\r\n\r\n").status == 200
            rtp.recv(65536)  # streaming
        wait_until(lambda: not server.active_workers())
        wait_until(lambda: threading.active_count() <= threads_before + 2)  # acceptor, pacing
        datagrams_arriving(rtp, 0.05)  # what was sent before the session ended
        assert datagrams_arriving(rtp, 0.3) == 0
        assert open_fds() <= fds_before  # the RTSP and RTP sockets and the file are closed
    rtp.close()


def test_the_end_of_the_file_stops_the_stream_and_play_starts_it_again(tmp_path):
    make_clip(tmp_path / "short.Mjpeg", 64, 48, 5, fmt="lab")
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    with running_server(tmp_path, fps=FAST) as server, rtsp_connection(server.port) as rtsp:
        sid = rtsp.ask(
            "SETUP short.Mjpeg RTSP/1.0\r\nCSeq: 1\r\n"
            f"Transport: RTP/UDP; client_port= {rtp.getsockname()[1]}\r\n\r\n"
        ).session
        rtsp.ask(f"PLAY m RTSP/1.0\r\nCSeq: 2\r\nSession: {sid}\r\n\r\n")
        assert datagrams_arriving(rtp, 1.0, frames=True) == 5
        assert not [w for w in server.active_workers() if w.stream and w.stream.active]
        rtsp.ask(f"PLAY m RTSP/1.0\r\nCSeq: 3\r\nSession: {sid}\r\n\r\n")
        assert datagrams_arriving(rtp, 1.0, frames=True) == 5
    rtp.close()


def test_the_server_command_line(tmp_path):
    port = free_port(socket.SOCK_STREAM)
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "Server.py"), str(port), "--fps", "50", "--mtu", "600", "-v"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_until(lambda: can_connect(port))
        code, summary, err = run_client(port, "movie.Mjpeg", "--frames", "20")
        assert code == 0, err
        assert summary["frames"] == 20
        assert summary["bytes"] / summary["packets"] <= 600
    finally:
        server.terminate()
        log = server.communicate(timeout=10)[0]
    assert "SETUP movie.Mjpeg RTSP/1.0" in log  # -v shows the dialogue
    assert "RTSP/1.0 200 OK" in log
    assert subprocess.run([sys.executable, "Server.py", "--help"], cwd=ROOT,
                          capture_output=True).returncode == 0  # fmt: skip


def test_a_server_fault_is_answered_500_and_the_connection_goes_on(monkeypatch):
    from rtsplab.server.session import ServerSession

    real = ServerSession.handle

    def faulty(self, request):
        if request.method == "PLAY":
            raise RuntimeError("injected fault")
        return real(self, request)

    monkeypatch.setattr(ServerSession, "handle", faulty)
    with running_server(ROOT) as server, rtsp_connection(server.port) as rtsp:
        reply = rtsp.ask("SETUP movie.Mjpeg RTSP/1.0\r\nCSeq: 1\r\n"
                         f"Transport: RTP/UDP; client_port= {free_port()}\r\n\r\n")  # fmt: skip
        sid = reply.session
        reply = rtsp.ask(f"PLAY m RTSP/1.0\r\nCSeq: 2\r\nSession: {sid}\r\n\r\n")
        assert (reply.status, reply.cseq, reply.session) == (500, 2, sid)
        assert rtsp.ask(f"TEARDOWN m RTSP/1.0\r\nCSeq: 3\r\nSession: {sid}\r\n\r\n").status == 200


def test_a_truncated_file_streams_its_whole_frames_and_ends_cleanly(tmp_path):
    clip = tmp_path / "clip.mjpeg"
    make_clip(clip, 320, 240, 6, fmt="mjpeg")
    whole = frame_hashes(clip)
    data = clip.read_bytes()
    (tmp_path / "cut.mjpeg").write_bytes(data[: len(data) - 500])  # the last frame cut short
    saved = tmp_path / "out.mjpeg"
    with running_server(tmp_path, fps=FAST) as server:
        code, summary, err = run_client(server.port, "cut.mjpeg", "--save", str(saved))
    assert code == 0, err
    assert frame_hashes(saved) == whole[:5]
    assert summary["dropped_frames"] == 0


def test_pause_and_play_resume_where_the_stream_paused_with_no_frame_cut(tmp_path):
    from rtsplab.client.connection import RtspClient

    clip = tmp_path / "clip.mjpeg"
    make_clip(clip, 1280, 720, 30, fmt="mjpeg")
    frames = []
    with running_server(tmp_path, fps=30) as server:
        client = RtspClient("127.0.0.1", server.port, free_port(), "clip.mjpeg",
                            on_frame=lambda frame, ts: frames.append(frame))  # fmt: skip
        try:
            client.setup()
            client.play()
            wait_until(lambda: len(frames) >= 5, what="5 frames")  # mid-stream
            client.pause()
            # The server sends the frame in progress whole at PAUSE, then nothing: what was
            # on its way arrives, every frame the sender made.
            sender = server.active_workers()[0].session.sender
            wait_until(lambda: len(frames) == sender.frames_sent, what="the frames on the way")
            paused_at = len(frames)
            time.sleep(0.3)  # an interval of silence is what is asserted here
            assert len(frames) == paused_at  # nothing more while paused
            client.play()
            wait_until(lambda: len(frames) == 30)
        finally:
            client.close()
    with VideoStream(clip) as video:
        assert frames == [video.frame(i) for i in range(30)]
    assert client.summary()["dropped_frames"] == 0


def test_the_server_survives_a_failed_accept_and_caps_its_connections():
    import errno

    import Server as server_module
    from rtsplab.server.session import StreamConfig

    server = server_module.Server(0, StreamConfig(ROOT), host="127.0.0.1", max_clients=2)
    real = server.listener

    class OutOfFiles:
        """The listener, whose first accept() fails as when file descriptors run out."""

        failed = False

        def accept(self):
            if not self.failed:
                self.failed = True
                raise OSError(errno.EMFILE, "Too many open files")
            return real.accept()

        def __getattr__(self, name):
            return getattr(real, name)

    server.listener = OutOfFiles()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        first = socket.create_connection(("127.0.0.1", server.port))
        second = socket.create_connection(("127.0.0.1", server.port))
        wait_until(lambda: len(server.active_workers()) == 2)
        third = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        reply = b""
        for _ in range(10):  # the 503, then EOF: refused, two connections already
            data = third.recv(256)
            if not data:
                break
            reply += data
        assert reply.startswith(b"RTSP/1.0 503 Service Unavailable\r\n") and not data
        first.close()
        wait_until(lambda: len(server.active_workers()) == 1)
        with rtsp_connection(server.port) as rtsp:  # room again
            assert rtsp.ask("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n").status == 200
        second.close()
        third.close()
    finally:
        server.close()
        thread.join(timeout=5)


def test_a_connection_that_never_sets_up_is_closed_when_idle(monkeypatch):
    import ServerWorker as worker_module

    monkeypatch.setattr(worker_module, "IDLE_CONNECTION", 0.5)
    with running_server(ROOT) as server:
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        started = time.monotonic()
        assert idle.recv(10) == b""
        assert time.monotonic() - started < 4
        idle.close()
        wait_until(lambda: not server.active_workers())


def test_after_its_end_of_file_bye_the_server_sends_no_more_reports_until_play(tmp_path):
    from rtsplab.rtcp.bye import Bye
    from rtsplab.rtcp.compound import decode_compound
    from rtsplab.rtcp.reports import SenderReport

    make_clip(tmp_path / "short.Mjpeg", 64, 48, 10, fmt="lab")
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtcp.bind(("127.0.0.1", rtp.getsockname()[1] + 1))
    port = rtp.getsockname()[1]

    def reports(seconds):
        """The RTCP packets arriving for `seconds`."""
        got, deadline = [], time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            rtcp.settimeout(left)
            try:
                got += decode_compound(rtcp.recv(2048))
            except TimeoutError:
                break
        return got

    with running_server(tmp_path, fps=FAST) as server, rtsp_connection(server.port) as rtsp:
        server.config.rtcp_reduced_minimum = True  # a report every fraction of a second
        sid = rtsp.ask(
            "SETUP short.Mjpeg RTSP/1.0\r\nCSeq: 1\r\n"
            f"Transport: RTP/AVP;unicast;client_port={port}-{port + 1}\r\n\r\n"
        ).session
        rtsp.ask(f"PLAY m RTSP/1.0\r\nCSeq: 2\r\nSession: {sid}\r\n\r\n")
        before = reports(1.0)
        assert any(isinstance(p, Bye) for p in before)  # the end of the 0.1 s clip
        assert not [p for p in reports(1.0) if isinstance(p, SenderReport)]  # then quiet
        rtsp.ask(f"PLAY m RTSP/1.0\r\nCSeq: 3\r\nSession: {sid}\r\n\r\n")
        assert any(isinstance(p, SenderReport) for p in reports(1.0))  # playing again
    rtp.close()
    rtcp.close()
