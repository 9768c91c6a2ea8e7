"""The demo: a server and a client on one machine, playing a sample video.

    python Demo.py                      # the Tk player on video/movie.Mjpeg
    python Demo.py --video hd720.mjpeg  # another file from video/
    python Demo.py --headless           # no window: stream it and print the client's JSON

The server runs on a thread of this process on a free loopback port; the client is the same
`Client` the lab's `ClientLauncher.py` starts. Closing the window ends both.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from ClientLauncher import parse_args as client_args
from ClientLauncher import run_headless, run_player
from rtsplab.cli import free_port, positive, setup_logging
from rtsplab.server.session import StreamConfig
from Server import Server

ROOT = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Server and client on a sample video.")
    parser.add_argument("--video", default="movie.Mjpeg", help="file in video/ (movie.Mjpeg)")
    parser.add_argument("--fps", type=positive, default=20.0, help="frames per second (20)")
    parser.add_argument("--headless", action="store_true", help="no window: print JSON stats")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the RTSP dialogue")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    server = Server(0, StreamConfig(ROOT, args.fps), host="127.0.0.1")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = client_args(
        ["127.0.0.1", str(server.port), str(free_port()), args.video]
        + (["--headless"] if args.headless else [])
    )
    try:
        return run_headless(client) if args.headless else run_player(client)
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
