"""The one state table: what the server, the client and the player's buttons derive from."""

import pytest

from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.state import (
    END,
    PAUSE,
    PLAY,
    SETUP,
    TEARDOWN,
    TRANSITIONS,
    State,
    is_allowed,
    next_state,
)

INIT, READY, PLAYING = State.INIT, State.READY, State.PLAYING

# The lab's diagram, written out by hand: every (state, method) and where it leads, or None.
DIAGRAM = {
    (INIT, SETUP): READY,
    (INIT, PLAY): None,
    (INIT, PAUSE): None,
    (INIT, TEARDOWN): None,
    (INIT, END): None,
    (READY, SETUP): None,
    (READY, PLAY): PLAYING,
    (READY, PAUSE): None,
    (READY, TEARDOWN): INIT,
    (READY, END): None,
    (PLAYING, SETUP): None,
    (PLAYING, PLAY): PLAYING,
    (PLAYING, PAUSE): READY,
    (PLAYING, TEARDOWN): INIT,
    (PLAYING, END): READY,
}


@pytest.mark.parametrize(("key", "target"), DIAGRAM.items(), ids=str)
def test_the_table_is_the_labs_diagram(key, target):
    state, method = key
    assert is_allowed(state, method) is (target is not None)
    if target is None:
        with pytest.raises(RtspError) as raised:
            next_state(state, method)
        assert raised.value.status == 455
        assert method in str(raised.value) and state.value in str(raised.value)
    else:
        assert next_state(state, method) is target


def test_the_table_has_nothing_beyond_the_diagram():
    assert {k: v for k, v in DIAGRAM.items() if v is not None} == TRANSITIONS
