"""The client's sound cache and audio clock (rtsplab.player.audio_playout): prefill, then
PCM in the device's block sizes; a missing packet concealed in its place, a late one
dropped; the clock's position; bounded."""

import struct

from rtsplab.player.audio_playout import AudioPlayout


def packet(value, samples=160):
    return struct.pack(f">{samples}h", *([value] * samples))  # L16: network order


def pcm(data):
    return struct.unpack(f"<{len(data) // 2}h", data)


def test_silence_until_prefilled_then_the_packets_in_order():
    playout = AudioPlayout(8000, 1, prefill=0.04)  # two packets of 20 ms
    playout.put(1000, packet(1))
    assert not playout.playing and playout.pull(100) == bytes(200) and playout.position is None
    playout.put(1160, packet(2))
    assert playout.playing and playout.position == 1000
    out = pcm(playout.pull(200))
    assert out == (1,) * 160 + (2,) * 40
    assert playout.position == 1200  # 1160 + the 40 samples played of it


def test_reordered_packets_play_in_timestamp_order():
    playout = AudioPlayout(8000, 1, prefill=0.06)
    for ts, value in ((1160, 2), (1000, 1), (1320, 3)):
        playout.put(ts, packet(value))
    assert pcm(playout.pull(480)) == (1,) * 160 + (2,) * 160 + (3,) * 160


def test_a_missing_packet_is_concealed_in_place_and_a_late_one_dropped():
    playout = AudioPlayout(8000, 1, prefill=0.04)
    playout.put(0, packet(1000))
    playout.put(320, packet(3))  # 160 missing
    out = pcm(playout.pull(480))
    assert out[:160] == (1000,) * 160
    concealed = out[160:320]
    assert (
        concealed[0] > 990
        and concealed[-1] == 0
        and list(concealed) == sorted(concealed, reverse=True)
    )
    assert out[320:] == (3,) * 160
    playout.put(160, packet(2))
    assert (playout.stats.concealed, playout.stats.late, playout.stats.played) == (1, 1, 2)


def test_after_the_end_silence_is_not_counted_as_loss():
    playout = AudioPlayout(8000, 2, prefill=1.0)
    playout.put(0, packet(5, 320))  # stereo: 160 instants
    playout.end()
    assert playout.playing
    out = pcm(playout.pull(480))
    assert out[:320] == (5,) * 320 and set(out[320:]) == {0}
    assert playout.stats.concealed == 0


def test_the_cache_is_bounded_and_duplicates_dropped():
    playout = AudioPlayout(8000, 1, prefill=0.02)
    playout.put(0, packet(1))
    playout.put(0, packet(1))
    for n in range(1, 1000):
        playout.put(n * 160, packet(1))
    assert playout.stats.dropped == 1 + 999 - (500 - 1)  # 10 s of 20 ms packets held at most
