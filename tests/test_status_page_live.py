"""The instructor's view of a running class: three real clients play through the server's
impaired network (--loss 5), and the status page shows each session with the loss its client
reports — in JSON, in Prometheus's text format read by Prometheus's parser, and on the live
page in a real headless Chromium."""

import json
import shutil
import subprocess
import urllib.request

import pytest

from conftest import ROOT, client_command, running_server, wait_until
from rtsplab.server.impairment import ImpairmentConfig
from rtsplab.server.status_http import StatusServer

parser = pytest.importorskip("prometheus_client.parser", reason="needs prometheus_client")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def fetch(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
        return reply.read().decode()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt install chromium)")
def test_three_sessions_and_their_loss_on_the_page_the_api_and_metrics():
    with running_server(ROOT) as server:
        server.config.impairment = ImpairmentConfig(loss=5, seed=5)
        page = StatusServer("127.0.0.1", 0, server.status)
        page.start()
        urls = ["movie.Mjpeg", f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg",
                f"rtsp://127.0.0.1:{server.port}/hd720.mjpeg"]  # fmt: skip
        clients = [subprocess.Popen(client_command(server.port, url, "--rtcp-reduced-minimum"),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for url in urls]  # fmt: skip
        try:

            def reported():
                sessions = json.loads(fetch(page.port, "/api/sessions"))
                return len(sessions) == 3 and all(s["fraction_lost"] is not None
                                                  for s in sessions)  # fmt: skip

            wait_until(reported, timeout=30, what="three sessions with receiver reports")
            sessions = json.loads(fetch(page.port, "/api/sessions"))
            assert sorted(s["dialect"] for s in sessions) == ["lab", "standard", "standard"]
            assert all(s["state"] == "playing" and s["packets_sent"] > 0 for s in sessions)
            metrics = {f.name: f for f in parser.text_string_to_metric_families(
                fetch(page.port, "/metrics"))}  # fmt: skip
            lost = metrics["rtsplab_session_fraction_lost_ratio"].samples
            assert {s.labels["session"] for s in lost} == {s["session"] for s in sessions}
            dom = subprocess.run(
                [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                 "--virtual-time-budget=3000", "--dump-dom", f"http://127.0.0.1:{page.port}/"],
                capture_output=True, text=True, timeout=60, check=True,
            ).stdout  # fmt: skip
            assert dom.count("movie.Mjpeg") >= 2 and "hd720.mjpeg" in dom
            assert dom.count(" %</td>") >= 3  # each session's loss, as its client reports it
        finally:
            for client in clients:
                client.kill()
                client.wait(10)
            page.close()
