"""Flashes and clicks in a recording of the A/V test clip (`MakeVideo.py avclip`): where each
white frame and each click begin, in the recording's own time, read with PyAV."""

from __future__ import annotations

from array import array

FLASH_LEVEL = 200  # mean grey of a white frame (the test picture's is about 117)
CLICK_LEVEL = 3000  # a click's samples reach 0.8 of full scale; silence is 0
CLICK_GAP = 0.2  # s of quiet before a click's onset


def recorded(path):
    """(video frames as (time, mean grey), audio samples as (time, value)) of a recording."""
    import av
    from PIL import ImageStat

    with av.open(str(path)) as container:
        frames = [(float(f.time), ImageStat.Stat(f.to_image().convert("L")).mean[0])
                  for f in container.decode(video=0)]  # fmt: skip
    samples = []
    with av.open(str(path)) as container:
        for f in container.decode(audio=0):
            values = array("h", bytes(f.planes[0])[: 2 * f.samples])  # mono s16, native order
            samples += [(float(f.time) + n / f.sample_rate, v) for n, v in enumerate(values)]
    return frames, samples


def onsets(frames, samples):
    """The flashes' times (a white frame after a grey one) and the clicks' (a loud sample
    after CLICK_GAP of quiet)."""
    flashes = [t for i, (t, grey) in enumerate(frames)
               if grey > FLASH_LEVEL and (i == 0 or frames[i - 1][1] <= FLASH_LEVEL)]  # fmt: skip
    clicks, quiet_since = [], None
    for t, value in samples:
        if abs(value) > CLICK_LEVEL:
            if quiet_since is None or t - quiet_since > CLICK_GAP:
                clicks.append(t)
            quiet_since = t
    return flashes, clicks
