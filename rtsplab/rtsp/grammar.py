"""The lexical pieces of RTSP's grammar that messages, readers and headers share."""

from __future__ import annotations

import re

RTSP_VERSION = "RTSP/1.0"

# RFC 2616 §2.2 token (RFC 2326 §15 takes it): what a method or header name may be made of.
TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
VERSION_RE = re.compile(r"RTSP/([0-9]+)\.([0-9]+)")  # §3.1
STATUS_LINE_RE = re.compile(r"(RTSP/[0-9]+\.[0-9]+) ([0-9]{3})(?: (.*))?")  # §7.1


# RFC 2326 leaves CSeq unbounded and RFC 7826 §18.20 caps it at 9 digits; a 32-bit counter
# holds either, and no client counts past it.
MAX_CSEQ = 2**32 - 1


def is_digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() alone would take "²" or Arabic-Indic digits."""
    return text.isascii() and text.isdigit()


def bounded_int(text: str, high: int, low: int = 0) -> int | None:
    """`text` (ASCII digits, blanks around allowed) as an int in low..high; None when it is
    anything else. A run of digits longer than `high` is written with (leading zeros
    included) is refused before it is converted: a peer's 400-digit number costs nothing."""
    text = text.strip()
    if not is_digits(text) or len(text) > len(str(high)):
        return None
    number = int(text)
    return number if low <= number <= high else None


def cseq_or_none(value: str | None) -> int | None:
    """A CSeq value as a number; None when absent, not a number, or past MAX_CSEQ."""
    return None if value is None else bounded_int(value, MAX_CSEQ)
