"""The server and the files it serves: a file cut short while a session streams it ends
that session alone; the server and the other sessions go on.

The server runs as `python Server.py` in a subprocess: were a file mapped into memory, a
cut would raise SIGBUS there, seen as its exit code instead of killing the test run.
"""

import hashlib
import itertools
import os
import subprocess
import sys

import pytest

from conftest import ROOT, can_connect, frame_hashes, free_port, wait_until
from MakeVideo import make_clip
from relay import free_port_pair
from rtsplab.client.connection import RtspClient
from rtsplab.rtsp.errors import RtspError
from rtsplab.server.media_root import resolve
from VideoStream import CHANGED, VideoStream

LOOPBACK = "127.0.0.1"
FPS = 50.0
CUT_FRAMES = 300  # 6 s at FPS: still streaming long after the cut
OTHER_FRAMES = 100  # 2 s at FPS: streams across the cut and past it
FRAMES_BEFORE_CUT = 10
END_TIMEOUT = 15.0


def sha(jpeg):
    return hashlib.sha256(jpeg).hexdigest()


def start_server(root, log):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "Server.py"), str(port), "--root", str(root),
         "--fps", str(FPS), "--host", LOOPBACK],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    try:
        wait_until(lambda: can_connect(port) or server.poll() is not None, timeout=10)
    except BaseException:
        server.kill()
        raise
    assert server.poll() is None, "the server did not start"
    return server, port


def test_a_file_cut_short_while_served_ends_its_session_alone(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    cut, other = root / "cut.mjpeg", root / "other.mjpeg"
    make_clip(cut, 320, 240, CUT_FRAMES, fmt="mjpeg")
    make_clip(other, 320, 240, OTHER_FRAMES, fmt="mjpeg")
    cut_source, other_source = frame_hashes(cut), frame_hashes(other)
    cut_at = cut.stat().st_size // 2
    with VideoStream(cut) as video:  # raw MJPEG: the frames end to end
        ends = list(itertools.accumulate(len(video.frame(i)) for i in range(video.frame_count)))
    intact = sum(end <= cut_at for end in ends)  # frames wholly before the cut
    received_cut, received_other = [], []
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        server, port = start_server(root, log)
    clients = [
        RtspClient(LOOPBACK, port, free_port_pair(), cut.name,
                   on_frame=lambda jpeg, _ts: received_cut.append(sha(jpeg))),
        RtspClient(LOOPBACK, port, free_port_pair(), other.name,
                   on_frame=lambda jpeg, _ts: received_other.append(sha(jpeg))),
    ]  # fmt: skip
    streaming_cut, streaming_other = clients
    try:
        for client in clients:
            client.setup()
            client.play()
        wait_until(lambda: len(received_cut) >= FRAMES_BEFORE_CUT)
        os.truncate(cut, cut_at)  # in place, while it is served

        wait_until(lambda: streaming_cut.ended.is_set() or server.poll() is not None,
                   timeout=END_TIMEOUT)  # fmt: skip
        assert server.poll() is None, f"the server died: exit code {server.returncode}"
        assert streaming_cut.ended.is_set(), "no BYE after the file was cut short"
        # Whole frames only, the ones before the cut, none past it.
        assert FRAMES_BEFORE_CUT <= len(received_cut) <= intact
        assert received_cut == cut_source[: len(received_cut)]

        assert streaming_other.ended.wait(END_TIMEOUT), "the other session did not end"
        assert received_other == other_source  # every frame, through and after the cut
        assert server.poll() is None, f"the server died: exit code {server.returncode}"

        # The server still answers: a new session of the other file plays.
        again = []
        late = RtspClient(LOOPBACK, port, free_port_pair(), other.name,
                          on_frame=lambda jpeg, _ts: again.append(sha(jpeg)))  # fmt: skip
        try:
            late.setup()
            late.play()
            assert late.ended.wait(END_TIMEOUT), "a new session did not play to its end"
        finally:
            late.close()
        assert again == other_source
    finally:
        for client in clients:
            client.close()
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    text = log_path.read_text(errors="replace")
    assert server.returncode in (0, -15), text  # ended by terminate(), not by a signal
    assert text.count(CHANGED) == 1, text  # one warning, for the cut session
    assert "Traceback" not in text, text


@pytest.mark.parametrize("name", [".git/config", "video/.hidden.Mjpeg", ".env", "./.env"])
def test_hidden_names_are_never_served(tmp_path, name):
    target = tmp_path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"[core]\n")
    with pytest.raises(RtspError) as refused:
        resolve(tmp_path, name)
    assert refused.value.status == 404


def test_a_symlink_into_a_hidden_folder_is_refused(tmp_path):
    (tmp_path / ".secret").mkdir()
    (tmp_path / ".secret" / "clip.mjpeg").write_bytes(b"\xff\xd8")
    (tmp_path / "clip.mjpeg").symlink_to(tmp_path / ".secret" / "clip.mjpeg")
    with pytest.raises(RtspError) as refused:
        resolve(tmp_path, "clip.mjpeg")
    assert refused.value.status == 404
