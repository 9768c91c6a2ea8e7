"""A hostile client against a real server on loopback: every header value out of bounds gets
its 4xx, never a 500 or a closed connection, and the session goes on streaming; and a session
whose RTCP cannot start still plays and still times out."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from conftest import ROOT, datagrams_arriving, open_fds, rtsp_connection, running_server
from helpers import wait_until
from rtsplab.rtp.ports import bind_port_pair
from rtsplab.server.rtcp import ServerRtcp

URL = "rtsp://127.0.0.1:{port}/movie.Mjpeg"
HUGE = "9" * 400

# (what is sent in a SETUP's Transport before there is a session, the status answered)
TRANSPORT_ATTACKS = [
    "RTP/AVP;unicast;client_port=65535-0",  # once: RTCP to port 65536
    "RTP/AVP;unicast;client_port=0-1",
    "RTP/AVP;unicast;client_port=65535",
    f"RTP/AVP;unicast;client_port={HUGE}",
    "RTP/AVP/TCP;unicast;interleaved=255",
    "RTP/AVP/TCP;unicast;interleaved=0-300",
    "RTP/AVP;multicast;ttl=999",
    "RTP/AVP;unicast;client_port=5000-5001;ssrc=123456789",
]

# (extra header lines of a PLAY in the session, the status answered)
PLAY_ATTACKS = [
    (f"Range: npt={HUGE}:00:00-", 457),  # once: a 500 (OverflowError)
    (f"Range: npt={HUGE}-", 457),
    ("Range: npt=5-3", 457),
    ("Range: npt=3-3", 457),
    ("Range: npt=1e400-", 457),
    ("Scale: 1e9", 400),
    (f"Scale: {HUGE}", 400),
    ("Scale: 0", 400),
    ("Speed: -2", 400),
    ("Session: " + "s" * 300, 400),
    (f"Session: {{sid}};timeout={HUGE}", 400),
]


def request(method, uri, cseq, *lines):
    return "\r\n".join([f"{method} {uri} RTSP/1.0", f"CSeq: {cseq}", *lines, "", ""])


def udp_transport(port):
    return f"Transport: RTP/AVP;unicast;client_port={port}-{port + 1}"


def test_hostile_headers_get_their_4xx_and_the_session_streams_on(caplog):
    caplog.set_level(logging.INFO)
    rtp, rtcp = bind_port_pair("127.0.0.1")
    with rtp, rtcp, running_server(ROOT) as server, rtsp_connection(server.port) as rtsp:
        url = URL.format(port=server.port)
        for cseq, transport in enumerate(TRANSPORT_ATTACKS, 1):
            reply = rtsp.ask(request("SETUP", url + "/track1", cseq, f"Transport: {transport}"))
            assert (reply.status, reply.cseq) == (400, cseq), transport
            assert "Session" not in reply.headers
        port = rtp.getsockname()[1]
        reply = rtsp.ask(request("SETUP", url + "/track1", 20, udp_transport(port)))
        assert reply.status == 200
        sid = reply.session
        session = f"Session: {sid}"
        assert rtsp.ask(request("PLAY", url, 21, session)).status == 200
        assert datagrams_arriving(rtp, 1.0, frames=True) > 0

        for cseq, (line, status) in enumerate(PLAY_ATTACKS, 30):
            lines = [line.format(sid=sid)] if line.startswith("Session") else [session, line]
            reply = rtsp.ask(request("PLAY", url, cseq, *lines))
            assert (reply.status, reply.cseq) == (status, cseq), line
        # Numbers the reader itself refuses: a CSeq past 32 bits, a Content-Length past any
        # length (the unknown body is dropped up to the next empty line, sent after it).
        reply = rtsp.ask(request("GET_PARAMETER", url, HUGE, session))
        assert (reply.status, reply.cseq) == (400, None)
        reply = rtsp.ask(
            request("GET_PARAMETER", url, 50, session, f"Content-Length: {HUGE}") + "\r\n"
        )
        assert (reply.status, reply.cseq) == (400, 50)

        # The session is as it was: it answers, it seeks, and it streams.
        assert rtsp.ask(request("GET_PARAMETER", url, 60, session)).status == 200
        reply = rtsp.ask(request("PLAY", url, 61, session, "Range: npt=1-", "Scale: 2"))
        assert (reply.status, reply.headers["Scale"], reply.headers["Range"]) == (
            200,
            "1",
            "npt=1.000-",
        )
        assert datagrams_arriving(rtp, 1.0, frames=True) > 0
        assert len(server.active_workers()) == 1
        assert rtsp.ask(request("TEARDOWN", url, 62, session)).status == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text


def test_a_session_whose_rtcp_cannot_start_plays_and_times_out(monkeypatch, caplog):
    """No thread to be had for RTCP (a host out of threads): the SETUP still succeeds, the
    stream plays, and the session, unheard, ends on its timeout and frees what it held."""

    def no_thread(self):
        raise RuntimeError("can't start new thread")

    threads_before = threading.active_count()
    monkeypatch.setattr(ServerRtcp, "start", no_thread)
    rtp, rtcp = bind_port_pair("127.0.0.1")
    with rtp, rtcp, running_server(ROOT) as server:
        server.config.session_timeout = 1
        fds_before = open_fds()
        with rtsp_connection(server.port) as rtsp:
            url, port = URL.format(port=server.port), rtp.getsockname()[1]
            reply = rtsp.ask(request("SETUP", url + "/track1", 1, udp_transport(port)))
            assert reply.status == 200
            assert rtsp.ask(request("PLAY", url, 2, f"Session: {reply.session}")).status == 200
            started = time.monotonic()
            assert datagrams_arriving(rtp, 0.5, frames=True) > 0
            wait_until(lambda: not server.active_workers(), timeout=4, what="the session to end")
            assert time.monotonic() - started < 2.5  # its timeout, not later
            rtsp.sock.settimeout(2)
            with pytest.raises((ConnectionError, AssertionError, socket.timeout)):
                rtsp.ask(request("GET_PARAMETER", url, 3))  # closed: no reply comes
        wait_until(lambda: open_fds() <= fds_before, what="the session's sockets and file")
    wait_until(lambda: threading.active_count() <= threads_before, what="its threads")
    assert "RTCP cannot start (can't start new thread): going on without it" in caplog.text
