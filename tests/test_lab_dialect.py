"""The lab's own programs: its client's exact bytes against our server, and our client
against a server that behaves like the lab's (replies without the empty line, one packet per
frame, sequence number = frame number, timestamp = int(time()), no marker bit)."""

import io
import re
import socket
import threading

from PIL import Image

from conftest import ROOT, frame_hashes, run_client, running_server
from RtpPacket import RtpPacket
from VideoStream import VideoStream


def lab_request(method, seq, extra):
    """Exactly what the lab's Client.sendRtspRequest writes: LF, and no empty line at the end."""
    return f"{method} movie.Mjpeg RTSP/1.0\nCSeq: {seq}\n{extra}".encode()


def lab_parse_reply(data: bytes):
    """The lab client's parseRtspReply: by line number, int() of the second word."""
    lines = data.decode().split("\n")
    return int(lines[0].split(" ")[1]), int(lines[1].split(" ")[1]), int(lines[2].split(" ")[1])


def test_the_labs_client_bytes_play_on_our_server():
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    rtp.settimeout(3)
    rtp_port = rtp.getsockname()[1]
    with running_server(ROOT, fps=100) as server:
        rtsp = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        rtsp.sendall(lab_request("SETUP", 1, f"Transport: RTP/UDP; client_port= {rtp_port}"))
        status, cseq, session = lab_parse_reply(rtsp.recv(256))
        assert (status, cseq) == (200, 1) and session > 0

        rtsp.sendall(lab_request("PLAY", 2, f"Session: {session}"))
        assert lab_parse_reply(rtsp.recv(256)) == (200, 2, session)
        packet = RtpPacket()
        packet.decode(rtp.recv(65536))
        assert packet.getPayload().startswith(b"\xff\xd8")

        rtsp.sendall(lab_request("PAUSE", 3, f"Session: {session}"))
        assert lab_parse_reply(rtsp.recv(256)) == (200, 3, session)
        rtsp.sendall(lab_request("TEARDOWN", 4, f"Session: {session}"))
        assert lab_parse_reply(rtsp.recv(256)) == (200, 4, session)
        rtsp.close()
    rtp.close()


MAX_UDP_PAYLOAD = 65507  # 65535 - 20 IPv4 - 8 UDP: the server's --mtu for criterion 1
SKELETON_RECV = 20480  # the skeleton's listenRtp: self.rtpSocket.recv(20480)


def test_the_labs_criterion_1_client_plays_every_frame_at_mtu_65507(lab_movie):
    """The skeleton a student completes first takes each datagram as one whole JPEG: with
    --mtu 65507 no frame of the lab's movie is cut, so every datagram is one frame."""
    with VideoStream(lab_movie) as video:
        frames = [video.frame(i) for i in range(video.frame_count)]
    assert len(frames) == 200 and max(map(len, frames)) + 12 <= SKELETON_RECV  # 12: RTP header
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)  # no drop on a pause
    rtp.bind(("127.0.0.1", 0))
    rtp.settimeout(3)
    received: list[RtpPacket] = []
    with running_server(ROOT, fps=50, max_packet=MAX_UDP_PAYLOAD) as server:
        rtsp = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        transport = f"Transport: RTP/UDP; client_port= {rtp.getsockname()[1]}"
        rtsp.sendall(lab_request("SETUP", 1, transport))
        status, _, session = lab_parse_reply(rtsp.recv(256))
        assert status == 200
        rtsp.sendall(lab_request("PLAY", 2, f"Session: {session}"))
        assert lab_parse_reply(rtsp.recv(256)) == (200, 2, session)
        while len(received) < len(frames):
            packet = RtpPacket()  # the skeleton's listenRtp: one recv, one packet, one frame
            packet.decode(rtp.recv(SKELETON_RECV))
            image = Image.open(io.BytesIO(packet.getPayload()))
            image.load()  # the skeleton's updateMovie: the payload is a JPEG file
            assert image.format == "JPEG"
            received.append(packet)
        rtsp.sendall(lab_request("TEARDOWN", 3, f"Session: {session}"))
        assert lab_parse_reply(rtsp.recv(256)) == (200, 3, session)
        rtsp.close()
    rtp.close()
    seqs = [packet.seqNum() for packet in received]
    assert seqs == [(seqs[0] + i) % 0x10000 for i in range(len(frames))]  # in order, none lost
    assert [packet.getPayload() for packet in received] == frames


class LabStyleServer:
    """Answers like the lab's ServerWorker and streams like it, one frame per packet."""

    def __init__(self, movie, fps=100, payload_type=26):
        self.movie, self.fps, self.payload_type = movie, fps, payload_type
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, (client_ip, _) = self.listener.accept()
        stop = threading.Event()
        with conn:
            while data := conn.recv(256):
                lines = data.decode().split("\n")
                method, seq = lines[0].split(" ")[0], lines[1].split(" ")[1].strip()
                if method == "SETUP":
                    rtp_port = int(lines[2].split(" ")[3])
                conn.sendall(f"RTSP/1.0 200 OK\nCSeq: {seq}\nSession: 123456".encode())
                if method == "PLAY":
                    threading.Thread(
                        target=self.stream, args=((client_ip, rtp_port), stop), daemon=True
                    ).start()
                elif method == "TEARDOWN":
                    stop.set()

    def stream(self, destination, stop):
        video = VideoStream(self.movie)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            while not stop.is_set() and (frame := video.nextFrame()):
                packet = RtpPacket()
                packet.encode(
                    2, 0, 0, 0, video.frameNbr(), 0, self.payload_type, 0, frame
                )  # ts = int(time())
                udp.sendto(packet.getPacket(), destination)
                stop.wait(1 / self.fps)  # the lab server's pacing, cut short by TEARDOWN

    def close(self):
        self.listener.close()


def test_our_client_plays_a_lab_style_server(tmp_path, lab_movie):
    server = LabStyleServer(lab_movie)
    saved = tmp_path / "out.mjpeg"
    try:
        code, summary, err = run_client(server.port, "movie.Mjpeg", "--save", str(saved))
    finally:
        server.close()
    assert code == 0, err
    assert frame_hashes(saved) == frame_hashes(lab_movie)
    assert summary["frames"] == 200 and summary["lost_packets"] == 0


def test_a_session_that_delivers_not_one_frame_exits_nonzero_saying_so(lab_movie):
    server = LabStyleServer(lab_movie, payload_type=99)  # no JPEG: every packet is foreign
    try:
        code, summary, err = run_client(server.port, "movie.Mjpeg")
    finally:
        server.close()
    assert code == 1 and summary is None
    last = err.strip().splitlines()[-1]
    match = re.fullmatch(r"error: the session ran but not one frame arrived \(0 packets, "
                         r"(\d+) foreign, 0 malformed, 0 malformed payloads, 0 dropped frames\)",
                         last)  # fmt: skip
    assert match and int(match[1]) > 0, last
