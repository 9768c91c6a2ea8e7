"""What a hostile server's replies say is bounded on the client: a bad number is one line of
error (exit status 1 from the headless client), never a traceback."""

from __future__ import annotations

import subprocess

import pytest

from conftest import client_command
from fake_rtsp import SDP, FakeRtspServer, ok, reply
from rtsplab.client.reply_bounds import MAX_DIGITS, check_reply
from rtsplab.client.session import ClientError
from rtsplab.rtsp.message import Headers, RtspResponse

HUGE = "9" * 400  # digits no float holds: int -> float overflows


def response(body: str = "", **headers: str) -> RtspResponse:
    items = [(name.replace("_", "-"), value) for name, value in headers.items()]
    if body:
        items.append(("Content-Type", "application/sdp"))
    return RtspResponse(200, Headers(items), body.encode())


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        ({"Range": f"npt={HUGE}:00:00-"}, f"over {MAX_DIGITS} digits"),
        ({"Range": "npt=999999999999999-"}, "past what the range parser reads"),
        ({"Range": "npt=999999999:00:00-"}, "a time outside"),
        ({"Range": "npt=5-3"}, "ends before it starts"),
        ({"RTP_Info": "url=rtsp://h/s/track1;seq=65536;rtptime=0"}, "seq outside 0-65535"),
        ({"RTP_Info": "url=rtsp://h/s/track1;seq=0;rtptime=4294967296"}, "rtptime outside"),
        ({"Transport": "RTP/AVP;unicast;client_port=65535-0"}, "client_port outside 1-65535"),
        ({"Transport": "RTP/AVP;unicast;server_port=65535"}, "server_port outside"),  # RTCP 65536
        ({"Transport": "RTP/AVP;unicast;server_port=0-1"}, "server_port outside"),
        ({"Session": "abc;timeout=0"}, "timeout outside 1-86400"),
        ({"Session": f"abc;timeout={HUGE}"}, "timeout outside"),
        ({"Session": "abc;timeout=86401"}, "timeout outside"),
    ],
)
def test_a_value_out_of_bounds_is_one_line_of_error(headers, said):
    with pytest.raises(ClientError, match=said) as caught:
        check_reply("PLAY", response(**headers))
    message = str(caught.value)
    assert "\n" not in message and len(message) < 200
    assert message.startswith("the server's PLAY reply has a bad ")


@pytest.mark.parametrize(
    "headers",
    [
        {"Range": "npt=0-"},
        {"Range": "npt=now-"},
        {"Range": "npt=00:01:00.5-00:02:00"},
        {"Range": "clock=19961108T142300Z-"},  # not npt: the session ignores it
        {"RTP_Info": "url=rtsp://h/s/track1;seq=65535;rtptime=4294967295"},
        {"Transport": "RTP/AVP;unicast;client_port=5000-5001;server_port=65534-65535"},
        {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"},
        {"Transport": "garbage;;;"},  # unreadable: the session leaves it unknown
        {"Session": "abc;timeout=60"},
        {"Session": "abc"},
        {"Session": "239406241386122493;timeout=60"},  # our server's ids: 18 digits
        {"RTP_Info": "url=rtsp://h/s/1234567890123456789;seq=1"},  # digits in a URL
    ],
)
def test_a_sane_value_passes(headers):
    check_reply("PLAY", response(**headers))


def test_the_sdp_range_is_bounded_too():
    sdp = SDP + f"a=range:npt=0-{HUGE}\r\n"
    with pytest.raises(ClientError, match="bad SDP a=range"):
        check_reply("DESCRIBE", response(sdp))
    check_reply("DESCRIBE", response(SDP + "a=range:npt=0-20.5\r\n"))


def hostile(method, *extra, body=None):
    """A server that answers `method` with `extra` header lines (and a DESCRIBE `body`)."""

    def script(request, n):
        if request.method != method:
            return ok(request)
        if body is not None:
            return reply(request, "200 OK", "Content-Type: application/sdp", body=body)
        named = any(line.startswith("Session:") for line in extra)
        return reply(request, "200 OK", *([] if named else ["Session: 12345678"]), *extra)

    return script


@pytest.mark.parametrize(
    ("script", "said"),
    [
        (hostile("PLAY", f"Range: npt={HUGE}:00:00-"), "PLAY reply has a bad Range"),
        (hostile("PLAY", "RTP-Info: url=x;seq=99999999"), "PLAY reply has a bad RTP-Info"),
        (hostile("DESCRIBE", body=SDP + f"a=range:npt={HUGE}:00:00-\r\n"), "SDP a=range"),
        (
            hostile("SETUP", "Transport: RTP/AVP;unicast;client_port=1-2;server_port=65535"),
            "SETUP reply has a bad Transport",
        ),  # fmt: skip
        (hostile("SETUP", "Session: 1;timeout=" + HUGE), "SETUP reply has a bad Session"),
    ],
    ids=["range", "rtp-info", "sdp-range", "server-port", "session-timeout"],
)
def test_the_headless_client_says_so_in_one_line_and_exits_1(script, said):
    with FakeRtspServer(script) as server:
        url = f"rtsp://127.0.0.1:{server.port}/s"
        done = subprocess.run(client_command(server.port, url), capture_output=True, text=True,
                              timeout=60)  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert said in line
