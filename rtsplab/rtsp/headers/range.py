"""The npt range (RFC 2326 §3.6), as the Range header (§12.29) and SDP's a=range carry it."""

from __future__ import annotations

import logging
import math
import re

from rtsplab.rtsp.errors import RtspError

log = logging.getLogger(__name__)

# npt-sec (seconds, optional fraction) or npt-hhmmss.
_NPT_TIME = re.compile(r"^(?:(\d+):([0-5]?\d):([0-5]?\d(?:\.\d*)?)|(\d+(?:\.\d*)?))$")

NptRange = tuple[float | None, float | None]  # start (None: "now"), end (None: open)


def _parse_npt_time(text: str) -> float | None:
    match = _NPT_TIME.match(text.strip())
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
    RtspError(457) for a range the server cannot serve."""
    if value is None:
        return None
    parsed = parse_npt_range(value)
    if parsed is None:
        raise RtspError(457, f"unsupported Range {value!r} (only npt=X- is)")
    start = parsed[0]
    if start is not None and not 0 <= start < math.inf:
        raise RtspError(457, f"bad Range start in {value!r}")
    return start
