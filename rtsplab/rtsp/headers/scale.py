"""The Scale and Speed headers (RFC 2326 §12.34, §12.35): parse and format.

    Scale = "Scale" ":" [ "-" ] 1*DIGIT [ "." *DIGIT ]     (§12.34: a PLAY's viewing rate)
    Speed = "Speed" ":" 1*DIGIT [ "." *DIGIT ]             (§12.35: a PLAY's delivery rate)

Both are parsed with bounds, as every number a peer sends: a value of sane length, not zero
(a rate of zero plays nothing), else RtspError(400).
"""

from __future__ import annotations

import re

from rtsplab.rtsp.errors import RtspError, short

# Up to 6 digits before the point and 9 after: rates far past any trick play, to the
# nanosecond, and never a string long enough to cost anything to read.
_RATE = r"[0-9]{1,6}(?:\.[0-9]{0,9})?"
_SCALE_RE = re.compile(rf"-?{_RATE}")
_SPEED_RE = re.compile(_RATE)


def _parse_rate(name: str, value: str, pattern: re.Pattern[str]) -> float:
    text = value.strip()
    if not pattern.fullmatch(text):
        raise RtspError(400, f"bad {name} {short(text)}")
    rate = float(text)
    if rate == 0:
        raise RtspError(400, f"{name} 0 plays nothing")
    return rate


def parse_scale(value: str) -> float:
    """ "2" -> 2.0, "-1.5" -> -1.5 (backwards); RtspError(400) when malformed or zero."""
    return _parse_rate("Scale", value, _SCALE_RE)


def parse_speed(value: str) -> float:
    """ "2.5" -> 2.5; RtspError(400) when malformed (a sign included) or zero."""
    return _parse_rate("Speed", value, _SPEED_RE)


def format_rate(rate: float) -> str:
    """1.0 -> "1", 2.5 -> "2.5", -1.0 -> "-1": the shortest text that reads back the same,
    and always within what the parsers take."""
    text = f"{rate:.9f}".rstrip("0").rstrip(".")
    if not _SCALE_RE.fullmatch(text) or float(text) == 0:
        raise ValueError(f"rate {rate!r} cannot be written as a Scale or Speed")
    return text
