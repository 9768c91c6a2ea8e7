"""What a client can hold of the server, and for how long: RTCP that keeps a session alive,
request deadlines, idle lab sessions, connection caps; the RTP clock read while it stops; and
the dual-stack listener."""

import logging
import os
import socket
import sys
import threading
import time

import pytest

import ServerWorker as worker_module
from conftest import (
    ROOT,
    frame_hashes,
    free_port,
    open_fds,
    rtsp_connection,
    run_client,
    running_server,
    wait_until,
)
from MakeVideo import make_clip
from rtsplab.rtcp.compound import encode_compound
from rtsplab.rtcp.reports import ReceiverReport, ReportBlock
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtcp.session import SenderRtcp
from rtsplab.rtp.sender import RtpSender
from rtsplab.rtsp.headers.transport import parse_transport
from rtsplab.server import channel as channel_module
from Server import parse_args

URL = "rtsp://127.0.0.1:{port}/movie.Mjpeg"
CLIENT_SSRC = 0x0C11E47
FOREIGN_SSRC = 0x0BADBAD


CLIENT_RTCP_PORT = free_port()  # the RTCP port our SETUPs announce; the server takes RTCP from it


def standard_setup(rtsp, port):
    """A standard UDP session: (its server RTCP port, our stream's SSRC)."""
    reply = rtsp.ask(
        f"SETUP {URL.format(port=port)}/track1 RTSP/1.0\r\nCSeq: 1\r\n"
        f"Transport: RTP/AVP;unicast;client_port={free_port()}-{CLIENT_RTCP_PORT}\r\n\r\n"
    )
    assert reply.status == 200
    transport = parse_transport(reply.headers["Transport"])[0]
    return transport.server_port[1], transport.ssrc


def lab_setup(rtsp, name="movie.Mjpeg", rtp_port=None):
    port = rtp_port or free_port()
    reply = rtsp.ask(f"SETUP {name} RTSP/1.0\r\nCSeq: 1\r\n"
                     f"Transport: RTP/UDP; client_port= {port}\r\n\r\n")  # fmt: skip
    assert reply.status == 200
    return reply.session


def closed_by_server(sock, timeout):
    """Whether the server closes `sock` within `timeout` (whatever it sends first is read)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return False


def keep_sending(port, datagrams, stop, every=0.2):
    """A thread sending `datagrams()` to the server's RTCP `port` from 127.0.0.1, from the
    RTCP port the SETUP announced."""

    def run():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", CLIENT_RTCP_PORT))
            while not stop.wait(every):
                sock.sendto(datagrams(), ("127.0.0.1", port))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def heard_since(worker, started):
    """Seconds from `started` to the last RTCP that showed the session's client alive."""
    rtcp = worker.rtcp
    heard = None if rtcp is None else rtcp.peer_heard
    return float("-inf") if heard is None else heard - started


def receiver_report(about):
    return encode_compound(
        [ReceiverReport(CLIENT_SSRC, [ReportBlock(about)]),
         SourceDescription.cname(CLIENT_SSRC, "client@127.0.0.1")]
    )  # fmt: skip


# -- 1. only the session's RTCP keeps it alive ---------------------------------------------------


@pytest.mark.parametrize("what", ["garbage", "rtcp about another source"])
def test_datagrams_that_are_not_the_sessions_rtcp_do_not_keep_it_alive(what):
    threads_before = threading.active_count()
    with running_server(ROOT) as server:
        server.config.session_timeout = 1
        fds_before = open_fds()
        with rtsp_connection(server.port) as rtsp:
            rtcp_port, _ = standard_setup(rtsp, server.port)
            stop = threading.Event()
            if what == "garbage":
                send = keep_sending(rtcp_port, lambda: os.urandom(40), stop)
            else:
                send = keep_sending(rtcp_port, lambda: receiver_report(FOREIGN_SSRC), stop)
            try:
                started = time.monotonic()
                wait_until(lambda: not server.active_workers(), timeout=4)
                assert time.monotonic() - started < 2.5  # its timeout, not later
                assert closed_by_server(rtsp.sock, 1)
            finally:
                stop.set()
                send.join()
        wait_until(lambda: open_fds() <= fds_before)  # TCP, the UDP pair and the file
    wait_until(lambda: threading.active_count() <= threads_before)


def test_receiver_reports_about_our_stream_keep_a_session_alive():
    with running_server(ROOT) as server:
        server.config.session_timeout = 1
        with rtsp_connection(server.port) as rtsp:
            rtcp_port, ssrc = standard_setup(rtsp, server.port)
            stop = threading.Event()
            # First a report about our stream, then SDES alone from the same reporter.
            sent = iter([receiver_report(ssrc)])
            sdes = encode_compound(
                [ReceiverReport(CLIENT_SSRC), SourceDescription.cname(CLIENT_SSRC, "client")]
            )
            send = keep_sending(rtcp_port, lambda: next(sent, sdes), stop)
            try:
                (worker,) = server.active_workers()
                started = time.monotonic()
                # Kept alive by reports for twice its timeout, or ended: which one?
                wait_until(lambda: heard_since(worker, started) > 2.0 or worker.finished.is_set(),
                           timeout=4)  # fmt: skip
                assert len(server.active_workers()) == 1
            finally:
                stop.set()
                send.join()
            wait_until(lambda: not server.active_workers(), timeout=4)


def test_only_rtcp_about_our_stream_or_from_its_reporter_shows_the_client_alive():
    rtcp = SenderRtcp(RtpSender(20, ssrc=0x1234), "server", 1e6, 0.0)
    rtcp.receive(os.urandom(40), 1.0, 0.0)
    rtcp.receive(receiver_report(FOREIGN_SSRC), 2.0, 0.0)
    assert rtcp.peer_heard is None
    sdes = encode_compound(
        [ReceiverReport(CLIENT_SSRC), SourceDescription.cname(CLIENT_SSRC, "client")]
    )
    rtcp.receive(sdes, 3.0, 0.0)
    assert rtcp.peer_heard is None  # a reporter not known yet
    rtcp.receive(receiver_report(0x1234), 4.0, 0.0)
    assert rtcp.peer_ssrc == CLIENT_SSRC and rtcp.peer_heard == 4.0
    rtcp.receive(sdes, 5.0, 0.0)
    assert rtcp.peer_heard == 5.0  # now it is


# -- 2. the RTP clock read while the streamer stops it -----------------------------------------


class AnchorClearedBetweenReads(RtpSender):
    """The race, made certain: the anchor is cleared right after each read of it."""

    @property
    def _clock(self):
        clock, self.__dict__["anchor"] = self.__dict__.get("anchor"), None
        return clock

    @_clock.setter
    def _clock(self, value):
        self.__dict__["anchor"] = value


def test_timestamp_at_reads_the_clock_anchor_once():
    sender = AnchorClearedBetweenReads(20, ssrc=1, first_seq=0, timestamp_origin=0)
    sender.packetize(b"\xff\xd8frame\xff\xd9")
    sender.mark_due(10.0)
    assert sender.timestamp_at(10.5) == 45_000  # the anchor's reading, half a second on
    rtcp = SenderRtcp(sender, "server", 1e6, 0.0)
    sender.mark_due(10.0)
    assert rtcp.report(10.5, 1e9)  # the SR is built, no TypeError


def test_reports_built_while_the_stream_pauses_and_plays_never_fail():
    sender = RtpSender(20, ssrc=1)
    rtcp = SenderRtcp(sender, "server", 1e6, 0.0)
    errors = []
    stop = threading.Event()

    def pause_and_play():
        while not stop.is_set():
            sender.mark_due(time.monotonic())
            sender.pause()

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    thread = threading.Thread(target=pause_and_play, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 1.0
        for _ in range(200_000):
            if time.monotonic() > deadline:
                break
            try:
                rtcp.report(time.monotonic(), time.time())
            except Exception as exc:  # noqa: BLE001 (the failure under test)
                errors.append(exc)
                break
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(switch)
    assert not errors


def test_many_pause_play_cycles_leave_the_rtcp_thread_running(caplog):
    caplog.set_level(logging.DEBUG, logger="rtsplab.server.rtcp")
    with running_server(ROOT, fps=100) as server, rtsp_connection(server.port) as rtsp:
        server.config.rtcp_reduced_minimum = True
        url = URL.format(port=server.port)
        standard_setup(rtsp, server.port)
        (worker,) = server.active_workers()
        sid = worker.session.session_id
        deadline = time.monotonic() + 3
        cseq = 2
        while time.monotonic() < deadline:
            for method in ("PLAY", "PAUSE"):
                reply = rtsp.ask(
                    f"{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\nSession: {sid}\r\n\r\n"
                )
                assert reply.status == 200
                cseq += 1
        assert worker.rtcp is not None and worker.rtcp.running
    assert not [r for r in caplog.records if "RTCP failed" in r.getMessage()]


# -- 3. deadlines ------------------------------------------------------------------------------


@pytest.fixture
def short_deadline(monkeypatch):
    monkeypatch.setattr(channel_module, "REQUEST_DEADLINE", 0.5)


@pytest.mark.parametrize(
    "how", ["body announced, never sent", "a byte at a time", "half a head, standard session"]
)
def test_a_request_not_whole_within_its_deadline_closes_the_connection(short_deadline, how):
    threads_before = threading.active_count()
    with running_server(ROOT) as server:
        fds_before = open_fds()
        with rtsp_connection(server.port) as rtsp:
            if how == "half a head, standard session":
                standard_setup(rtsp, server.port)
                rtsp.sock.sendall(b"GET_PARAMETER * RTSP/1.0\r\nCSeq: 2\r\n")
            elif how == "body announced, never sent":
                rtsp.sock.sendall(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 65000\r\n\r\n")
            else:
                standard_setup(rtsp, server.port)  # (no lab quiet rule to end the request)
                rtsp.sock.sendall(b"OPTIONS * RTSP/1.0\r\nCSeq: 2\r\nX-Slow: ")
                for _ in range(20):  # 2 s
                    try:
                        rtsp.sock.sendall(b"z")
                    except OSError:
                        break
                    time.sleep(0.1)
            assert closed_by_server(rtsp.sock, 3)
        wait_until(lambda: not server.active_workers())
        wait_until(lambda: open_fds() <= fds_before)
    wait_until(lambda: threading.active_count() <= threads_before)


def test_requests_within_the_deadline_are_answered(short_deadline):
    with running_server(ROOT) as server, rtsp_connection(server.port) as rtsp:
        for cseq in range(1, 6):  # longer in all than the deadline, each request quick
            assert rtsp.ask(f"OPTIONS * RTSP/1.0\r\nCSeq: {cseq}\r\n\r\n").status == 200
            time.sleep(0.2)
        rtsp.sock.sendall(b"OPTIONS * RTSP/1.0\r\n")
        (worker,) = server.active_workers()
        wait_until(lambda: worker.rtsp.pending)  # the first part read alone
        assert rtsp.ask("CSeq: 9\r\n\r\n").cseq == 9  # sent in two parts


def test_a_lab_session_not_playing_and_unheard_is_ended_a_playing_one_is_not(tmp_path, monkeypatch):
    monkeypatch.setattr(worker_module, "LAB_IDLE_SESSION", 1.0)
    monkeypatch.setattr(worker_module, "IDLE_CHECK", 0.1)
    make_clip(tmp_path / "clip.Mjpeg", 64, 48, 40, fmt="lab")  # 2 s at 20 fps
    threads_before = threading.active_count()
    with running_server(tmp_path, fps=20) as server:
        fds_before = open_fds()
        with rtsp_connection(server.port) as idle, rtsp_connection(server.port) as playing:
            lab_setup(idle, "clip.Mjpeg")
            sid = lab_setup(playing, "clip.Mjpeg")
            assert playing.ask(f"PLAY clip.Mjpeg RTSP/1.0\r\nCSeq: 2\r\nSession: {sid}\r\n\r\n"
                               ).status == 200  # fmt: skip
            (worker,) = [w for w in server.active_workers() if w.session.session_id == sid]
            assert closed_by_server(idle.sock, 3)  # unheard for 1 s, not playing
            wait_until(lambda: time.monotonic() - worker.last_heard > 1.5)
            assert len(server.active_workers()) == 1  # the playing one: 1.5 s unheard
            assert closed_by_server(playing.sock, 4)  # the end of the clip, then 1 s
        wait_until(lambda: not server.active_workers())
        wait_until(lambda: open_fds() <= fds_before)
    wait_until(lambda: threading.active_count() <= threads_before)


# -- 4. caps -----------------------------------------------------------------------------------


def capped_server(host="127.0.0.1", fps=20.0, **caps):
    return running_server(ROOT, fps=fps, host=host, **caps)


def connect_from(source, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((source, 0))
    except OSError:
        sock.close()
        pytest.skip(f"cannot bind a client socket to {source}")
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    return sock


def read_to_eof(sock):
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_past_max_per_address_a_client_gets_503_and_another_address_is_served(caplog):
    with capped_server(max_per_address=3) as server:
        held = [rtsp_connection(server.port) for _ in range(3)]
        try:
            wait_until(lambda: len(server.active_workers()) == 3)
            # A worker is listed a moment before its threads start (Server.serve_forever).
            wait_until(lambda: all(w.thread.is_alive() for w in server.active_workers()))
            fds_before, threads_before = open_fds(), threading.active_count()
            for _ in range(2):
                with connect_from("127.0.0.1", server.port) as fourth:
                    reply = read_to_eof(fourth)
                    assert reply.startswith(b"RTSP/1.0 503 Service Unavailable\r\n")
            wait_until(lambda: open_fds() <= fds_before)  # nothing kept for a refusal
            assert threading.active_count() == threads_before
            refusals = [r for r in caplog.records if "refusing" in r.getMessage()]
            assert len(refusals) == 1  # once a minute per address
            with connect_from("127.0.0.2", server.port) as other:
                other.sendall(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
                assert other.recv(4096).startswith(b"RTSP/1.0 200 OK\r\n")
            assert held[0].ask("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n").status == 200
        finally:
            for connection in held:
                connection.sock.close()
        wait_until(lambda: not server.active_workers())
        with connect_from("127.0.0.1", server.port) as again:  # slots free again
            again.sendall(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
            assert again.recv(4096).startswith(b"RTSP/1.0 200 OK\r\n")


def test_past_max_clients_every_address_gets_503():
    with capped_server(max_clients=2, max_per_address=0) as server:
        with rtsp_connection(server.port), rtsp_connection(server.port):
            wait_until(lambda: len(server.active_workers()) == 2)
            with connect_from("127.0.0.2", server.port) as third:
                assert read_to_eof(third).startswith(b"RTSP/1.0 503 ")


def test_the_caps_are_command_line_options():
    args = parse_args(["8554", "--max-clients", "5", "--max-per-address", "0"])
    assert (args.max_clients, args.max_per_address) == (5, 0)
    args = parse_args(["8554"])
    assert (args.max_clients, args.max_per_address) == (256, 32)
    with pytest.raises(SystemExit):
        parse_args(["8554", "--max-clients", "0"])


# -- 5. dual stack -----------------------------------------------------------------------------


def test_a_dual_stack_server_plays_every_frame_to_an_ipv4_client(tmp_path, lab_movie):
    try:
        server_cm = capped_server(host="::", fps=100.0)
        server = server_cm.__enter__()
    except OSError as exc:
        pytest.skip(f"cannot listen on [::]: {exc}")
    try:
        assert server.listener.family == socket.AF_INET6
        saved = tmp_path / "out.mjpeg"
        code, summary, err = run_client(server.port, "movie.Mjpeg", "--save", str(saved))
    finally:
        server_cm.__exit__(None, None, None)
    assert code == 0, err
    assert summary["lost_packets"] == 0
    assert frame_hashes(saved) == frame_hashes(lab_movie)
