"""The RTSP session's states and the one table of what moves between them.

The lab's diagram (RFC 2326 Appendix A), for the server's session and the client alike:

    INIT --SETUP--> READY --PLAY--> PLAYING --PAUSE--> READY
    READY or PLAYING --TEARDOWN--> INIT;   PLAYING --PLAY--> PLAYING (a seek)
    PLAYING --END--> READY (the client, when the server's BYE says the video is over)

The server answers a request the table does not allow with 455 and changes nothing; the
client does not send it; the player enables a button only where the table leads somewhere.
"""

from __future__ import annotations

from enum import Enum

from rtsplab.rtsp.errors import RtspError


class State(Enum):
    INIT = "INIT"
    READY = "READY"
    PLAYING = "PLAYING"


SETUP, PLAY, PAUSE, TEARDOWN = "SETUP", "PLAY", "PAUSE", "TEARDOWN"
OPTIONS, DESCRIBE, GET_PARAMETER = "OPTIONS", "DESCRIBE", "GET_PARAMETER"
# Not a request: the end of the stream, which the server tells with an RTCP BYE (RFC 3550
# §6.6). The client is READY again, and PLAY starts the video from the beginning.
END = "END"

TRANSITIONS: dict[tuple[State, str], State] = {
    (State.INIT, SETUP): State.READY,
    (State.READY, PLAY): State.PLAYING,
    (State.PLAYING, PLAY): State.PLAYING,
    (State.PLAYING, PAUSE): State.READY,
    (State.READY, TEARDOWN): State.INIT,
    (State.PLAYING, TEARDOWN): State.INIT,
    (State.PLAYING, END): State.READY,
}
# Methods answered in any state; GET_PARAMETER checks the session when there is one.
STATELESS = (OPTIONS, DESCRIBE, GET_PARAMETER)
IMPLEMENTED = (OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER)


def next_state(state: State, method: str) -> State:
    """The state after `method` in `state`; RtspError(455) where the table has no entry."""
    try:
        return TRANSITIONS[state, method]
    except KeyError:
        raise RtspError(455, f"{method} is not valid in state {state.value}") from None


def is_allowed(state: State, method: str) -> bool:
    return (state, method) in TRANSITIONS
