"""The real Tk player in a real X server (Xvfb), driven with xdotool keys like a user."""

import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import tkinter
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from conftest import ROOT, free_port, running_server
from fake_rtsp import FakeRtspServer, ok, reply
from helpers import wait_until
from MakeVideo import encode_jpeg, make_clip, write_lab
from rtsplab.player.wakeup import TkWakeup
from rtsplab.rtsp.state import State
from rtsplab.server.session import ServerSession, StreamConfig
from Server import Server

TOOLS = ("Xvfb", "xdotool", "import")  # import: ImageMagick's screenshot
missing = [tool for tool in TOOLS if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(
    bool(missing), reason=f"needs {', '.join(missing)} (apt install xvfb xdotool imagemagick)"
)

WINDOW = (800, 560)


@pytest.fixture(scope="module")
def display():
    """A fresh X server of our own, on a display number nobody uses."""
    number = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    name = f":{number}"
    xvfb = subprocess.Popen(["Xvfb", name, "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    env = {**os.environ, "DISPLAY": name}

    def answers():
        return subprocess.run(["xdotool", "getdisplaygeometry"], env=env,
                              capture_output=True).returncode == 0  # fmt: skip

    wait_until(answers, timeout=10, what="Xvfb to start")
    yield env
    xvfb.terminate()
    xvfb.wait(timeout=5)


class Player:
    """The client process and its window."""

    def __init__(self, env, port, *extra, video="movie.Mjpeg"):
        self.env = env
        geometry = f"{WINDOW[0]}x{WINDOW[1]}"
        command = [sys.executable, str(ROOT / "ClientLauncher.py"), "127.0.0.1", str(port),
                   str(free_port()), video, "--geometry", geometry, *extra]  # fmt: skip
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)  # fmt: skip
        found = self.xdotool("search", "--sync", "--pid", str(self.process.pid), "--name", "RTP")
        self.window = found.split()[0]
        self.xdotool("windowfocus", "--sync", self.window)
        # Keys reach the player once its widgets are drawn: their bindings are made with them.
        wait_until(lambda: painted(self.screenshot()), what="the player's window drawn")

    def xdotool(self, *args):
        done = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True,
                              timeout=10)  # fmt: skip
        return done.stdout

    def key(self, *names, delay_ms=12):
        """Press keys once each, as a user does: to the focused window, by XTEST. (Sent to the
        window as well, with `key --window`, each key would come twice, and seeks add up.)"""
        self.xdotool("windowfocus", "--sync", self.window)
        self.xdotool("key", "--delay", str(delay_ms), *names)

    def screenshot(self, path=None):
        """The window as it is on the screen; kept in `path` when one is given."""
        done = subprocess.run(["import", "-window", self.window, "png:-"], env=self.env,
                              check=True, capture_output=True, timeout=10)  # fmt: skip
        if path is not None:
            Path(path).write_bytes(done.stdout)
        with Image.open(io.BytesIO(done.stdout)) as image:
            return image.convert("RGB")

    def quit(self):
        self.key("q")
        try:
            out, err = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()  # its window (or a dialog's grab) must not outlive the test
            self.process.communicate()
            raise
        return self.process.returncode, out, err


def session_state(server):
    workers = server.active_workers()
    return workers[0].session.state if workers else None


def frames_sent(server):
    """How far the server's stream has gone: the frame number of its only session."""
    return server.active_workers()[0].session.media.frameNbr()


def picture_of(shot):
    """The picture, without the buttons and the status line below it."""
    return shot.crop((0, 0, shot.width, shot.height - 60))


def shows_a_picture(shot):
    return max(ImageStat.Stat(picture_of(shot)).stddev) > 20  # a picture, not a blank window


def top_left_shows_a_picture(shot):
    return max(ImageStat.Stat(shot.crop((0, 0, shot.width // 2, shot.height // 2))).stddev) > 20


def painted(shot):
    """Whether the buttons and the status line are drawn (a window just mapped is blank)."""
    bottom = shot.crop((0, shot.height - 100, shot.width * 2 // 3, shot.height))
    return max(ImageStat.Stat(bottom).stddev) > 20


def enabled_buttons(shot):
    """Which of Setup, Play, Pause and Teardown are enabled, read off the window (the lab's
    dialect: the buttons just above the status line): an enabled button's label is black, a
    disabled one's grey. The four share the picture's width; the picture is a black label
    whose top rows stay black around a letterboxed frame."""
    right = 4
    while right < shot.width and sum(shot.getpixel((right, 6))) < 60:
        right += 1
    width = (right + 4) // 4
    labels = [shot.crop((i * width + 4, shot.height - 60, (i + 1) * width - 4, shot.height - 30))
              for i in range(4)]  # fmt: skip
    return tuple(
        sum(count for count, colour in label.getcolors(1 << 16) if max(colour) < 60) > 10
        for label in labels
    )


READY_BUTTONS = (False, True, False, True)  # Play and Teardown


def wait_for_shot(player, condition, what, timeout=5.0):
    """The first screenshot on which `condition` holds: a wait on what the user sees."""
    shot = None

    def seen():
        nonlocal shot
        shot = player.screenshot()
        return condition(shot)

    wait_until(seen, timeout, what)
    return shot


def test_setup_play_pause_play_teardown_with_the_keyboard(display, tmp_path):
    with running_server(ROOT) as server:
        player = Player(display, server.port, "--buffer", "10")
        try:
            player.key("s")
            wait_until(lambda: session_state(server) is State.READY)
            player.key("p")
            wait_until(lambda: session_state(server) is State.PLAYING)
            # 10 frames of cache at 20 fps, then playing
            first = wait_for_shot(player, shows_a_picture, "a picture")
            first.save(tmp_path / "playing1.png")
            wait_until(
                lambda: (
                    ImageStat.Stat(picture_of(player.screenshot())).mean
                    != ImageStat.Stat(picture_of(first)).mean
                ),
                what="the picture to move",
            )
            # Two seconds of frames sent: over 20 of them shown, past the 10 of prefill.
            wait_until(lambda: frames_sent(server) >= 40, what="40 frames sent")

            player.key("space")
            wait_until(lambda: session_state(server) is State.READY)
            player.key("p")
            wait_until(lambda: session_state(server) is State.PLAYING)
            player.key("t")
            wait_until(lambda: session_state(server) is State.INIT)
            assert server.active_workers()[0].session.session_id is None
        finally:
            code, out, err = player.quit()
    assert code == 0, err

    width, height = first.size
    status = first.crop((0, height - 25, width, height))
    assert shows_a_picture(first)  # (and it moves: waited for above)
    assert max(ImageStat.Stat(status).stddev) > 20  # text on the status line

    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["shown"] >= 20 and summary["late"] == 0
    assert summary["frames"] >= summary["shown"]


def test_play_in_init_sets_up_first(display):
    with running_server(ROOT) as server:
        player = Player(display, server.port, "--buffer", "5")
        try:
            player.key("p")
            wait_until(lambda: session_state(server) is State.PLAYING)
        finally:
            code, out, err = player.quit()
        assert code == 0, err
        wait_until(lambda: not server.active_workers())  # closing the window ended the session


def dismiss_dialog(player):
    dialog = player.xdotool("search", "--sync", "--name", "RTSP error").split()
    assert dialog, "no error dialog"
    player.xdotool("windowfocus", "--sync", dialog[0])
    player.xdotool("key", "Return")  # OK
    player.xdotool("windowfocus", "--sync", player.window)


def test_an_error_is_shown_in_a_dialog_and_the_player_stays_usable(display):
    port = free_port(socket.SOCK_STREAM)
    player = Player(display, port)  # nothing listens there yet
    try:
        player.key("s")
        dismiss_dialog(player)
        server = Server(port, StreamConfig(ROOT), host="127.0.0.1")
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            player.key("s")  # Setup again: now it works
            wait_until(lambda: session_state(server) is State.READY)
            player.key("p")
            wait_until(lambda: session_state(server) is State.PLAYING)
        finally:
            server.close()  # the server goes away mid-stream
        dismiss_dialog(player)
    finally:
        code, out, err = player.quit()
    assert code == 0
    assert "cannot connect" in err and "server closed the connection" in err


def test_a_failed_fallback_to_tcp_is_shown_and_the_player_stays_usable(display):
    """A UDP-only server (VLC's): no RTP comes, and the TCP SETUP is answered 461."""

    def script(request, n):
        if request.method == "SETUP" and "TCP" in (request.headers.get("Transport") or ""):
            return reply(request, "461 Unsupported Transport")
        return ok(request)

    with FakeRtspServer(script) as server:
        player = Player(display, server.port, video=f"rtsp://127.0.0.1:{server.port}/s")
        try:
            player.key("p")  # Setup, then Play
            dismiss_dialog(player)  # waits for it: after the 3 s fallback
            player.key("s")  # usable: Setup again goes out, over UDP as at first
            wait_until(lambda: len([r for r in server.requests if r.startswith("SETUP")]) == 3,
                       what="a third SETUP")  # fmt: skip
            assert "client_port" in [r for r in server.requests if r.startswith("SETUP")][2]
        finally:
            code, out, err = player.quit()
    assert code == 0
    assert "no RTP over UDP, and over TCP: server answered 461" in err


def test_at_the_servers_bye_it_plays_out_the_cache_and_is_ready_again(display, tmp_path):
    make_clip(tmp_path / "short.Mjpeg", 320, 240, 12, fmt="lab")
    with running_server(tmp_path) as server:
        player = Player(display, server.port, "--buffer", "30", video="short.Mjpeg")
        try:
            player.key("p")  # 12 frames < the 30 of prefill: the BYE starts the playout
            wait_until(lambda: session_state(server) is State.PLAYING)
            # stream, BYE, play out, READY
            ended = wait_for_shot(player, lambda shot: enabled_buttons(shot) == READY_BUTTONS,
                                  "READY after the playout")  # fmt: skip
            ended.save(tmp_path / "ended.png")
            player.key("p")  # READY again: Play starts the video from the beginning
            # playing (stream, BYE, play out: over a second), then READY again
            wait_for_shot(player, lambda shot: enabled_buttons(shot) != READY_BUTTONS, "PLAYING")
            wait_for_shot(player, lambda shot: enabled_buttons(shot) == READY_BUTTONS, "READY")
        finally:
            code, out, err = player.quit()
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["state"] == "READY"
    assert summary["shown"] == 24 and summary["dropped_frames"] == 0  # twice the whole clip
    assert shows_a_picture(ended)


def test_standard_rtsp_with_the_seek_bar(display, tmp_path):
    with running_server(ROOT) as server:
        url = f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg"  # 200 frames: 10 s at 20 fps
        player = Player(display, server.port, "--buffer", "5", video=url)
        try:
            player.key("p")
            wait_until(lambda: session_state(server) is State.PLAYING)
            session = server.active_workers()[0].session
            assert session.standard  # DESCRIBE, RTP/AVP, RFC 2435
            wait_until(lambda: session.media.frameNbr() >= 20, what="a second of frames")
            before = session.media.frameNbr()
            player.key("Right")  # +2 s: PAUSE, then PLAY with Range
            player.key("Right")
            # ~4 s further on at once; playing on would take 3 s to get there
            wait_until(lambda: session.media.frameNbr() >= before + 60, timeout=1.5)
            # A second more from there: over 20 frames shown in all.
            wait_until(lambda: session.media.frameNbr() >= before + 80, what="a second more")
            shot = wait_for_shot(player, top_left_shows_a_picture, "a picture")
            shot.save(tmp_path / "seek.png")
        finally:
            code, out, err = player.quit()
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["state"] == "PLAYING" and summary["late"] == 0
    assert summary["dropped_frames"] == 0 and summary["shown"] > 20


def slider_x(shot, row):
    """The middle of the seek bar's slider: the longest dark run on its lower edge's row."""
    runs, start = [], None
    for x in range(shot.width * 3 // 4 + 1):  # left of the statistics panel
        dark = x < shot.width * 3 // 4 and sum(shot.getpixel((x, row))) < 450
        if dark and start is None:
            start = x
        elif not dark and start is not None:
            runs.append((x - start, start))
            start = None
    assert runs, "no slider found"
    width, left = max(runs)
    return left + width // 2


def test_dragging_the_seek_bar_plays_from_there(display, tmp_path):
    with running_server(ROOT) as server:
        url = f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg"  # 10 s
        player = Player(display, server.port, "--buffer", "5", video=url)
        try:
            player.key("p")
            wait_until(lambda: session_state(server) is State.PLAYING)
            session = server.active_workers()[0].session
            wait_until(lambda: session.media.frameNbr() >= 20, what="a second of frames")
            player.key("space")  # paused, the slider stays where the screenshot finds it
            wait_until(lambda: session_state(server) is State.READY)
            shot = player.screenshot(tmp_path / "bar.png")
            row = shot.height - 4  # the slider's lower edge, on the window's last rows
            x = slider_x(shot, row)
            before = session.media.frameNbr()
            # One xdotool call: its events reach the window in this order.
            player.xdotool("mousemove", "--sync", "--window", player.window, str(x), str(row - 6),
                           "mousedown", "1",
                           "mousemove", "--sync", "--window", player.window, str(x + 300),
                           str(row - 6), "mouseup", "1")  # fmt: skip
            wait_until(lambda: session_state(server) is State.PLAYING)  # the drop sent PLAY
            wait_until(lambda: session.media.frameNbr() >= before + 60, timeout=1.5)  # far on
        finally:
            code, out, err = player.quit()
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["late"] == 0 and summary["dropped_frames"] == 0


# -- the window never waits on the network -------------------------------------------------


@contextlib.contextmanager
def mute_server():
    """A TCP server on loopback that accepts connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    accepted, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                break

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        listener.close()


def buttons_and_status(shot):
    """The row of buttons and the status line below it, left of the statistics panel (the
    lab's dialect: no seek bar below them)."""
    width, height = shot.width * 2 // 3, shot.height
    return shot.crop((0, height - 60, width, height - 30)), shot.crop(
        (0, height - 25, width, height)
    )


def test_a_mute_server_never_freezes_the_window_and_q_closes_it_at_once(display, tmp_path):
    with mute_server() as (port, accepted):
        player = Player(display, port)
        try:
            buttons, status = buttons_and_status(player.screenshot(tmp_path / "idle.png"))
            player.key("s")
            wait_until(lambda: accepted)  # connected and SETUP sent: no reply will come

            def repainted():
                now = buttons_and_status(player.screenshot(tmp_path / "pending.png"))
                return now[0] != buttons and now[1] != status

            # The window goes on painting (the old player hung in SETUP for 5 s, unpainted):
            # Setup and Play disabled, and "INIT SETUP…" on the status line.
            wait_until(repainted, timeout=3)
        finally:
            pressed = time.monotonic()
            code, out, err = player.quit()  # q, then the process's exit
            closed_in = time.monotonic() - pressed
    assert code == 0, err
    # The SETUP's reply timeout is 5 s; the window closes without waiting for it. A bound on
    # the behaviour, generous for a loaded machine, not a benchmark: well under a second here.
    assert closed_in < 3.0
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["state"] == "INIT"


SEEK_CLIP_SECONDS = 30
CLIP_FPS = 20


def gray(second):
    """The grey level of every frame in `second` of the seek clip: 16, 23, ... 219."""
    return 16 + 7 * second


def write_seek_clip(path):
    """Flat grey frames, a level a second: a screenshot tells which second is shown, even
    through JPEG and scaling."""
    frames = (
        encode_jpeg(Image.new("RGB", (160, 120), (gray(i // CLIP_FPS),) * 3))
        for i in range(SEEK_CLIP_SECONDS * CLIP_FPS)
    )
    write_lab(frames, path)


def seek_clip_middle(shot):
    """The middle of the picture, left of the panel: one grey level in the seek clip."""
    return ImageStat.Stat(shot.crop((230, 200, 310, 270)))


def is_flat_grey(shot):
    return max(seek_clip_middle(shot).stddev) < 4


def second_shown(shot):
    """Which second of the seek clip the picture shows."""
    assert is_flat_grey(shot), "not a flat grey picture"
    return round((seek_clip_middle(shot).mean[0] - gray(0)) / (gray(1) - gray(0)))


PLAY_DELAY = 0.4  # seconds the server takes over a seek's PLAY: a server far away
PRESSES = 8


def test_held_arrow_keys_send_the_last_seek_only_and_no_frame_from_before_it(
    display, tmp_path, monkeypatch
):
    write_seek_clip(tmp_path / "gray.Mjpeg")
    ranges = []  # of the seeks' PLAY requests, as the server got them
    handle = ServerSession.handle

    def slow_seek(session, request):
        if request.method == "PLAY" and "Range" in request.headers:
            ranges.append(float(request.headers["Range"].removeprefix("npt=").rstrip("-")))
            time.sleep(PLAY_DELAY)  # the slow server is what this test is about
        return handle(session, request)

    monkeypatch.setattr(ServerSession, "handle", slow_seek)
    with running_server(tmp_path) as server:
        url = f"rtsp://127.0.0.1:{server.port}/gray.Mjpeg"
        player = Player(display, server.port, "--buffer", "5", video=url)
        try:
            player.key("p")
            wait_until(lambda: session_state(server) is State.PLAYING)
            # playing, about 1 s in
            wait_until(lambda: frames_sent(server) >= 30, what="1.5 s of frames sent")
            shot = wait_for_shot(player, is_flat_grey, "the clip's picture")
            shot.save(tmp_path / "before.png")
            before = second_shown(shot)
            # Auto-repeat: PRESSES keys in 0.2 s, each +2 s, while the first seek's PLAY waits.
            player.key(*["Right"] * PRESSES, delay_ms=25)
            shots, deadline = [], time.monotonic() + 3 * PLAY_DELAY + 2.0
            while time.monotonic() < deadline:
                shots.append(second_shown(player.screenshot(tmp_path / "seek.png")))
        finally:
            code, out, err = player.quit()
    assert code == 0, err

    # Only a few PLAYs (typically two: the first press's, then the last target), in order,
    # and the last one for the final target: PRESSES * 2 s on from where it was.
    assert 1 <= len(ranges) <= 3, ranges
    assert ranges == sorted(ranges)
    first, last = ranges[0], ranges[-1]
    if len(ranges) > 1:
        assert abs(last - first - (PRESSES - 1) * 2) < 0.06, ranges
    assert before + 2 * PRESSES - 1 <= last < before + 2 * PRESSES + 2, (before, ranges)

    # On screen: the picture of before the seek stays until the seek's frames come (at most
    # a second of frames later than `before`), then only frames from the seek's target on,
    # never an earlier one.
    target = int(last)
    assert shots[-1] >= target, shots
    arrived = next(i for i, second in enumerate(shots) if second >= target)
    assert all(second <= before + 1 for second in shots[:arrived]), shots
    assert all(second >= target for second in shots[arrived:]), shots
    assert shots[arrived:] == sorted(shots[arrived:]), shots


def test_the_player_writes_the_same_lab_report_and_its_panel_saves_the_plot(display, tmp_path):
    """--stats-csv and --plot as the headless run writes them, at the end of the session; g
    (the panel's Save plot) draws the session so far to the --plot file."""
    from rtsplab.player.report import CSV_COLUMNS, PLOT_COLOURS, panel_boxes

    csv_path, png_path = tmp_path / "player.csv", tmp_path / "player.png"
    with running_server(ROOT) as server:  # the lab's movie: 200 frames at 20 fps, 10 s
        player = Player(display, server.port, "--buffer", "5", "--stats-csv", str(csv_path),
                        "--plot", str(png_path))  # fmt: skip
        try:
            player.key("p")
            wait_until(lambda: session_state(server) is State.PLAYING)
            # Four seconds of frames sent: over three seconds of playing, a row a second.
            wait_until(lambda: frames_sent(server) >= 80, timeout=10, what="4 s of frames")
            player.key("g")
            wait_until(png_path.exists)
            saved_early = png_path.stat().st_mtime
            wait_until(lambda: frames_sent(server) >= 90, what="more frames after the save")
        finally:
            code, out, err = player.quit()
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert {"stall_seconds", "startup_seconds", "underruns", "late"} <= set(summary)
    assert summary["startup_seconds"] is not None and summary["startup_seconds"] > 0.2
    rows = csv_path.read_text().splitlines()
    assert tuple(rows[0].split(",")) == CSV_COLUMNS
    assert len(rows) - 1 >= 3  # a row a second: about four seconds of playing
    assert sum(int(row.split(",")[8]) for row in rows[1:]) == summary["shown"]
    assert png_path.stat().st_mtime >= saved_early  # written again at the end
    with Image.open(png_path) as image:
        picture = image.convert("RGB")
    for name, box in panel_boxes(picture.size).items():
        colours = {colour for _, colour in picture.crop(box).getcolors(1 << 20)}
        assert PLOT_COLOURS[name] in colours, f"no {name} curve"


def test_a_playout_thread_wakes_the_tk_thread_to_show_a_picture(display):
    """TkWakeup: notified from another thread, the callback runs on the Tk thread, once for
    a burst of notifications; after close, a late notification is harmless and wakes nothing."""
    root = tkinter.Tk(screenName=display["DISPLAY"])
    try:
        called_on: list[threading.Thread] = []
        wakeup = TkWakeup(root, lambda: called_on.append(threading.current_thread()), 60_000)
        notifier = threading.Thread(target=lambda: [wakeup.notify() for _ in range(3)])
        notifier.start()
        notifier.join()

        def woken() -> bool:
            root.update()  # Tk's event loop, as mainloop runs it
            return bool(called_on)

        wait_until(woken, what="the Tk thread to be woken")
        root.update()
        assert called_on == [threading.main_thread()]  # three notifications, read at once
        wakeup.close()
        wakeup.notify()
        root.update()
        assert called_on == [threading.main_thread()]
    finally:
        root.destroy()
