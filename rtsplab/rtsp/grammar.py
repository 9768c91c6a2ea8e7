"""The lexical pieces of RTSP's grammar that messages, readers and headers share."""

from __future__ import annotations

import re

RTSP_VERSION = "RTSP/1.0"

# RFC 2616 §2.2 token (RFC 2326 §15 takes it): what a method or header name may be made of.
TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
VERSION_RE = re.compile(r"RTSP/([0-9]+)\.([0-9]+)")  # §3.1
STATUS_LINE_RE = re.compile(r"(RTSP/[0-9]+\.[0-9]+) ([0-9]{3})(?: (.*))?")  # §7.1


def is_digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() alone would take "²" or Arabic-Indic digits."""
    return text.isascii() and text.isdigit()


def cseq_or_none(value: str | None) -> int | None:
    """A CSeq value as a number; None when absent or not a number."""
    if value is None:
        return None
    value = value.strip()
    return int(value) if is_digits(value) else None
