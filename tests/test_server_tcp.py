"""RTP interleaved on the RTSP connection (RFC 2326 §10.12) when the client reads slowly or
not at all: the connection's one writer drops whole `$` frames, never a reply, and ends a
connection whose reader took nothing for STALLED_READER; other sessions never notice."""

import concurrent.futures
import itertools
import socket
import threading
import time

import pytest

from conftest import ROOT, open_fds, rtsp_connection, run_client, running_server, wait_until
from RtpPacket import RtpPacket
from rtsplab.rtsp.message import InterleavedFrame, RtspResponse
from rtsplab.rtsp.reader import ResponseReader
from rtsplab.server import connection_writer
from rtsplab.server.connection_writer import ConnectionWriter
from ServerWorker import ServerWorker

URL = "rtsp://127.0.0.1:{port}/movie.Mjpeg"  # video/movie.Mjpeg: 200 frames
TCP_TRANSPORT = "RTP/AVP/TCP;unicast;interleaved=0-1"
SMALL_RCVBUF = 4096  # the kernel's receive window fills after a few packets
RTCP_TYPES = range(200, 205)  # SR, RR, SDES, BYE, APP (RFC 3550 §12.1)


def tcp_client(port):
    """A raw standard-RTSP connection with a small receive buffer (set before connect, so
    the window it announces is small from the start)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RCVBUF)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    return sock


def read_until_reply(sock, reader, cseq, items, chunk=65536):
    """Read (keeping every item in `items`) until the reply to `cseq` is in."""
    deadline = time.monotonic() + 5
    while not any(isinstance(i, RtspResponse) and i.cseq == cseq for i in items):
        assert time.monotonic() < deadline, f"no reply to CSeq {cseq}"
        data = sock.recv(chunk)
        assert data, "server closed the connection"
        items += reader.feed(data)
    return next(i for i in items if isinstance(i, RtspResponse) and i.cseq == cseq)


def setup_and_play(sock, port, items):
    reader = ResponseReader()
    url = URL.format(port=port)
    sock.sendall(f"SETUP {url}/track1 RTSP/1.0\r\nCSeq: 1\r\nTransport: {TCP_TRANSPORT}\r\n\r\n"
                 .encode())  # fmt: skip
    reply = read_until_reply(sock, reader, 1, items)
    assert reply.status == 200 and "interleaved=0-1" in reply.headers["Transport"]
    sid = reply.session
    sock.sendall(f"PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {sid}\r\n\r\n".encode())
    assert read_until_reply(sock, reader, 2, items).status == 200
    return reader, sid


def check_whole_frames(items):
    """Every `$` frame is a whole RTP packet on channel 0 or RTCP on channel 1."""
    rtp = []
    for item in items:
        if not isinstance(item, InterleavedFrame):
            continue
        assert item.channel in (0, 1)
        if item.channel == 0:
            packet = RtpPacket()
            packet.decode(item.data)  # raises on a cut packet
            assert packet.payloadType() == 26
            rtp.append(packet)
        else:
            assert item.data[0] >> 6 == 2 and item.data[1] in RTCP_TYPES
    return rtp


# -- the writer alone, on a socket pair -------------------------------------------------------


@pytest.fixture
def pair():
    ours, theirs = socket.socketpair()
    for sock in (ours, theirs):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_RCVBUF)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RCVBUF)
    theirs.settimeout(5)
    yield ours, theirs
    ours.close()
    theirs.close()


def test_the_writer_drops_whole_frames_never_replies_and_never_blocks(pair):
    ours, theirs = pair
    writer = ConnectionWriter(ours, "test", max_bytes=10_000, max_frames=8)
    writer.start()
    try:
        frames = [InterleavedFrame(0, bytes([n]) * 1000).encode() for n in range(200)]
        started = time.monotonic()
        queued = [writer.send_frame(frame) for frame in frames]
        writer.send_reply(b"RTSP/1.0 200 OK\r\nCSeq: 9\r\n\r\n")
        assert time.monotonic() - started < 0.5  # the reader reads nothing: no one waits
        assert not all(queued) and writer.dropped == queued.count(False) > 0
        reader, items = ResponseReader(), []
        while not any(isinstance(i, RtspResponse) for i in items):
            items += reader.feed(theirs.recv(500))
        got = [i.data for i in items if isinstance(i, InterleavedFrame)]
        sent = [frame[4:] for frame, ok in zip(frames, queued, strict=True) if ok]
        assert got == sent  # every queued frame whole and in order, then the reply
        assert items[-1].cseq == 9
    finally:
        writer.close()


def test_the_writer_shuts_a_stalled_reader_down(pair, monkeypatch):
    monkeypatch.setattr(connection_writer, "STALLED_READER", 0.3)
    ours, theirs = pair
    writer = ConnectionWriter(ours, "test")
    writer.start()
    try:
        for _ in range(100):
            writer.send_frame(InterleavedFrame(0, b"x" * 1000).encode())
        wait_until(lambda: writer.stalled, timeout=3)
        assert not writer.send_frame(b"$\x00\x00\x01x")  # nothing more is taken
        ours.settimeout(1)
        assert ours.recv(10) == b""  # shut down: the RTSP thread would see the end
    finally:
        writer.close()


def test_a_client_that_never_reads_its_replies_is_shut_down(pair, monkeypatch):
    monkeypatch.setattr(connection_writer, "MAX_QUEUED_REPLY_BYTES", 50_000)
    ours, theirs = pair
    writer = ConnectionWriter(ours, "test")
    writer.start()
    try:
        for cseq in range(10_000):  # never dropped: queued until the cap ends the connection
            writer.send_reply(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n\r\n".encode())
        assert writer.queued == 0  # dropped with the connection, which is shut down
        theirs.shutdown(socket.SHUT_WR)
        ours.settimeout(1)
        assert ours.recv(10) == b""
    finally:
        writer.close()


# -- the server ------------------------------------------------------------------------------


def test_a_client_that_half_closes_still_gets_its_last_reply():
    with running_server(ROOT) as server, rtsp_connection(server.port) as rtsp:
        rtsp.sock.sendall(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        rtsp.sock.shutdown(socket.SHUT_WR)  # the request, then the end: printf ... | nc
        assert rtsp.read_reply().status == 200
        assert rtsp.sock.recv(100) == b""


def small_server_send_buffers(monkeypatch):
    """The kernel would buffer a few MB for a stalled reader (autotuning), the whole of a
    short test movie: with a small send buffer the movie is as good as endless."""
    real = ServerWorker.__init__

    def init(self, connection, *args, **kwargs):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_RCVBUF)
        real(self, connection, *args, **kwargs)

    monkeypatch.setattr(ServerWorker, "__init__", init)


def test_a_tcp_client_that_stops_reading_is_ended_and_another_session_plays_on(monkeypatch):
    monkeypatch.setattr(connection_writer, "STALLED_READER", 1.0)
    small_server_send_buffers(monkeypatch)
    threads_before = threading.active_count()
    with running_server(ROOT, fps=100) as server:
        fds_before = open_fds()
        sock = tcp_client(server.port)
        try:
            setup_and_play(sock, server.port, [])
            (worker,) = server.active_workers()
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                lab = pool.submit(run_client, server.port, "movie.Mjpeg", timeout=60)
                # ... and this client reads no more.
                wait_until(worker.finished.is_set, timeout=8)
                assert worker.writer.stalled  # the writer ended it, not the session timeout
                code, summary, err = lab.result(timeout=60)
            assert code == 0, err
            assert summary["frames"] == 200 and summary["lost_packets"] == 0
        finally:
            sock.close()
        wait_until(lambda: not server.active_workers())
        wait_until(lambda: threading.active_count() <= threads_before + 2)  # acceptor, pacing
        assert open_fds() <= fds_before  # its sockets and its file are closed


def test_a_slow_tcp_reader_gets_every_reply_and_only_whole_frames(monkeypatch):
    monkeypatch.setattr(connection_writer, "MAX_QUEUED_FRAMES", 16)  # drop soon
    with running_server(ROOT, fps=200) as server:
        sock = tcp_client(server.port)
        try:
            items = []
            reader, sid = setup_and_play(sock, server.port, items)
            (worker,) = server.active_workers()
            url = URL.format(port=server.port)
            for cseq in range(3, 13):  # a request now and then, replies read slowly
                sock.sendall(f"GET_PARAMETER {url} RTSP/1.0\r\nCSeq: {cseq}\r\n"
                             f"Session: {sid}\r\n\r\n".encode())  # fmt: skip
                deadline = time.monotonic() + 0.1
                while time.monotonic() < deadline:
                    items += reader.feed(sock.recv(1024))
                    time.sleep(0.005)  # about 200 kB/s, below the stream's rate
            sock.sendall(f"TEARDOWN {url} RTSP/1.0\r\nCSeq: 13\r\nSession: {sid}\r\n\r\n"
                         .encode())  # fmt: skip
            read_until_reply(sock, reader, 13, items, chunk=1024)
        finally:
            sock.close()
        replies = [(i.cseq, i.status) for i in items if isinstance(i, RtspResponse)]
        assert replies == [(n, 200) for n in range(1, 14)]  # every one, in order
        rtp = check_whole_frames(items)
        assert worker.writer.dropped > 0  # it was slow enough to lose frames ...
        steps = [(b.seqNum() - a.seqNum()) % 0x10000 for a, b in itertools.pairwise(rtp)]
        assert len(rtp) > 50 and all(0 < step < 0x8000 for step in steps)  # ... in order
        assert any(step > 1 for step in steps)  # ... and whole: the gaps are whole packets
        wait_until(worker.finished.is_set)
