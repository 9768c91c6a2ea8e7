"""The Tk player's sound, in a real X server (Xvfb) against our server on loopback: the A/V test
clip in sync through the server's jitter before a PAUSE, after the PLAY that resumes it and
after a seek; Mute and volume; a converted real clip playing with its sound, the panel's
offset read off the window.

The window is read as a user reads it (screenshots) and, for its text, through Tk's own
`send`: another Tk application on the same display asks the player's interpreter for a
label's text or a variable (the panel names its labels by key: `.panel.offset`). The runs
have no sound card (RTSPLAB_NO_SOUND, as in CI): the sound plays muted on the stand-in clock,
which the picture follows exactly as it would a card's.
"""

from __future__ import annotations

import csv
import json
import shutil
import struct
import subprocess
import sys
import time
from array import array
from pathlib import Path

import pytest

import MakeVideo
import test_player_window as window
from conftest import ROOT, running_server
from helpers import wait_until
from rtsplab.player.audio_output import Renderer
from rtsplab.player.audio_playout import AudioPlayout
from rtsplab.player.av_clock import AvClock
from rtsplab.player.playout_log import AUDIO, VIDEO, av_offset
from rtsplab.player.sound_track import SoundTrack
from rtsplab.rtsp.state import State
from rtsplab.server.impairment import ImpairmentConfig
from test_player_window import Player, frames_sent, session_state, shows_a_picture, wait_for_shot

display = window.display  # the Xvfb fixture, and the skip without Xvfb, xdotool, import
pytestmark = window.pytestmark

FPS = 25
MAX_OFFSET = 0.020  # s: the bound the issue sets on the A/V offset (ATSC IS-191: +15/-45 ms)
MIN_ROWS = 20  # video rows a stretch needs for its median to say something
BUNNY = ROOT / ".peers" / "bigbuckbunny.mp4"  # a real clip with sound (1280x720, 5.3 s)
SCREENSHOT = "player-sound.png"  # as the README shows it (docs/)
TALL_WINDOW = "1000x720"  # the panel's rows, the sound's among them, and its plot all shown


# Another Tk application on the player's display: it sends the player's interpreter a Tcl
# command and prints the answer. A process of its own each time: a Tk in the test process
# would hold a connection to the display, and Xlib ends a process whose display goes away.
SEND = """
import sys, tkinter
root = tkinter.Tk()
root.withdraw()
me = root.tk.call("tk", "appname")
others = [name for name in root.tk.call("winfo", "interps") if name != me]
if len(others) != 1:
    sys.exit(f"one player expected on the display: {others}")
print(root.tk.call("send", others[0], *sys.argv[1:]))
"""


class WindowText:
    """The player's widgets read as its window shows them, through Tk's `send`."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def send(self, *command: str) -> str:
        done = subprocess.run([sys.executable, "-c", SEND, *command], env=self.env,
                              capture_output=True, text=True, timeout=10)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.removesuffix("\n")

    def text(self, path: str) -> str:
        return self.send(path, "cget", "-text")

    def variable(self, name: str) -> str:
        return self.send("set", name)


@pytest.fixture
def window_text(display):
    return WindowText(display)


def muted_env(display):
    return {**display, "RTSPLAB_NO_SOUND": "1"}


def offset_ms(text: str) -> float | None:
    """The panel's A/V offset ("-3.9 ms"), None while it shows none ("–")."""
    return float(text.removesuffix(" ms")) if text.endswith(" ms") else None


def read_log(path: Path) -> list[tuple[str, float, float]]:
    with open(path, newline="") as log_file:
        reader = csv.reader(log_file)
        next(reader)
        return [(stream, float(media), float(played)) for stream, media, played in reader]


def stretch_offset(rows: list[tuple[str, float, float]]) -> float:
    video = sum(1 for row in rows if row[0] == VIDEO)
    audio = sum(1 for row in rows if row[0] == AUDIO)
    assert video >= MIN_ROWS and audio >= 2 * MIN_ROWS, f"{video} video, {audio} audio rows"
    offset = av_offset(rows)
    assert offset is not None
    return offset


# -- the A/V test clip through jitter: in sync in every stretch ------------------------------


def test_the_av_clip_stays_in_sync_through_jitter_pause_play_and_a_seek(display, tmp_path):
    clip, log_path = tmp_path / "sync.mjpeg", tmp_path / "playout.csv"
    assert MakeVideo.main(["avclip", str(clip), "--seconds", "8", "--fps", str(FPS),
                           "--size", "320x240"]) == 0  # fmt: skip
    with running_server(tmp_path, fps=FPS) as server:
        server.config.impairment = ImpairmentConfig(delay=40, jitter=40, seed=21)
        url = f"rtsp://127.0.0.1:{server.port}/{clip.name}"
        player = Player(muted_env(display), server.port, "--buffer", "10",
                        "--playout-log", str(log_path), video=url)  # fmt: skip
        try:
            player.key("p")
            wait_until(lambda: session_state(server) is State.PLAYING)
            wait_until(lambda: frames_sent(server) >= 2 * FPS, what="2 s sent")
            paused_at = time.monotonic()
            player.key("space")
            wait_until(lambda: session_state(server) is State.READY)
            resumed_at = time.monotonic()
            player.key("p")
            wait_until(lambda: session_state(server) is State.PLAYING)
            sent = frames_sent(server)
            wait_until(lambda: frames_sent(server) >= sent + 1.5 * FPS, what="1.5 s more sent")
            sought_at, sent = time.monotonic(), frames_sent(server)
            player.key("Right")  # +2 s from the picture: PAUSE, then PLAY with a Range
            # Sent jumps 2 s less the cache's 0.4 s, then 1.9 s of playing from there.
            wait_until(lambda: frames_sent(server) >= sent + 3.5 * FPS, timeout=4,
                       what="the seek, and playing on")  # fmt: skip
        finally:
            code, out, err = player.quit()
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["sound"] == "muted" and err.count("playing muted") == 1
    assert summary["audio_lost_packets"] == 0 and summary["lost_packets"] == 0

    rows = read_log(log_path)
    before = [row for row in rows if row[2] < paused_at]
    resumed = [row for row in rows if resumed_at <= row[2] < sought_at]
    # After the seek: the rows of its range (2 s on), not the sound still playing until the
    # seek's PAUSE came back.
    reached = max(row[1] for row in rows if row[2] < sought_at)
    sought = [row for row in rows if row[2] >= sought_at and row[1] > reached + 1.0]
    offsets = [stretch_offset(stretch) for stretch in (before, resumed, sought)]
    print("A/V offset, ms: before the pause {:+.2f}, resumed {:+.2f}, after the seek {:+.2f}"
          .format(*(1000 * offset for offset in offsets)))  # fmt: skip
    assert all(abs(offset) <= MAX_OFFSET for offset in offsets)
    assert summary["av_offset_ms"] == pytest.approx(1000 * av_offset(rows), abs=0.01)


# -- mute and volume ---------------------------------------------------------------------------


def renderer_with_a_packet(level: int) -> tuple[Renderer, list[bytes]]:
    """A renderer over a cache holding one 20 ms mono packet of 48 kHz at `level`, started."""
    playout = AudioPlayout(48_000, 1, prefill=0.001)
    playout.put(1000, struct.pack(">h", level) * 960)  # L16: network byte order
    recorded: list[bytes] = []
    return Renderer(playout, AvClock(90_000, 48_000), None, recorded.append), recorded


def test_volume_scales_what_is_heard_and_mute_silences_it_but_not_the_recording():
    """--save-audio records the sound as played out (in time, concealment included), before
    the listener's loudness: a muted or quiet recording would lose the sound itself."""
    renderer, recorded = renderer_with_a_packet(10_000)
    track = SoundTrack(sound=False)
    track.renderer = renderer
    track.set_loudness(0.5, mute=False)
    half = array("h", renderer.render(240, 0.0))
    track.set_loudness(0.5, mute=True)
    muted = array("h", renderer.render(240, 0.005))
    track.set_loudness(1.7, mute=False)  # beyond full: full
    full = array("h", renderer.render(240, 0.010))
    assert set(half) == {5000} and set(muted) == {0} and set(full) == {10_000}
    assert (renderer.volume, track.loudness()) == (1.0, "100 %")
    assert [set(array("h", block)) for block in recorded] == [{10_000}] * 3
    # Chosen without sound (before it starts, between sessions): kept for the next output.
    track.renderer = None
    track.set_loudness(0.25, mute=True)
    assert track.loudness() is None and (track.volume, track.mute) == (0.25, True)


# -- a real clip with its sound: the picture, the panel, the m key ----------------------------


@pytest.fixture(scope="module")
def bunny(tmp_path_factory) -> Path:
    if not BUNNY.exists():
        pytest.skip(f"no real clip with sound at .peers/{BUNNY.name} (CI puts it there)")
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not on PATH: apt install ffmpeg")
    clip = tmp_path_factory.mktemp("bunny") / "bunny.mjpeg"
    assert MakeVideo.main(["convert", str(BUNNY), str(clip), "--size", "640x360",
                           "--fps", str(FPS)]) == 0  # fmt: skip
    assert clip.with_suffix(".wav").exists()
    return clip


def test_a_real_clip_plays_with_its_sound_in_sync_on_the_panel_and_again_after_teardown(
    display, window_text, bunny, tmp_path
):
    with running_server(bunny.parent, fps=FPS) as server:
        url = f"rtsp://127.0.0.1:{server.port}/{bunny.name}"
        player = Player(muted_env(display), server.port, "--buffer", "10",
                        "--geometry", TALL_WINDOW, video=url)  # fmt: skip
        try:
            assert window_text.text(".panel.sound") == "–"  # no session yet
            player.key("p")
            wait_until(lambda: session_state(server) is State.PLAYING)
            # The offset over a second and more of playing (the panel's, every 250 ms).
            wait_until(lambda: frames_sent(server) >= 2.5 * FPS, what="2.5 s sent")
            offset = offset_ms(window_text.text(".panel.offset"))
            shot = wait_for_shot(player, shows_a_picture, "a picture")
            shot.save(tmp_path / SCREENSHOT)
            sound, volume = window_text.text(".panel.sound"), window_text.text(".panel.volume")
            note = window_text.text(".sound_controls.note")
            player.key("m")
            wait_until(lambda: window_text.text(".panel.volume") == "mute", what="muted")
            assert window_text.variable("sound_mute") == "1"
            player.key("m")
            wait_until(lambda: window_text.text(".panel.volume") == "100 %", what="unmuted")
            assert window_text.variable("sound_mute") == "0"
            # TEARDOWN closes the sound; a new session (p: SETUP, then PLAY) has it again.
            player.key("t")
            wait_until(lambda: session_state(server) is State.INIT)
            wait_until(lambda: window_text.text(".panel.sound") == "–", what="no sound")
            player.key("p")
            wait_until(lambda: session_state(server) is State.PLAYING)
            wait_until(lambda: offset_ms(window_text.text(".panel.offset")) is not None,
                       what="the new session's offset")  # fmt: skip
        finally:
            code, out, err = player.quit()
    assert code == 0, err
    print(f"panel: sound {sound}, volume {volume}, A/V offset {offset} ms; {note}")
    assert offset is not None and abs(offset) <= 1000 * MAX_OFFSET
    assert (sound, volume) == ("muted", "100 %") and note == "muted: RTSPLAB_NO_SOUND is set"
    torn_down, closed = (json.loads(line) for line in out.strip().splitlines()[-2:])
    assert torn_down["sound"] == "muted" and abs(torn_down["av_offset_ms"]) <= 1000 * MAX_OFFSET
    assert torn_down["audio_played"] > 0 and torn_down["shown"] > 2 * FPS
    assert closed["sound"] == "muted" and closed["audio_played"] > 0
    # The cache's counts run over the window's sessions: more frames shown in the new one.
    assert closed["av_offset_ms"] is not None and closed["shown"] > torn_down["shown"]
