"""The lab's network on purpose (`rtsplab.server.impairment` in the server): what it does is what
RTCP reports, on both sides, and the client's cache absorbs its jitter."""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import time

import pytest
from PIL import Image

from conftest import client_command, running_server
from MakeVideo import make_clip
from relay import LOOPBACK, free_port_pair
from rtsplab.client.connection import RtspClient
from rtsplab.player.report import CSV_COLUMNS, PLOT_COLOURS, panel_boxes
from rtsplab.server.impairment import ImpairmentConfig

END_TIMEOUT = 60.0


class Session:
    """One in-process client session against a server with `impairment`; the worker's link
    and RTCP are kept so that what the impairment did can be set beside what was reported."""

    def __init__(self, clip, impairment, fps, max_packet=1400, sample_jitter=False):
        self.jitter_samples: list[float] = []
        with running_server(clip.parent, fps=fps, max_packet=max_packet) as server:
            server.config.impairment = impairment  # read at each connection
            server.config.rtcp_reduced_minimum = True
            client = RtspClient(LOOPBACK, server.port, free_port_pair(), clip.name,
                                rtcp_reduced_minimum=True)  # fmt: skip
            try:
                client.setup()
                (worker,) = server.active_workers()
                self.link, self.rtcp, self.sender = worker.link, worker.rtcp, worker.session.sender
                client.play()
                # The server's BYE ends it, or, when the lossy link drops the BYE, the
                # client's own rule (its quiet, then a probe the server answers).
                while not (client.ended.wait(0.05) or client.stream_over(time.monotonic())):
                    if sample_jitter and client.media.first_packet_at is not None:
                        self.jitter_samples.append(client.media.receiver.reception.jitter_ms)
                    assert time.monotonic() - client.media.first_packet_at < END_TIMEOUT
                client.teardown()  # the client's last RR, read before the link closes
            finally:
                client.close()
        self.summary = client.summary()


def test_the_loss_the_impairment_makes_is_what_both_sides_report(tmp_path):
    clip = tmp_path / "clip.mjpeg"
    make_clip(clip, 320, 240, 140, fmt="mjpeg")  # ~38 packets of 300 bytes a frame
    run = Session(clip, ImpairmentConfig(loss=5, seed=3550), fps=60, max_packet=300)
    counts, summary, peer = run.link.counts, run.summary, run.rtcp.peer
    handed = counts.sent - counts.duplicated + counts.dropped
    dropped = counts.dropped / handed
    client = summary["lost_packets"] / (summary["packets"] + summary["lost_packets"])
    server = peer.cumulative_lost / run.sender.packets_sent
    print(f"impairment dropped {dropped:.3%} of {handed}; client {client:.3%}, server {server:.3%}")
    assert run.sender.packets_sent >= 5000
    assert 0.04 < dropped < 0.06
    assert client == pytest.approx(dropped, abs=0.01)
    assert server == pytest.approx(dropped, abs=0.01)


def test_the_jitter_the_client_measures_is_what_the_delay_distribution_implies(tmp_path):
    """Each datagram is delayed by d + U(-J, J), independently; a frame's packets leave in one
    burst and frames are 50 ms apart, far more than 2J, so the order rule never holds one back.
    RFC 3550 A.8's D for two frames is then the difference of two independent U(-J, J), whose
    mean absolute value is E|X - Y| = 2J/3; the jitter estimate (a running mean of |D|) must
    be within 25% of it, averaged over the session after its first second."""
    jitter = 15.0
    clip = tmp_path / "clip.mjpeg"
    make_clip(clip, 320, 240, 120, fmt="mjpeg")  # one burst of ~8 packets a frame
    run = Session(clip, ImpairmentConfig(delay=20, jitter=jitter, seed=8), fps=20,
                  sample_jitter=True)  # fmt: skip
    settled = run.jitter_samples[20:]  # 0.05 s apart: after the first second
    measured = statistics.fmean(settled)
    expected = 2 * jitter / 3
    print(f"jitter: measured {measured:.2f} ms, expected 2J/3 = {expected:.2f} ms")
    assert run.link.counts.reordered == 0
    assert measured == pytest.approx(expected, rel=0.25)


@pytest.fixture(scope="module")
def hd_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("network") / "hd.mjpeg"
    make_clip(path, 1280, 720, 75, fmt="mjpeg")  # 2.5 s at 30 fps, ~70 packets a frame
    return path


def headless_through_jitter(clip, *extra):
    """The headless client through --jitter 40 (around --delay 40) at 30 fps: its JSON."""
    with running_server(clip.parent, fps=30) as server:
        server.config.impairment = ImpairmentConfig(delay=40, jitter=40, seed=11)
        command = client_command(server.port, clip.name, *extra)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_cache_of_30_frames_absorbs_40_ms_of_jitter_and_none_does_not(hd_clip):
    cached = headless_through_jitter(hd_clip, "--buffer", "30")
    bare = headless_through_jitter(hd_clip, "--buffer", "0")
    print(f"buffer 30: {cached}\nbuffer 0: {bare}")
    assert (cached["shown"], cached["late"], cached["underruns"]) == (75, 0, 0)
    assert cached["stall_seconds"] == 0.0 and cached["startup_seconds"] > 0.9  # 30 frames: 1 s
    assert bare["late"] > 0 and bare["shown"] + bare["late"] + bare["skipped"] == 75


def test_the_lab_report_has_a_row_a_second_and_a_plot_with_its_four_curves(hd_clip, tmp_path):
    csv_path, png_path = tmp_path / "stats.csv", tmp_path / "stats.png"
    summary = headless_through_jitter(hd_clip, "--buffer", "10", "--stats-csv", str(csv_path),
                                      "--plot", str(png_path))  # fmt: skip
    with csv_path.open(newline="") as rows_file:
        rows = list(csv.reader(rows_file))
    assert tuple(rows[0]) == CSV_COLUMNS
    times = [float(row[0]) for row in rows[1:]]
    assert len(times) >= int(summary["seconds"])  # a row for every second of the session
    assert all(0.9 < b - a < 1.2 for a, b in zip(times, times[1:-1], strict=False))
    assert sum(int(row[1]) for row in rows[1:]) == summary["packets"]
    with Image.open(png_path) as image:
        picture = image.convert("RGB")
    for name, box in panel_boxes(picture.size).items():
        colours = {colour for _, colour in picture.crop(box).getcolors(1 << 20)}
        assert PLOT_COLOURS[name] in colours, f"no {name} curve"
