"""Frames cut into packets and put back together: loss, reordering, duplicates, bounds."""

import random

import pytest

from jpeg_samples import jpeg
from rtsplab.payload.jpeg import is_complete_jpeg
from rtsplab.payload.lab import LabAssembler, fragment

MAX_PAYLOAD = 300


def with_thumbnail(main: bytes, thumbnail: bytes, pad_to: int) -> bytes:
    """`main` with an APP1 segment carrying a whole JPEG, placed so the thumbnail's SOI
    starts exactly at byte `pad_to` (a packet boundary)."""
    prefix = 2 + 4  # SOI + APP1 marker and length
    filler = pad_to - prefix
    body = b"\0" * filler + thumbnail
    segment = b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body
    return main[:2] + segment + main[2:]


def packets(frames, first_seq=1000, timestamps=None, marker=True):
    """(ext_seq, timestamp, marker, payload) for each fragment of each frame, in order."""
    out, seq = [], first_seq
    for n, frame in enumerate(frames):
        ts = timestamps[n] if timestamps else 3000 * n
        parts = fragment(frame, MAX_PAYLOAD)
        for i, part in enumerate(parts):
            out.append((seq, ts, marker and i == len(parts) - 1, part))
            seq += 1
    return out


def feed(assembler, items):
    return [f for item in items if (f := assembler.push(*item)) is not None]


def test_fragment_cuts_at_the_budget_and_joins_back():
    frame = bytes(range(256)) * 5  # 1280 bytes
    parts = fragment(frame, 300)
    assert [len(p) for p in parts] == [300, 300, 300, 300, 80]
    assert b"".join(parts) == frame
    assert fragment(frame[:300], 300) == [frame[:300]]
    with pytest.raises(ValueError):
        fragment(frame, 0)


@pytest.mark.parametrize("marker", [True, False], ids=["marker", "no-marker"])
def test_in_order_frames_come_back_whole(marker):
    frames = [jpeg(i) for i in range(5)]
    assert all(len(fragment(f, MAX_PAYLOAD)) >= 3 for f in frames)
    assembler = LabAssembler()
    assert feed(assembler, packets(frames, marker=marker)) == frames
    assert assembler.stats.frames == 5 and assembler.stats.dropped_frames == 0
    assert assembler.buffered_bytes == 0


@pytest.mark.parametrize("lost", ["first", "middle", "last"])
@pytest.mark.parametrize("marker", [True, False], ids=["marker", "no-marker"])
def test_a_frame_missing_a_fragment_is_dropped_never_delivered(lost, marker):
    frames = [jpeg(i) for i in range(3)]
    items = packets(frames, marker=marker)
    frame1 = [i for i, item in enumerate(items) if item[1] == 3000]
    victim = {"first": frame1[0], "middle": frame1[len(frame1) // 2], "last": frame1[-1]}[lost]
    del items[victim]
    assembler = LabAssembler()
    assert feed(assembler, items) == [frames[0], frames[2]]
    assert assembler.stats.dropped_frames == 1


def test_losing_the_end_of_one_frame_and_the_start_of_the_next_glues_nothing():
    frames = [jpeg(i) for i in range(3)]
    items = packets(frames, marker=False)
    last_of_0 = max(i for i, item in enumerate(items) if item[1] == 0)
    del items[last_of_0 : last_of_0 + 2]  # end of frame 0 and start of frame 1
    assembler = LabAssembler()
    got = feed(assembler, items)
    assert got == [frames[2]]
    assert assembler.stats.dropped_frames == 2


def test_one_timestamp_for_many_frames_as_the_labs_server_sends():
    """The lab's RtpPacket stamps int(time()): 20 frames share a timestamp."""
    frames = [jpeg(i) for i in range(4)]
    items = packets(frames, timestamps=[7] * 4, marker=False)
    # drop the second packet of frame 1
    start1 = len(fragment(frames[0], MAX_PAYLOAD))
    del items[start1 + 1]
    assembler = LabAssembler()
    got = feed(assembler, items)
    assert got == [frames[0], frames[2], frames[3]]
    assert all(is_complete_jpeg(f) for f in got)
    assert assembler.stats.dropped_frames == 1


def test_reordering_within_a_frame_and_across_one_boundary_is_tolerated():
    frames = [jpeg(i) for i in range(6)]
    items = packets(frames)
    rng = random.Random(7)
    for n in range(6):  # shuffle each frame's packets
        idx = [i for i, item in enumerate(items) if item[1] == 3000 * n]
        chunk = [items[i] for i in idx]
        rng.shuffle(chunk)
        for i, item in zip(idx, chunk, strict=True):
            items[i] = item
    # the last packet of frame 2 arrives after the first of frame 3
    end2 = max(i for i, item in enumerate(items) if item[1] == 6000)
    items[end2], items[end2 + 1] = items[end2 + 1], items[end2]
    assembler = LabAssembler()
    assert feed(assembler, items) == frames
    assert assembler.stats.dropped_frames == 0


def test_duplicates_are_counted_and_deliver_nothing_twice():
    frames = [jpeg(i) for i in range(3)]
    items = packets(frames)
    doubled = [item for item in items for _ in range(2)]
    assembler = LabAssembler()
    assert feed(assembler, doubled) == frames
    # a duplicate of a packet still held, or of one already delivered (late)
    assert assembler.stats.duplicates + assembler.stats.late_packets == len(items)


def test_a_late_packet_of_a_delivered_frame_is_ignored():
    frames = [jpeg(0), jpeg(1)]
    items = packets(frames)
    assembler = LabAssembler()
    assert feed(assembler, items) == frames
    assert assembler.push(*items[0]) is None
    assert assembler.stats.late_packets == 1


def test_a_thumbnail_starting_a_packet_is_not_taken_for_the_frame():
    thumb = jpeg(99, size=(16, 16))
    frame = with_thumbnail(jpeg(1), thumb, pad_to=MAX_PAYLOAD)
    parts = fragment(frame, MAX_PAYLOAD)
    assert parts[1].startswith(b"\xff\xd8")  # the thumbnail's SOI opens packet 2
    items = packets([jpeg(0), frame, jpeg(2)], marker=False)
    assembler = LabAssembler()
    assert feed(assembler, items) == [jpeg(0), frame, jpeg(2)]

    first_of_frame = next(i for i, item in enumerate(items) if item[1] == 3000)
    del items[first_of_frame]
    assembler = LabAssembler()
    got = feed(assembler, items)
    assert got == [jpeg(0), jpeg(2)]
    assert thumb not in got
    assert assembler.stats.dropped_frames == 1


def test_memory_is_bounded_and_an_oversized_frame_is_dropped():
    big = jpeg(5, size=(400, 300))
    limit = len(big) // 2
    assembler = LabAssembler(max_bytes=limit)
    seen_max = 0
    got = []
    for item in packets([big, jpeg(1)]):
        frame = assembler.push(*item)
        seen_max = max(seen_max, assembler.buffered_bytes)
        if frame is not None:
            got.append(frame)
    assert got == [jpeg(1)]
    assert seen_max <= limit
    assert assembler.stats.dropped_frames >= 1


def test_packet_count_is_bounded_too():
    assembler = LabAssembler(max_packets=10)
    for seq in range(100):
        assembler.push(seq, 0, False, b"x")
    assert assembler.buffered_packets <= 10


def test_flush_counts_the_incomplete_frame_left_at_the_end():
    items = packets([jpeg(0), jpeg(1)])
    assembler = LabAssembler()
    feed(assembler, items[:-1])
    assert assembler.stats.frames == 1
    assembler.flush()
    assert assembler.stats.dropped_frames == 1 and assembler.buffered_bytes == 0
