"""A process on the same machine attacks a session on loopback; the client takes media and
RTCP only from its server, and every frame of the stream still arrives, byte for byte."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import socket
import threading

import pytest
from PIL import Image

from conftest import frame_hashes, running_server, wait_until
from MakeVideo import make_clip
from relay import free_port_pair
from RtpPacket import RtpPacket
from rtsplab.client.connection import RtspClient
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.compound import encode_compound
from rtsplab.rtcp.reports import ReceiverReport

FPS = 50.0
FRAMES = 60
END_TIMEOUT = 30.0
LOOPBACK = "127.0.0.1"
FORGED_PACING = 0.002  # seconds between two forged packets: a flood, not a wall


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("attacks") / "clip.mjpeg"
    make_clip(path, 320, 240, FRAMES)
    return path


class Attacker:
    """A UDP socket on the server's address, on a port of its own, sending what it likes."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))

    def send(self, datagram: bytes, port: int) -> None:
        self.sock.sendto(datagram, (LOOPBACK, port))

    def close(self) -> None:
        self.sock.close()


def forged_rtp(ssrc: int, seq: int, timestamp: int, payload: bytes, marker: int = 1) -> bytes:
    packet = RtpPacket()
    packet.encode(2, 0, 0, 0, seq & 0xFFFF, marker, 26, ssrc, payload, timestamp=timestamp)
    return packet.getPacket()


@functools.cache
def make_forged_jpeg() -> bytes:
    """A whole, well-formed JPEG that is in no clip: if it is ever delivered, it shows."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (255, 0, 255)).save(buffer, "JPEG")
    return buffer.getvalue()


def play_through(clip, attack, rtp_port=None):
    """Stream `clip` to an in-process client while `attack(client, attacker)` runs on a
    thread; the frames the client delivered (SHA-256) and its summary."""
    frames: list[str] = []
    attacker = Attacker()
    with running_server(clip.parent, fps=FPS) as server:
        port = rtp_port or free_port_pair()
        client = RtspClient(LOOPBACK, server.port, port, clip.name, rtcp_reduced_minimum=True,
                            on_frame=lambda jpeg, _ts: frames.append(sha(jpeg)))  # fmt: skip
        try:
            client.setup()
            done = threading.Event()
            thread = threading.Thread(target=attack, args=(client, attacker, done), daemon=True)
            thread.start()
            client.play()
            assert client.ended.wait(END_TIMEOUT), "no BYE at the end of the file"
            done.set()
            thread.join(timeout=5)
            summary = client.summary()
        finally:
            client.close()
            attacker.close()
    return frames, summary


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_forged_bye_from_anywhere_does_not_end_the_session(clip):
    def attack(client, attacker, done):
        wait_until(lambda: client.media.first_packet_at is not None, timeout=10)
        rtcp_port = client.rtp_port + 1
        ssrc = client.media.receiver.ssrc  # the right SSRC, even: the port is still wrong
        for forged in (0x12345678, ssrc):
            bye = encode_compound([ReceiverReport(0xBAD), Bye([forged], "forged")])
            for _ in range(5):
                attacker.send(bye, rtcp_port)
                attacker.send(Bye([forged]).encode(), rtcp_port)  # a lone BYE, not compound
        # Every forged datagram has been read (and refused) before the verdict.
        wait_until(lambda: client.media.rtcp.foreign >= 20, what="the forged BYEs read")
        assert not client.ended.is_set(), "a forged BYE ended the session"

    frames, summary = play_through(clip, attack)
    assert frames == frame_hashes(clip)
    assert summary["frames"] == FRAMES


def test_forged_rtp_before_the_first_packet_does_not_capture_the_stream(clip):
    """Between SETUP and PLAY the attacker, on the server's address but another port, sends
    a stream of its own, whole JPEG frames in order; then keeps at it during the stream with
    the server's own SSRC (from the SETUP reply), and with SSRCs of its own."""
    fake = make_forged_jpeg()

    def attack(client, attacker, done):
        port = client.rtp_port
        for seq in range(50):
            attacker.send(forged_rtp(0xAAAA0001, 1000 + seq, seq * 1800, fake), port)
        wait_until(lambda: client.media.first_packet_at is not None, timeout=10)
        ssrc, seq = client.media.receiver.ssrc, 0
        while not done.is_set():
            attacker.send(forged_rtp(ssrc, seq, seq * 1800, fake), port)
            attacker.send(forged_rtp(0xAAAA0002, seq, seq * 1800, fake), port)
            seq += 1
            done.wait(FORGED_PACING)

    frames, summary = play_through(clip, attack)
    assert sha(fake) not in frames
    assert frames == frame_hashes(clip)
    assert summary["foreign"] > 50 and summary["lost_packets"] == 0


def test_garbage_on_both_ports_is_counted_and_skipped(clip):
    def attack(client, attacker, done):
        wait_until(lambda: client.media.first_packet_at is not None, timeout=10)
        for _ in range(200):
            for size in (1, 11, 12, 40, 1400):
                attacker.send(os.urandom(size), client.rtp_port)
                attacker.send(os.urandom(size), client.rtp_port + 1)
            if done.is_set():
                break

    frames, summary = play_through(clip, attack)
    assert frames == frame_hashes(clip)
    assert summary["frames"] == FRAMES and summary["lost_packets"] == 0
    assert summary["malformed"] + summary["foreign"] >= 200  # seen, counted, skipped
