"""What a broken file costs the server: three DESCRIBEs at once of a 2 GiB file holding a JPEG
header and then zeros with no end (no EOI, no next frame), and the server's peak resident
memory (VmHWM in /proc/<pid>/status) once all three are answered.

    python bench/broken_file_bench.py                 # 2 GiB, three DESCRIBEs
    python bench/broken_file_bench.py --gib 4 --clients 5

The file is sparse (the zeros take no disk) in a temporary folder; the server is Server.py in
its own process. Each DESCRIBE's status and time are printed, then the peak. Linux only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import _checkout  # noqa: F401 (the checkout's root on the path)
from server_bench import ROOT, our_server, proc_status
from session_peer import LOOPBACK, Rtsp
from VideoStream import VideoStream

GIB = 2**30
SOS = b"\xff\xda"  # start of scan (T.81 B.2.3): the header ends with its segment
ANSWER_TIMEOUT = 300.0  # seconds a DESCRIBE may take on a loaded machine
SAMPLE = 0.05  # seconds between two looks at the server's memory


def broken_file(folder: Path, size: int) -> Path:
    """A real frame's header up to its scan, then zeros to `size` bytes: a JPEG with no end."""
    with VideoStream(ROOT / "video" / "hd720.mjpeg") as video:
        frame = video.frame(0)
    sos = frame.index(SOS)
    header = frame[: sos + 2 + int.from_bytes(frame[sos + 2 : sos + 4], "big")]
    path = folder / "broken.mjpeg"
    with open(path, "wb") as out:
        out.write(header)
        out.truncate(size)  # sparse: zeros that take no disk
    return path


def describe(port: int, url: str, answers: list[tuple[str, float]]) -> None:
    start = time.monotonic()
    try:
        rtsp = Rtsp(port)
        rtsp.sock.settimeout(ANSWER_TIMEOUT)
        try:
            rtsp.ask("DESCRIBE", url, "Accept: application/sdp")
            answer = "200"
        finally:
            rtsp.close()
    except (RuntimeError, OSError) as exc:
        answer = str(exc).rsplit(": ", 1)[-1]  # the status line
    answers.append((answer, time.monotonic() - start))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=2.0, help="the file's size in GiB (2)")
    parser.add_argument("--clients", type=int, default=3, help="DESCRIBEs at once (3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = broken_file(Path(folder), int(args.gib * GIB))
        print(f"{path.name}: {path.stat().st_size / GIB:g} GiB, a JPEG header then zeros; "
              f"{args.clients} DESCRIBEs at once")  # fmt: skip
        with our_server(path, 20.0) as (pid, port):
            before = proc_status(pid)
            url = f"rtsp://{LOOPBACK}:{port}/{path.name}"
            answers: list[tuple[str, float]] = []
            threads = [threading.Thread(target=describe, args=(port, url, answers))
                       for _ in range(args.clients)]  # fmt: skip
            for thread in threads:
                thread.start()
            highest = before["VmRSS"]
            while any(thread.is_alive() for thread in threads):
                highest = max(highest, proc_status(pid)["VmRSS"])
                time.sleep(SAMPLE)
            for thread in threads:
                thread.join(ANSWER_TIMEOUT)
            after = proc_status(pid)
    for answer, seconds in sorted(answers, key=lambda a: a[1]):
        print(f"  DESCRIBE: {answer[:70]:<70} after {seconds:6.2f} s")
    print(f"server resident memory: {before['VmRSS'] / 1024:.1f} MB idle, "
          f"{highest / 1024:.1f} MB the most sampled, peak (VmHWM) "
          f"{after['VmHWM'] / 1024:.1f} MB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
