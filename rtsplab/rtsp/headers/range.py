"""The npt range (RFC 2326 §3.6), as the Range header (§12.29) and SDP's a=range carry it."""

from __future__ import annotations

import logging
import math
import re

from rtsplab.rtsp.errors import RtspError, short

log = logging.getLogger(__name__)

# npt-sec (seconds, optional fraction) or npt-hhmmss (§3.6), each number bounded: hours or
# seconds up to 9 digits (31 years of seconds), a fraction to the nanosecond. A longer one
# is no time a stream has, and a 400-digit one would not even fit a float.
MAX_NPT_DIGITS = 9
MAX_FRACTION_DIGITS = 9
_FRACTION = rf"(?:\.\d{{0,{MAX_FRACTION_DIGITS}}})?"
_NPT_TIME = re.compile(
    rf"(?:(\d{{1,{MAX_NPT_DIGITS}}}):([0-5]?\d):([0-5]?\d{_FRACTION})"
    rf"|(\d{{1,{MAX_NPT_DIGITS}}}{_FRACTION}))"
)

NptRange = tuple[float | None, float | None]  # start (None: "now"), end (None: open)


def _parse_npt_time(text: str) -> float | None:
    text = text.strip()
    match = _NPT_TIME.fullmatch(text) if text.isascii() else None
    if match is None:
        return None
    if match[4] is not None:
        return float(match[4])
    return int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])


def parse_npt_range(value: str) -> NptRange | None:
    """ "npt=0-", "npt=0-20.5", "npt=now-", "npt=00:01:00-" -> (start, end) in seconds.

    None when it is not an npt range or does not read as one (smpte= and clock= are not
    used here)."""
    kind, _, spec = value.strip().partition("=")
    if kind.strip().lower() != "npt" or "-" not in spec:
        return None
    start_text, _, end_text = spec.partition("-")
    start = None if start_text.strip() == "now" else _parse_npt_time(start_text)
    end = _parse_npt_time(end_text) if end_text.strip() else None
    if (start is None and start_text.strip() != "now") or (end is None and end_text.strip()):
        log.debug("ignoring unreadable range %r", value)
        return None
    return start, end


def npt_start(value: str | None) -> float | None:
    """X of a reply's `Range: npt=X-`; None when absent, "now", or not an npt range."""
    parsed = parse_npt_range(value) if value else None
    return parsed[0] if parsed else None


def format_npt_range(start: float, end: float | None = None) -> str:
    """(1.5, None) -> "npt=1.500-"; (0, 20) -> "npt=0.000-20.000"."""
    return f"npt={start:.3f}-" if end is None else f"npt={start:.3f}-{end:.3f}"


def parse_npt_start(value: str | None) -> float | None:
    """The start of a request's `Range: npt=X-[Y]`, in seconds (None for no Range, or "now");
    RtspError(457) for a range the server cannot serve: not npt, unreadable, or empty or
    reversed (npt=5-5, npt=5-3: §3.6's range runs from its start up to its end, so such a
    range holds nothing to play)."""
    if value is None:
        return None
    parsed = parse_npt_range(value)
    if parsed is None:
        raise RtspError(457, f"unsupported Range {short(value)} (only npt=X-[Y] is)")
    start, end = parsed
    if start is not None and not 0 <= start < math.inf:
        raise RtspError(457, f"bad Range start in {short(value)}")
    if end is not None and end <= (start or 0.0):
        raise RtspError(457, f"empty or reversed Range {short(value)}")
    return start
