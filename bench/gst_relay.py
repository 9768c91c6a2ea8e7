"""GStreamer's gst-rtsp-server as a relay in front of our server: it pulls one stream from
ours and serves it again to every client of its own, so a class larger than one machine
costs our server one session per relay.

    /usr/bin/python3 bench/gst_relay.py rtsp://SERVER:8554/movie.Mjpeg --port 8555
    ffplay rtsp://RELAY:8555/class

Run with Debian's python3 (it imports ``gi``: apt install python3-gi gstreamer1.0-rtsp
gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good). The media is shared: the first
client's PLAY makes the relay pull from ours (``rtspsrc ! rtpjpegdepay ! rtpjpegpay``, the
frames taken whole and cut again for RFC 2435), later clients join that one pull, and it
stops when the last leaves. Standalone on purpose, like ``tests/gst_rtsp_server.py``: a
different interpreter from the project's.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PT_JPEG = 26  # RFC 3551 static payload type for JPEG
LATENCY_MS = 200  # rtspsrc's jitter buffer: what the relay holds back to reorder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="our stream, rtsp://SERVER:PORT/FILE")
    parser.add_argument("--port", type=int, default=8555, help="the relay's RTSP port (8555)")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (all)")
    parser.add_argument("--mount", default="/class", help="the relay's path (/class)")
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( rtspsrc location={args.source} latency={LATENCY_MS} protocols=udp "
        f"! rtpjpegdepay ! rtpjpegpay name=pay0 pt={PT_JPEG} )"
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory(args.mount, factory)
    server.attach(None)
    print(f"READY rtsp://{args.host}:{args.port}{args.mount}", flush=True)
    loop = GLib.MainLoop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
