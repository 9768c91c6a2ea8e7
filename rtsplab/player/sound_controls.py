"""The window's sound: its controls, and its share of the window's session steps.

`SoundControls`: Mute (and the `m` key), a volume slider, 0-100 %, and why the sound is
muted when there is no sound card, in a strip under the seek bar shown only while the
session has sound. They set the listener's loudness on the `SoundTrack` (`set_loudness`),
which applies it to the sound output's `Renderer` now and to every session's after: what is
heard changes, not what is received, timed or recorded.

`WindowSound`: what the window does with its track at SETUP, PAUSE, a seek, TEARDOWN and
close, each frame it shows (a row of `--playout-log`), and the panel's sound figures. The
window's frames are taken out of the cache ahead of the sound's clock by the time a frame
takes to decode and paint (the median, `FrameWork`): seen, not popped, when the sound of
their instant is heard.

Tk thread only, but for `WindowSound.seek` (the RTSP actions' thread, before the seek's PLAY).
"""

from __future__ import annotations

import tkinter as tk

from rtsplab.client.audio_link import AudioLink
from rtsplab.client.session import ClientSession
from rtsplab.player.frame_buffer import FrameBuffer
from rtsplab.player.sound_track import SoundTrack
from rtsplab.player.stats_panel import StatsPanel
from rtsplab.player.status import FrameWork

__all__ = ["SoundControls", "WindowSound"]

PERCENT = 100
SLIDER_PIXELS = 150
LIVE_ROWS = 1500  # the panel's A/V offset: over the playout log's last ~20 s


class SoundControls(tk.Frame):
    def __init__(self, master: tk.Misc, track: SoundTrack) -> None:
        super().__init__(master, name="sound_controls")
        self.track = track
        # Named variables: what the window shows can be read back by name (Tk's `send`).
        self.muted = tk.BooleanVar(self, value=track.mute, name="sound_mute")
        self.volume = tk.IntVar(self, value=round(track.volume * PERCENT), name="sound_volume")
        self.mute_box = tk.Checkbutton(self, text="Mute (m)", variable=self.muted,
                                       command=self._apply, name="mute")  # fmt: skip
        self.mute_box.grid(row=0, column=0, sticky="w")
        tk.Label(self, text="volume").grid(row=0, column=1, sticky="w", padx=(8, 0))
        self.slider = tk.Scale(self, orient="horizontal", from_=0, to=PERCENT, name="volume",
                               variable=self.volume, length=SLIDER_PIXELS, showvalue=False,
                               command=lambda _value: self._apply())  # fmt: skip
        self.slider.grid(row=0, column=2, sticky="w", padx=(2, 8))
        self.note = tk.Label(self, text="", anchor="w", name="note", font="TkSmallCaptionFont")
        self.note.grid(row=0, column=3, sticky="w")
        self.shown = False

    def show(self, sound: bool) -> None:
        """Shown while the session has sound (where it was gridded), hidden otherwise."""
        if sound and not self.shown:
            self.grid()
        elif not sound and self.shown:
            self.grid_remove()
        self.shown = sound

    def toggle_mute(self) -> None:
        """The `m` key: as a click on Mute, while the controls are shown."""
        if self.shown:
            self.muted.set(not self.muted.get())
            self._apply()

    def _apply(self) -> None:
        self.track.set_loudness(self.volume.get() / PERCENT, self.muted.get())


class WindowSound:
    """The window's side of its sound: each session step passed on to the track, the frames
    shown as the playout log's rows, the panel's figures and the controls. Without a track
    (the lab's dialect, a multicast group) every step is nothing, as the window was."""

    def __init__(self, track: SoundTrack | None, playout_log: str | None = None) -> None:
        self.track, self.playout_log = track, playout_log
        self.controls: SoundControls | None = None
        self._lead = 0.0  # s: a frame's decode and paint, by which it is popped early

    def link(self) -> AudioLink | None:
        return None if self.track is None else self.track.link()

    def build(self, window: tk.Misc, row: int, columns: int) -> None:
        """The controls on `row` of the window's grid, across `columns`, hidden until a
        session has sound; `m` toggles Mute."""
        if self.track is None:
            return
        self.controls = controls = SoundControls(window, self.track)
        controls.grid(row=row, column=0, columnspan=columns, sticky="we", padx=4)
        controls.grid_remove()
        window.bind("m", lambda _event: controls.toggle_mute())

    # -- the session ---------------------------------------------------------------------

    def set_up(self, session: ClientSession, buffer: FrameBuffer) -> None:
        """SETUP done: the sound, if the session has any, and the frames by its clock."""
        if self.track is not None and self.controls is not None:
            self.track.start_beside(session, buffer)
            self.controls.show(self.track.has_sound)
            if self.track.has_sound:
                buffer.timeline = self._due

    def _due(self, video_timestamp: int) -> float | None:
        """The playout threads': when to pop the frame, to be seen on the sound's time."""
        due = None if self.track is None else self.track.due(video_timestamp)
        return None if due is None else due - self._lead

    def pause(self) -> None:
        if self.track is not None:
            self.track.pause()

    def seek(self) -> None:
        """Before a seek's PLAY (the RTSP actions' thread): no sound from before it."""
        if self.track is not None:
            self.track.seek()

    def shown(self, video_timestamp: int, at: float) -> None:
        if self.track is not None:
            self.track.video_shown(video_timestamp, at)

    def write_log(self) -> None:
        """--playout-log: the session's rows (a later session's replace them)."""
        if self.track is not None and self.playout_log:
            self.track.log.write(self.playout_log)

    def reset(self) -> None:
        """The session is over: the sound closed, ready for the next SETUP."""
        if self.track is not None and self.controls is not None:
            self.track.reset()
            self.controls.show(False)

    def close(self) -> None:
        if self.track is not None:
            self.track.close()

    # -- figures -------------------------------------------------------------------------

    def summary(self) -> dict[str, float | str | None]:
        """The JSON's `sound`, `av_offset_ms`...: standard RTSP's, as the headless run's."""
        return {} if self.track is None else self.track.summary()

    def show_in(self, panel: StatsPanel, work: FrameWork) -> None:
        """The sound's state, volume and live A/V offset on the panel; why it is muted
        beside the controls. `work`: the frames' decode and paint times, the lead taken."""
        track, controls = self.track, self.controls
        if track is None or controls is None:
            return
        self._lead = (work.median_ms() or 0.0) / 1000
        sound = track.has_sound
        offset = track.log.offset(LIVE_ROWS) if sound else None
        state = None if not sound else "muted" if track.muted else "device"
        panel.show_sound(state, track.loudness(), None if offset is None else offset * 1000)
        controls.note.configure(text=f"muted: {track.muted}" if track.muted else "")
