"""The client as a member of a multicast group: RFC 2326 §12.39's `RTP/AVP;multicast` and
RFC 3550 §6.3's RTCP as a group.

Pure first: the multicast SETUP request and the reply's group, port, TTL and SSRC, and every
reply the client refuses; the group's RTCP (`ClientRtcp` around an engine with an
`RtcpGroup`), time passed in. Then on a network of the test's own (network namespaces,
`netns.py`): the group sockets shared on one host, and three headless clients receiving one
gst-rtsp-server stream from the group, each frame pixel-identical to the clip's, each
counting the group it is in.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import ROOT
from gst import GST_PYTHON, READY_TIMEOUT, SCRIPT, gst_available, gst_rtsp_server
from helpers import FixedRandom, pixels, wait_until
from MakeVideo import make_clip
from netns import linked_netns, netns, netns_unavailable
from rtsplab.client.rtcp import ClientRtcp
from rtsplab.client.session import ClientError, ClientSession, parse_target
from rtsplab.client.transport_reply import GroupTransport, ServerTransport, checked_group
from rtsplab.ntp import ntp_from_unix, ntp_middle32
from rtsplab.rtcp.bye import Bye
from rtsplab.rtcp.compound import decode_compound, encode_compound
from rtsplab.rtcp.group import RtcpGroup
from rtsplab.rtcp.reports import ReceiverReport, SenderReport
from rtsplab.rtcp.sdes import SourceDescription
from rtsplab.rtcp.session import ReceiverRtcp
from rtsplab.rtcp.timing import COMPENSATION
from rtsplab.rtcp.xr import ExtendedReport
from rtsplab.rtp.ports import bind_multicast_socket
from rtsplab.rtp.reception import ReceptionStatistics
from rtsplab.rtsp.message import Headers, RtspResponse
from rtsplab.rtsp.state import State
from VideoStream import VideoStream

GROUP = "239.255.12.42"  # organisation-local scope (RFC 2365): never routed off a site
URL = "rtsp://192.0.2.1:8554/clip"
CONTROL = URL + "/stream=0"

# -- the multicast SETUP: request and reply (pure) ------------------------------------------


def multicast_session() -> ClientSession:
    return ClientSession(parse_target("192.0.2.1", 8554, URL), 0, multicast=True)


def reply(cseq: int, transport: str | None) -> RtspResponse:
    items = [("CSeq", str(cseq)), ("Session", "lOFS1khlT8OfEbHf")]
    if transport is not None:
        items.append(("Transport", transport))
    return RtspResponse(200, Headers(items))


def set_up(transport: str | None) -> ClientSession:
    session = multicast_session()
    request = session.setup(0.0)
    session.receive(reply(request.cseq, transport), 0.0)
    return session


def test_setup_asks_for_multicast_and_names_no_destination_and_no_ports():
    session = multicast_session()
    assert session.setup(0.0).encode() == (
        b"SETUP rtsp://192.0.2.1:8554/clip RTSP/1.0\r\n"
        b"CSeq: 1\r\n"
        b"Transport: RTP/AVP;multicast\r\n"  # the group is the server's choice (§12.39)
        b"User-Agent: rtsp-rtp-lab\r\n"
        b"\r\n"
    )


def test_the_reply_names_the_group_its_ports_ttl_and_ssrc():
    # gst-rtsp-server's reply, as it sends it (it names no ssrc for a shared media)
    session = set_up('RTP/AVP;multicast;destination=239.255.12.42;ttl=1;port=5000-5001;mode="PLAY"')
    assert session.state is State.READY
    assert session.server == ServerTransport(None, None, GroupTransport(GROUP, 5000, 5001, 1))
    session = set_up("RTP/AVP;multicast;destination=239.1.2.3;port=6000;ttl=16;ssrc=5198D3CE")
    assert session.server == ServerTransport(
        None,
        0x5198D3CE,
        GroupTransport("239.1.2.3", 6000, 6001, 16),  # RTCP: the next port
    )


def test_a_spec_saying_neither_unicast_nor_multicast_is_multicast():
    session = set_up("RTP/AVP/UDP;destination=232.1.1.1;port=7000-7003")  # §12.39's default
    assert session.server.group == GroupTransport("232.1.1.1", 7000, 7003, None)


@pytest.mark.parametrize(
    ("transport", "message"),
    [
        (None, "the server's SETUP reply has no Transport: no multicast group"),
        ("RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971",
         "the server answered a multicast SETUP with RTP/AVP;unicast;client_port=5000-5001;"
         "server_port=6970-6971: not multicast"),
        ("RTP/AVP/TCP;multicast;destination=239.1.2.3;port=5000-5001",
         "the server answered a multicast SETUP with RTP/AVP/TCP;multicast;"
         "destination=239.1.2.3;port=5000-5001: not multicast"),
        ("RTP/AVP;multicast;port=5000-5001",
         "the server's multicast SETUP reply names no destination group"),
        ("RTP/AVP;multicast;destination=239.1.2.3",
         "the server's multicast SETUP reply names no port: RTP/AVP;multicast;"
         "destination=239.1.2.3"),
        ("RTP/AVP;multicast;destination=192.0.2.7;port=5000-5001",
         "the server's multicast destination 192.0.2.7 is not a multicast address"),
        ("RTP/AVP;multicast;destination=ff02::1;port=5000-5001",
         "the server's multicast destination ff02::1 is not an IPv4 address"),
        ("RTP/AVP;multicast;destination=group.example;port=5000-5001",
         "the server's multicast destination group.example is not an IPv4 address"),
        ("RTP/AVP;multicast;destination=224.0.0.251;port=5353-5354",
         "the server's multicast destination 224.0.0.251 is in 224.0.0.0/24, reserved for "
         "link-local control protocols (RFC 5771)"),
        ("RTP/AVP;multicast;destination=239.1.2.3;port=53-54",
         "the server's multicast port 53 is not in 1024-65535"),
        ("RTP/AVP;multicast;destination=239.1.2.3;port=65535",
         "the server's SETUP reply has a bad Transport: port '65535' leaves no 65536 for RTCP"),
        ("RTP/AVP;multicast;destination=239.1.2.3;port=5000-5000",
         "the server's multicast SETUP reply puts RTP and RTCP on 5000"),
        ("RTP/AVP;multicast;destination=239.1.2.3;port=5000;port=5002",
         "the server's SETUP reply has a bad Transport: repeated transport parameter 'port'"),
    ],
)  # fmt: skip
def test_a_reply_without_a_group_to_join_is_refused_and_changes_nothing(transport, message):
    session = multicast_session()
    request = session.setup(0.0)
    with pytest.raises(ClientError) as refused:
        session.receive(reply(request.cseq, transport), 0.0)
    assert str(refused.value) == message
    assert session.state is State.INIT


def test_the_group_address_is_checked_alone_too():
    assert checked_group("239.255.12.42") == "239.255.12.42"
    assert checked_group("224.0.1.1") == "224.0.1.1"  # just past the local control block
    for bad in ("", None, "239.1.2", "0.0.0.0", "255.255.255.255", "239.1.2.3\x1b[2J"):
        with pytest.raises(ClientError):
            checked_group(bad)


def test_an_unprintable_destination_is_not_echoed_raw():
    with pytest.raises(ClientError) as refused:
        checked_group("239.1.2.3\x1b[2J")
    assert "\x1b" not in str(refused.value)


def test_multicast_needs_standard_rtsp_and_udp_and_never_falls_back_to_tcp():
    with pytest.raises(ClientError, match="--multicast needs standard RTSP"):
        ClientSession(parse_target("h", 8554, "movie.Mjpeg"), 0, multicast=True)
    with pytest.raises(ClientError, match="exclude each other"):
        ClientSession(parse_target("h", 8554, URL), 0, multicast=True, tcp=True)
    session = set_up("RTP/AVP;multicast;destination=239.1.2.3;port=5000-5001")
    play = session.play(1.0)
    session.receive(RtspResponse(200, Headers([("CSeq", str(play.cseq))])), 1.0)
    assert session.state is State.PLAYING
    assert not session.fallback_due(100.0, rtp_seen=False, interleaved=False)
    unicast = ClientSession(parse_target("h", 8554, URL), 5000)
    assert "unicast;client_port=5000-5001" in unicast.transport()  # unicast as before


# -- the launcher's options -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["rtsp://h/clip", "--multicast", "--tcp"], "--multicast and --tcp exclude each other"),
        (["movie.Mjpeg", "--multicast"], "--multicast needs standard RTSP"),
        (["rtsp://h/clip", "--multicast-interface", "192.0.2.2"],
         "--multicast-interface needs --multicast"),
        (["rtsp://h/clip", "--multicast", "--multicast-interface", "eth0"],
         "'eth0' is not an IPv4 address"),
    ],
)  # fmt: skip
def test_the_launcher_refuses_what_multicast_cannot_do(options, message, capsys):
    from ClientLauncher import parse_args

    with pytest.raises(SystemExit) as exited:
        parse_args(["h", "8554", "0", *options])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_the_launcher_takes_multicast_and_an_interface():
    from ClientLauncher import parse_args

    args = parse_args(["h", "8554", "0", "rtsp://h/clip", "--multicast"])
    assert (args.multicast, args.multicast_interface) == (True, "0.0.0.0")
    args = parse_args(["h", "1", "0", "x", "--standard", "--multicast",
                       "--multicast-interface", "192.0.2.2"])  # fmt: skip
    assert args.multicast_interface == "192.0.2.2"


# -- RTCP as a member of the group (pure: clocks and SSRCs injected) -------------------------

OURS, NEW, SERVER = 0x0A0A0A0A, 0x0B0B0B0B, 0x5198D3CE
SERVER_IP = "192.0.2.1"
OWN = ("192.0.2.2", 5001)  # where our own reports come back from, looped back by the host
MEMBERS = [(0x10000001, ("192.0.2.2", 5001)), (0x10000002, ("192.0.2.3", 5001))]
RTCP_BW = 0.05 * 250_000  # the driver's: 5% of its nominal session bandwidth


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def member_rtcp(
    ssrc: int = OURS, *, rtcp_bw: float = RTCP_BW, ssrcs: list[int] | None = None
) -> tuple[ClientRtcp, list[bytes], Clock]:
    clock = Clock()
    sent: list[bytes] = []
    cname = "client-1@192.0.2.2"
    group = RtcpGroup(ssrc, rtcp_bw, clock.now, cname=cname, rng=FixedRandom(),
                      own_addresses=[OWN])  # fmt: skip
    draws = iter(ssrcs or [NEW])
    engine = ReceiverRtcp(ReceptionStatistics(), cname, 250_000, clock.now, group=group,
                          media_address=SERVER_IP, new_ssrc=lambda: next(draws))  # fmt: skip
    engine.media_ssrc = SERVER
    link = ClientRtcp(engine, sent.append, clock=clock,
                      wall_clock=lambda: 1_700_000_000.0 + clock.now)  # fmt: skip
    return link, sent, clock


def rr(ssrc: int, cname: str, *extra) -> bytes:
    return encode_compound([ReceiverReport(ssrc), SourceDescription.cname(ssrc, cname), *extra])


def server_sr(*extra, ntp: int = ntp_from_unix(1_700_000_001.0)) -> bytes:
    return encode_compound([SenderReport(SERVER, ntp, 90_000, 10, 10_000),
                            SourceDescription.cname(SERVER, "user1@server"), *extra])  # fmt: skip


def test_reports_go_to_the_group_on_the_groups_timer():
    link, sent, clock = member_rtcp()
    # §6.3.2: the first report waits half the 5 s minimum, / (e - 3/2) (A.7), drawn at 1.
    first = 2.5 / COMPENSATION
    clock.now = first - 0.01
    link.report_if_due()
    assert sent == []
    clock.now = first
    link.report_if_due()
    packets = decode_compound(sent[0])
    assert [type(p) for p in packets] == [ReceiverReport, SourceDescription, ExtendedReport]
    assert packets[0].ssrc == OURS and packets[1].cnames() == {OURS: "client-1@192.0.2.2"}
    assert link.engine.group.tp == first and not link.engine.group.initial
    link.report_if_due()
    assert len(sent) == 1  # the next one is an interval away


def test_every_members_report_counts_and_the_servers_sr_also_feeds_the_reception_report():
    link, _, clock = member_rtcp()
    assert (link.members, link.interval) == (1, pytest.approx(2.5))  # Td, initial: 5 s / 2
    link.heard_rtp(SERVER, (SERVER_IP, 5000))  # the stream: the server, a sender
    for ssrc, address in MEMBERS:
        link.receive(rr(ssrc, f"member-{ssrc:x}@h"), address)
    clock.now = 1.0
    ntp = ntp_from_unix(1_700_000_001.0)
    link.receive(server_sr(ntp=ntp), (SERVER_IP, 5001))
    assert (link.members, link.engine.group.senders) == (4, 1)
    assert link.engine.reception.report(clock.now).lsr == ntp_middle32(ntp)  # LSR, for the RTT
    # An SR in the stream's name from another host is no SR of the stream's: struck out.
    link.receive(server_sr(ntp=ntp_from_unix(1_700_000_009.0)), ("192.0.2.9", 5001))
    assert link.engine.reception.report(clock.now).lsr == ntp_middle32(ntp)
    assert (link.foreign, link.members) == (1, 4)


def test_the_servers_bye_ends_the_stream_and_the_figures_are_the_groups_as_it_ended():
    link, _, clock = member_rtcp()
    link.heard_rtp(SERVER, (SERVER_IP, 5000))
    for ssrc, address in MEMBERS:
        link.receive(rr(ssrc, f"member-{ssrc:x}@h"), address)
    # A member saying BYE in the server's name: struck out (the stream's source speaks only
    # from the server's address), counted, and the rest of its compound taken.
    link.receive(rr(MEMBERS[0][0], f"member-{MEMBERS[0][0]:x}@h", Bye([SERVER])),
                            MEMBERS[0][1])  # fmt: skip
    assert not link.engine.peer_left and link.foreign == 1
    assert (link.members, link.engine.group.member(SERVER).bye) == (4, False)
    link.receive(server_sr(Bye([SERVER], "eos")), (SERVER_IP, 5001))
    assert link.engine.peer_left
    assert link.engine.group.members == 3  # the server has left the table...
    assert link.members == 4  # ...and the figure is the group's as the stream ended
    link.receive(rr(MEMBERS[1][0], "y", Bye([MEMBERS[1][0]])), MEMBERS[1][1])
    assert (link.engine.group.members, link.members) == (2, 4)  # members leaving after the end
    link.playing_again()  # PLAY after the end: live again
    assert link.members == 2


def test_teardown_sends_the_bye_to_the_group_once_and_only_after_having_reported():
    link, sent, clock = member_rtcp()
    link.leave("teardown")
    assert sent == []  # §6.3.7: never sent RTCP, so no BYE
    link, sent, clock = member_rtcp()
    clock.now = 3.0
    link.report_if_due()
    link.receive(rr(MEMBERS[1][0], "z"), MEMBERS[1][1])
    link.leave("teardown")
    bye = decode_compound(sent[-1])
    assert [type(p) for p in bye] == [ReceiverReport, SourceDescription, Bye]
    assert bye[2].sources == [OURS] and bye[2].reason == "teardown"
    link.leave("teardown")
    link.report_if_due()
    assert len(sent) == 2 and link.engine.group.left
    assert link.members == 2  # the group as we left it


def test_a_collision_with_our_ssrc_sends_a_bye_for_it_and_goes_on_with_a_new_one():
    link, sent, clock = member_rtcp(ssrcs=[MEMBERS[0][0], NEW])  # the first draw is in use
    link.receive(rr(MEMBERS[0][0], "a"), MEMBERS[0][1])
    # Another member on our host, with our SSRC: the same address, another CNAME (§8.2).
    link.receive(rr(OURS, "client-2@192.0.2.2"), OWN)
    # One compound introduces the new SSRC with our CNAME and says BYE for the old (§8.2).
    bye = decode_compound(sent[-1])
    assert bye[0].ssrc == NEW
    assert bye[1].cnames() == {NEW: "client-1@192.0.2.2", OURS: "client-1@192.0.2.2"}
    assert bye[2].sources == [OURS]
    assert link.engine.ssrc == link.engine.group.ssrc == NEW
    assert link.engine.group.member(OURS).cname == "client-2@192.0.2.2"  # the old one is theirs now
    assert link.members == 3
    link.receive(rr(NEW, "client-1@192.0.2.2"), OWN)  # our own, looped back
    assert link.engine.group.collisions == 1
    clock.now = 3.0
    link.report_if_due()
    assert decode_compound(sent[-1])[0].ssrc == NEW


def test_garbage_on_the_group_port_is_counted_and_skipped():
    link, _, _ = member_rtcp()
    link.receive(b"\x80\xc9\x00", ("192.0.2.66", 5001))
    assert link.engine.malformed == 1 and link.members == 1


def test_unicast_keeps_the_two_party_figures():
    session = ReceiverRtcp(ReceptionStatistics(), "c@h", 250_000, 0.0, ssrc=OURS, rng=FixedRandom())
    link = ClientRtcp(session, None)
    assert (link.members, link.interval) == (2, pytest.approx(2.5))  # 5 s, halved at first
    session.report(1.0, 1.0)
    assert link.interval == pytest.approx(5.0)
    reduced = ReceiverRtcp(ReceptionStatistics(), "c@h", 250_000, 0.0, reduced_minimum=True)
    reduced.report(1.0, 1.0)
    assert ClientRtcp(reduced, None).interval == pytest.approx(360 / 2000)  # §6.2, 2 Mbit/s


def test_the_interval_follows_the_real_counts():
    # A session bandwidth small enough that the group's size, not the minimum, decides.
    link, _, _ = member_rtcp(rtcp_bw=100.0)
    base = link.interval
    for i in range(40):
        link.receive(rr(0x20000000 + i, f"m{i}@h"), (f"198.51.100.{i}", 5001))
    assert link.members == 41 and link.interval > 10 * base


# -- on a network of the test's own ---------------------------------------------------------


@pytest.fixture(scope="module")
def namespaces_ok() -> None:
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)


SHARED_PORT_SCRIPT = textwrap.dedent(
    """
    import contextlib, socket, sys
    from rtsplab.rtp.ports import bind_multicast_socket
    group, port = sys.argv[1], int(sys.argv[2])
    a = bind_multicast_socket(group, port, ttl=1)
    b = bind_multicast_socket(group, port)      # a second member on this host
    a.sendto(b"to the group", (group, port))
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.sendto(b"unicast", ("127.0.0.1", port))  # not to the group: neither hears it
    got = []
    for sock in (a, b):
        sock.settimeout(1.0)  # the first datagram; then 0.2 s of quiet ends the reading
        with contextlib.suppress(TimeoutError):
            while True:
                got.append(sock.recv(100).decode())
                sock.settimeout(0.2)
    print(",".join(got))
    """
)


def test_members_on_one_host_share_the_groups_port_and_hear_each_other(namespaces_ok):
    with netns("mcsock") as ns:
        done = ns.run([sys.executable, "-c", SHARED_PORT_SCRIPT, GROUP, "5004"], timeout=30,
                      capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    # Each socket hears the datagram, the sender's own one too (IP_MULTICAST_LOOP).
    assert done.stdout.strip() == "to the group,to the group"


def test_bad_group_or_interface_addresses_are_refused_before_any_socket():
    for group, interface in (("ff02::1", "0.0.0.0"), ("239.1.2.3", "eth0")):
        with pytest.raises(ValueError, match="must be an IPv4 address"):
            bind_multicast_socket(group, 5004, interface)


FPS = 10.0
FRAMES = 60  # 6 s: every member's first report (1 to 3 s after joining) is heard by all
SIZE = (320, 240)
CLIENTS = 3
CLIENT_TIMEOUT = 60.0
# The stream starts with the first client's PLAY: one whose SETUP comes a moment later
# joins a moment later and misses the first frame or two. More than a second is a fault.
MAX_MISSED = int(FPS)


def frames_of(path: Path) -> list[bytes]:
    if not path.stat().st_size:
        return []
    with VideoStream(path) as video:
        return [pixels(video.frame(i)) for i in range(video.frame_count)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("multicast") / "clip.mjpeg"
    make_clip(path, *SIZE, FRAMES, fps=FPS, fmt="mjpeg")
    return path


def wait_ready(process: subprocess.Popen[bytes], timeout: float = READY_TIMEOUT) -> str:
    """The URL on gst_rtsp_server.py's READY line, within `timeout` seconds."""
    out, deadline = b"", time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in out and (left := deadline - time.monotonic()) > 0:
            if not selector.select(left):
                continue
            chunk = process.stdout.read1(4096)
            if not chunk:
                break
            out += chunk
    line = out.decode(errors="replace").partition("\n")[0]
    assert line.startswith("READY "), f"gst_rtsp_server.py said {line!r}, exit {process.poll()}"
    return line.split()[1]


def url_port(url: str) -> str:
    return str(urlsplit(url).port)


def serve_multicast(ns, clip: Path, stderr) -> str:
    """gst-rtsp-server in `ns`, on its address, offering `clip` on GROUP too; its URL."""
    server = ns.popen(
        [GST_PYTHON, "-I", str(SCRIPT), "--host", ns.address, "--port", "0", "--clip",
         str(clip), "--fps", repr(FPS), "--multicast", GROUP],
        stdout=subprocess.PIPE, stderr=stderr,
    )  # fmt: skip
    return wait_ready(server)


@pytest.mark.skipif(gst_available() is not None, reason=str(gst_available()))
def test_three_members_receive_one_gstreamer_stream_from_the_group(namespaces_ok, clip,
                                                                   tmp_path):  # fmt: skip
    source = frames_of(clip)
    assert len(source) == FRAMES
    with linked_netns("mc") as (server_ns, clients_ns), contextlib.ExitStack() as files:
        url = serve_multicast(
            server_ns, clip, files.enter_context(open(tmp_path / "gst.err", "wb"))
        )
        port = url_port(url)
        clients = []
        for i in range(CLIENTS):
            # One names its interface; the others leave it to the routes (0.0.0.0).
            where = ["--multicast-interface", clients_ns.address] if i == 0 else []
            saved = tmp_path / f"saved{i}.mjpeg"
            command = [sys.executable, str(ROOT / "ClientLauncher.py"), server_ns.address,
                       port, "0", url, "--headless", "--multicast", "--rtcp-reduced-minimum",
                       "--idle", "2", "--save", str(saved), *where]  # fmt: skip
            stderr = files.enter_context(open(tmp_path / f"client{i}.err", "w"))
            clients.append(clients_ns.popen(command, stdout=subprocess.PIPE, stderr=stderr,
                                            text=True, cwd=ROOT))  # fmt: skip
        outputs = [client.communicate(timeout=CLIENT_TIMEOUT)[0] for client in clients]
    for i, (client, output) in enumerate(zip(clients, outputs, strict=True)):
        errors = (tmp_path / f"client{i}.err").read_text()
        assert client.returncode == 0, errors
        summary = json.loads(output)
        saved = frames_of(tmp_path / f"saved{i}.mjpeg")
        # Every frame from the first one it got to the end, decoded to the clip's pixels
        # (RFC 2435 carries no JPEG headers: the client rebuilds them, so bytes differ).
        assert saved and saved[0] in source, f"client {i}: its first frame is not the clip's"
        first = source.index(saved[0])
        assert saved == source[first:], f"client {i}: frames missing or wrong after {first}"
        assert first <= MAX_MISSED, f"client {i} joined {first} frames late"
        assert summary["frames"] == len(saved)
        # Nothing lost (loss counts from the first packet heard: what the group carried
        # before this member joined was never its to lose), nothing foreign.
        assert (summary["lost_packets"], summary["foreign"], summary["foreign_rtcp"]) == (0, 0, 0)
        # gst-rtsp-server is a member too: it sends its RTP and its SRs to the group (and
        # its BYE at the end), so each client counts the three receivers and the server.
        assert summary["members"] == CLIENTS + 1, (summary, errors)
        # Receivers in a group may not use the reduced minimum (§6.2: only active senders
        # may), and 4 members' ~100-octet reports in 9.4 kB/s of receiver bandwidth are far
        # below the 5 s minimum: Td is the minimum.
        assert summary["rtcp_interval_s"] == 5.0


FORGER_SCRIPT = textwrap.dedent(
    """
    import selectors, socket, sys, time
    from rtsplab.rtcp.bye import Bye
    from rtsplab.rtcp.compound import encode_compound
    from rtsplab.rtcp.reports import ReceiverReport
    from rtsplab.rtcp.sdes import SourceDescription
    from rtsplab.rtp.ports import bind_multicast_socket
    group, rtp_port, forged = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    listen = bind_multicast_socket(group, rtp_port)  # a member of the group, like any other
    selector = selectors.DefaultSelector()
    selector.register(listen, selectors.EVENT_READ)
    deadline = time.monotonic() + 20
    def next_header():
        while not selector.select(0.5):
            if time.monotonic() > deadline:
                sys.exit("no RTP on the group")
        return listen.recv(65536)[:12]
    header = next_header()  # the stream's SSRC, sequence number and timestamp
    ssrc, seq = int.from_bytes(header[8:12], "big"), int.from_bytes(header[2:4], "big")
    start = int.from_bytes(header[4:8], "big")
    # Mid-stream: a second of the stream by its RTP clock (90 kHz, RFC 2435 §3) heard.
    while (int.from_bytes(next_header()[4:8], "big") - start) % 2**32 < 90_000:
        pass
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # TTL 0: looped back to the members on this host, never out to the server (RFC 1112
    # §6.1), which would take a BYE in its own name for an SSRC collision.
    out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 0)
    for i in range(forged):  # the stream's next packets, M=1, PT 26, in its SSRC
        packet = bytes([0x80, 0x80 | 26]) + ((seq + 1 + i) & 0xFFFF).to_bytes(2, "big")
        out.sendto(packet + header[4:12] + bytes(64), (group, rtp_port))
    me = 0x0F0F0F0F
    bye = [ReceiverReport(me), SourceDescription.cname(me, "forger@h"), Bye([ssrc], "forged")]
    out.sendto(encode_compound(bye), (group, rtp_port + 1))
    print(f"{ssrc:08X}")
    """
)
FORGED_RTP = 20


@pytest.mark.skipif(gst_available() is not None, reason=str(gst_available()))
def test_a_member_forging_the_servers_rtp_and_bye_changes_nothing(namespaces_ok, clip, tmp_path):
    """RTP in the stream's SSRC from a member, and a BYE in its name: counted, never played,
    and the stream ends at the server's own BYE, every frame there."""
    source = frames_of(clip)
    saved = tmp_path / "saved.mjpeg"
    with linked_netns("mcf") as (server_ns, clients_ns), contextlib.ExitStack() as files:
        url = serve_multicast(
            server_ns, clip, files.enter_context(open(tmp_path / "gst.err", "wb"))
        )
        forger = clients_ns.popen(
            [sys.executable, "-c", FORGER_SCRIPT, GROUP, "5000", str(FORGED_RTP)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        client = clients_ns.popen(
            [sys.executable, str(ROOT / "ClientLauncher.py"), server_ns.address, url_port(url),
             "0", url, "--headless", "--multicast", "--idle", "2", "--save", str(saved)],
            stdout=subprocess.PIPE, stderr=files.enter_context(open(tmp_path / "client.err", "w")),
            text=True, cwd=ROOT,
        )  # fmt: skip
        output = client.communicate(timeout=CLIENT_TIMEOUT)[0]
        forged, forger_errors = forger.communicate(timeout=CLIENT_TIMEOUT)
    errors = (tmp_path / "client.err").read_text()
    assert forger.returncode == 0 and forged.strip(), forger_errors
    assert client.returncode == 0, errors
    summary = json.loads(output)
    frames = frames_of(saved)
    assert frames and frames == source[source.index(frames[0]) :]  # on to the last frame
    assert summary["foreign"] == FORGED_RTP and summary["foreign_rtcp"] == 1
    # The forger is a member in its own name: the client, the server and the forger.
    assert summary["members"] == 3
    assert f"in the name of the stream's source {forged.strip()}" in errors


PLAYER_SCRIPT = textwrap.dedent(
    """
    import json, sys, time, tkinter as tk
    from Client import Client
    root = tk.Tk()
    player = Client(root, sys.argv[1], int(sys.argv[2]), 0, sys.argv[3], prefill=5,
                    multicast=True)
    deadline = time.monotonic() + float(sys.argv[4])
    def look():
        if not player.rtsp.ended.is_set() and time.monotonic() < deadline:
            root.after(100, look)  # until the server's BYE: the group's figures as it ended
            return
        def report():
            shown = {key: player.panel.values[key].cget("text") for key in ("members", "interval")}
            print(json.dumps({**shown, "seekbar": bool(player.seekbar.winfo_ismapped())}))
            player.handler()
        root.after(600, report)  # a panel refresh (every 250 ms) after the end
    root.after(100, player.playMovie)
    root.after(200, look)
    root.mainloop()
    """
)
PLAYER_TIMEOUT = 30.0


@pytest.fixture
def x_display():
    """An X server of our own (Xvfb), on a display number nobody uses; its environment."""
    if shutil.which("Xvfb") is None:
        pytest.skip("needs Xvfb (apt install xvfb)")
    number = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    command = ["Xvfb", f":{number}", "-screen", "0", "1024x768x24", "-nolisten", "tcp"]
    xvfb = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket_path = Path(f"/tmp/.X11-unix/X{number}")
    wait_until(lambda: socket_path.exists() or xvfb.poll() is not None, timeout=10,
               what="Xvfb to start")  # fmt: skip
    assert xvfb.poll() is None, "Xvfb did not start"
    yield {**os.environ, "DISPLAY": f":{number}"}
    xvfb.terminate()
    xvfb.wait(timeout=5)


@pytest.mark.skipif(gst_available() is not None, reason=str(gst_available()))
def test_the_players_panel_shows_the_groups_members_and_interval(namespaces_ok, clip, x_display):
    """The Tk player, a member beside two headless ones: its panel counts four (the server
    too) and shows Td; a group's stream is everyone's, so there is no seek bar."""
    with linked_netns("mcp") as (server_ns, clients_ns):
        url = serve_multicast(server_ns, clip, subprocess.DEVNULL)
        port = url_port(url)
        for _ in range(2):
            clients_ns.popen(
                [sys.executable, str(ROOT / "ClientLauncher.py"), server_ns.address, port, "0",
                 url, "--headless", "--multicast"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
            )  # fmt: skip
        done = clients_ns.run(
            [sys.executable, "-c", PLAYER_SCRIPT, server_ns.address, port, url,
             str(PLAYER_TIMEOUT / 2)],
            timeout=PLAYER_TIMEOUT, capture_output=True, text=True, cwd=ROOT, env=x_display,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    panel = json.loads(done.stdout.splitlines()[0])
    assert panel == {"members": "4", "interval": "5.00 s", "seekbar": False}


@pytest.mark.skipif(gst_available() is not None, reason=str(gst_available()))
def test_a_group_that_cannot_be_joined_is_a_one_line_error(namespaces_ok, clip):
    """The SETUP succeeded, the join did not (no such interface here): say so, exit 1."""
    with linked_netns("mcj") as (server_ns, clients_ns):
        url = serve_multicast(server_ns, clip, subprocess.DEVNULL)
        done = clients_ns.run(
            [sys.executable, str(ROOT / "ClientLauncher.py"), server_ns.address, url_port(url),
             "0", url, "--headless", "--multicast", "--multicast-interface", "192.0.2.99"],
            timeout=CLIENT_TIMEOUT, capture_output=True, text=True, cwd=ROOT,
        )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: cannot join {GROUP} ports 5000-5001 on interface 192.0.2.99: No such device"
    )


@pytest.mark.skipif(gst_available() is not None, reason=str(gst_available()))
def test_a_server_offering_no_multicast_refuses_the_setup(tmp_path):
    """gst-rtsp-server without an address pool answers 461: one line, before any join."""
    clip = tmp_path / "short.mjpeg"
    make_clip(clip, *SIZE, 5, fmt="mjpeg")
    with gst_rtsp_server(clip, FPS) as url:
        done = subprocess.run(
            [sys.executable, str(ROOT / "ClientLauncher.py"), "127.0.0.1", "554", "0", url,
             "--headless", "--multicast"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: server answered 461 Unsupported transport to SETUP {url}"
    )
