"""RtpStream driven by hand: a real clip, a real RtpSender, Pacer and PayloadCache, and `now`
passed in as the pacing loop would."""

import errno
import heapq
import io
import logging
import os

import pytest
from PIL import Image

from jpeg_samples import jpeg
from MakeVideo import make_clip
from RtpPacket import RtpPacket
from rtsplab.payload.rfc2435.packetizer import jpeg_payload_parts
from rtsplab.rtp.pacer import Pacer
from rtsplab.rtp.sender import RtpSender, joined
from rtsplab.server.payload_cache import PayloadCache
from rtsplab.server.stream import END_OF_FILE, EOF_BYE_DELAY, FILE_CHANGED, RtpStream
from VideoStream import VideoStream

FPS = 20.0
INTERVAL = 1 / FPS
MAX_PACKET = 300
BURST = 4
START = 100.0
FRAMES = 5
FIRST_SEQ = 65_530  # wraps within the clip
ORIGIN = 1000
TICKS = 90_000 // 20  # RTP clock ticks per frame at 20 fps


class Run:
    """One session's RtpStream, with what it sends and when it said BYE."""

    def __init__(self, path, *, cache=None, ssrc=0xCAFEBABE, max_packet=MAX_PACKET,
                 payloader=None, fail_on=None, fps=FPS, repair=None):  # fmt: skip
        self.media = VideoStream(path)
        options = {} if payloader is None else {"payloader": payloader}
        self.sender = RtpSender(fps, max_packet, ssrc=ssrc, first_seq=FIRST_SEQ,
                                timestamp_origin=ORIGIN, **options)  # fmt: skip
        self.pacer = Pacer(fps, burst=BURST)
        self.cache = PayloadCache() if cache is None else cache
        self.fail_on = fail_on  # the burst whose send raises
        self.bursts = []  # (now, [datagram, ...]) per send
        self.ends = []  # (now, reason) per on_end
        self.steps = []  # (now, what step returned)
        self.now = None
        self.stream = RtpStream("test", self.media, self.sender, self.pacer, self.cache,
                                self.send, self.on_end, repair)  # fmt: skip

    def send(self, packets, segment):
        sizes = [len(joined(p)) for p in packets]
        if segment is not None:  # what a GSO send relies on
            assert all(size == segment for size in sizes[:-1]) and sizes[-1] <= segment
        if self.fail_on == len(self.bursts):
            raise OSError(errno.ECONNREFUSED, "Connection refused")
        self.bursts.append((self.now, [joined(p) for p in packets]))

    def on_end(self, reason):
        self.ends.append((self.now, reason))

    def step(self, now):
        self.now = now
        at = self.stream.step(now)
        self.steps.append((now, at))
        if at is not None:
            assert at >= now - 1e-9  # never back in time
        return at

    @property
    def datagrams(self):
        return [d for _, burst in self.bursts for d in burst]

    def close(self):
        self.media.close()


def drive(*runs, start=START, most=10_000):
    """Step every run at the times it names, soonest first, as the pacing loop does, until
    each is done (at most `most` steps in all)."""
    due = [(run.stream.start(start), i) for i, run in enumerate(runs)]
    heapq.heapify(due)
    for _ in range(most):
        if not due:
            return
        now, i = heapq.heappop(due)
        at = runs[i].step(now)
        if at is not None and runs[i].stream.active:
            heapq.heappush(due, (at, i))
    raise AssertionError(f"not done after {most} steps")


def step_until(run, condition, start=START, most=10_000):
    """Step `run` by hand until `condition()`; returns the time of the last step."""
    now = run.stream.start(start)
    for _ in range(most):
        at = run.step(now)
        if condition():
            return now
        assert at is not None, "the stream ended first"
        now = at
    raise AssertionError(f"not reached after {most} steps")


def decode(datagram):
    packet = RtpPacket()
    packet.decode(datagram)
    return packet


def frames_of(datagrams):
    """The packets grouped by frame (the marker ends one), decoded."""
    frames, current = [], []
    for datagram in datagrams:
        current.append(decode(datagram))
        if current[-1].marker():
            frames.append(current)
            current = []
    assert current == [], "a frame without its marker"
    return frames


def source_frames(path):
    with VideoStream(path) as video:
        return [video.frame(i) for i in range(video.frame_count)]


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.Mjpeg"
    make_clip(path, 160, 120, FRAMES, fmt="lab")
    return path


@pytest.fixture
def runs():
    made = []

    def make(*args, **kw):
        made.append(Run(*args, **kw))
        return made[-1]

    yield make
    for run in made:
        run.close()


def test_every_frame_leaves_once_in_sequence_in_small_bursts(clip, runs):
    run = runs(clip)
    drive(run)
    originals = source_frames(clip)
    assert len(originals) == FRAMES
    datagrams = run.datagrams
    assert [decode(d).seqNum() for d in datagrams] == [
        (FIRST_SEQ + i) % 65536 for i in range(len(datagrams))
    ]
    frames = frames_of(datagrams)
    assert [bytes(b"".join(p.getPayload() for p in f)) for f in frames] == originals
    assert [{p.timestamp() for p in f} for f in frames] == [
        {ORIGIN + k * TICKS} for k in range(FRAMES)
    ]
    for frame in frames:
        assert [p.marker() for p in frame] == [0] * (len(frame) - 1) + [1]
        assert {p.ssrc() for p in frame} == {0xCAFEBABE}
    assert all(len(d) <= MAX_PACKET for d in datagrams)
    assert all(1 <= len(burst) <= BURST for _, burst in run.bursts)
    # Frame k's bursts: ceil(n / 4) of them, the first due at START + k / fps.
    firsts, at = [], 0
    for frame in frames:
        n_bursts = -(-len(frame) // BURST)
        firsts.append(run.bursts[at][0])
        assert sum(len(b) for _, b in run.bursts[at : at + n_bursts]) == len(frame)
        at += n_bursts
    assert at == len(run.bursts)
    assert firsts == pytest.approx([START + k * INTERVAL for k in range(FRAMES)])
    assert run.sender.frames_sent == FRAMES and run.sender.packets_sent == len(datagrams)


def test_at_the_end_a_bye_follows_the_last_frame_after_a_delay(clip, runs):
    run = runs(clip)
    drive(run)
    (end_now, bye_at), (bye_now, last) = run.steps[-2:]
    assert last is None
    assert bye_at == pytest.approx(end_now + EOF_BYE_DELAY)  # 0.1 s > 1/20 s
    assert bye_now == bye_at
    assert end_now == pytest.approx(START + FRAMES * INTERVAL)  # when a sixth frame was due
    assert run.bursts[-1][0] < end_now  # the end step sent nothing
    assert run.ends == [(bye_at, END_OF_FILE)]
    assert run.stream.at_end and not run.stream.active
    assert run.stream.ended_at == end_now


def test_the_bye_waits_at_least_a_frame_interval(clip, runs):
    run = runs(clip, fps=5.0)
    drive(run)
    (end_now, bye_at), _ = run.steps[-2:]
    assert bye_at == pytest.approx(end_now + 0.2)
    assert run.ends == [(bye_at, END_OF_FILE)]


def test_finish_mid_frame_sends_the_rest_of_it_at_once_and_nothing_after(clip, runs):
    originals = source_frames(clip)
    run = runs(clip)
    n0 = -(-len(originals[0]) // (MAX_PACKET - 12))
    n1 = -(-len(originals[1]) // (MAX_PACKET - 12))
    assert n1 > 2 * BURST  # the frame has bursts left after its first
    now = step_until(run, lambda: len(run.datagrams) == n0 + BURST)  # frame 1's first burst
    sent = len(run.bursts)
    run.stream.finish(now + 0.001)
    assert len(run.bursts) == sent + 1
    assert len(run.bursts[-1][1]) == n1 - BURST  # the rest, in one send
    assert [b"".join(p.getPayload() for p in f) for f in frames_of(run.datagrams)] == originals[:2]
    assert not run.stream.active  # so the pacing loop steps it no more
    assert run.stream.ended_at == now + 0.001
    run.stream.finish(now + 0.002)  # again: nothing more
    assert len(run.bursts) == sent + 1
    assert run.ends == [] and not run.stream.at_end


def test_finish_between_frames_sends_nothing(clip, runs):
    originals = source_frames(clip)
    run = runs(clip)
    n0 = -(-len(originals[0]) // (MAX_PACKET - 12))
    now = step_until(run, lambda: len(run.datagrams) == n0)
    sent = len(run.bursts)
    run.stream.finish(now)
    assert len(run.bursts) == sent
    assert not run.stream.active and run.stream.ended_at == now
    assert run.ends == []


def test_a_file_cut_short_ends_the_stream_after_the_frames_still_whole(clip, runs, caplog):
    originals = source_frames(clip)
    run = runs(clip)  # indexed whole
    data = clip.read_bytes()
    os.truncate(clip, data.index(originals[2]) + len(originals[2]) // 2)
    with caplog.at_level(logging.WARNING, logger="rtsplab.server.stream"):
        drive(run)
    assert [b"".join(p.getPayload() for p in f) for f in frames_of(run.datagrams)] == originals[:2]
    (end_now, bye_at), (bye_now, last) = run.steps[-2:]
    assert end_now == pytest.approx(START + 2 * INTERVAL)  # when frame 2 was due
    assert bye_at == pytest.approx(end_now + EOF_BYE_DELAY) and last is None
    assert run.ends == [(bye_at, FILE_CHANGED)]
    assert run.stream.at_end and run.stream.ended_at == end_now
    assert any("changed while it was served" in r.getMessage() for r in caplog.records)


def test_a_send_that_fails_stops_the_stream_without_a_bye(clip, runs, caplog):
    run = runs(clip, fail_on=2)
    with caplog.at_level(logging.WARNING, logger="rtsplab.server.stream"):
        drive(run)
    assert len(run.bursts) == 2
    failed_now, last = run.steps[-1]
    assert last is None and len(run.steps) == 3
    assert not run.stream.active and run.stream.ended_at == failed_now
    assert run.ends == [] and not run.stream.at_end
    assert any("RTP stream stopped" in r.getMessage() for r in caplog.records)


def progressive_jpeg():
    image = Image.new("RGB", (96, 64), (200, 40, 90))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80, progressive=True)
    return out.getvalue()


def test_a_frame_rfc_2435_cannot_carry_is_skipped_and_its_time_passes(tmp_path, runs, caplog):
    frames = [jpeg(0), progressive_jpeg(), jpeg(2), jpeg(3)]
    path = tmp_path / "mixed.mjpeg"
    path.write_bytes(b"".join(frames))
    run = runs(path, payloader=jpeg_payload_parts)
    with caplog.at_level(logging.WARNING, logger="rtsplab.server.stream"):
        drive(run)
    sent = frames_of(run.datagrams)
    assert len(sent) == 3
    assert [f[0].timestamp() for f in sent] == [ORIGIN, ORIGIN + 2 * TICKS, ORIGIN + 3 * TICKS]
    max_payload = MAX_PACKET - 12
    for frame, k in zip(sent, [0, 2, 3], strict=True):
        expected = b"".join(
            bytes(h) + bytes(b) for h, b in jpeg_payload_parts(frames[k], max_payload)
        )
        assert b"".join(p.getPayload() for p in frame) == expected
    seqs = [decode(d).seqNum() for d in run.datagrams]
    assert seqs == [(FIRST_SEQ + i) % 65536 for i in range(len(seqs))]  # no gap for the skip
    assert run.sender.frames_sent == 4
    first_sends = {}  # timestamp: when its frame's first burst left
    for now, burst in run.bursts:
        first_sends.setdefault(decode(burst[0]).timestamp(), now)
    assert list(first_sends.values()) == pytest.approx(
        [START, START + 2 * INTERVAL, START + 3 * INTERVAL]
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "frame 1 not sent" in warnings[0]
    assert "progressive" in warnings[0]
    assert run.ends[-1][1] == END_OF_FILE


def test_two_sessions_share_the_cut_frames_but_not_the_headers(clip, runs):
    cache = PayloadCache(min_uses=1)  # each frame kept from its first cut
    a = runs(clip, cache=cache, ssrc=0x0A0A0A0A)
    b = runs(clip, cache=cache, ssrc=0x0B0B0B0B)
    drive(a, b)
    assert len(a.datagrams) == len(b.datagrams) > FRAMES
    assert [d[12:] for d in a.datagrams] == [d[12:] for d in b.datagrams]
    assert {decode(d).ssrc() for d in a.datagrams} == {0x0A0A0A0A}
    assert {decode(d).ssrc() for d in b.datagrams} == {0x0B0B0B0B}
    assert [d[:8] for d in a.datagrams] == [d[:8] for d in b.datagrams]  # same seq, time
    assert cache.misses == FRAMES and cache.hits == FRAMES
    bye = START + FRAMES * INTERVAL + EOF_BYE_DELAY
    for run in (a, b):
        assert [reason for _, reason in run.ends] == [END_OF_FILE]
        assert run.ends[0][0] == pytest.approx(bye)


def test_sessions_with_other_packet_sizes_do_not_take_each_others_frames(clip, runs):
    cache = PayloadCache()
    small = runs(clip, cache=cache, max_packet=300)
    large = runs(clip, cache=cache, max_packet=1000)
    drive(small, large)
    originals = source_frames(clip)
    assert max(len(d) for d in small.datagrams) == 300
    assert max(len(d) for d in large.datagrams) == 1000
    for run in (small, large):
        assert [b"".join(p.getPayload() for p in f) for f in frames_of(run.datagrams)] == originals
    assert cache.misses == 2 * FRAMES and cache.hits == 0


def test_a_loop_behind_the_clock_sends_the_bursts_due_as_one(clip, runs):
    """Stepped late (a busy loop), the stream sends every burst already due in one send,
    and keeps the later ones for their time: it catches up without more calls."""
    run = runs(clip)
    start = run.stream.start(START)
    first_burst_at = run.step(start)  # frame 0's first burst, and when its next is due
    total = len(run.stream._packets)
    assert total > 3 * BURST  # several bursts to a frame
    late = START + 0.8 * INTERVAL  # past every burst of frame 0 (spread over 80%)
    at = run.step(late)
    assert [len(burst) for _, burst in run.bursts] == [BURST, total - BURST]
    assert at == pytest.approx(START + INTERVAL)  # the next frame, at its own time
    assert first_burst_at < late
