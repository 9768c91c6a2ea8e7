"""A clip's sound beside it: `MakeVideo.py convert` keeps a source's sound as 16-bit PCM
(its rate and channels, within bounds), leaves none when there is none, and `avclip` writes
the A/V test clip whose flashes and clicks fall on the same instants."""

import array
import io
import shutil
import subprocess
import wave

import pytest
from PIL import Image, ImageStat

import MakeVideo
from real_clip import real_clip
from rtsplab.media import MakeVideoError
from rtsplab.media.sound import companion, read_sound
from VideoStream import VideoStream

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(
    FFMPEG is None, reason="ffmpeg is not installed (apt install ffmpeg)"
)


def source(path, seconds=2, audio="sine=frequency=440:sample_rate=44100", layout="stereo"):
    command = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
               "-f", "lavfi", "-i", f"testsrc=size=320x240:rate=25:duration={seconds}"]  # fmt: skip
    if audio:
        command += ["-f", "lavfi", "-i", f"{audio}:duration={seconds}",
                    "-af", f"aformat=channel_layouts={layout}"]  # fmt: skip
    subprocess.run([*command, "-shortest", str(path)], check=True, timeout=60)
    return path


def samples(path):
    with wave.open(str(path), "rb") as wav:
        data = array.array("h", wav.readframes(wav.getnframes()))
    return data


@needs_ffmpeg
def test_convert_keeps_the_sound_at_its_rate_and_channels(tmp_path):
    clip = tmp_path / "clip.mjpeg"
    assert MakeVideo.main(["convert", str(source(tmp_path / "in.mp4")), str(clip)]) == 0
    sound = read_sound(companion(clip))
    assert (sound.rate, sound.channels) == (44100, 2)
    assert sound.seconds == pytest.approx(2.0, abs=0.05)
    left = samples(sound.path)[0::2]
    crossings = sum(1 for a, b in zip(left, left[1:], strict=False) if (a < 0) != (b < 0))
    assert crossings == pytest.approx(2 * 440 * sound.seconds, rel=0.02)  # still a 440 Hz tone


@needs_ffmpeg
def test_more_than_stereo_or_48_khz_is_brought_within_bounds(tmp_path):
    clip = tmp_path / "clip.mjpeg"
    made = source(tmp_path / "in.mkv", audio="sine=frequency=440:sample_rate=96000",
                  layout="5.1")  # fmt: skip
    assert MakeVideo.main(["convert", str(made), str(clip)]) == 0
    sound = read_sound(companion(clip))
    assert (sound.rate, sound.channels) == (48000, 2)


@needs_ffmpeg
def test_no_sound_in_the_source_or_asked_leaves_no_companion(tmp_path):
    clip = tmp_path / "clip.mjpeg"
    companion(clip).write_bytes(b"an older clip's sound")
    assert MakeVideo.main(["convert", str(source(tmp_path / "in.mp4", audio=None)), str(clip)]) == 0
    assert not companion(clip).exists()
    with_sound = source(tmp_path / "in2.mp4")
    assert MakeVideo.main(["convert", str(with_sound), str(clip), "--no-sound"]) == 0
    assert not companion(clip).exists() and VideoStream(clip).frame_count == 50


def test_the_av_clip_flashes_and_clicks_on_each_second(tmp_path):
    clip = tmp_path / "sync.mjpeg"
    assert MakeVideo.main(["avclip", str(clip), "--seconds", "3", "--fps", "24"]) == 0
    with VideoStream(clip) as stream:
        frames = [stream.frame(i) for i in range(stream.frame_count)]
    assert len(frames) == 72
    bright = [i for i, jpeg in enumerate(frames) if brightness(jpeg) > 250]
    assert bright == [0, 24, 48]
    sound = read_sound(companion(clip))
    data = samples(sound.path)
    loud = {n // sound.rate for n, value in enumerate(data) if abs(value) > 1000}
    assert loud == {0, 1, 2}
    for second in range(3):
        window = data[second * sound.rate : (second + 1) * sound.rate]
        heard = [n for n, value in enumerate(window) if abs(value) > 1000]
        assert heard[0] < 0.001 * sound.rate and heard[-1] < 0.011 * sound.rate


def brightness(jpeg):
    return ImageStat.Stat(Image.open(io.BytesIO(jpeg)).convert("L")).mean[0]


def test_a_companion_the_server_cannot_send_is_refused(tmp_path):
    path = tmp_path / "eight.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(bytes(800))
    with pytest.raises(MakeVideoError, match=r"8-bit PCM, 1 channel\(s\)"):
        read_sound(path)
    (tmp_path / "junk.wav").write_bytes(b"RIFF....")
    with pytest.raises(MakeVideoError, match="not a PCM WAV"):
        read_sound(tmp_path / "junk.wav")


@needs_ffmpeg
def test_a_real_clips_sound_is_kept_as_ffmpeg_decodes_it(tmp_path):
    """Big Buck Bunny's 5.1 sound, mixed down to stereo: the companion holds exactly the
    samples ffmpeg itself decodes with the same mixdown, as long as the picture."""
    clip = tmp_path / "bbb.mjpeg"
    assert MakeVideo.main(["convert", str(real_clip()), str(clip), "--size", "320x180"]) == 0
    sound = read_sound(companion(clip))
    assert (sound.rate, sound.channels) == (48000, 2)
    video = VideoStream(clip)
    assert sound.seconds == pytest.approx(video.frame_count / 25, abs=0.05)  # 132 frames, 25 fps
    decoded = subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-i", str(real_clip()), "-vn",
         "-ac", "2", "-ar", "48000", "-f", "s16le", "-"],
        check=True, capture_output=True, timeout=60,
    ).stdout  # fmt: skip
    assert samples(sound.path).tobytes() == decoded[: 2 * 2 * sound.frames]
    assert max(abs(s) for s in samples(sound.path)) > 1000  # sound, not silence
