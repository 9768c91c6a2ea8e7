"""Servers people run, for our client to play: two relays that ffmpeg publishes into, and VLC.

    reason = perl_relay_missing()                     # None, or why not: pytest.skip(reason)
    with relay("perl") as (publish_port, play_port):   # or relay("npm")
        with publishing(clip, fps, publish_port, play_port, audio=True) as url:
            ...                                        # rtsp://127.0.0.1:PLAY/s, being fed
    with vlc_serving(clip, fps) as url:               # VLC's own RTSP server, UDP only
        ...

- rtsp-server-perl (Debian librtsp-server-perl) runs through tests/rtsp_server_perl.pl, the
  synopsis Debian does not install as a script.
- rtsp-streaming-server (npm) runs through tests/rtsp_streaming_server.js, with the package
  from `.peers/node_modules` (`npm install --prefix .peers rtsp-streaming-server@2.1.0`,
  done by .ci/run).
- VLC refuses to run as root, so as root it runs as `nobody` (setpriv), reading a copy of
  the clip that `nobody` may read.

All of them are live: a player gets the stream from where it is when it joins, not from the
first frame. The relays are fed the clip in a loop, until the block ends. Every port is on
127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from conftest import ROOT, can_connect, free_port
from helpers import wait_until
from netns import stop_process

PERL_SCRIPT = Path(__file__).resolve().parent / "rtsp_server_perl.pl"
NPM_SCRIPT = Path(__file__).resolve().parent / "rtsp_streaming_server.js"
NODE_MODULES = ROOT / ".peers" / "node_modules"
NPM_PACKAGE = "rtsp-streaming-server"
MOUNT = "/s"
# Seconds for a server to listen, or for a publisher's mount to appear: loading Moose alone
# takes rtsp-server-perl 11 s on a busy machine.
START_TIMEOUT = 60.0
RTP_PORTS = 20  # UDP ports a relay may take for RTP and RTCP, from an even start
RTSP_TIMEOUT = 2.0
UNPRIVILEGED = ("nobody", "nogroup")


def perl_relay_missing() -> str | None:
    if shutil.which("perl") is None or shutil.which("ffmpeg") is None:
        return "needs perl and ffmpeg (apt install librtsp-server-perl ffmpeg)"
    done = subprocess.run(["perl", "-MRTSP::Server", "-e1"], capture_output=True, timeout=30)
    if done.returncode != 0:
        return "needs RTSP::Server (apt install librtsp-server-perl)"
    return None


def npm_relay_missing() -> str | None:
    if shutil.which("node") is None or shutil.which("ffmpeg") is None:
        return "needs node and ffmpeg"
    if not (NODE_MODULES / NPM_PACKAGE).is_dir():
        return f"needs {NPM_PACKAGE} in .peers (npm install --prefix .peers {NPM_PACKAGE}@2.1.0)"
    return None


def vlc_missing() -> str | None:
    if shutil.which("vlc") is None:
        return "needs VLC (apt install vlc-bin vlc-plugin-base)"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "VLC refuses root, and setpriv (util-linux) is missing to run it as nobody"
    return None


def _even_port() -> int:
    return free_port() & ~1


def _tcp_port() -> int:
    """A TCP port free on every address: the npm relay listens on all of them."""
    return free_port(socket.SOCK_STREAM, "0.0.0.0")


def _wait_listening(process: subprocess.Popen[bytes], port: int, what: str) -> None:
    wait_until(lambda: process.poll() is not None or can_connect(port), START_TIMEOUT, what)
    if process.poll() is not None:
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        raise RuntimeError(f"{what}: exited with status {process.returncode}: {stderr[-2000:]}")


@contextlib.contextmanager
def relay(kind: str) -> Iterator[tuple[int, int]]:
    """Run the perl or the npm relay; yield (publish port, play port) once both listen."""
    publish_port, play_port, rtp_start = _tcp_port(), _tcp_port(), _even_port()
    if kind == "perl":
        command = ["perl", str(PERL_SCRIPT), str(play_port), str(publish_port), str(rtp_start)]
        env = None
    else:
        command = ["node", str(NPM_SCRIPT), str(publish_port), str(play_port), str(rtp_start),
                   str(RTP_PORTS)]  # fmt: skip
        env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        for port in (publish_port, play_port):
            _wait_listening(process, port, f"the {kind} relay listening on {port}")
        yield publish_port, play_port
    finally:
        stop_process(process)


def describe_status(url: str) -> int | None:
    """The status of a DESCRIBE of `url` (None when the server does not answer)."""
    host, port = url.split("/")[2].split(":")
    request = f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n"
    try:
        with socket.create_connection((host, int(port)), timeout=RTSP_TIMEOUT) as sock:
            sock.sendall(request.encode())
            status_line = sock.recv(4096).split(b"\r\n", 1)[0].split()
    except OSError:
        return None
    return int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else None


@contextlib.contextmanager
def publishing(
    clip: Path, fps: float, publish_port: int, play_port: int, *, audio: bool = False
) -> Iterator[str]:
    """ffmpeg publishing `clip` (raw MJPEG, copied, not re-encoded) in real time and in a
    loop into a relay, with a PCMU tone beside it when `audio`; yield the URL players use,
    once it is mounted. The stream goes on until the block ends."""
    command = ["ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1",
               "-framerate", str(fps), "-f", "mjpeg", "-i", str(clip)]  # fmt: skip
    if audio:
        command += ["-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000"]
        command += ["-shortest"]
        command += ["-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1"]
    command += ["-c:v", "copy", "-f", "rtsp", f"rtsp://127.0.0.1:{publish_port}{MOUNT}"]
    url = f"rtsp://127.0.0.1:{play_port}{MOUNT}"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(
            lambda: process.poll() is not None or describe_status(url) == 200,
            START_TIMEOUT, f"ffmpeg's stream mounted at {url}",
        )  # fmt: skip
        if process.poll() is not None:
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"ffmpeg stopped publishing ({process.returncode}): {stderr}")
        yield url
    finally:
        stop_process(process)


@contextlib.contextmanager
def vlc_serving(clip: Path, fps: float) -> Iterator[str]:
    """VLC streaming `clip` (raw MJPEG) at `fps` through its own RTSP server (`#rtp{sdp=
    rtsp://...}`: UDP only, TCP answered 461), once; yield its URL once it listens. The
    stream starts when VLC does, and a session does not outlive the clip (VLC's `--loop`
    starts a new stream that no session set up hears), so the clip must outlast the play."""
    port = _tcp_port()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        home.chmod(0o755)  # nobody reads the clip and writes its settings here
        served = home / "clip.mjpeg"
        shutil.copyfile(clip, served)
        served.chmod(0o644)
        command = ["vlc", "-I", "dummy", "--no-audio", "--demux=mjpeg",
                   f"--mjpeg-fps={fps}", str(served),
                   "--sout", f"#rtp{{sdp=rtsp://127.0.0.1:{port}{MOUNT}}}"]  # fmt: skip
        if os.geteuid() == 0:
            user, group = UNPRIVILEGED
            shutil.chown(home, user, group)
            command = ["setpriv", f"--reuid={user}", f"--regid={group}", "--clear-groups",
                       *command]  # fmt: skip
        env = {**os.environ, "HOME": str(home)}
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        try:
            _wait_listening(process, port, f"VLC's RTSP server on {port}")
            yield f"rtsp://127.0.0.1:{port}{MOUNT}"
        finally:
            stop_process(process)
