"""GStreamer's RTSP server (tests/gst_rtsp_server.py) for tests: is it there, and run it.

    reason = gst_available()          # None, or why it cannot run: pytest.skip(reason)
    with gst_rtsp_server(clip, fps=20) as url:
        ...                           # rtsp://127.0.0.1:PORT/clip, serving until the block ends

The server runs under Debian's /usr/bin/python3, which has ``gi`` (python3-gi), not under
the project's python (a pyenv or venv one usually has no ``gi``). It is started with
``-I`` (isolated), so PYTHONPATH, PYTHONHOME and user site-packages meant for the project's
python do not leak into it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import selectors
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from netns import stop_process

__all__ = ["GST_PYTHON", "SCRIPT", "GstServerError", "gst_available", "gst_rtsp_server"]

GST_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).resolve().parent / "gst_rtsp_server.py"

PACKAGES = (
    "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-base "
    "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
)
# Every element the server's launch line needs, with the package that has it.
ELEMENTS = {
    "appsrc": "gstreamer1.0-plugins-base",
    "jpegparse": "gstreamer1.0-plugins-bad",
    "rtpjpegpay": "gstreamer1.0-plugins-good",
}
_PROBE = f"""
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [n for n in {sorted(ELEMENTS)!r} if Gst.ElementFactory.find(n) is None]
print(" ".join(missing))
"""

PROBE_TIMEOUT = 30.0  # seconds: importing gi and loading the plugin registry the first time
READY_TIMEOUT = 15.0  # seconds for the server to print READY
STOP_TIMEOUT = 5.0  # seconds after SIGTERM before SIGKILL
READY_PREFIX = "READY "
STDERR_SHOWN = 2000  # bytes of the server's stderr quoted in an error
READ_SIZE = 4096


class GstServerError(RuntimeError):
    """The GStreamer RTSP server did not start."""


@functools.cache
def gst_available() -> str | None:
    """None if the GStreamer RTSP server can run here, else the reason (for pytest.skip)."""
    try:
        done = subprocess.run(
            [GST_PYTHON, "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
        )
    except FileNotFoundError:
        return f"{GST_PYTHON} not found: apt install python3 {PACKAGES}"
    except subprocess.TimeoutExpired:
        return f"{GST_PYTHON} took over {PROBE_TIMEOUT:g} s to import gi/GstRtspServer"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no error output"])[-1]
        return f"{GST_PYTHON} cannot import gi/GstRtspServer ({last}): apt install {PACKAGES}"
    missing = done.stdout.split()
    if missing:
        packages = " ".join(sorted({ELEMENTS[name] for name in missing}))
        return f"GStreamer elements missing: {', '.join(missing)}: apt install {packages}"
    return None


@contextlib.contextmanager
def gst_rtsp_server(
    clip: Path,
    fps: float,
    *,
    mount: str = "/clip",
    timeout: float = READY_TIMEOUT,
    extra: tuple[str, ...] = (),
) -> Iterator[str]:
    """Serve ``clip`` (raw MJPEG) with gst-rtsp-server at ``fps``; yield its rtsp:// URL.
    ``extra`` options go to the script (``--pt 96``, ``--raw``).

    The server binds a free port itself (``--port 0``) and names it in its READY line, so
    no other process can take the port between choosing and binding it. Raises
    GstServerError, with the server's stderr, if READY does not come within ``timeout``
    seconds. On exit the server gets SIGTERM, then SIGKILL after STOP_TIMEOUT seconds.
    """
    command = [GST_PYTHON, "-I", str(SCRIPT), "--port", "0", "--clip", str(clip)]
    command += ["--fps", repr(float(fps)), "--mount", mount, *extra]
    # stderr goes to a file: a pipe nobody reads could fill up and stall GStreamer's log.
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr)
        try:
            yield _wait_ready(process, stderr, timeout)
        finally:
            stop_process(process)


def _wait_ready(process: subprocess.Popen[bytes], stderr: IO[bytes], timeout: float) -> str:
    """The URL from the server's READY line; or stop it and raise with its stderr."""
    deadline = time.monotonic() + timeout
    out = b""
    ended = False
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in out and (left := deadline - time.monotonic()) > 0:
            if selector.select(left):
                chunk = os.read(process.stdout.fileno(), READ_SIZE)
                if not chunk:  # the server closed stdout: it is exiting
                    ended = True
                    break
                out += chunk
    line = out.decode(errors="replace").partition("\n")[0]
    if line.startswith(READY_PREFIX) and b"\n" in out:
        return line[len(READY_PREFIX) :].strip()
    if ended:  # let it finish exiting, for its own exit status rather than SIGTERM's
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
    stop_process(process)
    stderr.seek(0)
    said = stderr.read()[-STDERR_SHOWN:].decode(errors="replace").strip() or "no error output"
    if ended:
        what = f"exited with status {process.returncode} before READY"
    elif b"\n" in out:
        what = f"printed {line[:200]!r} instead of READY"
    else:
        what = f"not READY after {timeout:g} s"
    raise GstServerError(f"gst_rtsp_server.py {what}: {said}")
