"""What a student sees in Wireshark: a capture on `lo` of a default lab run (Server.py and the
headless client, each its own process) holds every RTP packet the client received, one
datagram each, and tshark's RTP analysis finds none lost. With `--gso on` the capture sees
each batched burst as one datagram: the reason a session or a handful is sent packet by
packet."""

import json
import socket
import subprocess
import sys

import pytest

from conftest import ROOT, client_command, free_port
from helpers import wait_until
from MakeVideo import make_clip
from relay import LOOPBACK, free_port_pair
from rtsplab.server.udp_out import gso_available
from test_rtcp_end_to_end import capture, rtp_streams

FRAMES = 30  # 1.5 s at the lab's 20 fps
START_TIMEOUT = 20.0
RUN_TIMEOUT = 60.0
# tshark sees UDP on any port as RTP when its header says so (RFC 3550 §5.1).
HEURISTIC_RTP = ["-o", "rtp.heuristic_rtp:TRUE"]


def lab_run(tmp_path, *server_options):
    """One lab session of a 640x480 clip to its end, captured on lo: (the client's JSON
    summary, tshark's (SSRC, packets, lost) for each RTP stream in the capture)."""
    clip = tmp_path / "clip.Mjpeg"
    make_clip(clip, 640, 480, FRAMES, fmt="lab")
    port, rtp_port = free_port(socket.SOCK_STREAM), free_port_pair()
    pcap, log = tmp_path / "lab.pcapng", tmp_path / "server.log"
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe,
        open(log, "w") as log_file,
    ):
        probe.bind((LOOPBACK, 0))
        with capture(pcap, (rtp_port, rtp_port + 1, probe.getsockname()[1]), probe) as tshark:
            server = subprocess.Popen(
                [sys.executable, str(ROOT / "Server.py"), str(port), "--root", str(tmp_path),
                 "--host", LOOPBACK, *server_options],
                stderr=log_file,
            )  # fmt: skip
            try:
                wait_until(lambda: "serving" in log.read_text(), START_TIMEOUT, "the server")
                done = subprocess.run(
                    client_command(port, clip.name, rtp_port=rtp_port),
                    capture_output=True, text=True, timeout=RUN_TIMEOUT,
                )  # fmt: skip
            finally:
                server.terminate()
                server.wait(timeout=START_TIMEOUT)
            assert tshark.sync(), "tshark did not show the last probe"
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), rtp_streams(pcap, HEURISTIC_RTP), log.read_text()


def only_stream(streams):
    assert len(streams) == 1, streams  # the server's RTP to the client, nothing else
    return streams[0]


def test_a_default_lab_run_shows_every_packet_the_client_got(tmp_path):
    summary, streams, log = lab_run(tmp_path)
    _, packets, lost = only_stream(streams)
    assert summary["frames"] == FRAMES and summary["lost_packets"] == 0
    assert summary["packets"] > 2 * FRAMES  # frames of several packets: bursts to batch
    assert (packets, lost) == (summary["packets"], 0)
    assert "--gso auto" in log and "with UDP GSO (" not in log  # it never switched


@pytest.mark.skipif(gso_available() is not None, reason=f"{gso_available()}")
def test_with_gso_forced_on_the_capture_sees_bursts_as_one_datagram(tmp_path):
    summary, streams, _ = lab_run(tmp_path, "--gso", "on")
    _, packets, lost = only_stream(streams)
    assert summary["frames"] == FRAMES and summary["lost_packets"] == 0
    # The client got more than the capture shows, and tshark takes the rest for lost.
    assert packets < summary["packets"] and lost > 0
