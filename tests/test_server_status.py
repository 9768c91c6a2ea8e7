"""The server's status as the instructor reads it: JSON for the page and the API, and
Prometheus's text format read back by Prometheus's own parser (prometheus_client)."""

import json

import pytest

from rtsplab.server.status import GroupStatus, ServerStatus, SessionStatus, prometheus_text

parser = pytest.importorskip(
    "prometheus_client.parser",
    reason="prometheus_client is not installed (pip install -r requirements-dev.txt)",
)

PLAYING = SessionStatus("A1B2C3", "127.0.0.2:40000", "movie.Mjpeg", "lab", "udp", "playing",
                        packets_sent=1200, bytes_sent=1_500_000, rate_bps=2.4e6,
                        fraction_lost=0.05, cumulative_lost=60, jitter_seconds=0.0021,
                        round_trip_seconds=0.0005)  # fmt: skip
PAUSED = SessionStatus("D4E5F6", "[::1]:41000", 'odd "name"\\.mjpeg', "standard", "tcp",
                       "ready", packets_sent=10, bytes_sent=12_000, rate_bps=0.0)  # fmt: skip
STATUS = ServerStatus(started=1_800_000_000.0, max_clients=256, sessions_allowed=4000,
                      connections=2, connections_total=9, refused_total=1,
                      sessions=[PLAYING, PAUSED],
                      groups=[GroupStatus("239.1.2.3:5004", "movie.Mjpeg", 31)],
                      files=["movie.Mjpeg"])  # fmt: skip


def families():
    return {
        family.name: family
        for family in parser.text_string_to_metric_families(prometheus_text(STATUS))
    }


def samples(name):
    return {sample.labels.get("session"): sample.value for sample in families()[name].samples}


def test_every_sessions_figures_are_in_the_metrics():
    assert samples("rtsplab_session_rtp_packets_sent") == {"A1B2C3": 1200, "D4E5F6": 10}
    assert samples("rtsplab_session_rtp_sent_bytes") == {"A1B2C3": 1.5e6, "D4E5F6": 12000}
    assert samples("rtsplab_session_fraction_lost_ratio") == {"A1B2C3": 0.05}
    assert samples("rtsplab_session_round_trip_seconds") == {"A1B2C3": 0.0005}
    assert samples("rtsplab_session_playing") == {"A1B2C3": 1, "D4E5F6": 0}
    (sample,) = [s for s in families()["rtsplab_session_playing"].samples if s.value == 0]
    assert sample.labels == {"session": "D4E5F6", "client": "[::1]:41000",
                             "file": 'odd "name"\\.mjpeg', "dialect": "standard",
                             "transport": "tcp"}  # fmt: skip


def test_counters_and_gauges_are_typed_as_prometheus_names_them():
    found = families()
    assert found["rtsplab_session_rtp_packets_sent"].type == "counter"
    assert found["rtsplab_connections_refused"].type == "counter"
    assert found["rtsplab_session_jitter_seconds"].type == "gauge"
    assert found["rtsplab_sessions"].samples[0].value == 2
    assert found["rtsplab_multicast_members"].samples[0].labels["group"] == "239.1.2.3:5004"


def test_the_json_holds_the_same_figures():
    data = json.loads(json.dumps(STATUS.as_json()))
    assert [s["session"] for s in data["sessions"]] == ["A1B2C3", "D4E5F6"]
    assert data["sessions"][0]["jitter_seconds"] == 0.0021
    assert data["sessions"][1]["fraction_lost"] is None
    assert data["groups"][0]["members"] == 31 and data["max_clients"] == 256
