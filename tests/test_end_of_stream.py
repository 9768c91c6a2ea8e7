"""client.end_of_stream.judge: when a playing stream is over, from what the receiving side
observed; no sockets, times given."""

from __future__ import annotations

import pytest

from rtsplab.client.end_of_stream import Heard, Verdict, judge

IDLE, FIRST_WAIT, TIMEOUT = 2.0, 3.0, 60.0


def verdict(**heard):
    fields = {"played_at": 0.0, "last_rtp": 10.0, "caught_up": 10.0, **heard}
    return judge(Heard(**fields), idle=IDLE, first_wait=FIRST_WAIT, timeout=TIMEOUT)


@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        # The BYE ends it, whatever else.
        ({"ended": True, "caught_up": 10.1}, Verdict.OVER),
        # Quiet only as far as the receiving thread has confirmed: a process that wakes
        # after a stop has not looked yet, whatever the clock says.
        ({"caught_up": 11.9}, Verdict.PLAYING),
        ({"caught_up": None}, Verdict.PLAYING),
        # The lab's server says nothing else: idle seconds of quiet are its end.
        ({"caught_up": 12.1, "more_than_rtp": False}, Verdict.OVER),
        # Any other server is asked first...
        ({"caught_up": 12.1}, Verdict.PROBE),
        # ...and its answer after the quiet began, all arrived read, ends it.
        ({"caught_up": 16.0, "answered": 15.0}, Verdict.OVER),
        ({"caught_up": 14.0, "answered": 15.0}, Verdict.PROBE),  # RTP may wait unread before it
        ({"caught_up": 16.0, "answered": 11.0}, Verdict.PROBE),  # answered before the quiet
        # No answer: an outage, waited out up to the session's timeout.
        ({"caught_up": 69.9}, Verdict.PROBE),
        ({"caught_up": 70.1}, Verdict.GONE),
        # Before the first packet, the UDP fallback's wait is added to idle.
        ({"last_rtp": None, "played_at": 10.0, "caught_up": 14.9}, Verdict.PLAYING),
        ({"last_rtp": None, "played_at": 10.0, "caught_up": 15.1}, Verdict.PROBE),
        ({"last_rtp": None, "played_at": None, "caught_up": 99.0}, Verdict.PLAYING),
    ],
)
def test_the_rule(heard, expected):
    assert verdict(**heard) is expected
