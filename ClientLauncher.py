"""Start the client: `python ClientLauncher.py <server_host> <server_port> <rtp_port> <video_file>`.

With `--headless` there is no window: SETUP, PLAY, receive until `--frames N` complete frames
or the end of the stream (the server's RTCP BYE, or no packet for `--idle` seconds), TEARDOWN,
then ONE line of JSON on stdout with what was received. Exit status 0 when the session ran,
1 with a one-line error on stderr when it could not (server down, 404, port in use, no
transport that works) or could not go on (the server closed the connection while playing, or
was silent for the session's timeout). Every wait is bounded: each request's reply by its
timeout, the stream by its end or the session's timeout.

`--multicast` asks the server for the stream on a multicast group (standard RTSP,
`RTP/AVP;multicast`), joined on `--multicast-interface` (`<rtp_port>` is then not used).
The JSON's `members` and `rtcp_interval_s` are always there: the RTCP session's members
(RFC 3550 §6.3's count, this client included: 2 in unicast, a two-party session) and its
report interval Td in seconds; in multicast, the group's as the stream ended.

A standard RTSP stream with sound (an L16 track beside the video) is played too, in the window
as headless (`rtsplab.player.sound_controls`): through the sound card when there is one
(`--mute`: never), else muted on a stand-in clock, the picture scheduled against the sound's
clock. `--save-audio OUT.wav` writes the sound as played, `--playout-log FILE` one CSV row per
frame shown and per audio packet played, and the JSON gives `sound` ("device", "muted", or null
without sound) and `av_offset_ms`, the sound's lag behind the picture as the rows measure it.
The window writes both at Teardown and at close: a later session's replace an earlier one's.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import ipaddress
import json
import logging
import sys
import time
from typing import Any

from rtsplab.cli import int_in, setup_logging
from rtsplab.client.auth import Login
from rtsplab.client.connection import IDLE_END, RCVBUF_BYTES, ClientError, RtspClient
from rtsplab.client.session import transport_conflict
from rtsplab.player.frame_buffer import DEFAULT_PREFILL, Playback
from rtsplab.player.headless import HeadlessPlayer
from rtsplab.player.report import Sample, StatsLog, sample_of, write_report
from rtsplab.player.sound_track import SoundTrack
from rtsplab.rtp.ports import ANY_INTERFACE

log = logging.getLogger(__name__)

POLL = 0.05
PLAYOUT_LIMIT = 60.0  # seconds the cache may take to play out after the stream: a bound
MAX_PORT = 0xFFFF  # TCP and UDP ports are 16 bits
# The RTP port and RTCP's next to it (RFC 3550 §11), both 16-bit ports, above the well-known
# ones (below 1024 are the system's services, and need root to bind).
MIN_RTP_PORT, MAX_RTP_PORT = 1024, MAX_PORT - 1
CACHE_KEYS = ("shown", "late", "skipped", "underruns", "stall_seconds", "startup_seconds")
# The frame cache of a run that measures its playout (--playout-log) without --buffer: a few
# frames, as little as a LAN's jitter needs, and the sound holds as much.
MEASURING_PREFILL = 5


def run_headless(args: argparse.Namespace) -> int:
    # --buffer N: frames play out of the player's cache by the clock, as in the window.
    prefill = MEASURING_PREFILL if args.buffer is None and args.playout_log else args.buffer
    with contextlib.ExitStack() as resources:
        saved = resources.enter_context(open(args.save, "wb")) if args.save else None
        player = HeadlessPlayer(
            limit=args.frames, saved=saved, prefill=prefill,
            sound=not args.mute if _standard(args) else None, save_audio=args.save_audio,
        )  # fmt: skip
        resources.callback(player.close)
        try:
            client = RtspClient(
                args.server_host, args.server_port, args.rtp_port, args.video_file,
                on_frame=player.sink, rcvbuf=args.rcvbuf,
                rtcp_reduced_minimum=args.rtcp_reduced_minimum,
                standard=args.standard or None, tcp=args.tcp, multicast=args.multicast,
                multicast_interface=args.multicast_interface, idle=args.idle,
                strict_ports=args.strict_ports, audio=player.audio_link(),
                **access_options(args),
            )  # fmt: skip
        except ClientError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        resources.callback(client.close)
        resources.enter_context(player.playing_out())
        stats_log = StatsLog() if args.stats_csv or args.plot else None
        try:
            _stream(client, player, stats_log)
        except ClientError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return _report(client, player, stats_log, args)


def _stream(client: RtspClient, player: HeadlessPlayer, stats_log: StatsLog | None) -> None:
    """SETUP, PLAY, receive until --frames or the end of the stream, let the cache play out,
    TEARDOWN; a row of --stats-csv every POLL seconds. ClientError when the session cannot
    go on (`RtspClient.failure`: the server closed the connection, or is gone)."""
    sink, buffer, track = player.sink, player.buffer, player.track
    player.set_up(client)
    played_at = time.monotonic()

    def sample() -> Sample:
        return sample_of(client.summary(), buffer, time.monotonic() - played_at)

    if stats_log is not None:
        stats_log.add(sample_of(client.summary(), buffer, 0.0))  # the baseline: nothing yet
    played_at = player.play(client)
    while not sink.done.wait(POLL):
        if stats_log is not None:
            stats_log.add(sample())
        if client.stream_over(time.monotonic()):
            break
        failure = client.failure()
        if failure is not None:
            raise failure
    if buffer is not None:  # what is held plays out, to the end
        buffer.end_of_stream(time.monotonic())
        deadline = time.monotonic() + PLAYOUT_LIMIT
        while buffer.state is not Playback.ENDED and time.monotonic() < deadline:
            if sink.done.wait(POLL):
                break
            if stats_log is not None:
                stats_log.add(sample())
    if track is not None:  # and the sound held, to its end
        track.end_of_stream()
        deadline = time.monotonic() + PLAYOUT_LIMIT
        while not track.drained() and time.monotonic() < deadline:
            time.sleep(POLL)
    try:
        client.teardown()  # with the last RR and a BYE, then the sockets close
    except ClientError as exc:  # the session ran; the server may be gone by now
        log.warning("TEARDOWN failed: %s", exc)
    if stats_log is not None:  # the last of it, the packets read at TEARDOWN included
        stats_log.finish(sample())
    if not sink.done.is_set() and client.media is not None:
        client.media.flush()  # the stream ended with a frame incomplete: dropped


def _report(
    client: RtspClient, player: HeadlessPlayer, stats_log: StatsLog | None, args: argparse.Namespace
) -> int:
    """The JSON line, the report files, and the exit status: 1 when no frame came."""
    sink, buffer = player.sink, player.buffer
    summary: dict[str, float | str | None] = {**client.summary(), "frames": sink.delivered}
    summary.update(buffer.stats.summary() if buffer is not None else dict.fromkeys(CACHE_KEYS))
    track = sink.track
    if track is not None:
        summary.update(track.summary())
        if args.playout_log:
            track.log.write(args.playout_log)
    print(json.dumps(summary), flush=True)
    if stats_log is not None:
        write_report(stats_log, args.stats_csv, args.plot)
    if not sink.delivered:
        print(f"error: the session ran but not one frame arrived ({_what_came(summary)})",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _what_came(summary: dict[str, float | str | None]) -> str:
    """What did arrive, for a session that delivered no frame: the likely reason."""
    parts = [f"{summary.get(key) or 0:g} {key.replace('_', ' ')}"
             for key in ("packets", "foreign", "malformed", "malformed_payloads",
                         "dropped_frames")]  # fmt: skip
    return ", ".join(parts)


def run_player(args: argparse.Namespace) -> int:
    from tkinter import Tk

    from Client import Client
    from rtsplab.player.sound_controls import WindowSound

    root = Tk()
    # The sound (standard RTSP's): played as headless plays it.
    track = None
    if _standard(args):
        track = SoundTrack(sound=not args.mute, save_audio=args.save_audio)
    sound = WindowSound(track, args.playout_log)
    if args.geometry:
        root.geometry(args.geometry)
    try:
        Client(root, args.server_host, args.server_port, args.rtp_port, args.video_file,
               prefill=max(1, DEFAULT_PREFILL if args.buffer is None else args.buffer),
               rtcp_reduced_minimum=args.rtcp_reduced_minimum,
               standard=args.standard or None, tcp=args.tcp, stats_csv=args.stats_csv,
               plot=args.plot, multicast=args.multicast,
               multicast_interface=args.multicast_interface,
               strict_ports=args.strict_ports, sound=sound, **access_options(args))  # fmt: skip
    except ClientError as exc:
        sound.close()
        root.destroy()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    root.mainloop()
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="RTSP/RTP MJPEG client (the lab's player).")
    parser.add_argument("server_host", help="the RTSP server's address")
    parser.add_argument("server_port", type=int_in(1, MAX_PORT), help="the RTSP server's port")
    parser.add_argument(
        "rtp_port", type=_rtp_port,
        help=f"local UDP port to receive RTP on, RTCP on the next one: {MIN_RTP_PORT}.."
        f"{MAX_RTP_PORT}, or 0 for any free pair",
    )  # fmt: skip
    parser.add_argument(
        "video_file",
        help="the file to play: movie.Mjpeg (the lab's dialect), or rtsp://host:port/path "
        "(standard RTSP, as ffplay and GStreamer speak it)",
    )
    parser.add_argument(
        "--standard", action="store_true",
        help="standard RTSP for a bare file name too (DESCRIBE, RTP/AVP, RFC 2435)",
    )  # fmt: skip
    parser.add_argument(
        "--tcp", action="store_true",
        help="standard RTSP: RTP interleaved on the RTSP connection instead of UDP",
    )  # fmt: skip
    parser.add_argument(
        "--multicast", action="store_true",
        help="standard RTSP: receive the stream on the multicast group the server chooses "
        "(RTP/AVP;multicast; rtp_port is then not used)",
    )  # fmt: skip
    parser.add_argument(
        "--multicast-interface", metavar="ADDR", type=_ipv4_address, default=None,
        help="with --multicast: the IPv4 address of the interface to join the group on "
        f"({ANY_INTERFACE}: the one the host's routes give the group)",
    )  # fmt: skip
    parser.add_argument("--headless", action="store_true", help="no window; print JSON stats")
    parser.add_argument(
        "--buffer", type=int_in(0), default=None, metavar="N",
        help=f"frames to pre-buffer before playing (the player: {DEFAULT_PREFILL}; 0: none); "
        "with --headless, frames then play out of the same cache by the clock",
    )  # fmt: skip
    parser.add_argument(
        "--stats-csv",
        metavar="FILE",
        help="write one row a second: packets, loss, rate, jitter, RTT, cache",
    )
    parser.add_argument(
        "--plot", metavar="FILE.png", help="draw rate, loss, jitter and cache fill over the session"
    )
    parser.add_argument("--geometry", metavar="WxH", help="player: initial window size")
    parser.add_argument("--frames", type=int, default=0, help="stop after N complete frames")
    parser.add_argument("--save", metavar="OUT", help="write the frames received as raw MJPEG")
    parser.add_argument(
        "--save-audio", metavar="OUT.wav",
        help="write the sound as played (silence where none was) as 16-bit PCM WAV",
    )  # fmt: skip
    parser.add_argument(
        "--playout-log", metavar="FILE",
        help="write a CSV, stream,media_time_s,played_at_s: a row per video frame shown and "
        "per audio packet played (the frames then play out of a cache, as --buffer)",
    )  # fmt: skip
    parser.add_argument(
        "--mute", action="store_true",
        help="never play the sound on the sound card (it is still received, timed and saved)",
    )  # fmt: skip
    parser.add_argument(
        "--idle", type=float, default=IDLE_END,
        help=f"seconds without a packet that end the stream ({IDLE_END:g})",
    )  # fmt: skip
    parser.add_argument(
        "--strict-ports", action="store_true",
        help="take RTP only from the port the server's SETUP reply names (by default, from "
        "any port of the server's address with the SSRC it names: NAT, relays)",
    )  # fmt: skip
    parser.add_argument(
        "--rcvbuf", type=int, default=RCVBUF_BYTES, metavar="BYTES",
        help=f"RTP socket receive buffer to ask for ({RCVBUF_BYTES}; 0: the system default)",
    )  # fmt: skip
    parser.add_argument(
        "--rtcp-reduced-minimum", action="store_true",
        help="report more often than every 5 s: RFC 3550 6.2's 360/kbit/s minimum",
    )  # fmt: skip
    parser.add_argument(
        "--no-retransmission", dest="repair", action="store_false",
        help="do not ask for lost packets again (RTCP NACKs, RFC 4585) where the server "
        "offers to send them: to see what loss does without repair",
    )  # fmt: skip
    parser.add_argument(
        "--user", metavar="NAME",
        help="answer a server that asks for credentials as NAME, the password read from "
        "standard input (or asked for, unechoed); rtsp://NAME:PASSWORD@host/... works too",
    )  # fmt: skip
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="rtsps://: take any certificate (a lab's self-signed one)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print the RTSP dialogue")
    return _checked(parser, parser.parse_args(argv))


def _standard(args: argparse.Namespace) -> bool:
    """Standard RTSP (an rtsp:// URL or --standard): the only dialect with sound."""
    return bool(args.standard) or args.video_file.lower().startswith(("rtsp://", "rtsps://"))


def access_options(args: argparse.Namespace) -> dict[str, Any]:
    """What `RtspClient` takes of --user, --insecure and --no-retransmission."""
    login = None
    if args.user is not None:
        if sys.stdin.isatty():
            password = getpass.getpass(f"password for {args.user}: ")
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        login = Login(args.user, password)
    return {"login": login, "insecure": args.insecure, "repair": args.repair}


def _checked(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """The rules between options; a usage error (exit status 2) for what breaks one."""
    standard = args.standard or args.video_file.lower().startswith(("rtsp://", "rtsps://"))
    conflict = transport_conflict(standard, tcp=args.tcp, multicast=args.multicast)
    if conflict is not None:
        parser.error(conflict)
    if args.multicast_interface is not None and not args.multicast:
        parser.error("--multicast-interface needs --multicast")
    if args.multicast_interface is None:
        args.multicast_interface = ANY_INTERFACE
    return args


def _rtp_port(text: str) -> int:
    """An argparse type: the RTP port, whose next one is RTCP's (RFC 3550 §11), or 0."""
    port = int_in(0)(text)
    if port != 0 and not MIN_RTP_PORT <= port <= MAX_RTP_PORT:
        raise argparse.ArgumentTypeError(
            f"{text}: must be {MIN_RTP_PORT}..{MAX_RTP_PORT} (RTCP takes the next port) or 0"
        )
    return port


def _ipv4_address(text: str) -> str:
    """An argparse type: an IPv4 address, as IP_ADD_MEMBERSHIP names an interface."""
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv4 address") from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run_headless(args) if args.headless else run_player(args)


if __name__ == "__main__":
    sys.exit(main())
