"""The Tk player: the lab's window with Setup, Play, Pause and Teardown, and a frame cache.

Six threads while it plays over UDP (five over TCP), each with one job; only Tk's touches
widgets:

    RTP listener (rtp-listen)   RTP and RTCP by UDP -> complete frames -> FrameBuffer.push
    RTSP owner (rtsp-connection)  the RTSP connection and session (`RtspClient`); over TCP
                                it reads the interleaved frames too, in place of the listener
    RTSP actions (ActionRunner)  SETUP, PLAY, PAUSE, TEARDOWN, seeks: each posted to the
                                owner and its reply awaited here, never on the Tk thread
    playout (two)               FrameBuffer.pop_due at each frame's time -> decoder.decode
                                at the window's size -> a one-picture hand-over slot; two
                                decode at once, on both cores, so that a decode held up
                                (the server and the receiver share them) may take two
                                frames' time before any frame is skipped
    Tk (`after`)                the newest picture pasted into one reused PhotoImage, woken
                                by the playout thread that hands it over (`TkWakeup`); posts
                                actions and applies their results; buttons, keys, dialogs

The window never waits on the network: while an action is pending its buttons are disabled
and the status line says so ("SETUP…"); closing the window returns at once and another
thread (rtsp-close) sends the TEARDOWN, bounded in time. A seek coalesces with the seeks
behind it (arrow keys held down send the last target only), and no frame from before a seek
is shown after it: the seek's generation, under one lock, is checked where a frame enters
the cache and where a decoded picture is handed over.

The cache (`FrameBuffer`) fills to `--buffer N` frames before playing, and shows each frame at
the time its RTP timestamp says, so HD plays smoothly even when frames arrive unevenly. A panel
beside the buttons (`StatsPanel`) shows what RTCP and the cache know (with `--multicast`, the
group's members and report interval among them; a group's stream is shared, so there is no
seek bar). When the server says BYE at the end of the file, the player shows "end of video",
plays out its cache and is READY again: Play starts the video from the beginning. A stream
with sound (`WindowSound`) plays it as the headless run does, each frame due when the sound of
its instant is heard: Mute (m) and volume under the seek bar, its state and A/V offset on the panel.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
import tkinter as tk
from collections.abc import Callable
from tkinter import messagebox
from typing import Any

from PIL import Image, ImageTk

from rtsplab.client.connection import RtspClient
from rtsplab.player.actions import SEEK, ActionRunner, Result
from rtsplab.player.decoder import decode
from rtsplab.player.frame_buffer import DEFAULT_MAX_FRAMES, DEFAULT_PREFILL, FrameBuffer, Playback
from rtsplab.player.handover import Handover
from rtsplab.player.playout import play_out
from rtsplab.player.report import SessionReport
from rtsplab.player.sound_controls import WindowSound
from rtsplab.player.stats_panel import StatsPanel, Trend
from rtsplab.player.status import DisplayRate, FrameWork, picture_position, status_line
from rtsplab.player.wakeup import TkWakeup
from rtsplab.rtp.ports import ANY_INTERFACE
from rtsplab.rtsp.state import PAUSE, PLAY, SETUP, TEARDOWN, State, is_allowed

log = logging.getLogger(__name__)

# How often Tk looks for a new picture where it cannot be woken (`TkWakeup`): < 16.7 ms (60 fps).
REFRESH_MS = 4
STATUS_MS = 250  # how often the status line is rewritten
DEFAULT_PLOT = "player-stats.png"  # where Save plot writes without --plot
INITIAL_PICTURE = (768, 432)
DEFAULT_FPS = 20  # the lab's, when the SDP gives no frame rate
SEEK_STEP = 2.0  # seconds the arrow keys move the seek bar
# How often Tk collects the RTSP worker's results where it cannot be woken: quicker than the eye.
POLL_MS = 20
PLAYOUT_THREADS = 2  # decoding at once: the machine's two cores, beside the network's thread
PLAYOUT_JOIN = 0.1  # seconds closing waits for each playout thread: one decode, at most
# Closing the window: the TEARDOWN's own reply timeout, and how long the process, once the
# window has gone, lets that TEARDOWN go on before it exits anyway.
CLOSE_TIMEOUT = 1.0
CLOSE_GRACE = 0.5
CLOSE = "CLOSE"  # the action after the server closed the connection: free the sockets


class Client:
    def __init__(self, master: tk.Tk, serveraddr: str, serverport: int, rtpport: int,
                 filename: str, prefill: int = DEFAULT_PREFILL,
                 rtcp_reduced_minimum: bool = False, standard: bool | None = None,
                 tcp: bool = False, stats_csv: str | None = None, plot: str | None = None,
                 multicast: bool = False, multicast_interface: str = ANY_INTERFACE,
                 strict_ports: bool = False, sound: WindowSound | None = None,
                 **access: Any) -> None:  # fmt: skip
        self.master = master
        self.filename = filename
        self.sound = sound or WindowSound(None)  # its sound, if any (standard RTSP)
        self.master.protocol("WM_DELETE_WINDOW", self.handler)
        self.rtsp = RtspClient(serveraddr, serverport, rtpport, filename, on_frame=self._push,
                               rtcp_reduced_minimum=rtcp_reduced_minimum, standard=standard,
                               tcp=tcp, multicast=multicast, strict_ports=strict_ports,
                               multicast_interface=multicast_interface,
                               audio=self.sound.link(), **access)  # fmt: skip
        self.master.title(f"RTP player: {self.rtsp.target.url}")  # no password a URL held
        self.trend = Trend()
        self.buffer = FrameBuffer(prefill, max_frames=max(DEFAULT_MAX_FRAMES, 2 * prefill))
        # The lab report (--stats-csv, --plot, the panel's Save plot): a row a second.
        self.report = SessionReport(self.rtsp.summary, self.buffer, stats_csv, plot)
        self.frameNbr = 0  # frames shown in this session
        self._box = INITIAL_PICTURE  # the picture area's size, read by the playout thread
        # Frames across seeks: each picture with the seconds its decode took, and its timestamp.
        self.handover: Handover[tuple[Image.Image, float, int]] = Handover(self.buffer)
        self._results_ready = TkWakeup(self.master, self._collect, POLL_MS)
        self.actions = ActionRunner(on_result=self._results_ready.notify)
        self._play_after_setup = False  # Play in INIT: PLAY once the SETUP is done
        self._showing_error = False  # an error dialog is up: presses wait until it is gone
        self._failure_shown: str | None = None  # the session's failure, once shown
        self._deferred: Callable[[], None] | None = None  # a key pressed while busy
        self._photo: ImageTk.PhotoImage | None = None
        self.display_rate = DisplayRate()
        self.frame_work = FrameWork()  # decode and paint, a frame shown
        # The display rate over the last stretch of playing: first and last display times,
        # and frameNbr at the first (a stretch ends at Pause, Teardown or the end).
        self._first_shown: float | None = None
        self._last_shown = 0.0
        self._stretch_start = 0
        self._stop = threading.Event()
        playout = (self.buffer, self.handover.pop, self._decode, self._stop)
        self._playout = [
            threading.Thread(target=play_out, args=playout, name=f"playout-{n}", daemon=True)
            for n in range(PLAYOUT_THREADS)
        ]
        self.createWidgets()
        self._refresh_buttons()
        for thread in self._playout:
            thread.start()
        self.wakeup = TkWakeup(self.master, self.updateMovie, REFRESH_MS)  # a picture to show
        self.master.after(STATUS_MS, self._tick)

    def createWidgets(self) -> None:
        self.picture = tk.Label(self.master, bg="black", width=INITIAL_PICTURE[0],
                                height=INITIAL_PICTURE[1])  # fmt: skip
        self.picture.grid(row=0, column=0, columnspan=4, sticky="nsew", padx=4, pady=4)
        self.picture.bind("<Configure>", self._on_resize)
        self.buttons: dict[str, tk.Button] = {}
        actions: list[tuple[str, str, Callable[[], None], str]] = [
            (SETUP, "Setup", self.setupMovie, "s"),
            (PLAY, "Play", self.playMovie, "p"),
            (PAUSE, "Pause", self.pauseMovie, "<space>"),
            (TEARDOWN, "Teardown", self.exitClient, "t"),
        ]
        for column, (method, text, action, key) in enumerate(actions):
            button = tk.Button(self.master, width=16, text=text, command=action)
            button.grid(row=1, column=column, padx=2, pady=2, sticky="we")
            self.buttons[method] = button
            self._bind_key(key, action)
        self.master.bind("q", lambda _event: self.handler())
        self.status = tk.Label(self.master, anchor="w", font="TkFixedFont")
        self.status.grid(row=2, column=0, columnspan=4, sticky="we", padx=4, pady=(0, 4))
        # The seek bar: standard RTSP only, where DESCRIBE gives the range (shown at SETUP).
        self.position = tk.DoubleVar(value=0.0)
        self.seekbar = tk.Scale(self.master, orient="horizontal", showvalue=False,
                                variable=self.position, resolution=0.05, from_=0, to=1)  # fmt: skip
        self.seekbar.bind("<ButtonPress-1>", lambda _event: setattr(self, "_dragging", True))
        self.seekbar.bind("<ButtonRelease-1>", lambda _event: self.seek(self.position.get()))
        self.master.bind("<Left>", lambda _event: self.seek(self.position.get() - SEEK_STEP))
        self.master.bind("<Right>", lambda _event: self.seek(self.position.get() + SEEK_STEP))
        self._dragging = False
        self.panel = StatsPanel(self.master)
        self.panel.grid(row=0, column=4, rowspan=4, sticky="n")
        tk.Button(self.panel, text="Save plot", command=self.save_plot).grid(
            row=len(self.panel.grid_slaves()), column=0, columnspan=2, sticky="we"
        )
        self.master.bind("g", lambda _event: self.save_plot())
        self.sound.build(self.master, 4, 4)  # Mute and volume under the seek bar, with sound
        self.master.columnconfigure(tuple(range(4)), weight=1)  # the panel keeps its width
        self.master.rowconfigure(0, weight=1)
        # A Label sized in pixels only while it holds an image; start with a black one.
        self._show(Image.new("RGB", INITIAL_PICTURE))

    def _bind_key(self, key: str, action: Callable[[], None]) -> None:
        self.master.bind(key, lambda _event: self._press(action))

    def _press(self, action: Callable[[], None]) -> None:
        """A key for one of the four actions. While an action is pending the key is kept (the
        latest one) and pressed again once that action's result has been applied, so that s
        then p plays even when p comes before the SETUP's reply; judged then, in the state
        the reply led to (p twice is one PLAY). An error drops it: the user reads why first.
        (A button cannot be pressed meanwhile: it is disabled.)"""
        if self._showing_error:
            return
        if self.actions.busy:
            self._deferred = action
            return
        action()

    # -- the lab's four actions: posted to the RTSP worker, finished in _apply ------------

    def setupMovie(self) -> None:
        if self._allowed(SETUP):
            self._post(SETUP, self.rtsp.setup)

    def seek(self, seconds: float) -> None:
        """Play from `seconds`: PLAY with a Range; the cache starts again from there.

        Posted as a seek, which coalesces: while one is on its way, the next press only moves
        the target of the one waiting behind it."""
        self._dragging = False
        duration = self.rtsp.session.duration
        if not duration or self.rtsp.state is State.INIT or self.rtsp.session.multicast:
            return
        if self._showing_error or not self.actions.accepts_seek:
            return  # a Setup, Play, Pause... is pending: the same rule as the buttons
        last_frame = duration - 1 / (self.rtsp.session.fps or DEFAULT_FPS)  # the last frame's start
        seconds = min(max(0.0, seconds), last_frame)
        self.handover.start_seek()  # before posting: the seek sees its generation
        self.position.set(seconds)  # the next arrow key moves on from the target
        self.actions.seek(seconds, self._seek_to)  # accepted, as accepts_seek said above
        self._refresh()

    def playMovie(self) -> None:
        """Play; in INIT set up first, and after the end of the video start it again."""
        if not self._allowed(PLAY):
            return
        state = self.rtsp.state
        if state is State.INIT:
            self._play_after_setup = self._post(SETUP, self.rtsp.setup)
            return
        if self.buffer.state is Playback.ENDED:
            self.buffer.clear()  # PLAY after the end: the server starts the file again
            self.frameNbr = 0
        # PLAYING and buffering: ended without BYE (the lab's server), so ask again.
        if state is State.READY or self.buffer.state is Playback.BUFFERING:
            now = time.monotonic()
            self.buffer.played(now)
            self.report.played(now)
            self._post(PLAY, self.rtsp.play)

    def pauseMovie(self) -> None:
        if self._allowed(PAUSE):
            self._post(PAUSE, self.rtsp.pause)

    def exitClient(self) -> None:
        """TEARDOWN: the session ends and the cache is freed; Setup starts a new one."""
        if self._allowed(TEARDOWN):
            self._post(TEARDOWN, self.rtsp.teardown)

    def handler(self) -> None:
        """Closing the window: at once, whatever the server does. It prints what the session
        was; the TEARDOWN goes from a thread of its own, bounded in time."""
        self._stop.set()
        for thread in self._playout:
            thread.join(timeout=PLAYOUT_JOIN)
        summary = self.summary()  # the state it was in, before the TEARDOWN
        self.actions.close()
        closer = threading.Thread(target=self._close_rtsp, name="rtsp-close", daemon=True)
        closer.start()
        # The process exits when the window has gone: let the TEARDOWN out first, briefly.
        atexit.register(closer.join, CLOSE_GRACE)
        print(json.dumps(summary), flush=True)
        self._write_report()
        self.sound.close()
        self.wakeup.close()
        self._results_ready.close()
        self.master.destroy()

    def summary(self) -> dict[str, float | str | None]:
        stats: dict[str, float | str | None] = dict(self.rtsp.summary())
        b = self.buffer.stats
        span = self._last_shown - (self._first_shown or self._last_shown)
        average = (self.frameNbr - self._stretch_start) / span if span > 0 else 0.0
        stats.update(state=self.rtsp.state.value, picture="{}x{}".format(*self._box),
                     **b.summary(), display_fps=round(average, 2),
                     decode_paint_ms=self.frame_work.median_ms(),
                     **self.sound.summary())  # fmt: skip
        return stats

    # -- helpers for the actions ---------------------------------------------------------

    def _allowed(self, method: str) -> bool:
        """What the state table allows, with the player's own: nothing while an action is
        pending or an error is shown; Play in INIT runs Setup first, and Play while playing
        (a seek, for the seek bar) restarts the video once it has ended."""
        if self.actions.busy or self._showing_error:
            return False
        state = self.rtsp.state
        if method == PLAY and state is State.INIT:
            return is_allowed(state, SETUP)
        if method == PLAY and state is State.PLAYING:
            return self.buffer.state is Playback.ENDED
        return is_allowed(state, method)

    def _post(self, name: str, action: Callable[[], object]) -> bool:
        posted = self.actions.post(name, action)
        self._refresh()
        return posted

    def _collect(self) -> None:
        """Tk thread, woken when the RTSP worker has finished: apply its results."""
        for result in self.actions.poll():
            self._apply(result)
        if self._deferred is not None and not self.actions.busy:
            press, self._deferred = self._deferred, None
            press()

    def _apply(self, result: Result) -> None:
        """An action's follow-ups, on the Tk thread; an error is shown in a dialog."""
        name, error = result.name, result.error
        if error is not None:
            self._play_after_setup = False
            self._deferred = None
        if error is not None and name != TEARDOWN:
            self._error(error)
        elif name == SETUP:
            self.buffer.clear()
            self.frameNbr = 0
            self._first_shown = None
            self.sound.set_up(self.rtsp.session, self.buffer)  # frames by the sound's clock
            duration = self.rtsp.session.duration  # a group's stream is everyone's: no seek
            if duration and not self.rtsp.session.multicast:
                self.seekbar.configure(to=duration)
                self.position.set(0.0)
                self.seekbar.grid(row=3, column=0, columnspan=4, sticky="we", padx=4)
            if self._play_after_setup:
                self._play_after_setup = False
                self.playMovie()
        elif name == PLAY:
            self._first_shown = None  # a new stretch of playing
            if self.buffer.state is Playback.PAUSED:
                self.buffer.resume(time.monotonic())
        elif name == PAUSE:
            self.buffer.pause()
            self.sound.pause()
        elif name == TEARDOWN:  # refused or not, the client is done with the session
            if error is not None:
                self._error(error)
            print(json.dumps(self.summary()), flush=True)  # the session's summary
            self._write_report()
            self._reset()
        elif name == SEEK:
            self._first_shown = None
        self._refresh()

    def _seek_to(self, seconds: float) -> float:
        """RTSP actions' thread: PAUSE if playing, then PLAY from `seconds`; frames are taken
        again from where the PLAY's RTP-Info says the new ones start."""
        generation = self.handover.generation()
        marker = None  # a failed seek: show what comes, as before it
        try:
            if self.rtsp.state is State.PLAYING:
                self.rtsp.pause()
            self.sound.seek()  # no sound from before the PLAY
            self.rtsp.play(seconds)
            marker = self.rtsp.session.play_rtptime
        finally:
            self.handover.end_seek(generation, marker)
        return seconds

    def _close_rtsp(self) -> None:
        """The closing thread: TEARDOWN (best effort, bounded) and every socket closed."""
        try:
            self.rtsp.close(CLOSE_TIMEOUT)
        except Exception as exc:  # the window has gone: nobody to tell but the log
            log.info("closing the RTSP session: %s", exc)

    def _error(self, message: str) -> None:
        """A modal dialog. While Tk maps it, it handles events (`tkwait visibility`): a key
        pressed then must not start the action again before the user has read why it failed."""
        log.warning("%s", message)
        self._showing_error = True
        try:
            messagebox.showerror("RTSP error", message, parent=self.master)
        finally:
            self._showing_error = False

    def _reset(self) -> None:
        self.buffer.clear()
        self.trend.clear()
        self.handover.drop()
        self._show(Image.new("RGB", self._box))
        self.sound.reset()  # closed; a new SETUP starts it again

    def _refresh(self) -> None:
        """Buttons and status line, now: a press is seen to be taken at once."""
        self._refresh_buttons()
        self.status.configure(text=self._status_text())

    def _refresh_buttons(self) -> None:
        for method, button in self.buttons.items():
            button.configure(state=tk.NORMAL if self._allowed(method) else tk.DISABLED)

    # -- frames: receiving thread -> cache -> playout thread -> Tk ------------------------

    def _push(self, frame: bytes, timestamp: int) -> None:
        """The receiving thread (no Tk here): into the cache, unless from before a seek."""
        self.handover.push(frame, timestamp)

    def _decode(self, item: tuple[bytes, int, int, int]) -> None:
        """Playout thread: decode at the window's size into the hand-over slot; never Tk."""
        frame, timestamp, generation, number = item
        started = time.perf_counter()
        try:
            picture = decode(frame, self._box)
        except Exception as exc:  # a frame Pillow cannot decode is skipped, not shown
            log.warning("cannot decode a frame: %s", exc)
            return
        spent = time.perf_counter() - started
        if self.handover.offer((picture, spent, timestamp), timestamp, generation, number):
            self.wakeup.notify()

    def updateMovie(self) -> None:
        """Tk thread, woken when a picture is handed over: show the newest, if any."""
        decoded = self.handover.take()
        if decoded is not None:
            picture, decode_seconds, timestamp = decoded
            started = time.perf_counter()
            self._show(picture)
            self.frame_work.add(decode_seconds + time.perf_counter() - started)
            self.frameNbr += 1
            now = time.monotonic()
            self.sound.shown(timestamp, now)  # a row of the playout log
            self.display_rate.shown(now)
            if self._first_shown is None:
                self._first_shown, self._stretch_start = now, self.frameNbr
            self._last_shown = now

    def _show(self, picture: Image.Image) -> None:
        if self._photo is not None and (self._photo.width(), self._photo.height()) == picture.size:
            self._photo.paste(picture)  # one PhotoImage, reused: no new Tk image per frame
        else:
            self._photo = ImageTk.PhotoImage(picture)
            self.picture.configure(image=self._photo)

    def _on_resize(self, event: tk.Event[tk.Label]) -> None:
        self._box = (max(1, event.width - 4), max(1, event.height - 4))

    # -- status line, end of stream, server gone -----------------------------------------

    def _tick(self) -> None:
        now = time.monotonic()
        # The session's state is the worker's while an action is pending: look only between
        # (and not while a dialog is up: one at a time).
        if not self.actions.busy and not self._showing_error:
            self._watch_session(now)
        self._refresh()
        self._update_seekbar()
        self._update_panel(now)
        self.report.tick(now)
        self.master.after(STATUS_MS, self._tick)

    def _write_report(self) -> None:
        """The session's rows to --stats-csv and --plot, and its --playout-log, when asked
        for; then a new log."""
        self.report.finish(time.monotonic())
        self.sound.write_log()

    def save_plot(self) -> None:
        """The panel's Save plot (or g): the session so far, drawn as --plot draws it."""
        try:
            path = self.report.save_plot(DEFAULT_PLOT)
        except OSError as exc:
            self._error(f"cannot save the plot: {exc.strerror or exc}")
            return
        self.panel.plot_note.configure(text=f"saved {path}")

    def _watch_session(self, now: float) -> None:
        """The end of the stream, and the server gone (then the sockets close on the
        worker)."""
        rtsp, buffer = self.rtsp, self.buffer
        if buffer.state in (Playback.BUFFERING, Playback.PLAYING) and rtsp.stream_over(now):
            buffer.end_of_stream(now)  # BYE, or (the lab's server) silence
        if buffer.state is Playback.ENDED and rtsp.ended.is_set():
            rtsp.stream_ended(wait=False)  # played out: READY, and Play starts it again
        failure = rtsp.failure()
        shown, self._failure_shown = self._failure_shown, None if failure is None else str(failure)
        if failure is not None and str(failure) != shown:
            self._reset()
            self.actions.post(CLOSE, rtsp.disconnect)
            self._refresh()
            self._error(str(failure))

    def _update_seekbar(self) -> None:
        """Where the picture is (`rtsplab.player.status.picture_position`)."""
        where = picture_position(self.rtsp.session, self.handover.shown_timestamp)
        if not self._dragging and where is not None:
            self.position.set(where)

    def _update_panel(self, now: float) -> None:
        stats = self.rtsp.summary()
        if self.rtsp.media is not None:  # the counts are there, numbers
            counts = [stats.get(key) or 0 for key in ("bytes", "packets", "lost_packets")]
            point = self.trend.add(now, *counts)
            if point is not None:
                self.panel.plot_trend(self.trend.points)
        stats["rate_kbps"] = self.trend.points[-1].kbps if self.trend.points else 0.0
        self.panel.show(stats, self.buffer.fill, self.buffer.prefill, self.display_rate.fps(now))
        self.sound.show_in(self.panel, self.frame_work)

    def _status_text(self) -> str:
        fps = self.display_rate.fps(time.monotonic())
        return status_line(self.rtsp.state, self.actions.pending, self.frameNbr, self.buffer,
                           fps, self.rtsp.summary())  # fmt: skip
