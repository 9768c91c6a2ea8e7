"""Shared test setup: the project root on sys.path (as when running `python Server.py` there),
a server on a thread, the headless client as a subprocess, and frame hashes."""

import contextlib
import hashlib
import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def free_port(kind=socket.SOCK_DGRAM) -> int:
    """A port nothing listens on right now (loopback)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(root, fps=20.0, max_packet=1400):
    """Our Server, in this process on a thread, on a free loopback port."""
    from rtsplab.rtsp.server_session import StreamConfig
    from Server import Server

    server = Server(0, StreamConfig(Path(root), fps, max_packet), host="127.0.0.1")
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
