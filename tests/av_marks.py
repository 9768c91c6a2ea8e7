"""The A/V test clip's marks (`MakeVideo.py avclip`: a white frame and a click at every whole
second) found again in what a player recorded or played, and how far apart each pair came.

    frames, samples = recorded("out.mkv")          # a recording with both tracks (PyAV)
    flashes, clicks = onsets(frames, samples)      # seconds into the recording
    lags = click_lags(flashes, clicks)             # each click minus its flash: s

Used by the tests (ffmpeg's and GStreamer's recordings) and by bench/av_sync_bench.py.
"""

from __future__ import annotations

from array import array
from pathlib import Path

__all__ = ["CLICK_GAP", "CLICK_LEVEL", "FLASH_LEVEL", "click_lags", "onsets", "recorded"]

FLASH_LEVEL = 200  # mean grey of a white frame (the test picture's is about 117)
CLICK_LEVEL = 3000  # a click's samples reach 0.8 of full scale; silence is 0
CLICK_GAP = 0.2  # s of quiet before a click's onset
PAIR_WITHIN = 0.5  # s: a click further than this from every flash has lost its flash

Frames = list[tuple[float, float]]  # (time, mean grey)
Samples = list[tuple[float, int]]  # (time, value)


def recorded(path: str | Path) -> tuple[Frames, Samples]:
    """(video frames as (time, mean grey), audio samples of the first channel as (time,
    value)) of a recording, each as its container times it."""
    import av
    from PIL import ImageStat

    with av.open(str(path)) as container:
        frames = [(float(f.time), ImageStat.Stat(f.to_image().convert("L")).mean[0])
                  for f in container.decode(video=0)]  # fmt: skip
    samples: Samples = []
    with av.open(str(path)) as container:
        for f in container.decode(audio=0):
            channels = len(f.layout.channels)
            values = array("h", bytes(f.planes[0])[: 2 * f.samples * channels])  # s16, packed
            samples += [(float(f.time) + n / f.sample_rate, v)
                        for n, v in enumerate(values[::channels])]  # fmt: skip
    return frames, samples


def onsets(frames: Frames, samples: Samples) -> tuple[list[float], list[float]]:
    """The flashes' times (a white frame after a grey one) and the clicks' (a loud sample
    after CLICK_GAP of quiet)."""
    flashes = [t for i, (t, grey) in enumerate(frames)
               if grey > FLASH_LEVEL and (i == 0 or frames[i - 1][1] <= FLASH_LEVEL)]  # fmt: skip
    clicks: list[float] = []
    quiet_since = None
    for t, value in samples:
        if abs(value) > CLICK_LEVEL:
            if quiet_since is None or t - quiet_since > CLICK_GAP:
                clicks.append(t)
            quiet_since = t
    return flashes, clicks


def click_lags(flashes: list[float], clicks: list[float]) -> list[float]:
    """Each flash's nearest click minus the flash (s), for the flashes with a click within
    PAIR_WITHIN (a flash or a click lost to the network has no pair)."""
    lags = []
    for flash in flashes:
        nearest = min(clicks, key=lambda click: abs(click - flash), default=None)
        if nearest is not None and abs(nearest - flash) <= PAIR_WITHIN:
            lags.append(nearest - flash)
    return lags
