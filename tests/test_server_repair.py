"""The server's answers to NACKs (rtsplab.server.repair) in a real RtpStream driven by hand:
the packets asked for leave again ahead of the next burst, byte for byte as they first left
or as RFC 4588 packets; NACKs posted from another thread, bounded."""

import threading

import pytest

from MakeVideo import make_clip
from rtsplab.rtp.resend import ResendLimits
from rtsplab.rtp.rtx import RtxStream, unwrap
from rtsplab.server.repair import MAX_WAITING, Repair
from rtsplab.server.stream import REPAIR_TAIL
from test_rtp_stream_engine import START, Run, decode, step_until


@pytest.fixture
def run(tmp_path):
    path = tmp_path / "clip.Mjpeg"
    make_clip(path, 160, 120, 6, fmt="lab")
    made = []

    def make(repair):
        made.append(Run(path, repair=repair))
        return made[-1]

    yield make
    for r in made:
        r.close()


def sent_after(run, count):
    """Step until `count` more datagrams than now have left; those datagrams."""
    before = len(run.datagrams)
    step_until_more(run, before + count)
    return run.datagrams[before:]


def step_until_more(run, total, most=1000):
    now = run.steps[-1][1]
    for _ in range(most):
        if len(run.datagrams) >= total:
            return
        now = run.step(now)
        assert now is not None


def test_a_nacked_packet_leaves_again_as_it_was_ahead_of_the_next_burst(run):
    repair = Repair(ResendLimits(share=1.0))
    r = run(repair)
    step_until(r, lambda: len(r.datagrams) >= 12, start=START)
    first = {decode(d).seqNum(): d for d in r.datagrams}
    wanted = sorted(first)[2:5]
    repair.post([wanted], round_trip=0.02)
    bursts_before = len(r.bursts)
    step_until_more(r, len(r.datagrams) + 4)
    resent_burst = r.bursts[bursts_before][1]
    assert resent_burst == [first[seq] for seq in wanted]  # byte for byte, first
    assert repair.counts.resent == 3 and repair.counts.nacks == 1


def test_a_client_that_takes_rtx_gets_rfc_4588_packets(run):
    repair = Repair(ResendLimits(share=1.0), rtx=RtxStream(pt=97, ssrc=0x0BADCAFE, next_seq=5))
    r = run(repair)
    step_until(r, lambda: len(r.datagrams) >= 8, start=START)
    original = {decode(d).seqNum(): d for d in r.datagrams}
    seq = sorted(original)[1]
    repair.post([[seq]])
    bursts_before = len(r.bursts)
    step_until_more(r, len(r.datagrams) + 2)
    (datagram,) = r.bursts[bursts_before][1]
    packet, first = decode(datagram), decode(original[seq])
    assert (packet.payloadType(), packet.ssrc(), packet.seqNum()) == (97, 0x0BADCAFE, 5)
    assert packet.timestamp() == first.timestamp()
    osn, payload = unwrap(packet.getPayload())
    assert osn == seq and bytes(payload) == first.getPayload()


def test_nacks_posted_from_another_thread_are_bounded_and_each_number_asked_once():
    repair = Repair()
    nack = list(range(2000))
    threads = [threading.Thread(target=repair.post, args=([nack, nack[:10]],)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert repair.counts.nacks == 8 and repair.refused_waiting == 0  # the same 2000, once
    repair.post([list(range(10_000, 13_000))])  # 3000 more: room for 2096
    assert repair.refused_waiting == 3000 - (MAX_WAITING - 2000)
    assert repair.answers(0.0) == [] and repair.counts.not_held == MAX_WAITING


def test_past_the_last_frame_nacks_are_answered_until_the_bye(run):
    repair = Repair(ResendLimits(share=1.0))
    r = run(repair)
    step_until(r, lambda: r.stream.at_end, start=START)
    end, now = r.steps[-1]
    now = r.step(now)  # a frame's time after the last: the NACK comes a round trip later
    last = r.datagrams[-1]
    repair.post([[decode(last).seqNum()]], round_trip=0.02)  # the last packet, asked at the end
    bursts = len(r.bursts)
    for _ in range(100):
        if r.ends or now is None:
            break
        now = r.step(now)
    assert [burst for _, burst in r.bursts[bursts:]] == [[last]]  # it went again, as it was
    ((bye_at, _),) = r.ends
    assert bye_at - end >= REPAIR_TAIL - 1e-9  # the BYE waited for the repairs' round trips
