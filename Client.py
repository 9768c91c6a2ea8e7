"""The Tk player: the lab's window with Setup, Play, Pause and Teardown.

The network half is `RtspClient`; this module is only the view. Frames arrive on the RTP
thread and are handed over through a one-frame slot; the Tk thread picks up the newest one on
its own timer (`after`), so no widget is ever touched from another thread.
"""

from __future__ import annotations

import io
import logging
import threading
import tkinter as tk
from tkinter import messagebox

from PIL import Image, ImageTk

from RtspClient import ClientError, RtspClient
from RtspMessage import RtspError
from RtspSession import PAUSE, PLAY, SETUP, TEARDOWN, State, next_state

log = logging.getLogger(__name__)

REFRESH_MS = 10


class Client:
    def __init__(self, master: tk.Tk, serveraddr: str, serverport: int, rtpport: int,
                 filename: str) -> None:  # fmt: skip
        self.master = master
        self.master.title(f"RTP player: {filename}")
        self.master.protocol("WM_DELETE_WINDOW", self.handler)
        self.rtsp = RtspClient(serveraddr, serverport, rtpport, filename, on_frame=self._on_frame)
        self._latest: bytes | None = None
        self._lock = threading.Lock()
        self._photo: ImageTk.PhotoImage | None = None
        self.frameNbr = 0
        self.createWidgets()
        self._refresh_buttons()
        self.master.after(REFRESH_MS, self.updateMovie)

    def createWidgets(self) -> None:
        self.label = tk.Label(self.master, height=19, bg="black")
        self.label.grid(row=0, column=0, columnspan=4, sticky="nsew", padx=5, pady=5)
        self.buttons = {}
        for column, (method, text, action) in enumerate(
            [
                (SETUP, "Setup", self.setupMovie),
                (PLAY, "Play", self.playMovie),
                (PAUSE, "Pause", self.pauseMovie),
                (TEARDOWN, "Teardown", self.exitClient),
            ]
        ):
            button = tk.Button(self.master, width=20, padx=3, pady=3, text=text, command=action)
            button.grid(row=1, column=column, padx=2, pady=2)
            self.buttons[method] = button
        self.status = tk.Label(self.master, anchor="w")
        self.status.grid(row=2, column=0, columnspan=4, sticky="we", padx=5)
        for key, action in (("s", self.setupMovie), ("p", self.playMovie),
                            ("<space>", self.pauseMovie), ("t", self.exitClient)):  # fmt: skip
            self.master.bind(key, lambda _event, act=action: act())
        self.master.columnconfigure(tuple(range(4)), weight=1)
        self.master.rowconfigure(0, weight=1)

    # -- the lab's actions ---------------------------------------------------------------

    def setupMovie(self) -> None:
        self._do(SETUP, self.rtsp.setup)

    def playMovie(self) -> None:
        if self.rtsp.state is State.INIT:
            self._do(SETUP, self.rtsp.setup)
        self._do(PLAY, self.rtsp.play)

    def pauseMovie(self) -> None:
        self._do(PAUSE, self.rtsp.pause)

    def exitClient(self) -> None:
        self._do(TEARDOWN, self.rtsp.teardown)

    def handler(self) -> None:
        """Closing the window tears the session down."""
        self.rtsp.close()
        self.master.destroy()

    def _do(self, method: str, action) -> None:
        if not self._allowed(method):
            return  # not valid now: the button is disabled, a key press is ignored
        try:
            action()
        except ClientError as exc:
            messagebox.showerror("RTSP error", str(exc), parent=self.master)
        self._refresh_buttons()

    def _refresh_buttons(self) -> None:
        for method, button in self.buttons.items():
            # Play in INIT sets up first (the lab's optional three-button exercise).
            allowed = self._allowed(method) or (method == PLAY and self.rtsp.state is State.INIT)
            button.configure(state=tk.NORMAL if allowed else tk.DISABLED)

    def _allowed(self, method: str) -> bool:
        try:
            next_state(self.rtsp.state, method)
        except RtspError:
            return False
        return True

    # -- frames --------------------------------------------------------------------------

    def _on_frame(self, frame: bytes, _timestamp: int) -> None:
        with self._lock:  # RTP thread: hand over, never touch Tk
            self._latest = frame

    def updateMovie(self) -> None:
        with self._lock:
            frame, self._latest = self._latest, None
        if frame is not None:
            self.frameNbr += 1
            image = Image.open(io.BytesIO(frame))
            self._photo = ImageTk.PhotoImage(image)
            self.label.configure(image=self._photo, height=image.height, width=image.width)
        summary = self.rtsp.summary()
        self.status.configure(
            text=f"{self.rtsp.state.value}  frame {self.frameNbr}  "
            f"dropped {summary.get('dropped_frames', 0)}  lost {summary.get('lost_packets', 0)}"
        )
        self.master.after(REFRESH_MS, self.updateMovie)
