"""RTCP end to end on loopback: loss injected by a relay as both sides report it, Wireshark's
reading of our RTP and RTCP, bad RTCP on both sides, and the server's BYE at the end of file.

The sessions run our Server on a thread and `RtspClient` in this process, with RTCP's reduced
minimum interval (RFC 3550 §6.2) so that reports come every fraction of a second.
"""

import contextlib
import hashlib
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import client_command, frame_hashes, running_server
from helpers import wait_until
from MakeVideo import make_clip
from relay import LOOPBACK, LossyRelay, free_port_pair
from rtsplab.client.connection import RtspClient
from rtsplab.rtcp.compound import encode_compound
from rtsplab.rtcp.reports import ReceiverReport, ReportBlock
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtsp.state import State
from VideoStream import VideoStream

FPS = 60.0  # the lab's 20 fps would only make the tests slow
# A 320x240 test frame is ~11 kB: ~38 packets of 300 bytes, so 120 frames are ~4600 packets
# in two seconds, enough for a loss rate to settle within a percentage point.
SMALL_PACKET = 300
WIDTH, HEIGHT = 320, 240
END_TIMEOUT = 15.0  # seconds for a clip of a few seconds to reach the server's BYE
MAX_U32 = 0xFFFFFFFF


# -- 1. loss, reordering and duplicates through a relay --------------------------------------


def test_five_percent_loss_is_what_the_client_and_the_server_report(tmp_path):
    clip = tmp_path / "clip.mjpeg"
    make_clip(clip, WIDTH, HEIGHT, 120, fmt="mjpeg")
    started = time.monotonic()
    run = relayed_session(tmp_path, clip, seed=3550, drop=0.05)
    elapsed = time.monotonic() - started
    relay, summary, peer, sender = run.relay.counts, run.summary, run.peer, run.sender

    assert relay.received == sender.packets_sent >= 4000  # the relay saw the whole stream
    injected = run.relay.loss_rate
    assert 0.04 < injected < 0.06  # the seeded pattern is what the test says it is
    client_rate = summary["lost_packets"] / (summary["packets"] + summary["lost_packets"])
    server_rate = peer.cumulative_lost / sender.packets_sent
    print(f"loss injected {injected:.4%}, client {summary['fraction_lost']:.4%} "
          f"({client_rate:.4%}), server from RR {server_rate:.4%}; "
          f"{sender.packets_sent} packets in {elapsed:.1f} s")  # fmt: skip
    assert summary["fraction_lost"] == pytest.approx(injected, abs=0.01)
    assert client_rate == pytest.approx(injected, abs=0.01)
    assert server_rate == pytest.approx(injected, abs=0.01)
    # Exactly: a receiver sees every drop below the highest number it got, and nothing else.
    assert summary["lost_packets"] == peer.cumulative_lost == relay.drops_before_highest
    assert summary["packets"] == relay.datagrams_sent
    assert summary["duplicates"] == 0
    check_frames(run)


def test_reordered_and_duplicated_packets_are_counted_and_frames_stay_whole(tmp_path):
    clip = tmp_path / "clip.mjpeg"
    make_clip(clip, WIDTH, HEIGHT, 80, fmt="mjpeg")
    run = relayed_session(tmp_path, clip, seed=1889, drop=0.02, reorder=0.05, duplicate=0.03)
    relay, summary = run.relay.counts, run.summary
    assert relay.dropped and relay.reordered and relay.duplicated  # the pattern did all three
    assert summary["duplicates"] == relay.duplicated
    assert summary["packets"] == relay.datagrams_sent  # duplicates included
    assert summary["lost_packets"] == run.peer.cumulative_lost == relay.drops_before_highest
    check_frames(run)


# -- 2. Wireshark ------------------------------------------------------------------------------

CAPTURE_START_TIMEOUT = 10.0
PROBE_INTERVAL = 0.1
PROBE_BASE_LENGTH = 8
READ_SIZE = 65536
# A report whose length field runs past the datagram (RFC 3550 §6.4.2): the one packet
# Wireshark must flag, which shows that its flagging is switched on and read correctly.
CANARY = b"\x80\xc9\x00\x05" + b"\x00" * 4  # V=2 RC=0 PT=201 length=5 words, 4 bytes follow


def test_wireshark_decodes_every_packet_of_a_session_without_complaint(tmp_path):
    missing = [tool for tool in ("tshark", "dumpcap") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (Debian: apt-get install tshark)")
    clip = tmp_path / "short.mjpeg"
    make_clip(clip, WIDTH, HEIGHT, 20, fmt="mjpeg")
    rtp_port = free_port_pair()
    rtcp_port = rtp_port + 1
    pcap = tmp_path / "session.pcapng"
    with udp_socket() as probe, udp_socket() as canary:
        canary_port = canary.getsockname()[1]
        ports = (rtp_port, rtcp_port, probe.getsockname()[1])
        with capture(pcap, ports, probe) as capturing:
            # Each packet its own send: a capture on loopback sees a GSO burst as one packet
            # (the kernel cuts it after the capture point), and Wireshark would decode only
            # the first of them.
            with rtcp_server(tmp_path, fps=50, gso="off") as server:
                client = RtspClient(LOOPBACK, server.port, rtp_port, clip.name,
                                    rtcp_reduced_minimum=True)  # fmt: skip
                try:
                    client.setup()
                    worker = only(server.active_workers())
                    sender, server_rtcp = worker.session.sender, worker.rtcp.rtcp
                    client.play()
                    canary.sendto(CANARY, (LOOPBACK, rtcp_port))
                    assert client.ended.wait(END_TIMEOUT), "no BYE at the end of the file"
                    # The round trip both ways (RR/LSR/DLSR, RRTR/DLRR) before the capture ends.
                    wait_until(lambda: both_rtts(client, server_rtcp), what="both RTTs")
                    client.teardown()
                finally:
                    client.close()
            assert capturing.sync(), "tshark did not show the last probe"
    summary = client.summary()
    assert summary["frames"] == 20 and summary["lost_packets"] == 0
    media = client.media
    assert (media.rtcp.foreign, media.rtcp.malformed) == (1, 0)  # the canary: not the server's

    # Decode As by port rather than heuristics: RTP to the client's port, RTCP to and from the
    # port above it (the client reports from there to the server's RTCP port, so the one rule
    # covers both directions). The probes to the third port stay plain UDP.
    decode = ["-d", f"udp.port=={rtp_port},rtp", "-d", f"udp.port=={rtcp_port},rtcp"]
    flagged = tshark_fields(pcap, decode, "_ws.malformed || _ws.expert", "udp.srcport")
    assert flagged == [str(canary_port)], "Wireshark flags one of our packets"

    seqs = tshark_fields(pcap, decode, "rtp", "rtp.seq")
    assert len(seqs) == summary["packets"] == sender.packets_sent
    rtcp = tshark_fields(pcap, decode, f"rtcp && udp.srcport != {canary_port}",
                         "udp.srcport", "rtcp.pt")  # fmt: skip
    server_types = {t for line in rtcp if line.startswith(f"{client.media.rtcp_destination[1]}\t")
                    for t in line.split("\t")[1].split(",")}  # fmt: skip
    client_types = {t for line in rtcp if line.startswith(f"{rtcp_port}\t")
                    for t in line.split("\t")[1].split(",")}  # fmt: skip
    assert server_types == {"200", "202", "203", "207"}  # SR, SDES, BYE, XR (DLRR)
    assert client_types == {"201", "202", "203", "207"}  # RR, SDES, BYE, XR (RRTR)

    streams = rtp_streams(pcap, decode)
    print(f"tshark: {len(seqs)} RTP packets, {len(rtcp)} RTCP datagrams; streams {streams}")
    assert streams == [(sender.ssrc, summary["packets"], 0)]


# -- 3. bad RTCP ---------------------------------------------------------------------------------

GARBAGE = [
    b"",  # empty
    b"\x80\xc8\x00",  # 3 bytes: less than a header
    b"\x40\xc9\x00\x01" + b"\x00" * 4,  # an RR with version 1
    b"\x80\xc9\x00\x05" + b"\x00" * 4,  # an RR whose length (24 bytes) runs past the end
    # SDES first: a compound packet must start with SR or RR (RFC 3550 §6.1)
    encode_compound([SourceDescription.cname(1, "x"), ReceiverReport(1)], strict=False),
]
OTHER_HOST = "127.0.0.2"  # on Linux the whole of 127.0.0.0/8 is the loopback interface


def test_bad_rtcp_is_counted_and_skipped_on_both_sides(tmp_path):
    clip = tmp_path / "clip.mjpeg"
    make_clip(clip, WIDTH, HEIGHT, 100, fmt="mjpeg")
    rtp_port = free_port_pair()
    frames = []
    with rtcp_server(tmp_path, fps=50) as server:
        client = RtspClient(LOOPBACK, server.port, rtp_port, clip.name, rtcp_reduced_minimum=True,
                            on_frame=lambda frame, ts: frames.append(frame))  # fmt: skip
        try:
            client.setup()
            server_rtcp = only(server.active_workers()).rtcp.rtcp  # the driver's engine
            client.play()
            wait_until(lambda: len(frames) >= 5, what="the stream to start")
            targets = [client.media.rtcp_destination, (LOOPBACK, rtp_port + 1)]
            # From another address first: skipped before decoding, so never counted.
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
                with contextlib.suppress(OSError):  # where 127.0.0.2 is not local, no stranger
                    stranger.bind((OTHER_HOST, 0))
                    for datagram in GARBAGE:
                        for target in targets:
                            stranger.sendto(datagram, target)
            with udp_socket() as local:
                for datagram in GARBAGE:
                    for target in targets:
                        local.sendto(datagram, target)
            bad = len(GARBAGE)
            # Each side takes RTCP only from the other's RTCP port: what comes from any other
            # port of its address is not even decoded, and counted (forged, foreign).
            media = client.media
            client_rtcp = client._listener.sockets.rtcp  # the client's own RTCP port
            for datagram in GARBAGE:
                client_rtcp.sendto(datagram, media.rtcp_destination)
            wait_until(lambda: (server_rtcp.malformed, server_rtcp.forged >= bad,
                                media.rtcp.foreign >= bad) == (bad, True, True),
                       what="both sides to count the bad datagrams")  # fmt: skip
            assert not client.ended.is_set(), "the clip ended before the garbage was sent"
            report = server_rtcp.peer
            wait_until(lambda: server_rtcp.peer is not report, what="a report after the garbage")
            assert client.ended.wait(END_TIMEOUT), "no BYE at the end of the file"
            client.teardown()
        finally:
            client.close()
    assert (server_rtcp.malformed, client.media.rtcp.malformed) == (len(GARBAGE), 0)
    assert server_rtcp.forged in (bad, 2 * bad)  # with the stranger's, where it could bind
    assert client.media.rtcp.foreign in (bad, 2 * bad)  # with the stranger's, where it could bind
    assert frames == source_frames(clip)
    summary = client.summary()
    assert summary["dropped_frames"] == summary["lost_packets"] == summary["malformed"] == 0


FORGERIES = 5
FORGED_LOSS, FORGED_JITTER = 250, 2_000_000_000  # 98% lost, ~6 hours of jitter at 90 kHz


def test_a_same_host_forgers_reports_never_become_the_clients(tmp_path):
    """RTCP is taken from the client's announced RTCP port only: another port of the same
    host, sending RRs about the server's stream in the client's name with absurd loss and
    jitter, is counted and never read, however often it tries."""
    clip = tmp_path / "clip.mjpeg"
    make_clip(clip, WIDTH, HEIGHT, 150, fmt="mjpeg")
    views = []
    with rtcp_server(tmp_path, fps=30) as server, udp_socket() as forger:
        command = client_command(server.port, clip.name, "--rtcp-reduced-minimum",
                                 rtp_port=free_port_pair())  # fmt: skip
        with headless_client(command) as client:
            wait_until(lambda: session_rtcp(server) is not None, what="the session's RTCP")
            worker = only(server.active_workers())
            server_rtcp, target = worker.rtcp.rtcp, worker.rtcp_socket.getsockname()
            wait_until(lambda: server_rtcp.peer_ssrc is not None, what="the client's report")
            for sent in range(1, FORGERIES + 1):
                honest = server_rtcp.peer
                block = ReportBlock(worker.session.sender.ssrc, fraction_lost=FORGED_LOSS,
                                    cumulative_lost=99_999, jitter=FORGED_JITTER)  # fmt: skip
                forged = encode_compound([ReceiverReport(server_rtcp.peer_ssrc, [block]),
                                          SourceDescription.cname(1, "forger@h")])  # fmt: skip
                forger.sendto(forged, target)
                wait_until(lambda n=sent: server_rtcp.forged == n, what="the forgery counted")
                # The next forgery after the client's next honest report: through the session.
                wait_until(lambda h=honest: server_rtcp.peer is not h, what="an honest report")
                views.append(server_rtcp.peer)
            assert client.poll() is None, "the session ended before the last forgery"
            out, err = client.communicate(timeout=30)
        assert client.returncode == 0, err
        wait_until(lambda: not server.active_workers(), what="the session to close")
    views.append(server_rtcp.peer)
    assert server_rtcp.forged == FORGERIES
    for view in views:
        assert view.fraction_lost == 0 and view.cumulative_lost == 0
        assert view.jitter_ms < 1000  # a loopback's jitter: nothing near the forged hours
    summary = json.loads(out)
    assert summary["frames"] == 150 and summary["lost_packets"] == 0
    assert server_rtcp.peer_left  # the client's own BYE, from its own port, was read


# -- 4. the end of the file ----------------------------------------------------------------------


def test_the_servers_bye_ends_the_video_and_play_starts_it_again(tmp_path):
    clip = tmp_path / "clip.mjpeg"
    make_clip(clip, WIDTH, HEIGHT, 30, fmt="mjpeg")
    source = source_frames(clip)
    frames, ends = [], []
    with rtcp_server(tmp_path, fps=FPS) as server:
        client = RtspClient(LOOPBACK, server.port, free_port_pair(), clip.name,
                            rtcp_reduced_minimum=True, on_end=lambda: ends.append(len(frames)),
                            on_frame=lambda frame, ts: frames.append(frame))  # fmt: skip
        try:
            client.setup()
            worker = only(server.active_workers())
            client.play()
            assert client.ended.wait(END_TIMEOUT), "no BYE at the end of the file"
            assert ends == [len(source)]  # once, with every frame in before it
            assert frames == source
            assert client.state is State.PLAYING  # until the player has played it out
            client.stream_ended()
            assert client.state is State.READY
            # See test_play_right_after_the_bye_starts_the_video_again for why this wait.
            wait_until(lambda: not streaming(worker), what="the server's stream to end")
            client.play()
            assert client.state is State.PLAYING
            assert not client.ended.is_set()  # a new end to come
            assert client.ended.wait(END_TIMEOUT), "no BYE at the end of the second run"
            assert ends == [len(source), 2 * len(source)]
            client.teardown()
        finally:
            client.close()
    assert frames[len(source) :] == source
    summary = client.summary()
    assert summary["dropped_frames"] == summary["lost_packets"] == summary["duplicates"] == 0


LINGER = 0.5  # seconds the server's streaming thread is made to outlive its BYE


def test_play_right_after_the_bye_starts_the_video_again(tmp_path, monkeypatch):
    from rtsplab.server.rtcp import ServerRtcp

    real = ServerRtcp.say_bye

    def lingering(self, reason):
        real(self, reason)
        # What the test is about: the thread that said BYE still busy after it, as a busy
        # machine may make it, when the client's PLAY comes.
        time.sleep(LINGER)

    monkeypatch.setattr(ServerRtcp, "say_bye", lingering)
    clip = tmp_path / "clip.mjpeg"
    make_clip(clip, WIDTH, HEIGHT, 5, fmt="mjpeg")
    frames = []
    with rtcp_server(tmp_path, fps=FPS) as server:
        client = RtspClient(LOOPBACK, server.port, free_port_pair(), clip.name,
                            on_frame=lambda frame, ts: frames.append(frame))  # fmt: skip
        try:
            client.setup()
            client.play()
            assert client.ended.wait(END_TIMEOUT)
            client.stream_ended()
            client.play()  # as a player does at once when the user presses Play
            wait_until(lambda: len(frames) == 10, timeout=LINGER + 1, what="the second run")
        finally:
            client.close()


def test_the_clients_bye_at_teardown_reaches_the_server(tmp_path, monkeypatch):
    from rtsplab.server.rtcp import ServerRtcp

    workers = []
    real = ServerRtcp._drain

    def stalled(self, limit):
        """The server's RTCP thread busy elsewhere (as under load) from PLAY until TEARDOWN
        stops it: it reads nothing until then."""
        if self.stopped:
            real(self, limit)
        else:
            time.sleep(STALL)  # what the test is about: a thread that reads nothing for now

    monkeypatch.setattr(ServerRtcp, "_drain", stalled)
    clip = tmp_path / "clip.mjpeg"
    make_clip(clip, WIDTH, HEIGHT, 5, fmt="mjpeg")
    with rtcp_server(tmp_path, fps=FPS) as server:
        client = RtspClient(LOOPBACK, server.port, free_port_pair(), clip.name,
                            rtcp_reduced_minimum=True)  # fmt: skip
        try:
            client.setup()
            workers.append(only(server.active_workers()))
            server_rtcp = workers[0].rtcp.rtcp  # the driver's engine
            client.play()
            assert client.ended.wait(END_TIMEOUT)
            # RFC 3550 §6.3.7: a participant that never sent RTCP MUST NOT say BYE; wait for
            # the client's first report, so that its TEARDOWN has a BYE to send.
            rtcp = client.media.rtcp
            wait_until(lambda: rtcp.reported, timeout=10, what="the client's first report")
            client.teardown()  # RR+SDES+BYE to the server's RTCP port, then TEARDOWN
        finally:
            client.close()
    assert server_rtcp.peer_left, "the server did not read the client's BYE"


STALL = 0.05  # seconds a stalled select() sleeps before saying nothing arrived


def test_the_headless_client_says_bye_at_teardown(tmp_path):
    clip = tmp_path / "clip.mjpeg"
    make_clip(clip, WIDTH, HEIGHT, 30, fmt="mjpeg")
    with rtcp_server(tmp_path, fps=FPS) as server:
        command = client_command(server.port, clip.name, "--rtcp-reduced-minimum",
                                 rtp_port=free_port_pair())  # fmt: skip
        with headless_client(command) as client:
            wait_until(lambda: session_rtcp(server) is not None, what="the session's RTCP")
            server_rtcp = session_rtcp(server)
            _, err = client.communicate(timeout=30)
        assert client.returncode == 0, err
        wait_until(lambda: not server.active_workers(), what="the session to close")
    assert server_rtcp.peer is not None  # its reports did arrive
    assert server_rtcp.peer_left, "the server got no BYE from the client"


# -- helpers -------------------------------------------------------------------------------------


def both_rtts(client, server_rtcp) -> bool:
    peer = server_rtcp.peer
    return client.media.rtcp.rtt is not None and peer is not None and peer.rtt_ms is not None


def streaming(worker) -> bool:
    """Whether the server's pacing loop still runs this worker's stream (its BYE to come)."""
    stream = worker.stream
    return stream is not None and stream.active


def session_rtcp(server):
    """The server's SenderRtcp of its one session, once SETUP has made it (a connection's
    worker comes before its SETUP, the RTCP driver with it)."""
    workers = server.active_workers()
    driver = workers[0].rtcp if workers else None
    return None if driver is None else driver.rtcp


def only(items):
    assert len(items) == 1, items
    return items[0]


@contextlib.contextmanager
def rtcp_server(root, fps, max_packet=1400, **options):
    """`running_server` with RTCP's reduced minimum interval, as the clients here ask too."""
    with running_server(root, fps=fps, max_packet=max_packet, **options) as server:
        server.config.rtcp_reduced_minimum = True  # read at each SETUP
        yield server


@contextlib.contextmanager
def headless_client(command):
    """The headless client as a process, killed on the way out if it still runs: a test
    that fails part way leaves nothing behind."""
    client = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield client
    finally:
        if client.poll() is None:
            client.kill()
            client.communicate()


@contextlib.contextmanager
def udp_socket(host=LOOPBACK):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        yield sock


def source_frames(path) -> list[bytes]:
    with VideoStream(path) as video:
        return [video.frame(i) for i in range(video.frame_count)]


class RelayedRun:
    """What one session through a `LossyRelay` left: the relay's counts, the client's summary
    (its assembler flushed), the server's last word from the client's reports, the frames."""

    def __init__(self, relay, summary, peer, sender, frames, clip):
        self.relay, self.summary, self.peer, self.sender = relay, summary, peer, sender
        self.frames, self.clip = frames, clip


def relayed_session(tmp_path, clip, *, seed, **impairments) -> RelayedRun:
    """Stream `clip` to an in-process client through a relay that drops, reorders and
    duplicates RTP; return once the server has the client's final reception report."""
    client_port = free_port_pair()
    frames = []
    with (
        rtcp_server(tmp_path, fps=FPS, max_packet=SMALL_PACKET) as server,
        LossyRelay(client_port, seed=seed, **impairments) as relay,
    ):
        # No repair (RFC 4585 NACKs): what is counted here is the relay's doing alone.
        client = RtspClient(LOOPBACK, server.port, client_port, clip.name,
                            rtcp_reduced_minimum=True, announce_port=relay.port, repair=False,
                            on_frame=lambda frame, ts: frames.append(frame))  # fmt: skip
        try:
            client.setup()
            worker = only(server.active_workers())
            server_rtcp, sender = worker.rtcp.rtcp, worker.session.sender
            client.play()
            assert client.ended.wait(END_TIMEOUT), "no BYE at the end of the file"
            # Every RTP packet is in by the BYE (the relay sends what it holds first), so the
            # client's next regular report is its last word; wait for the server to have it.
            final = client.media.receiver.reception
            wait_until(
                lambda: (
                    server_rtcp.peer is not None
                    and server_rtcp.peer.highest_seq == final.extended_max & MAX_U32
                    and server_rtcp.peer.cumulative_lost == final.cumulative_lost
                ),
                what="the client's final reception report at the server",
            )
            client.teardown()
        finally:
            client.close()
        client.media.receiver.flush()  # a last frame left incomplete counts as dropped
        return RelayedRun(relay, client.summary(), server_rtcp.peer, sender, frames, clip)


def check_frames(run: RelayedRun) -> None:
    """Exactly the frames the relay passed whole are delivered, byte-identical and in order;
    every other frame is counted dropped, unless every one of its packets was dropped."""
    source = frame_hashes(run.clip)
    assert len(set(source)) == len(source)  # each frame's bytes tell which frame it is
    index = {digest: i for i, digest in enumerate(source)}
    delivered = [index.get(hashlib.sha256(frame).hexdigest(), -1) for frame in run.frames]
    assert -1 not in delivered, "a frame that is not byte-identical to any source frame"
    counts = run.relay.counts
    assert len(counts.frames) == len(source)  # one RTP timestamp per frame sent
    intact = counts.frames_where(lambda got, lost: lost == 0)
    damaged = counts.frames_where(lambda got, lost: 0 < lost < got)
    vanished = counts.frames_where(lambda got, lost: lost == got)
    assert delivered == intact  # in order, and none with a missing fragment
    assert damaged, "no frame was damaged: the check had nothing to catch"
    summary = run.summary
    assert summary["frames"] == len(run.frames)
    assert summary["dropped_frames"] == len(damaged)
    assert summary["frames"] + summary["dropped_frames"] == len(source) - len(vanished)


# -- tshark ----------------------------------------------------------------------------------


class capture:  # noqa: N801 (a context manager, used like open)
    """`tshark -i lo` writing `path`, for UDP to or from `ports`; the last port is `probe`'s.

    tshark says "Capturing on" a moment before it captures, so instead the probe sends itself
    datagrams until tshark prints one (-P): from then on capture is running. `sync()` does the
    same at the end, so that every packet sent before is known to be in the file. Skips the
    test when capture is not allowed.
    """

    def __init__(self, path, ports, probe):
        self.probe = probe
        self.probe_port = probe.getsockname()[1]
        self.syncs = 0
        self.output = b""
        filter_ = " or ".join(f"udp port {port}" for port in ports)
        # -P -l: print each packet as it is written, line by line, to see the probes arrive.
        self.proc = subprocess.Popen(
            ["tshark", "-i", "lo", "-f", filter_, "-w", str(path), "-P", "-l"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.stopped = False

    def __enter__(self):
        try:
            running = self.sync()
        except BaseException:
            self.stop()
            raise
        if not running:
            err = self.stop()
            pytest.skip(f"cannot capture on lo with tshark: {err.strip()[-300:]}")
        return self

    def __exit__(self, *exc):
        self.stop()

    def sync(self, timeout=CAPTURE_START_TIMEOUT) -> bool:
        """Probe until tshark shows a probe of this call's own length; False on timeout."""
        self.syncs += 1
        payload = b"p" * (PROBE_BASE_LENGTH + self.syncs)  # tells this call's probes apart
        seen = re.compile(rf"\b{self.probe_port}\b.*\b{self.probe_port}\b.*Len={len(payload)}\b")
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        next_probe = 0.0
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while (now := time.monotonic()) < deadline and self.proc.poll() is None:
                if now >= next_probe:
                    self.probe.sendto(payload, (LOOPBACK, self.probe_port))
                    next_probe = now + PROBE_INTERVAL
                if selector.select(PROBE_INTERVAL):
                    self.output += os.read(fd, READ_SIZE)
                    if seen.search(self.output.decode("utf-8", "replace")):
                        return True
        return False

    def stop(self) -> str:
        """Stop tshark (SIGINT: it closes the file properly); return what it said on stderr."""
        if self.stopped:
            return ""
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err.decode("utf-8", "replace")


def tshark_fields(pcap, decode, display_filter, *fields) -> list[str]:
    """One line per packet matching `display_filter`: its `fields`, tab-separated."""
    command = ["tshark", "-r", str(pcap), *decode, "-Y", display_filter, "-T", "fields"]
    for name in fields:
        command += ["-e", name]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line.strip()]


# A row of `tshark -z rtp,streams`: ... SSRC  Payload  Pkts  Lost (percent) ...
STREAM_ROW = re.compile(r"\b0x([0-9A-Fa-f]{8})\s+\S+\s+(\d+)\s+(-?\d+)\s+\(")


def rtp_streams(pcap, decode) -> list[tuple[int, int, int]]:
    """(SSRC, packets, lost) for each RTP stream in the capture, as tshark counts them."""
    command = ["tshark", "-r", str(pcap), *decode, "-q", "-z", "rtp,streams"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "RTP Streams" in done.stdout, done.stdout
    return [
        (int(ssrc, 16), int(packets), int(lost))
        for ssrc, packets, lost in STREAM_ROW.findall(done.stdout)
    ]
