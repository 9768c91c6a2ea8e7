"""NTP time (rtsplab.ntp): 32.32 fixed-point seconds since 1900, as RTCP sender reports carry
it (RFC 3550 section 4), across the 2036 era wrap, and its middle 32 bits (LSR)."""

import datetime

import pytest

from rtcp_vectors import FIG2_LSR, FIG2_NTP
from rtsplab.ntp import (
    MAX_NTP,
    MAX_U32,
    NTP_UNIX_OFFSET,
    ntp_from_unix,
    ntp_middle32,
    unix_from_ntp,
)


def test_ntp_from_unix_known_answers():
    assert NTP_UNIX_OFFSET == 0x83AA7E80
    assert ntp_from_unix(0) == 0x83AA7E80_00000000
    assert ntp_from_unix(0.5) == 0x83AA7E80_80000000
    assert ntp_from_unix(0.25) == 0x83AA7E80_40000000
    assert ntp_from_unix(-1) == 0x83AA7E7F_00000000
    # Figure 2's SR: 10 Nov 1995 11:33:25.125 UTC.
    fig2 = datetime.datetime(1995, 11, 10, 11, 33, 25, 125000, tzinfo=datetime.timezone.utc)
    assert ntp_from_unix(fig2.timestamp()) == FIG2_NTP
    assert unix_from_ntp(FIG2_NTP) == fig2.timestamp()
    assert ntp_middle32(FIG2_NTP) == FIG2_LSR


def test_ntp_fraction_rounding_carries_into_the_seconds():
    assert ntp_from_unix(1 - 2**-40) == (NTP_UNIX_OFFSET + 1) << 32
    assert ntp_from_unix(2**-32) == (NTP_UNIX_OFFSET << 32) + 1  # one unit of fraction


def test_ntp_era_1_after_2036():
    wrap = (1 << 32) - NTP_UNIX_OFFSET  # 2036-02-07 06:28:16 UTC
    assert wrap == 2085978496
    assert ntp_from_unix(wrap) == 0
    assert unix_from_ntp(0) == wrap
    assert ntp_from_unix(wrap - 0.5) == 0xFFFFFFFF_80000000
    assert unix_from_ntp(0xFFFFFFFF_80000000) == wrap - 0.5
    assert unix_from_ntp(MAX_NTP) == pytest.approx(wrap, abs=1e-9)


@pytest.mark.parametrize(
    "seconds", [0.0, 0.125, 816003205.125, 1.7e9 + 0.001, 2**31 + 0.75, 4e9, -5.5e7]
)
def test_ntp_round_trip(seconds):
    assert unix_from_ntp(ntp_from_unix(seconds)) == pytest.approx(seconds, abs=1e-6)


def test_ntp_middle32():
    assert ntp_middle32(0) == 0
    assert ntp_middle32(MAX_NTP) == MAX_U32
    assert ntp_middle32(0x0123_4567_89AB_CDEF) == 0x456789AB
