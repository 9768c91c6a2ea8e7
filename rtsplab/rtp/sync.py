"""Playing two RTP streams of one source together (RFC 3550 §6.4.1, §6.5.1): each stream's
RTP timestamps mapped to one timeline, so that a video frame is shown when the sound of the
same instant is heard.

Each stream's timestamps run on its own clock from a random origin, at its own rate (90 kHz
for video, the sampling rate for audio). Two ways tie them to a common timeline:

- before any sender report, PLAY's RTP-Info (RFC 2326 §12.33): each track's `rtptime` is the
  timestamp at the same instant, the start of the range played; the timeline is npt;
- once both streams have had an SR, its NTP/RTP pair (§6.4.1: "the same time as the NTP
  timestamp"), and the timeline is the sender's NTP clock. Both streams switch together;
  a stream alone with an SR would put the two on different timelines.

Each PLAY starts over from its RTP-Info: the SRs before it no longer hold. A server's RTP
clocks do not run while paused, and each track's timestamp goes on from where its own
stream stopped while both media restart at one position: after a PAUSE the video may have
sent up to a frame boundary (40 ms steps at 25 fps) and the audio up to a packet's (20 ms),
so an SR from before the PLAY can put the sound one packet off the picture. Until both
streams have had an SR again, the PLAY's RTP-Info ties them.

`StreamClock.seconds` unwraps a timestamp near its anchor (mod 2^32, as a signed distance),
so the mapping holds across the timestamp's wrap.
"""

from __future__ import annotations

from dataclasses import dataclass

from RtpPacket import TIMESTAMP_MOD
from rtsplab.ntp import unix_from_ntp

HALF_TIMESTAMP = TIMESTAMP_MOD // 2


@dataclass
class StreamClock:
    """One stream's anchors: (RTP timestamp, seconds) from RTP-Info and from its last SR."""

    rate: int
    play_anchor: tuple[int, float] | None = None  # (rtptime, npt) of PLAY's RTP-Info
    report_anchor: tuple[int, float] | None = None  # (RTP timestamp, sender's NTP seconds)

    def on_rtp_info(self, rtptime: int, npt: float) -> None:
        """A PLAY's: the timeline from now on, until the stream's next SR (module doc)."""
        self.play_anchor = (rtptime, npt)
        self.report_anchor = None

    def on_sender_report(self, ntp: int, rtp_timestamp: int) -> None:
        """An SR; one from before the last PLAY (a timestamp before its rtptime: sent before
        it, come late) is not taken."""
        play = self.play_anchor
        if play is not None and (rtp_timestamp - play[0]) % TIMESTAMP_MOD >= HALF_TIMESTAMP:
            return
        self.report_anchor = (rtp_timestamp, unix_from_ntp(ntp))

    def seconds(self, timestamp: int, anchor: tuple[int, float]) -> float:
        """The time of `timestamp` on the anchor's timeline."""
        base, at = anchor
        distance = (timestamp - base) % TIMESTAMP_MOD
        if distance >= HALF_TIMESTAMP:
            distance -= TIMESTAMP_MOD
        return at + distance / self.rate


class LipSync:
    """The common timeline of a video and an audio stream."""

    def __init__(self, video_rate: int, audio_rate: int) -> None:
        self.video = StreamClock(video_rate)
        self.audio = StreamClock(audio_rate)

    def ready(self) -> bool:
        """Whether both streams are on a timeline (RTP-Info or SRs)."""
        return self._anchors() is not None

    def _anchors(self) -> tuple[tuple[int, float], tuple[int, float]] | None:
        v, a = self.video, self.audio
        if v.report_anchor is not None and a.report_anchor is not None:
            return v.report_anchor, a.report_anchor
        if v.play_anchor is not None and a.play_anchor is not None:
            return v.play_anchor, a.play_anchor
        return None

    def video_after_audio(self, video_ts: int, audio_ts: int) -> float | None:
        """Seconds from the instant of audio timestamp `audio_ts` to that of video frame
        `video_ts` on the common timeline (negative: the frame is earlier); None before the
        streams are tied. The player shows the frame that much after the audio clock has
        reached `audio_ts`; shown at another time, the difference is the A/V offset."""
        anchors = self._anchors()
        if anchors is None:
            return None
        video_anchor, audio_anchor = anchors
        return self.video.seconds(video_ts, video_anchor) - self.audio.seconds(
            audio_ts, audio_anchor
        )
