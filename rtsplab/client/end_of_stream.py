"""When a playing stream is over, and when silence means the server is gone: one pure rule.

The headless run and the player both ask it (through `RtspClient.stream_over`), with what the
session's receiving side has observed, time passed in:

* the server's BYE ends the stream at once;
* otherwise silence decides, but only silence the receiving thread has confirmed: the time
  it last found its socket empty (`caught_up`), never the clock alone. A process stopped for
  a while (kill -STOP, a laptop lid) wakes with datagrams waiting; until they are read, the
  time since the last one read says nothing. So the rule measures from the last packet to
  that moment of confirmed quiet;
* a server that gives nothing but RTP to tell its end by (the lab's own: no RTCP, no
  Transport in its SETUP reply) ends with `idle` seconds of quiet, as the lab's client does;
* a server that says more (standard RTSP, or a SETUP reply naming its ports or SSRC) ends
  its stream with a BYE; a quiet longer than `idle` there is either a stream that ended
  without one (its BYE lost) or a network outage. The driver asks the server (a keep-alive
  request: `PROBE`): an answer while the RTP stays quiet means the server is there and has
  stopped sending, so the stream is over; no answer means an outage, and the session waits
  for it up to the session's timeout (RFC 2326 §12.37: the server keeps the session that
  long unheard), after which the server is taken as gone (`GONE`, an error).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Heard", "Verdict", "judge"]


class Verdict(enum.Enum):
    PLAYING = "playing"  # go on
    OVER = "over"  # the end of the stream: the server said so, or its silence does
    PROBE = "probe"  # quiet past `idle`: ask the server whether it is there
    GONE = "gone"  # quiet past the session's timeout: the server is gone (an error)


@dataclass(frozen=True)
class Heard:
    """What the session's receiving side has observed, in monotonic seconds."""

    played_at: float | None  # the PLAY's reply
    last_rtp: float | None  # the session's latest RTP packet read
    caught_up: float | None  # the receiving thread found nothing waiting, as of then
    answered: float | None = None  # the server answered a probe sent after the last RTP
    ended: bool = False  # the server's BYE for the stream
    more_than_rtp: bool = True  # the server says more than RTP: PROBE applies (see above)


def judge(heard: Heard, *, idle: float, first_wait: float, timeout: float) -> Verdict:
    """The stream's state while it is playing. `idle`: seconds of confirmed quiet that end it
    (or start probing); `first_wait`: added before the first packet (the UDP fallback's
    wait); `timeout`: seconds of quiet after which the server is gone."""
    if heard.ended:
        return Verdict.OVER
    last = heard.last_rtp if heard.last_rtp is not None else heard.played_at
    if last is None or heard.caught_up is None:
        return Verdict.PLAYING
    quiet = heard.caught_up - last
    allowance = idle + (first_wait if heard.last_rtp is None else 0.0)
    if quiet <= allowance:
        return Verdict.PLAYING
    if not heard.more_than_rtp:
        return Verdict.OVER
    answered = heard.answered
    if answered is not None and answered - last > idle and heard.caught_up >= answered:
        return Verdict.OVER  # it answers, and sent nothing before answering
    if quiet > timeout:
        return Verdict.GONE
    return Verdict.PROBE
