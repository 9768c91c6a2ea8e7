"""The end of the file and what comes after it: a keep-alive never plays an ended stream
again, and PLAY after the end starts from the first frame with a reply that says so, for a
unicast session and a multicast member alike."""

import socket

import pytest

from conftest import datagrams_arriving, free_port, rtsp_connection, running_server, wait_until
from MakeVideo import make_clip
from rtsplab.rtcp.compound import decode_compound
from rtsplab.rtcp.packet import RtcpError
from rtsplab.rtp.sender import RtpSender
from rtsplab.server.position import played_to_end, rewind_if_played
from rtsplab.server.session import MulticastConfig, StreamConfig
from rtsplab.server.stream import Streaming
from ServerWorker import ServerWorker
from VideoStream import VideoStream

FPS = 100.0  # a short clip played fast: its end comes within a fraction of a second
FRAMES = 10
QUIET = 0.5  # seconds in which a restarted stream would have sent several frames


@pytest.fixture
def clip(tmp_path):
    make_clip(tmp_path / "clip.mjpeg", 64, 48, FRAMES, fmt="mjpeg")
    return tmp_path / "clip.mjpeg"


def udp_socket(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    return sock


def byes(sock, timeout):
    """How many RTCP compounds with a BYE arrive on `sock` within `timeout` s (at most until
    the first)."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(2048)
            try:
                if any(packet.leaving() for packet in decode_compound(data)):
                    return 1
            except RtcpError:
                continue
    except TimeoutError:
        return 0


def keep_alives(rtsp, url, session, cseq):
    for method in ("GET_PARAMETER", "OPTIONS"):
        reply = rtsp.ask(f"{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\nSession: {session}\r\n\r\n")
        assert reply.status == 200
        cseq += 1


def test_keep_alives_after_the_end_send_nothing_and_play_after_it_starts_again(clip):
    with running_server(clip.parent, fps=FPS) as server:
        rtp_port = free_port()
        rtp, rtcp = udp_socket(rtp_port), udp_socket(rtp_port + 1)
        url = f"rtsp://127.0.0.1:{server.port}/clip.mjpeg"
        with rtp, rtcp, rtsp_connection(server.port) as rtsp:
            reply = rtsp.ask(f"SETUP {url}/track1 RTSP/1.0\r\nCSeq: 1\r\n"
                             f"Transport: RTP/AVP;unicast;client_port={rtp_port}-{rtp_port + 1}"
                             "\r\n\r\n")  # fmt: skip
            session = reply.headers["Session"].split(";")[0]
            reply = rtsp.ask(f"PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n")
            assert reply.status == 200 and reply.headers["Range"] == "npt=0.000-"
            assert byes(rtcp, 5.0) == 1, "the end of the file said BYE"
            keep_alives(rtsp, url, session, 3)
            assert datagrams_arriving(rtp, QUIET) >= FRAMES  # the whole clip, then nothing
            keep_alives(rtsp, url, session, 5)
            assert datagrams_arriving(rtp, QUIET) == 0  # no stream started again
            assert byes(rtcp, QUIET) == 0  # nor ended again
            reply = rtsp.ask(f"PLAY {url} RTSP/1.0\r\nCSeq: 7\r\nSession: {session}\r\n\r\n")
            assert reply.status == 200 and reply.headers["Range"] == "npt=0.000-"
            assert datagrams_arriving(rtp, QUIET) >= 1  # PLAY after the end starts again


# -- a multicast member, with a group that counts what the worker asks of it ----------------


class CountingGroup:
    """A file's multicast stream as the worker sees it, counting the plays asked for."""

    def __init__(self, path, port):
        self.media = VideoStream(path)
        self.sender = RtpSender(FPS, payloader=lambda frame, size: [(b"", frame)])
        self.port = port
        self.source = "127.0.0.1"  # the address the session was reached at: no source=
        self.plays, self.pauses, self.rewinds = [], [], 0

    def rewind_if_played(self):
        self.rewinds += rewind_if_played(self.media)

    def add(self, session_id, ip):
        pass

    def play(self, session_id):
        self.plays.append(session_id)

    def pause(self, session_id):
        self.pauses.append(session_id)

    def heard_since(self, ip):
        return None


class CountingGroups:
    def __init__(self):
        self.joined = []

    def join(self, path):
        self.joined.append(CountingGroup(path, 5004))
        return self.joined[-1]

    def leave(self, group, session_id):
        group.media.close()


def test_a_members_keep_alives_never_restart_the_groups_stream(clip):
    config = StreamConfig(clip.parent, FPS, multicast=MulticastConfig("239.255.12.42", 5004))
    groups, streaming = CountingGroups(), Streaming()
    streaming.loop.start()
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        with rtsp_connection(listener.getsockname()[1]) as rtsp:
            connection, address = listener.accept()
            worker = ServerWorker(connection, address, config, streaming, groups)
            worker.run()
            url = f"rtsp://127.0.0.1/{clip.name}"
            reply = rtsp.ask(f"SETUP {url}/track1 RTSP/1.0\r\nCSeq: 1\r\n"
                             "Transport: RTP/AVP;multicast\r\n\r\n")  # fmt: skip
            session = reply.headers["Session"].split(";")[0]
            group = groups.joined[0]
            assert worker.rtcp is None  # a member runs no RTCP engine: the group reports
            rtsp.ask(f"PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n")
            assert group.plays == [session]
            group.media.seek(group.media.frame_count)  # the group's stream reached the end
            keep_alives(rtsp, url, session, 3)
            assert group.plays == [session] and group.rewinds == 0
            assert played_to_end(group.media)
            reply = rtsp.ask(f"PLAY {url} RTSP/1.0\r\nCSeq: 5\r\nSession: {session}\r\n\r\n")
            # The reply says where the stream starts again: the first frame, not the end.
            assert reply.status == 200 and reply.headers["Range"] == "npt=0.000-"
            assert group.plays == [session, session] and group.rewinds == 1
            assert group.media.frameNbr() == 0
        wait_until(worker.finished.is_set, what="the worker to close")
    finally:
        listener.close()
        streaming.loop.close()
