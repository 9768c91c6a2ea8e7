"""NTP time as RTP and RTCP carry it (RFC 3550 section 4).

The full format is 64 bits, 32.32 fixed-point seconds since 1900-01-01 00:00 UTC: an SR's NTP
timestamp (section 6.4.1) and an XR RRTR (RFC 3611 section 4.4). The short format is its
middle 32 bits, 16.16 fixed point: LSR and DLSR in a reception report, LRR and DLRR in XR.
"""

from __future__ import annotations

import math

MAX_U32 = 0xFFFFFFFF  # a 32-bit field: each half of an NTP timestamp, a short-format value
MAX_NTP = (1 << 64) - 1
NTP_UNIX_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01 (70 years, 17 leap days)
NTP_FRACTION = 1 << 32  # the low 32 bits count 1/2^32 s
NTP_ERA = 1 << 32  # the seconds field wraps on 2036-02-07
NTP_ERA0_BIT = 1 << 31  # set from 1968 to 2036; clear means era 1 (RFC 4330 section 3)
NTP_MIDDLE_SHIFT = 16  # the short format drops the low 16 bits (section 4)
NTP_SHORT_UNITS = 1 << 16  # the short format counts 1/65536 s


def ntp_from_unix(seconds: float) -> int:
    """The 64-bit NTP timestamp of a Unix time; from 2036-02-07 on, the seconds wrap (era 1)."""
    whole = math.floor(seconds)
    fraction = round((seconds - whole) * NTP_FRACTION)
    return ((whole + NTP_UNIX_OFFSET) * NTP_FRACTION + fraction) & MAX_NTP


def unix_from_ntp(ntp: int) -> float:
    """The Unix time of a 64-bit NTP timestamp.

    A seconds field with its top bit clear is taken to be in era 1 (2036-2104), as RFC 4330
    section 3 does, so this inverts `ntp_from_unix` from 1968 to 2104.
    """
    seconds, fraction = divmod(ntp & MAX_NTP, NTP_FRACTION)
    if not seconds & NTP_ERA0_BIT:
        seconds += NTP_ERA
    return seconds - NTP_UNIX_OFFSET + fraction / NTP_FRACTION


def ntp_middle32(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp: the short format, as LSR carries it."""
    return (ntp >> NTP_MIDDLE_SHIFT) & MAX_U32
