"""Shared test setup: a server on a thread, the headless client as a subprocess, free ports
and frame hashes. (pyproject.toml puts the project's root on sys.path.)"""

import collections
import contextlib
import gc
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers import wait_until  # noqa: F401  (the tests take it from here too)
from rtsplab.cli import free_port  # noqa: F401  (the tests take it from here)
from rtsplab.rtsp.reader import ResponseReader

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def running_server(root, fps=20.0, max_packet=1400, host="127.0.0.1", **options):
    """Our Server, in this process on a thread, on a free port of `host` (loopback);
    `options` are the Server's own (max_clients, max_per_address, gso, cache_bytes)."""
    from rtsplab.server.session import StreamConfig
    from Server import Server

    server = Server(0, StreamConfig(Path(root), fps, max_packet), host=host, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.close()
        thread.join(timeout=5)


def client_command(port, video, *extra, rtp_port=None):
    return [
        sys.executable, str(ROOT / "ClientLauncher.py"), "127.0.0.1", str(port),
        str(rtp_port or free_port()), video, "--headless", "--idle", "1", *extra,
    ]  # fmt: skip


def run_client(port, video, *extra, timeout=120):
    """Run the headless client to the end; (exit code, JSON summary or None, stderr)."""
    done = subprocess.run(
        client_command(port, video, *extra), capture_output=True, text=True, timeout=timeout
    )
    summary = json.loads(done.stdout) if done.returncode == 0 else None
    return done.returncode, summary, done.stderr


def frame_hashes(path) -> list[str]:
    from VideoStream import VideoStream

    with VideoStream(path) as video:
        return [hashlib.sha256(video.frame(i)).hexdigest() for i in range(video.frame_count)]


@pytest.fixture(scope="session")
def lab_movie() -> Path:
    return ROOT / "video" / "movie.Mjpeg"


# -- network helpers -------------------------------------------------------------------------------


def open_fds() -> collections.Counter[str]:
    """What the process's descriptors point at (a socket's inode, a file's path), counted. Compare
    with `<=`: nothing opened since, whatever an earlier test's garbage closes meanwhile (collected
    first, so that it rarely does) and whichever numbers the descriptors take."""
    gc.collect()
    targets = collections.Counter()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor, closed by now
            targets[os.readlink(f"/proc/self/fd/{fd}")] += 1
    return targets


def can_connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def datagrams_arriving(sock_or_port, seconds, frames=False):
    """How many datagrams (or frames: marker bits) arrive on a socket, or on a port bound
    now, within `seconds`."""
    sock = sock_or_port
    if isinstance(sock_or_port, int):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", sock_or_port))
    count, deadline = 0, time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                datagram = sock.recv(65536)
            except TimeoutError:
                break
            count += bool(datagram[1] & 0x80) if frames else 1
        return count
    finally:
        if isinstance(sock_or_port, int):
            sock.close()


class rtsp_connection:  # noqa: N801 (used as a context manager, like open)
    """A raw RTSP connection for sending exactly the bytes a test wants."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader = ResponseReader()
        self.replies = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def ask(self, text):
        self.sock.sendall(text.encode())
        return self.read_reply()

    def read_reply(self):
        return self.read_replies(1)[0]

    def read_replies(self, n):
        while len(self.replies) < n:
            data = self.sock.recv(65536)
            assert data, "server closed the connection"
            self.replies += self.reader.feed(data)
        out, self.replies = self.replies[:n], self.replies[n:]
        return out


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM), made with
    the one openssl command the README gives."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key
