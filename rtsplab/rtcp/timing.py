"""When to send the next RTCP report: RFC 3550 sections 6.2, 6.3 and Appendix A.7.

`rtcp_interval` is A.7's ``rtcp_interval()``, `average_rtcp_size` section 6.3.3's running
average, and `MEAN_DRAW` the random source at its mean. The state around them, one timer for
a two-party session and a group alike, is `rtsplab.rtcp.timer.RtcpTimer`. Pure: the random
source is injectable.

Bandwidths are in octets per second; sizes in octets, UDP and IP headers included (6.2).
"""

from __future__ import annotations

import random as _random
from typing import Protocol

RTCP_BANDWIDTH_FRACTION = 0.05  # RTCP gets 5% of the session bandwidth (section 6.2)
SENDER_FRACTION = 0.25  # of which senders get a quarter while they are at most a quarter
RECEIVER_FRACTION = 1 - SENDER_FRACTION
RTCP_MIN_TIME = 5.0  # seconds (section 6.2)
INITIAL_MIN_TIME_DIVISOR = 2  # the first report waits half the minimum (A.7)
# Section 6.2: a reduced minimum of 360 s divided by the session bandwidth in kbit/s.
REDUCED_MIN_KBIT_SECONDS = 360.0
BITS_PER_OCTET = 8
BITS_PER_KBIT = 1000
# A.7: "To compensate for 'timer reconsideration' converging to a value below the intended
# average", the interval is divided by e - 3/2, with e written to the RFC's five places.
COMPENSATION = 2.71828 - 1.5
RANDOM_LOW = 0.5  # the interval is drawn uniformly from [0.5, 1.5) times the average
UDP_IP_OVERHEAD = 28  # 20 IPv4 + 8 UDP, counted in avg_rtcp_size (section 6.2)
AVG_SIZE_GAIN = 1 / 16  # section 6.3.3: avg = 1/16 * size + 15/16 * avg
TWO_PARTY_MEMBERS = 2  # a unicast session: the server and its client (section 6.3)
# A first guess at avg_rtcp_size before any report (section 6.3.2: "the probable size of the
# first RTCP packet"): an SR with one report block (52) and an SDES CNAME of ~20 octets (32),
# plus UDP/IP.
INITIAL_AVG_RTCP_SIZE = 52 + 32 + UDP_IP_OVERHEAD


class RandomSource(Protocol):
    def random(self) -> float: ...


class _MeanDraw:
    """A random source at the middle of [0, 1): A.7's factor, random() + 0.5, is exactly 1."""

    def random(self) -> float:
        return 1 - RANDOM_LOW


MEAN_DRAW: RandomSource = _MeanDraw()


def average_rtcp_size(avg_rtcp_size: float, size: int) -> float:
    """Section 6.3.3: avg = 1/16 * packet_size + 15/16 * avg, for a compound of `size` octets
    (UDP payload), UDP and IP headers added (section 6.2)."""
    packet_size = size + UDP_IP_OVERHEAD
    return AVG_SIZE_GAIN * packet_size + (1 - AVG_SIZE_GAIN) * avg_rtcp_size


def rtcp_interval(
    members: int,
    senders: int,
    rtcp_bw: float,
    we_sent: bool,
    avg_rtcp_size: float,
    initial: bool,
    *,
    rng: RandomSource = _random,
    reduced_minimum: bool = False,
    avpf: bool = False,
) -> float:
    """Seconds until the next report, exactly as RFC 3550 A.7's rtcp_interval().

    `rtcp_bw` is the RTCP bandwidth in octets/s, normally RTCP_BANDWIDTH_FRACTION of the
    session bandwidth. With `reduced_minimum` the 5 s minimum becomes section 6.2's
    360 / (session bandwidth in kbit/s), the session bandwidth taken to be
    rtcp_bw / RTCP_BANDWIDTH_FRACTION, and never more than 5 s (the reduction is meant to
    shorten the minimum). The initial report halves whichever minimum applies, as A.7 does.
    With `avpf` there is no minimum: the feedback profile (RFC 4585) lets the bandwidth alone
    space the reports, so that feedback can go early, and its T_rr_interval spaces the
    regular ones (`rtsplab.rtcp.timer`). `rng.random()` is drawn once, uniform in [0, 1).
    """
    if members < 1 or not 0 <= senders <= members:
        raise ValueError(f"need 1 <= members and 0 <= senders <= members, got {members}, {senders}")
    if rtcp_bw <= 0 or avg_rtcp_size <= 0:
        raise ValueError(
            f"rtcp_bw and avg_rtcp_size must be positive, got {rtcp_bw}, {avg_rtcp_size}"
        )
    min_time = RTCP_MIN_TIME
    if reduced_minimum:
        session_kbits = rtcp_bw / RTCP_BANDWIDTH_FRACTION * BITS_PER_OCTET / BITS_PER_KBIT
        min_time = min(RTCP_MIN_TIME, REDUCED_MIN_KBIT_SECONDS / session_kbits)
    if initial:
        min_time /= INITIAL_MIN_TIME_DIVISOR
    if avpf:
        min_time = 0.0

    # Senders share a quarter of the bandwidth unless they are more than a quarter of members.
    n = members
    if senders <= members * SENDER_FRACTION:
        if we_sent:
            rtcp_bw *= SENDER_FRACTION
            n = senders
        else:
            rtcp_bw *= RECEIVER_FRACTION
            n -= senders

    t = max(avg_rtcp_size * n / rtcp_bw, min_time)
    t *= rng.random() + RANDOM_LOW
    return t / COMPENSATION
