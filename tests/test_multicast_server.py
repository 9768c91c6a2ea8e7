"""The server's multicast streams: the RTSP side pure, and ffmpeg and GStreamer as members in
a network namespace made for the test (multicast on its loopback), as a class would join."""

import contextlib
import json
import shutil
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from helpers import needs_ffmpeg, pixels, wait_until
from MakeVideo import make_clip
from netns import bound, group_server, netns_or_skip
from rtsplab.payload.jpeg import frame_end
from rtsplab.rtp.sender import RtpSender
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.headers.transport import TransportSpec
from rtsplab.rtsp.message import Headers, RtspRequest
from rtsplab.server.multicast import MAX_STREAMS, SOUND, VIDEO, MulticastStreams
from rtsplab.server.position import rewind_if_played
from rtsplab.server.session import MulticastConfig, ServerSession, StreamConfig
from rtsplab.server.stream import Streaming
from Server import parse_args
from VideoStream import VideoStream

GROUP = "239.255.12.42"
FPS = 20
FRAMES = 60  # 3 s at 20 fps
PROCESS_TIMEOUT = 30
# The first PLAY starts a shared stream: a member whose process started a moment later (a
# few interpreters starting at once on a shared machine) joins up to a second late.
MAX_LATE_FRAMES = 20  # 1 s at 20 fps


# -- pure: SETUP, PLAY and DESCRIBE ---------------------------------------------------------


class FakeGroup:
    def __init__(self, path, port):
        self.media = VideoStream(path)
        self.sender = RtpSender(FPS, payloader=lambda frame, size: [(b"", frame)], ssrc=0xABCD)
        self.port = port
        self.source = "127.0.0.1"  # the address the session was reached at: no source=
        self.rewinds = 0

    def rewind_if_played(self):
        self.rewinds += rewind_if_played(self.media)


class FakeGroups:
    def __init__(self, port=5004):
        self.joined = []
        self.ports = {}
        self.base = port

    def join(self, path):
        port = self.ports.setdefault(path, self.base + 2 * len(self.ports))
        self.joined.append(FakeGroup(path, port))
        return self.joined[-1]


@pytest.fixture
def clip(tmp_path):
    make_clip(tmp_path / "clip.mjpeg", 64, 48, 10, fmt="mjpeg")
    return tmp_path / "clip.mjpeg"


def multicast_session(root, groups=None, ttl=3):
    config = StreamConfig(root, FPS, multicast=MulticastConfig(GROUP, 5004, ttl))
    return ServerSession(config, "127.0.0.1", 40000, groups=groups or FakeGroups())


def request(method, uri, **headers):
    return RtspRequest(method, uri, Headers([("CSeq", "1"), *headers.items()]))


def test_a_client_asking_for_its_own_destination_gets_the_servers_group(clip):
    groups = FakeGroups()
    session = multicast_session(clip.parent, groups)
    reply = session.handle(request(
        "SETUP", "rtsp://127.0.0.1/clip.mjpeg/track1",
        Transport="RTP/AVP;multicast;destination=10.9.8.7;port=7000-7001;ttl=99",
    ))  # fmt: skip
    assert reply.status == 200
    spec = TransportSpec.parse(reply.headers["Transport"])
    assert (spec.unicast, spec.destination, spec.port, spec.ttl, spec.ssrc) == (
        False, GROUP, (5004, 5005), 3, 0xABCD,
    )  # fmt: skip
    assert session.rtp_destination is None  # nothing unicast to anyone
    assert session.group is groups.joined[0] and session.sender is groups.joined[0].sender


def test_each_file_gets_its_own_port_pair_and_keeps_it_up_to_a_bound(tmp_path):
    config = StreamConfig(tmp_path, FPS, multicast=MulticastConfig(GROUP, 5004))
    streaming = Streaming()
    try:
        groups = MulticastStreams(config, streaming, "127.0.0.1")
        keys = [("a", VIDEO), ("b", VIDEO), ("a", SOUND), ("a", VIDEO), ("c", VIDEO)]
        ports = [groups._port((tmp_path / name, kind)) for name, kind in keys]
        assert ports == [5004, 5006, 5008, 5004, 5010]  # a file's sound: a pair of its own
        for n in range(MAX_STREAMS - 4):
            groups._port((tmp_path / f"more{n}", VIDEO))
        with pytest.raises(RtspError) as refused:
            groups._port((tmp_path / "one too many", VIDEO))
        assert refused.value.status == 453
    finally:
        streaming.loop.close()


def test_unicast_setups_are_answered_as_before_beside_multicast(clip):
    session = multicast_session(clip.parent)
    reply = session.handle(request(
        "SETUP", "clip.mjpeg", Transport="RTP/AVP;unicast;client_port=6000-6001"
    ))  # fmt: skip
    spec = TransportSpec.parse(reply.headers["Transport"])
    assert spec.unicast is True and spec.client_port == (6000, 6001) and spec.destination is None
    assert session.group is None and session.rtp_destination == ("127.0.0.1", 6000)


def test_without_multicast_a_multicast_setup_is_461(clip):
    session = ServerSession(StreamConfig(clip.parent, FPS), "127.0.0.1", 40000)
    reply = session.handle(request("SETUP", "clip.mjpeg", Transport="RTP/AVP;multicast"))
    assert reply.status == 461


def test_a_late_member_plays_from_where_the_stream_is_and_cannot_seek(clip):
    groups = FakeGroups()
    first = multicast_session(clip.parent, groups)
    first.handle(request("SETUP", "clip.mjpeg", Transport="RTP/AVP;multicast"))
    group = groups.joined[0]
    group.media.seek(6)  # the stream has sent six frames
    group.sender.frames_sent, group.sender.next_seq = 6, 1234
    reply = first.handle(request("PLAY", "clip.mjpeg", Session=first.session_id, Range="npt=0-"))
    assert reply.status == 200
    assert reply.headers["Range"] == "npt=0.300-"  # 6 frames at 20 fps: no seek to 0
    assert "seq=1234" in reply.headers["RTP-Info"]
    assert group.media.frameNbr() == 6


def test_describe_stays_unicast_so_that_unicast_players_still_play(clip):
    """A multicast c= in the SDP makes GStreamer take the stream for multicast only and
    refuse unicast; SETUP's reply says where the group is."""
    session = multicast_session(clip.parent, ttl=1)
    reply = session.handle(request("DESCRIBE", "rtsp://127.0.0.1:8554/clip.mjpeg"))
    text = reply.body.decode()
    assert "c=IN IP4 0.0.0.0\r\n" in text and "m=video 0 RTP/AVPF 26 97\r\n" in text
    assert GROUP not in text


@pytest.mark.parametrize(
    "options, why",
    [
        (["--multicast", "10.0.0.1"], "not a multicast group"),
        (["--multicast", "example"], "not an IPv4 address"),
        (["--multicast", GROUP, "--multicast-port", "5005"], "odd"),
        (["--multicast", GROUP, "--ttl", "256"], "256"),
    ],
)
def test_the_server_refuses_bad_multicast_options(options, why, capsys):
    with pytest.raises(SystemExit):
        parse_args(["8554", *options])
    assert why in capsys.readouterr().err


def test_a_refused_multicast_setup_joins_nothing(tmp_path):
    (tmp_path / "bad.mjpeg").write_bytes(b"not a video")
    groups = FakeGroups()
    session = multicast_session(tmp_path, groups)
    reply = session.handle(request("SETUP", "bad.mjpeg", Transport="RTP/AVP;multicast"))
    assert reply.status == 415 and groups.joined == []
    with pytest.raises(RtspError):
        TransportSpec.parse("RTP/AVP;multicast;ttl=300")


# -- in a network namespace: ffmpeg and GStreamer as members -------------------------------


@pytest.fixture(scope="module")
def namespace():
    yield from netns_or_skip("mcs")


def multicast_server(namespace, root, port=8554, *extra):
    return group_server(namespace, root, port, FPS, GROUP, "-v", *extra)


def pictures(data):
    """Decoded pixels of each JPEG in concatenated MJPEG `data`, walked by its structure."""
    frames, start = [], 0
    while start < len(data):
        end = frame_end(data, start)
        frames.append(pixels(data[start:end]))
        start = end
    return frames


def from_frame(got, source):
    """Where in `source` the pictures `got` start; they must be a run of it, in order."""
    assert got, "no picture"
    first = source.index(got[0])
    assert got == source[first : first + len(got)]
    return first


def source_pictures(clip):
    with VideoStream(clip) as video:
        return [pixels(video.frame(i)) for i in range(video.frame_count)]


def ffmpeg_member(namespace, url, out, *extra, transport="udp_multicast"):
    """ffmpeg saving what it receives to `out` (a file, not a pipe: a pipe not read at once
    would stall ffmpeg, and its socket would overflow)."""
    return namespace.popen(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
               "-rtsp_transport", transport, "-i", url, *extra, "-c:v", "copy",
               "-f", "mjpeg", "-y", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def gst_member(namespace, url, out):
    return namespace.popen(
        ["gst-launch-1.0", "-q", "rtspsrc", f"location={url}",
               "protocols=udp-mcast", "!", "rtpjpegdepay", "!", "filesink",
               f"location={out}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


@pytest.fixture(scope="module")
def movie(tmp_path_factory):
    root = tmp_path_factory.mktemp("multicast")
    make_clip(root / "clip.mjpeg", 320, 240, FRAMES, fmt="mjpeg")
    return root / "clip.mjpeg"


@needs_ffmpeg
def test_members_share_one_stream_a_leaver_stops_no_one_a_late_one_joins_where_it_is(
    namespace, movie, tmp_path
):
    """Three ffmpeg members: one for the whole file, one leaving after 1 s (TEARDOWN), one
    joining 1 s late. Each picture any of them got is the source's, in order; the first and
    the late one run to the end of the file, where the BYE ends them both."""
    source = source_pictures(movie)
    url = f"rtsp://127.0.0.1:8554/{movie.name}"
    with multicast_server(namespace, movie.parent) as server:
        whole = ffmpeg_member(namespace, url, tmp_path / "whole.mjpeg")
        leaver = ffmpeg_member(namespace, url, tmp_path / "leaver.mjpeg", "-t", "1")
        time.sleep(1.0)  # what the test is about: a member joining a second into the stream
        late = ffmpeg_member(namespace, url, tmp_path / "late.mjpeg")
        for member in (whole, leaver, late):
            _, err = member.communicate(timeout=PROCESS_TIMEOUT)  # ended by the BYE
            assert member.returncode == 0, err
    log = server.stderr.read()
    got_whole, got_leaver, got_late = (
        pictures((tmp_path / f"{name}.mjpeg").read_bytes()) for name in ("whole", "leaver", "late")
    )
    # The stream starts at the first PLAY: a member a moment behind misses what went before.
    assert from_frame(got_whole, source) <= MAX_LATE_FRAMES and got_whole[-1] == source[-1]
    assert 0 < len(got_leaver) < len(source) - 5
    from_frame(got_leaver, source)  # a run of the source's frames, whole
    assert MAX_LATE_FRAMES / 2 < from_frame(got_late, source) and got_late[-1] == source[-1]
    assert log.count("multicast stream of clip.mjpeg to 239.255.12.42:5004 starts") == 1
    assert "Traceback" not in log
    # -v: the members' reception reports, read from the group (ffmpeg sends one early on).
    reports = [line for line in log.splitlines() if "members: " in line]
    assert reports and "loss 0.0% (cumulative 0)" in reports[-1], log


@pytest.mark.skipif(
    shutil.which("gst-launch-1.0") is None,
    reason="no GStreamer (apt-get install gstreamer1.0-tools gstreamer1.0-plugins-good)",
)
def test_gstreamer_joins_and_decodes_every_frame(namespace, movie, tmp_path):
    url = f"rtsp://127.0.0.1:8556/{movie.name}"
    with multicast_server(namespace, movie.parent, 8556) as server:
        member = gst_member(namespace, url, tmp_path / "gst.mjpeg")
        _, err = member.communicate(timeout=PROCESS_TIMEOUT)  # EOS at the BYE
    log = server.stderr.read()
    if member.returncode != 0:
        # After the EOS, about one run in twenty on a loaded machine, rtspsrc 1.22 fails its
        # own PAUSE as it shuts down ("Received end-of-file") without the PAUSE reaching the
        # server, whose connection goes on to answer its TEARDOWN. Anything else fails here.
        assert SHUTDOWN_PAUSE in err and "PAUSE rtsp://" not in log, err
        assert "leaves its multicast stream: teardown" in log, log
    assert gstreamer_pictures((tmp_path / "gst.mjpeg").read_bytes()) == source_pictures(movie)


SHUTDOWN_PAUSE = (
    b"gst_rtspsrc_pause (): /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0:\n"
    b"Could not send message. (Received end-of-file)"
)


def gstreamer_pictures(data):
    """`pictures` of rtpjpegdepay's output. It rebuilds each JPEG's headers (SOI, then DQT)
    and should end it with EOI, but leaves EOI out when the scan's last byte is 0xD9 (its
    check is `end[0] != 0xff && end[1] != 0xd9`, where `||` was meant): about one frame in
    256. The two bytes are put back here, nothing else; the pixels must then be the
    source's exactly."""
    frames = [b"\xff\xd8\xff\xdb" + rest for rest in data.split(b"\xff\xd8\xff\xdb")[1:]]
    return pictures(b"".join(f if f.endswith(b"\xff\xd9") else f + b"\xff\xd9" for f in frames))


@needs_ffmpeg
def test_a_unicast_client_plays_beside_a_multicast_member(namespace, movie, tmp_path):
    source = source_pictures(movie)
    url = f"rtsp://127.0.0.1:8555/{movie.name}"
    with multicast_server(namespace, movie.parent, port=8555):
        member = ffmpeg_member(namespace, url, tmp_path / "member.mjpeg")
        unicast = ffmpeg_member(namespace, url, tmp_path / "unicast.mjpeg", transport="udp")
        for process in (member, unicast):
            _, err = process.communicate(timeout=PROCESS_TIMEOUT)
            assert process.returncode == 0, err
    for name in ("member", "unicast"):
        assert pictures((tmp_path / f"{name}.mjpeg").read_bytes()) == source


# A member that, after a second of the stream, sends a receiver report under the server's
# own SSRC; it prints the SSRCs its RTP came with and the SSRCs BYE named, as JSON.
COLLIDING_MEMBER = r"""
import json, re, selectors, socket, struct, sys, time
from rtsplab.rtp.ports import bind_multicast_socket
port, name, group = int(sys.argv[1]), sys.argv[2], sys.argv[3]
url = f"rtsp://127.0.0.1:{port}/{name}"
rtsp = socket.create_connection(("127.0.0.1", port), timeout=5)
def ask(text):
    rtsp.sendall(text.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += rtsp.recv(4096)
    return data.decode()
reply = ask(f"SETUP {url}/track1 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;multicast\r\n\r\n")
session = re.search(r"Session: (\d+)", reply).group(1)
ssrc = int(re.search(r"ssrc=([0-9A-Fa-f]+)", reply).group(1), 16)
rtp_port = int(re.search(r"port=(\d+)", reply).group(1))
rtp, rtcp = (bind_multicast_socket(group, p, "127.0.0.1") for p in (rtp_port, rtp_port + 1))
selector = selectors.DefaultSelector()
for s in (rtp, rtcp):
    selector.register(s, selectors.EVENT_READ)
ask(f"PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n")
seen, byes, start, sent = [], [], time.monotonic(), False
while time.monotonic() - start < 2.5:
    if not sent and time.monotonic() - start > 1.0:
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        cname = b"\x01\x0bthief@local\x00\x00\x00"  # CNAME item, then an end, padded
        sdes = struct.pack("!BBHI", 0x81, 202, (4 + len(cname)) // 4, ssrc) + cname
        rr = struct.pack("!BBHI", 0x80, 201, 1, ssrc)
        out.sendto(rr + sdes, (group, rtp_port + 1))
        sent = True
    for key, _ in selector.select(0.05):
        sock = key.fileobj
        while True:  # drain it: 160 packets a second
            try:
                data = sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            if sock is rtp:
                source = struct.unpack_from("!I", data, 8)[0]
                if not seen or seen[-1] != source:
                    seen.append(source)
                continue
            offset = 0
            while offset + 4 <= len(data):
                count, kind = data[offset] & 0x1F, data[offset + 1]
                words = struct.unpack_from("!H", data, offset + 2)[0]
                if kind == 203:
                    byes += list(struct.unpack_from(f"!{count}I", data, offset + 4))
                offset += 4 * (words + 1)
print(json.dumps({"setup": ssrc, "rtp": seen, "byes": byes}))
"""


def test_a_member_taking_the_servers_ssrc_makes_it_say_bye_and_take_a_new_one(namespace, movie):
    """RFC 3550 §8.2: the server sends BYE for the SSRC another source uses, and goes on
    under a new one; the members see the old SSRC, its BYE, then the new."""
    with multicast_server(namespace, movie.parent, 8557) as server:
        member = namespace.run(
            [sys.executable, "-c", COLLIDING_MEMBER, "8557", movie.name, GROUP],
            capture_output=True, text=True, timeout=PROCESS_TIMEOUT,
        )  # fmt: skip
    assert member.returncode == 0, member.stderr
    seen = json.loads(member.stdout)
    old, rtp = seen["setup"], seen["rtp"]
    assert rtp[0] == old and len(rtp) == 2 and rtp[1] != old  # one change, mid-stream
    assert old in seen["byes"]
    log = server.stderr.read()
    assert (
        log.count(f"our SSRC {old:08X} is also used by 127.0.0.1 (thief@local): now {rtp[1]:08X}")
        == 1
    ), log


MEMBERS = 3
LONG_FRAMES = 140  # 7 s at 20 fps: every member's first report (within ~3 s) is heard


def test_three_of_our_clients_share_the_stream_and_count_the_group(namespace, tmp_path):
    """Three headless clients as members of our server's stream: each gets the pictures of
    the clip from where it joined to the end, loses nothing, and counts four members (the
    three receivers and the server, a sender) from the group's reports."""
    make_clip(tmp_path / "long.mjpeg", 160, 120, LONG_FRAMES, fmt="mjpeg")
    source = source_pictures(tmp_path / "long.mjpeg")
    with multicast_server(namespace, tmp_path, 8558) as server:
        url = "rtsp://127.0.0.1:8558/long.mjpeg"
        members = [
            namespace.popen(
                [
                    sys.executable,
                    str(ROOT / "ClientLauncher.py"),
                    "127.0.0.1",
                    "8558",
                    "0",
                    url,
                    "--headless",
                    "--multicast",
                    "--multicast-interface",
                    "127.0.0.1",
                    "--rtcp-reduced-minimum",
                    "--idle",
                    "2",
                    "--save",
                    str(tmp_path / f"{i}.mjpeg"),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )  # fmt: skip
            for i in range(MEMBERS)
        ]
        outputs = [member.communicate(timeout=PROCESS_TIMEOUT + 10) for member in members]
    log = server.stderr.read()
    for i, (member, (out, err)) in enumerate(zip(members, outputs, strict=True)):
        assert member.returncode == 0, err
        summary = json.loads(out)
        got = pictures((tmp_path / f"{i}.mjpeg").read_bytes())
        assert from_frame(got, source) <= MAX_LATE_FRAMES and got[-1] == source[-1]
        assert summary["frames"] == len(got) and summary["lost_packets"] == 0
        assert summary["members"] == MEMBERS + 1, (summary, err)
    assert log.count("multicast stream of long.mjpeg to 239.255.12.42:5004 starts") == 1
    assert "Traceback" not in log


# A member that plays for half a second, pauses for a second, plays again, then leaves.
PAUSING_MEMBER = r"""
import re, socket, sys, time
port, name = int(sys.argv[1]), sys.argv[2]
url = f"rtsp://127.0.0.1:{port}/{name}"
rtsp = socket.create_connection(("127.0.0.1", port), timeout=5)
def ask(method, cseq, *headers):
    lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}", *headers, "", ""]
    rtsp.sendall("\r\n".join(lines).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += rtsp.recv(4096)
    assert data.startswith(b"RTSP/1.0 200"), data
    return data.decode()
reply = ask("SETUP", 1, "Transport: RTP/AVP;multicast")
session = "Session: " + re.search(r"Session: (\d+)", reply).group(1)
steps = ((2, "PLAY", 0.5), (3, "PAUSE", 1.0), (4, "PLAY", 0.5), (5, "TEARDOWN", 0))
for cseq, method, then in steps:
    ask(method, cseq, session)
    time.sleep(then)  # how long it plays, or pauses: what the test is about
"""


@needs_ffmpeg
def test_a_members_pause_stops_no_one_else(namespace, movie, tmp_path):
    source = source_pictures(movie)
    url = f"rtsp://127.0.0.1:8559/{movie.name}"
    with multicast_server(namespace, movie.parent, 8559) as server:
        whole = ffmpeg_member(namespace, url, tmp_path / "whole.mjpeg")
        # ffmpeg has its RTP port once SETUP is answered, and plays at once: the stream is
        # its before the pauser's PLAY, and the pause stops no one.
        wait_until(lambda: bound(namespace, "-uan", 5004), timeout=10, what="ffmpeg's SETUP")
        pauser = namespace.run([sys.executable, "-c", PAUSING_MEMBER, "8559", movie.name],
                               capture_output=True, text=True, timeout=PROCESS_TIMEOUT)  # fmt: skip
        assert pauser.returncode == 0, pauser.stderr
        _, err = whole.communicate(timeout=PROCESS_TIMEOUT)
        assert whole.returncode == 0, err
    got = pictures((tmp_path / "whole.mjpeg").read_bytes())
    # Whoever played first started the stream; from where the other joined, no frame is
    # missing through the pause, to the end.
    first = from_frame(got, source)
    assert first <= MAX_LATE_FRAMES and got == source[first:]
    log = server.stderr.read()
    assert log.count("multicast stream of clip.mjpeg to 239.255.12.42:5004 starts") == 1, log
    assert "stops: no member plays" not in log.split("end of")[0]  # not before the end


# A third party on the members' host. It hears the group: the RTP, for the SSRC the stream
# carries now, and the RTCP, until two members have reported (both play). From then until the
# stream ends it sends the group's RTCP port, every second, an RR in the name of the stream's
# SSRC (RFC 3550 §8.2: a collision claimed again and again). It prints the SSRCs the RTP came
# with, in order, and how many RRs it sent, as JSON.
THIRD_PARTY = r"""
import json, selectors, socket, struct, sys, time
from rtsplab.rtp.ports import bind_multicast_socket
group, rtp_port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rtp, rtcp = (bind_multicast_socket(group, p, "127.0.0.1") for p in (rtp_port, rtp_port + 1))
out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
selector = selectors.DefaultSelector()
for sock in (rtp, rtcp):
    selector.register(sock, selectors.EVENT_READ)
seen, reporters, sent, heard, next_claim = [], set(), 0, None, 0.0
start = time.monotonic()
while time.monotonic() - start < limit:
    now = time.monotonic()
    if heard is not None and now - heard > 2.0:
        break  # the stream is over
    if seen and len(reporters) >= 2 and now >= next_claim:
        out.sendto(struct.pack("!BBHI", 0x80, 201, 1, seen[-1]), (group, rtp_port + 1))
        sent, next_claim = sent + 1, now + 1.0
    for key, _ in selector.select(0.1):
        while True:  # drain it: the stream's packets come in bursts
            try:
                data = key.fileobj.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            if key.fileobj is rtcp:
                if len(data) >= 8 and data[1] == 201 and sent == 0:  # a member's RR
                    reporters.add(struct.unpack_from("!I", data, 4)[0])
                continue
            heard = time.monotonic()
            ssrc = struct.unpack_from("!I", data, 8)[0]
            if not seen or seen[-1] != ssrc:
                seen.append(ssrc)
print(json.dumps({"rtp": seen, "sent": sent}))
"""
ATTACKED_FRAMES = 300  # 15 s at 20 fps: fifteen claims of the server's SSRC


def frames_kept(got, source):
    """How many of the pictures `got` are the source's, in the source's order."""
    kept, position = 0, 0
    for picture in got:
        with contextlib.suppress(ValueError):
            position = source.index(picture, position) + 1
            kept += 1
    return kept


def test_two_members_keep_the_video_while_a_third_party_claims_the_servers_ssrc(
    namespace, tmp_path
):
    """RFC 3550 §8.2 under attack: the first claim makes the server take a new SSRC, which it
    introduces with its CNAME beside the BYE for the old one, and our members follow it; the
    same claim from the same host again every second changes nothing more."""
    make_clip(tmp_path / "long.mjpeg", 160, 120, ATTACKED_FRAMES, fmt="mjpeg")
    source = source_pictures(tmp_path / "long.mjpeg")
    limit = ATTACKED_FRAMES / FPS + PROCESS_TIMEOUT
    with multicast_server(namespace, tmp_path, 8560) as server:
        url = "rtsp://127.0.0.1:8560/long.mjpeg"
        third = namespace.popen(
            [sys.executable, "-c", THIRD_PARTY, GROUP, "5004", str(limit)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        members = []
        for i in range(2):
            command = [sys.executable, str(ROOT / "ClientLauncher.py"), "127.0.0.1", "8560",
                       "0", url, "--headless", "--multicast", "--multicast-interface",
                       "127.0.0.1", "--idle", "2", "--save", str(tmp_path / f"{i}.mjpeg"),
                       "-v"]  # fmt: skip
            pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
            members.append(namespace.popen(command, text=True, cwd=ROOT, **pipes))
        outputs = [member.communicate(timeout=limit) for member in members]
        claims, third_errors = third.communicate(timeout=limit)
    log = server.stderr.read()
    assert third.returncode == 0, third_errors
    heard = json.loads(claims)
    # A claim a second from when both members reported (within ~4 s) to the end.
    assert heard["sent"] >= ATTACKED_FRAMES / FPS - 6, heard
    old = heard["rtp"][0]
    assert len(heard["rtp"]) == 2, heard  # one change, the first claim's; none after
    new = heard["rtp"][1]
    assert log.count("is also used by") == 1, log
    assert f"our SSRC {old:08X} is also used by 127.0.0.1 (no CNAME): now {new:08X}" in log
    for i, (member, (out, err)) in enumerate(zip(members, outputs, strict=True)):
        assert member.returncode == 0, err
        got = pictures((tmp_path / f"{i}.mjpeg").read_bytes())
        kept = frames_kept(got, source)
        # From its first frame (a member joins a moment after the stream starts) to the
        # end, every frame but at most the one in flight at the change of SSRC.
        first = source.index(got[0])
        missing = [n for n, picture in enumerate(source) if picture not in got]
        assert first < FPS and kept >= len(source) - first - 1, (i, first, missing)
        assert json.loads(out)["frames"] == len(got)
        # Followed by its CNAME (-v), mid-stream: the frames kept say it was in time.
        assert f"changed its SSRC from {old:08X} to {new:08X}: following it" in err, err
        assert f"goes on as SSRC {new:08X}" in err, err
    assert "Traceback" not in log
