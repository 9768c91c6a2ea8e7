"""The Tk player: the lab's window with Setup, Play, Pause and Teardown, and a frame cache.

Three threads, each with one job, and only the Tk thread touches widgets:

    RTP thread (RtspClient)   complete frames  -> FrameBuffer.push
    playout thread            FrameBuffer.pop_due at each frame's time -> FrameDecoder.decode
                              at the window's size -> a one-picture hand-over slot
    Tk thread (`after`)       takes the newest picture, pastes it into one reused PhotoImage;
                              buttons, keys, status line, dialogs

The cache (`FrameBuffer`) fills to `--buffer N` frames before playing, and shows each frame at
the time its RTP timestamp says, so HD plays smoothly even when frames arrive unevenly. A panel
beside the buttons (`StatsPanel`) shows what RTCP and the cache know. When the server says BYE
at the end of the file, the player shows "end of video", plays out its cache and is READY
again: Play starts the video from the beginning.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import tkinter as tk
from collections import deque
from collections.abc import Callable
from tkinter import messagebox

from PIL import Image, ImageTk

from RtpPacket import JPEG_CLOCK_RATE, TIMESTAMP_MOD
from rtsplab.player.decoder import decode
from rtsplab.player.frame_buffer import DEFAULT_MAX_FRAMES, DEFAULT_PREFILL, FrameBuffer, Playback
from rtsplab.player.stats_panel import StatsPanel, Trend
from rtsplab.rtsp.client import ClientError, RtspClient
from rtsplab.rtsp.state import PAUSE, PLAY, SETUP, TEARDOWN, State, is_allowed

log = logging.getLogger(__name__)

REFRESH_MS = 4  # how often Tk looks for a new picture: well under a 60 fps frame (16.7 ms)
STATUS_MS = 250  # how often the status line is rewritten
IDLE_END = 2.0  # seconds without a packet that mean the stream has ended
PLAYOUT_POLL = 0.005  # the playout thread's nap while nothing is due
FPS_WINDOW = 1.0  # seconds over which the display rate is measured
INITIAL_PICTURE = (768, 432)
DEFAULT_FPS = 20  # the lab's, when the SDP gives no frame rate
SEEK_STEP = 2.0  # seconds the arrow keys move the seek bar
SKIP_ALL = -1  # _skip_until while a seek's PLAY is on its way: no frame is shown


class Client:
    def __init__(self, master: tk.Tk, serveraddr: str, serverport: int, rtpport: int,
                 filename: str, prefill: int = DEFAULT_PREFILL,
                 rtcp_reduced_minimum: bool = False, standard: bool | None = None,
                 tcp: bool = False) -> None:  # fmt: skip
        self.master = master
        self.filename = filename
        self.master.title(f"RTP player: {filename}")
        self.master.protocol("WM_DELETE_WINDOW", self.handler)
        self.rtsp = RtspClient(serveraddr, serverport, rtpport, filename, on_frame=self._on_frame,
                               rtcp_reduced_minimum=rtcp_reduced_minimum, standard=standard,
                               tcp=tcp)  # fmt: skip
        self.trend = Trend()
        self.buffer = FrameBuffer(prefill, max_frames=max(DEFAULT_MAX_FRAMES, 2 * prefill))
        self.frameNbr = 0  # frames shown in this session
        self._box = INITIAL_PICTURE  # the picture area's size, read by the playout thread
        self._ready: Image.Image | None = None  # the hand-over slot
        self._skip_until: int | None = None  # after a seek: the first RTP timestamp to show
        self._shown_timestamp: int | None = None  # of the newest picture: the seek bar's
        self._ready_lock = threading.Lock()
        self._photo: ImageTk.PhotoImage | None = None
        self._shown_at: deque[float] = deque()  # display times in the last FPS_WINDOW
        # The display rate over the last stretch of playing: first and last display times,
        # and frameNbr at the first (a stretch ends at Pause, Teardown or the end).
        self._first_shown: float | None = None
        self._last_shown = 0.0
        self._stretch_start = 0
        self._stop = threading.Event()
        self._playout = threading.Thread(target=self._play_out, name="playout", daemon=True)
        self.createWidgets()
        self._refresh_buttons()
        self._playout.start()
        self.master.after(REFRESH_MS, self.updateMovie)
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
        self.master.columnconfigure(tuple(range(4)), weight=1)  # the panel keeps its width
        self.master.rowconfigure(0, weight=1)
        # A Label sized in pixels only while it holds an image; start with a black one.
        self._show(Image.new("RGB", INITIAL_PICTURE))

    def _bind_key(self, key: str, action: Callable[[], None]) -> None:
        self.master.bind(key, lambda _event: action())

    # -- the lab's four actions ----------------------------------------------------------

    def setupMovie(self) -> None:
        if self._allowed(SETUP) and self._try(self.rtsp.setup):
            self.buffer.clear()
            self.frameNbr = 0
            self._first_shown = None
            duration = self.rtsp.duration
            if duration:
                self.seekbar.configure(to=duration)
                self.position.set(0.0)
                self.seekbar.grid(row=3, column=0, columnspan=4, sticky="we", padx=4)
        self._refresh_buttons()

    def seek(self, seconds: float) -> None:
        """Play from `seconds`: PLAY with a Range; the cache starts again from there."""
        self._dragging = False
        duration = self.rtsp.duration
        if not duration or self.rtsp.state is State.INIT:
            return
        last_frame = duration - 1 / (self.rtsp.fps or DEFAULT_FPS)  # the last frame's start
        seconds = min(max(0.0, seconds), last_frame)
        if self.rtsp.state is State.PLAYING and not self._try(self.rtsp.pause):
            return
        # Frames sent before the seek may still be on their way: show none of them — none at
        # all until the PLAY's reply says (RTP-Info) where the new ones start.
        self._skip_until = SKIP_ALL
        self.buffer.clear()
        if self._try(lambda: self.rtsp.play(seconds)):
            self._skip_until = self.rtsp.play_rtptime
            self.position.set(seconds)
            self._first_shown = None
        else:
            self._skip_until = None
        self._refresh_buttons()

    def playMovie(self) -> None:
        """Play; in INIT set up first, and after the end of the video start it again."""
        if not self._allowed(PLAY):
            return
        if self.rtsp.state is State.INIT:
            self.setupMovie()
        if self.buffer.state is Playback.ENDED and self.rtsp.state is not State.INIT:
            self.buffer.clear()  # PLAY after the end: the server starts the file again
            self.frameNbr = 0
        if self.rtsp.state is State.PLAYING and self.buffer.state is Playback.BUFFERING:
            self._try(self.rtsp.play)  # ended without BYE (the lab's server): ask again
        elif self.rtsp.state is State.READY and self._try(self.rtsp.play):
            self._first_shown = None  # a new stretch of playing
            if self.buffer.state is Playback.PAUSED:
                self.buffer.resume(time.monotonic())
        self._refresh_buttons()

    def pauseMovie(self) -> None:
        if self._allowed(PAUSE) and self._try(self.rtsp.pause):
            self.buffer.pause()
        self._refresh_buttons()

    def exitClient(self) -> None:
        """TEARDOWN: the session ends and the cache is freed; Setup starts a new one."""
        if self._allowed(TEARDOWN):
            self._try(self.rtsp.teardown)
            print(json.dumps(self.summary()), flush=True)  # the session's summary
            self._reset()
        self._refresh_buttons()

    def handler(self) -> None:
        """Closing the window tears the session down, and prints what the session was."""
        self._stop.set()
        self._playout.join(timeout=2)
        summary = self.summary()  # the state it was in, before the TEARDOWN
        self.rtsp.close()
        print(json.dumps(summary), flush=True)
        self.master.destroy()

    def summary(self) -> dict[str, float | str | None]:
        stats: dict[str, float | str | None] = dict(self.rtsp.summary())
        b = self.buffer.stats
        span = self._last_shown - (self._first_shown or self._last_shown)
        average = (self.frameNbr - self._stretch_start) / span if span > 0 else 0.0
        stats.update(state=self.rtsp.state.value, picture="{}x{}".format(*self._box),
                     shown=b.shown, late=b.late,
                     skipped=b.skipped, underruns=b.underruns,
                     display_fps=round(average, 2))  # fmt: skip
        return stats

    # -- helpers for the actions ---------------------------------------------------------

    def _allowed(self, method: str) -> bool:
        """What the state table allows, with two of the player's own: Play in INIT runs
        Setup first, and Play while playing (a seek, for the seek bar) restarts the video
        once it has ended."""
        state = self.rtsp.state
        if method == PLAY and state is State.INIT:
            return is_allowed(state, SETUP)
        if method == PLAY and state is State.PLAYING:
            return self.buffer.state is Playback.ENDED
        return is_allowed(state, method)

    def _try(self, action: Callable[[], None]) -> bool:
        try:
            action()
        except ClientError as exc:
            self._error(str(exc))
            return False
        return True

    def _error(self, message: str) -> None:
        log.warning("%s", message)
        messagebox.showerror("RTSP error", message, parent=self.master)

    def _reset(self) -> None:
        self.buffer.clear()
        self.trend.clear()
        with self._ready_lock:
            self._ready = None
        self._show(Image.new("RGB", self._box))

    def _refresh_buttons(self) -> None:
        for method, button in self.buttons.items():
            button.configure(state=tk.NORMAL if self._allowed(method) else tk.DISABLED)

    # -- frames: RTP thread -> cache -> playout thread -> Tk -----------------------------

    def _on_frame(self, frame: bytes, timestamp: int) -> None:
        """RTP thread: into the cache (no Tk here), unless it is from before a seek."""
        first = self._skip_until
        if first is not None:
            if first == SKIP_ALL or (timestamp - first) % TIMESTAMP_MOD >= TIMESTAMP_MOD // 2:
                return  # sent before the seek (earlier than the PLAY's RTP-Info)
            self._skip_until = None
        self.buffer.push(frame, timestamp, time.monotonic())

    def _play_out(self) -> None:
        """Pop each frame at its time and decode it at the window's size; never touches Tk."""
        while not self._stop.is_set():
            now = time.monotonic()
            wait = self.buffer.next_due(now)
            if wait is None or wait > 0:
                self._stop.wait(min(wait or PLAYOUT_POLL, PLAYOUT_POLL))
                if wait is None:
                    self.buffer.pop_due(now)  # lets the cache notice an underrun or the end
                continue
            item = self.buffer.pop_due(now)
            if item is None:
                continue
            try:
                picture = decode(item[0], self._box)
            except Exception as exc:  # a frame Pillow cannot decode is skipped, not shown
                log.warning("cannot decode a frame: %s", exc)
                continue
            with self._ready_lock:
                self._ready = picture
                self._shown_timestamp = item[1]

    def updateMovie(self) -> None:
        """Tk thread: show the newest decoded picture, if there is one."""
        with self._ready_lock:
            picture, self._ready = self._ready, None
        if picture is not None:
            self._show(picture)
            self.frameNbr += 1
            now = time.monotonic()
            self._shown_at.append(now)
            if self._first_shown is None:
                self._first_shown, self._stretch_start = now, self.frameNbr
            self._last_shown = now
        self.master.after(REFRESH_MS, self.updateMovie)

    def _show(self, picture: Image.Image) -> None:
        if self._photo is not None and (self._photo.width(), self._photo.height()) == picture.size:
            self._photo.paste(picture)  # one PhotoImage, reused: no new Tk image per frame
        else:
            self._photo = ImageTk.PhotoImage(picture)
            self.picture.configure(image=self._photo)

    def _on_resize(self, event: tk.Event[tk.Label]) -> None:
        self._box = (max(1, event.width - 4), max(1, event.height - 4))

    def _display_fps(self) -> float:
        """Frames shown per second over the last FPS_WINDOW seconds."""
        now = time.monotonic()
        while self._shown_at and self._shown_at[0] < now - FPS_WINDOW:
            self._shown_at.popleft()
        if len(self._shown_at) < 2:
            return 0.0
        return (len(self._shown_at) - 1) / (self._shown_at[-1] - self._shown_at[0])

    # -- status line, end of stream, server gone -----------------------------------------

    def _tick(self) -> None:
        now = time.monotonic()
        rtsp, buffer = self.rtsp, self.buffer
        if rtsp.state is State.PLAYING and buffer.state in (Playback.BUFFERING, Playback.PLAYING):
            last = rtsp.last_packet_at
            if rtsp.ended.is_set() or (last is not None and now - last > IDLE_END):
                buffer.end_of_stream(now)  # BYE, or (the lab's server) silence
        if buffer.state is Playback.ENDED and rtsp.ended.is_set():
            rtsp.stream_ended()  # played out: READY, and Play starts the video again
        if rtsp.state is not State.INIT and rtsp.connection_lost():
            self._reset()
            rtsp.close()
            self._refresh_buttons()
            self._error("the server closed the connection")
        self._refresh_buttons()
        self.status.configure(text=self._status_text())
        self._update_seekbar()
        self._update_panel(now)
        self.master.after(STATUS_MS, self._tick)

    def _update_seekbar(self) -> None:
        """Where the picture is: the PLAY's start plus the RTP time since."""
        rtsp, shown = self.rtsp, self._shown_timestamp
        if self._dragging or not rtsp.duration or shown is None or rtsp.play_rtptime is None:
            return
        elapsed = ((shown - rtsp.play_rtptime) % TIMESTAMP_MOD) / JPEG_CLOCK_RATE
        if elapsed < TIMESTAMP_MOD // 2 / JPEG_CLOCK_RATE:
            self.position.set(min(rtsp.duration, rtsp.play_position + elapsed))

    def _update_panel(self, now: float) -> None:
        stats = self.rtsp.summary()
        if self.rtsp.receiver is not None:
            point = self.trend.add(now, stats["bytes"], stats["packets"], stats["lost_packets"])
            if point is not None:
                self.panel.plot_trend(self.trend.points)
        stats["rate_kbps"] = self.trend.points[-1].kbps if self.trend.points else 0.0
        self.panel.show(stats, self.buffer.fill, self.buffer.prefill, self._display_fps())

    def _status_text(self) -> str:
        state, playback = self.rtsp.state, self.buffer.state
        if playback is Playback.ENDED and state is not State.INIT:
            mode = "end of video"
        elif state is State.PLAYING:
            mode = {
                Playback.BUFFERING: "buffering…",
                Playback.PLAYING: "playing",
                Playback.ENDED: "end of video",
                Playback.PAUSED: "paused",
            }[playback]
        else:
            mode = "paused" if playback is Playback.PAUSED else state.value.lower()
        stats = self.rtsp.summary()
        return (
            f"{state.value:<8} {mode:<13} frame {self.frameNbr:>6}  "
            f"buffer {self.buffer.fill:>3}/{self.buffer.prefill}  "
            f"{self._display_fps():5.1f} fps  dropped {stats.get('dropped_frames', 0)}  "
            f"late {self.buffer.stats.late}  lost {stats.get('lost_packets', 0)} packets"
        )
