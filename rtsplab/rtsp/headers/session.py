"""The Session header (RFC 2326 §12.37): parse and format."""

from __future__ import annotations

import re

from rtsplab.rtsp.errors import RtspError, short
from rtsplab.rtsp.grammar import bounded_int

# Session = "Session" ":" session-id [ ";" "timeout" "=" delta-seconds ]   (RFC 2326 §12.37)
# §3.4 limits session-id to ALPHA / DIGIT / "$-_.+"; ids from other servers are taken as any
# visible ASCII except ';' so that the client never rejects a server's choice. RFC 7826
# §18.49 caps the id at 256 characters, which every server keeps to.
MAX_SESSION_ID = 256
_SESSION_ID_RE = re.compile(rf"[!-:<-~]{{1,{MAX_SESSION_ID}}}")
# A timeout is seconds; past 2^31 - 1 (68 years) it is no timeout a peer means.
MAX_SESSION_TIMEOUT = 2**31 - 1


def parse_session(value: str) -> tuple[str, int | None]:
    """("abc;timeout=60") -> ("abc", 60). Unknown parameters are ignored.

    RtspError(400) when the id is empty, has blanks or is longer than MAX_SESSION_ID, or
    the timeout is not an integer in 0..MAX_SESSION_TIMEOUT.
    """
    session_id, *params = value.split(";")
    session_id = session_id.strip()
    if not _SESSION_ID_RE.fullmatch(session_id):
        raise RtspError(400, f"bad session id {short(session_id)}")
    timeout = None
    for param in params:
        name, _, raw = param.partition("=")
        if name.strip().lower() == "timeout":
            timeout = bounded_int(raw, MAX_SESSION_TIMEOUT)
            if timeout is None:
                raise RtspError(400, f"bad session timeout {short(raw.strip())}")
    return session_id, timeout


def format_session(session_id: str | int, timeout: int | None = None) -> str:
    """("abc", 60) -> "abc;timeout=60"; ValueError for an id or timeout that would not parse."""
    text = str(session_id)
    if not _SESSION_ID_RE.fullmatch(text):
        raise ValueError(f"bad session id {text!r}")
    if timeout is None:
        return text
    if not isinstance(timeout, int) or not 0 <= timeout <= MAX_SESSION_TIMEOUT:
        raise ValueError(f"bad session timeout {timeout!r}")
    return f"{text};timeout={timeout}"
