"""A third-party RTSP server for tests: GStreamer's gst-rtsp-server playing an MJPEG clip.

    /usr/bin/python3 tests/gst_rtsp_server.py --port 8554 --clip clip.mjpeg --fps 20

Run with Debian's python3 (it imports ``gi``: apt install python3-gi gstreamer1.0-rtsp
gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good). The clip is raw concatenated JPEG
(``MakeVideo.py ... fmt="mjpeg"``); every frame goes out as RFC 2435 RTP/JPEG, payload
type 26, from frame 0 for each client (the media is not shared), then end-of-stream,
after which gst-rtsp-server sends RTCP BYE.

With ``--avpf`` the clip is offered under RTP/AVPF alone, with retransmission (RFC 4585,
RFC 4588): ``m=video 0 RTP/AVPF 26 96``, and a SETUP for RTP/AVP is answered 461.

With ``--audio RATE`` the media has sound too, as a second track: ticks (GStreamer's
``audiotestsrc wave=ticks``: a short tone at the start of every second, from 0) as L16 at
RATE Hz and ``--channels`` (1), payload type 97, 20 ms packets, as long as the clip. Both
tracks start at time 0 of one pipeline, so a tick goes with every ``--fps``-th frame
(frame 0, fps, 2 fps...): an A/V test source. The SDP then has ``m=audio 0 RTP/AVP 97`` with
``a=rtpmap:97 L16/RATE/CHANNELS``, and PLAY's RTP-Info names both tracks.

With ``--multicast GROUP`` the clip is also offered as multicast (RFC 2326 §12.39,
``RTP/AVP;multicast``): an address pool of that one group, RTP on ``--multicast-port`` (an
even port, 5000) and RTCP on the next, ``--ttl`` 1; unicast UDP and TCP stay offered. The
media is then shared, as a multicast stream must be: it starts at the first PLAY, every
client hears the same packets from the one SSRC (its SETUP reply names none), and a client
that joins late misses what went before. gst-rtsp-server sends its SRs, and its BYE at the
end, to the group too. It binds the group's two ports on 0.0.0.0 without SO_REUSEADDR, so
no receiver on its own host can bind them: run the receivers on another (namespace).

Once the server listens it prints one line, ``READY rtsp://127.0.0.1:PORT/clip``, on
stdout; ``--port 0`` takes any free port and the line names the one bound. It serves on
127.0.0.1 only (``--host ADDR``: on that address instead, e.g. inside a test's network
namespace), until SIGTERM or SIGINT.

The script is standalone on purpose (it runs under a different interpreter from the
project's, without the project's modules): the JPEG walk below is a small copy of
``rtsplab.payload.jpeg.frame_end`` without its error reporting.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
from fractions import Fraction
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstRtsp", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

logger = logging.getLogger("gst_rtsp_server")

HOST = "127.0.0.1"
DEFAULT_MOUNT = "/clip"
PT_JPEG = 26  # RFC 3551 static payload type for JPEG
# RFC 3550 §11: RTP on an even port, RTCP on the next; 5000 is gst-rtsp-server's own example.
DEFAULT_MULTICAST_PORT = 5000
DEFAULT_TTL = 1  # the group stays on the link: tests run on one host's loopback
MAX_PORT = 0xFFFF
# How long a sent packet stays retransmittable with --avpf: a few loopback round trips.
RETRANSMISSION_TIME = 200 * 1_000_000  # ns (Gst.MSECOND)
PT_L16 = 97  # a dynamic payload type (RFC 3551 §6) for the ticks' L16
PTIME_NS = 20 * 1_000_000  # 20 ms audio packets (RFC 3551 §4.2's default)
# Room for 20 ms of 48 kHz stereo L16 (3840 bytes) and the RTP header: else the payloader cuts
# packets to its 1400-byte default and they are shorter than 20 ms.
AUDIO_MTU = 4096
MAX_TTL = 0xFF
# The largest fps denominator kept when a float rate becomes caps' fraction (29.97 -> 30000/1001).
MAX_FPS_DENOMINATOR = 1001

# JPEG markers (ITU-T T.81 Table B.1).
SOI = b"\xff\xd8"
EOI = 0xD9
SOS = 0xDA
RST0, RST7 = 0xD0, 0xD7
TEM = 0x01
SOF_CODES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # DHT, JPG, DAC are not SOFn
# Inside entropy-coded data 0xFF is followed by 0x00 (stuffing) or RST0..7 (T.81 F.1.2.3);
# anything else starts the next marker.
ENTROPY_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")
# SOFn segment after its length: precision (1 byte), lines Y (2), samples per line X (2).
SOF_HEIGHT = slice(1, 3)
SOF_WIDTH = slice(3, 5)


class ClipError(ValueError):
    """A clip that is not raw concatenated JPEG (the message says where it goes wrong)."""


def jpeg_frames(data: bytes) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """(start, end) of every whole JPEG in raw concatenated MJPEG, and the first's (w, h)."""
    frames: list[tuple[int, int]] = []
    size: tuple[int, int] | None = None
    start = 0
    while data.startswith(SOI, start):
        pos = start + len(SOI)
        while True:
            if data[pos : pos + 1] != b"\xff":
                raise ClipError(f"frame {len(frames)}: no marker at offset {pos}")
            while data[pos : pos + 1] == b"\xff":  # fill bytes before the marker code
                pos += 1
            if pos >= len(data):
                raise ClipError(f"frame {len(frames)}: truncated at offset {pos}")
            code = data[pos]
            pos += 1
            if code == EOI:
                break
            if code == TEM or RST0 <= code <= RST7:  # standalone: no length field
                continue
            segment = data[pos + 2 : pos + int.from_bytes(data[pos : pos + 2], "big")]
            if code in SOF_CODES and size is None:
                size = (
                    int.from_bytes(segment[SOF_WIDTH], "big"),
                    int.from_bytes(segment[SOF_HEIGHT], "big"),
                )
            pos += 2 + len(segment)
            if code == SOS:
                found = ENTROPY_END.search(data, pos)
                if found is None:
                    raise ClipError(f"frame {len(frames)}: truncated scan")
                pos = found.start()
        frames.append((start, pos))
        start = pos
    if start != len(data) or not frames or size is None:
        raise ClipError(f"not raw MJPEG: {len(frames)} whole frames, then junk at offset {start}")
    return frames, size


class ClipFactory:
    """A media factory whose every client gets the clip from frame 0, timestamped at fps."""

    def __init__(
        self, data: bytes, frames: list[tuple[int, int]], size: tuple[int, int], fps: float,
        pt: int = PT_JPEG, raw: bool = False, audio: tuple[int, int] | None = None,
    ):  # fmt: skip
        self.data, self.frames = data, frames
        rate = Fraction(fps).limit_denominator(MAX_FPS_DENOMINATOR)
        # A frame's duration in ns, from the same fraction the caps announce.
        self.duration = Gst.util_uint64_scale(Gst.SECOND, rate.denominator, rate.numerator)
        width, height = size
        # filesrc ! jpegparse would give buffers without timestamps: appsrc pushes each
        # frame with pts = i * duration, so the RTP timestamps advance by 90000 / fps.
        framerate = f"{rate.numerator}/{rate.denominator}"
        caps = f"image/jpeg,framerate={framerate},width={width},height={height}"
        self.factory = GstRtspServer.RTSPMediaFactory()
        # --raw: the same frames decoded and sent as RFC 4175 raw video, which our client
        # must refuse at DESCRIBE; else RFC 2435 JPEG under payload type `pt`.
        payloader = (
            f"jpegdec ! videoconvert ! rtpvrawpay name=pay0 pt={pt}"
            if raw
            else f"jpegparse ! rtpjpegpay name=pay0 pt={pt}"
        )
        sound = ""
        if audio is not None:
            rate, channels = audio
            per_buffer = rate * PTIME_NS // Gst.SECOND
            buffers = -(-len(frames) * self.duration // (per_buffer * Gst.SECOND // rate))
            sound = (
                f" audiotestsrc wave=ticks is-live=false samplesperbuffer={per_buffer}"
                f" num-buffers={buffers} ! audio/x-raw,rate={rate},channels={channels}"
                f" ! audioconvert ! rtpL16pay name=pay1 pt={PT_L16}"
                f" min-ptime={PTIME_NS} max-ptime={PTIME_NS} mtu={AUDIO_MTU}"
            )
        self.factory.set_launch(
            f"( appsrc name=src is-live=false format=time do-timestamp=false caps={caps}"
            f" ! {payloader}{sound} )"
        )
        self.factory.set_shared(False)
        self.factory.connect("media-configure", self._on_media_configure)

    def offer_multicast(self, group: str, port: int, ttl: int) -> None:
        """Offer the clip on `group` (RTP on `port`, RTCP on `port + 1`) beside unicast.

        One shared media for every client: a multicast group carries one stream."""
        pool = GstRtspServer.RTSPAddressPool()
        if not pool.add_range(group, group, port, port + 1, ttl):
            raise ValueError(f"cannot make an address pool of {group} ports {port}-{port + 1}")
        self.factory.set_address_pool(pool)
        lower = GstRtsp.RTSPLowerTrans
        self.factory.set_protocols(lower.UDP_MCAST | lower.UDP | lower.TCP)
        self.factory.set_shared(True)

    def offer_avpf_only(self) -> None:
        """Offer RTP/AVPF alone (RFC 4585), with retransmission (RFC 4588): the SDP's media
        line reads ``RTP/AVPF 26 96`` (96 the rtx type) and a SETUP asking for RTP/AVP is
        refused with 461."""
        self.factory.set_profiles(GstRtsp.RTSPProfile.AVPF)
        self.factory.set_retransmission_time(RETRANSMISSION_TIME)

    def _on_media_configure(self, _factory, media) -> None:
        appsrc = media.get_element().get_by_name_recurse_up("src")
        appsrc.connect("need-data", self._on_need_data, [0])  # this client's next frame
        logger.info("new media: %d frames", len(self.frames))

    def _on_need_data(self, appsrc, _length, next_frame: list[int]) -> None:
        index = next_frame[0]
        if index >= len(self.frames):
            appsrc.emit("end-of-stream")
            return
        start, end = self.frames[index]
        buffer = Gst.Buffer.new_wrapped(self.data[start:end])
        buffer.pts = index * self.duration
        buffer.duration = self.duration
        next_frame[0] = index + 1
        appsrc.emit("push-buffer", buffer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port; 0 for any free one")
    parser.add_argument("--clip", type=Path, required=True, help="raw concatenated JPEG")
    parser.add_argument("--fps", type=float, required=True)
    parser.add_argument("--host", default=HOST, help=f"the address to serve on ({HOST})")
    parser.add_argument("--mount", default=DEFAULT_MOUNT)
    parser.add_argument("--pt", type=int, default=PT_JPEG, help="RTP payload type (26)")
    parser.add_argument("--raw", action="store_true", help="send raw video (rtpvrawpay)")
    parser.add_argument("--avpf", action="store_true", help="offer RTP/AVPF alone, with rtx")
    parser.add_argument("--multicast", metavar="GROUP", help="offer multicast on GROUP too")
    parser.add_argument("--audio", type=int, metavar="RATE", help="ticks as L16 at RATE Hz too")
    parser.add_argument("--channels", type=int, default=1, help="the ticks' channels (1)")
    parser.add_argument(
        "--multicast-port", type=int, default=DEFAULT_MULTICAST_PORT,
        help=f"the group's RTP port, RTCP on the next ({DEFAULT_MULTICAST_PORT})",
    )  # fmt: skip
    parser.add_argument(
        "--ttl", type=int, default=DEFAULT_TTL, help=f"the group's TTL ({DEFAULT_TTL})"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="gst_rtsp_server: %(message)s",
    )
    if args.fps <= 0:
        parser.error(f"--fps {args.fps}: must be positive")
    if not args.mount.startswith("/"):
        parser.error(f"--mount {args.mount!r}: must start with /")
    if not (0 < args.multicast_port < MAX_PORT and args.multicast_port % 2 == 0):
        parser.error(f"--multicast-port {args.multicast_port}: an even port below {MAX_PORT}")
    if not 0 <= args.ttl <= MAX_TTL:
        parser.error(f"--ttl {args.ttl}: must be 0..{MAX_TTL}")
    try:
        data = args.clip.read_bytes()
        frames, size = jpeg_frames(data)
    except (OSError, ClipError) as e:
        parser.error(f"{args.clip}: {e}")
    logger.info("%s: %d frames of %dx%d at %s fps", args.clip, len(frames), *size, args.fps)

    Gst.init(None)
    audio = None if args.audio is None else (args.audio, args.channels)
    clip = ClipFactory(data, frames, size, args.fps, args.pt, args.raw, audio)
    if args.avpf:
        clip.offer_avpf_only()
    if args.multicast:
        try:
            clip.offer_multicast(args.multicast, args.multicast_port, args.ttl)
        except ValueError as e:
            parser.error(str(e))
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    server.get_mount_points().add_factory(args.mount, clip.factory)
    if server.attach(None) == 0:
        logger.error("cannot listen on %s:%d", args.host, args.port)
        return 1

    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    # The parent waits for this line: it is the script's interface, not a log message.
    print(f"READY rtsp://{args.host}:{server.get_bound_port()}{args.mount}", flush=True)
    loop.run()
    logger.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
