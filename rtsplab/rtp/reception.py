"""Reception statistics for one RTP source: RFC 3550 Appendix A.1, A.3 and A.8.

`ReceptionStatistics` is fed each RTP packet of one SSRC with `update(seq, rtp_timestamp, arrival)`
and each of that source's sender reports with `on_sender_report`; `report(now)` then gives the
figures a reception report carries, as a `ReceptionReport`. Fitting them to the fields of an
RTCP report block is `rtsplab.rtcp.reports.ReportBlock.from_reception`'s job, so that RTP does
not depend on RTCP. Pure: the arrival time and `now` are passed in, in seconds on any one
monotonic clock.

Sequence numbers follow A.1's `update_seq` line for line, with one deliberate difference: the
C code compares ``seq == s->max_seq + 1`` after integer promotion, so during probation 65535
followed by 0 does not count as sequential there; here it does (16-bit arithmetic, as the RFC
plainly intends). The RFC keeps ``cycles`` already shifted left by 16; here `cycles` is the
plain count of wraps and `extended_max` is ``cycles << 16 | max_seq``.

Interarrival jitter (A.8) is sampled once per video frame, on the frame's first packet to
arrive: a valid packet whose timestamp differs from the packet just before it (valid or not)
and is later, mod 2^32, than the last frame sampled. So a frame's later packets are skipped, a
source leaving probation mid-frame waits for the next frame, and a late packet of an older
frame is skipped too. This departs from a SHOULD: section 6.4.1 has jitter updated on every
packet, in arrival order. Section 6.4.4 names the cost of that for video, "the timestamp is the
same for all the packets of one frame but those packets are not all transmitted at the same
time", and accepts it because a receiver buffer must absorb that spread too. Here it would
swamp the measure: our server spreads a frame's packets in bursts over 80% of the frame
interval (`rtsplab.rtp.pacer`), a 4K frame is ~540 packets, so per-packet jitter would mostly
measure our own pacing, and how much of it would depend on where in a frame the report is
sampled. A frame's first packet is sent at the frame's due time, so the spacing of first
packets against their timestamps is what the network and the server's scheduling add. (A late
packet of an older frame was sent mid-frame too: sampling it would measure pacing again.)
Timestamps that run backwards, as with B-frames, would be skipped; MJPEG has none.

The first sequence number the RTSP PLAY reply announces (RFC 2326 §12.33, RTP-Info seq=) can
be given with `expect_first(seq)`, before or after the first packets arrive. A.1 counts from the
packet that ends probation, so packets lost before the first one heard go unseen; told where the
stream starts, the source is counted from there once it is valid: `base_seq` moves back to the
expected number (one more cycle when that crosses the 16-bit wrap), and `received` gains the
probation packets heard in between, so an intact start shows no loss. An expected number ahead of
the first packet heard, or more than MAX_DROPOUT behind it, is not this stream's: it is ignored.
Given after the source has re-synced (a restart, A.1's bad_seq), it is ignored too.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from RtpPacket import JPEG_CLOCK_RATE, MAX_SEQ, SEQ_MOD, TIMESTAMP_MOD
from rtsplab.ntp import NTP_SHORT_UNITS, ntp_middle32

# RFC 3550 A.1.
MIN_SEQUENTIAL = 2  # sequential packets before a source is valid
MAX_DROPOUT = 3000  # a forward jump larger than this is a restart or garbage
MAX_MISORDER = 100  # a backward step smaller than this is a late or duplicate packet

DEFAULT_CLOCK_RATE = JPEG_CLOCK_RATE  # RFC 3551 section 6: JPEG/90000
JITTER_GAIN = 1 / 16  # A.8: J += (|D| - J) / 16
FRACTION_SHIFT = 8  # fraction lost is lost/expected in 1/256 (A.3), as RTCP carries it
# Sequence numbers remembered while on probation, for `expect_first` to count. A stream's start
# passes probation in MIN_SEQUENTIAL packets, a few more with reordering; a source that has not
# passed it after this many is noise, and a bound keeps noise from growing the list.
PROBATION_MEMORY = 16

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceptionReport:
    """What a reception report says about one source (RFC 3550 section 6.4.1), unbounded.

    The values are A.3's and A.8's, not yet fitted to the report block's fields: cumulative
    lost may pass the block's signed 24 bits, the extended highest sequence number does not
    wrap at 2^32, jitter is not truncated to an integer and DLSR is not capped at 32 bits.
    """

    fraction_lost: int  # lost/expected over the last interval in 1/256 (A.3), 0 if negative
    cumulative_lost: int  # expected - received: negative when duplicates outnumber losses
    highest_seq: int  # extended highest sequence number: cycles * 2^16 + max_seq
    jitter: float  # interarrival jitter (A.8), RTP timestamp units
    lsr: int  # middle 32 bits of the last SR's NTP timestamp; 0 before any SR
    dlsr: int  # delay since that SR arrived, in 1/65536 s (never negative); 0 before any SR


class ReceptionStatistics:
    """Sequence, loss and jitter bookkeeping for one RTP source (RFC 3550 A.1, A.3, A.8)."""

    def __init__(self, clock_rate: int = DEFAULT_CLOCK_RATE) -> None:
        if clock_rate <= 0:
            raise ValueError(f"clock_rate must be positive, got {clock_rate}")
        self.clock_rate = clock_rate
        self._probation_seqs: deque[int] = deque(maxlen=PROBATION_MEMORY)
        self._forget_source()

    def restart(self) -> None:
        """Another source takes this one's place (RFC 3550 §8: a new SSRC): forget the old
        one's sequence, loss, jitter, sender report and expected first sequence number."""
        self._forget_source()

    def _forget_source(self) -> None:
        self.probation = MIN_SEQUENTIAL
        self.max_seq = 0  # highest sequence number seen, 16 bits
        self.cycles = 0  # wraps of the sequence number since base_seq
        self.base_seq = 0  # first sequence number counted (the second packet heard)
        self.bad_seq = SEQ_MOD + 1  # the number after a large jump; never equal to a seq
        self.received = 0  # packets counted since base_seq, duplicates and late ones included
        self.jitter = 0.0  # A.8, RTP timestamp units
        self._heard = False
        self._expected_prior = 0
        self._received_prior = 0
        self._fraction = 0  # the last report interval's fraction lost, in 1/256
        self._last_timestamp: int | None = None  # of the previous packet, valid or not
        self._sample: tuple[float, int] | None = None  # (arrival, timestamp) of the last sample
        self._lsr = 0
        self._sr_arrival: float | None = None
        self.first_seq: int | None = None  # the RTP-Info seq base_seq was moved back to
        self._expected_first: int | None = None  # given before probation ended
        self._probation_end: int | None = None  # the seq that ended it, until base_seq is final
        self._probation_seqs.clear()  # every seq heard on probation, duplicates included

    @property
    def valid(self) -> bool:
        """Whether the source has passed probation (A.1)."""
        return self._heard and self.probation == 0

    @property
    def extended_max(self) -> int:
        return self.cycles * SEQ_MOD + self.max_seq

    @property
    def expected(self) -> int:
        """Packets expected since base_seq (A.3); 0 while the source is on probation."""
        if not self.valid:
            return 0
        return self.extended_max - self.base_seq + 1

    @property
    def cumulative_lost(self) -> int:
        """expected - received: negative when duplicates outnumber the losses (section 6.4.1)."""
        return self.expected - self.received

    @property
    def fraction_lost(self) -> float:
        """The fraction lost in the interval before the last `report`, 0..1."""
        return self._fraction / (1 << FRACTION_SHIFT)

    @property
    def loss_rate(self) -> float:
        """Cumulative loss over expected, 0..1 (0 when duplicates exceed the losses)."""
        expected = self.expected
        if expected <= 0:
            return 0.0
        return min(1.0, max(0, self.cumulative_lost) / expected)

    @property
    def jitter_ms(self) -> float:
        return self.jitter * 1000 / self.clock_rate

    def update(self, seq: int, rtp_timestamp: int, arrival: float) -> bool:
        """Count one RTP packet; return whether it is valid (A.1's update_seq)."""
        if not self._heard:
            # A.1: a new source starts on probation, as if the packet before this one was seen.
            self._heard = True
            self._init_seq(seq)
            self.max_seq = (seq - 1) % SEQ_MOD
            self.probation = MIN_SEQUENTIAL
        if self.probation:
            self._probation_seqs.append(seq)
        previous_timestamp = self._last_timestamp
        self._last_timestamp = rtp_timestamp
        if not self._update_seq(seq):
            return False
        if rtp_timestamp != previous_timestamp:
            self._update_jitter(rtp_timestamp, arrival)
        return True

    def expect_first(self, seq: int) -> None:
        """The stream starts at `seq` (RTP-Info seq=): count losses from there (module doc)."""
        if not 0 <= seq <= MAX_SEQ:
            raise ValueError(f"expected first sequence number must be 0..{MAX_SEQ}, got {seq}")
        if not self.valid:
            self._expected_first = seq  # applied when probation ends
        elif self._probation_end is not None:
            self._count_from(seq, self._probation_end)
        else:
            log.info("expected first seq %d ignored: already counted from %s, or re-synced",
                     seq, self.first_seq)  # fmt: skip

    def on_sender_report(self, ntp_timestamp: int, arrival: float) -> None:
        """Remember this source's latest SR: its NTP time (for LSR) and when it arrived."""
        self._lsr = ntp_middle32(ntp_timestamp)
        self._sr_arrival = arrival

    def report(self, now: float) -> ReceptionReport:
        """The reception report at `now`; starts a new loss interval (A.3)."""
        expected = self.expected
        expected_interval = expected - self._expected_prior
        received_interval = self.received - self._received_prior
        self._expected_prior = expected
        self._received_prior = self.received
        lost_interval = expected_interval - received_interval
        if expected_interval <= 0 or lost_interval <= 0:
            self._fraction = 0
        else:
            self._fraction = (lost_interval << FRACTION_SHIFT) // expected_interval
        dlsr = 0
        if self._sr_arrival is not None:
            dlsr = max(0, round((now - self._sr_arrival) * NTP_SHORT_UNITS))
        return ReceptionReport(
            fraction_lost=self._fraction,
            cumulative_lost=self.cumulative_lost,
            highest_seq=self.extended_max,
            jitter=self.jitter,
            lsr=self._lsr,
            dlsr=dlsr,
        )

    def _init_seq(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self._received_prior = 0
        self._expected_prior = 0
        # A restarted source has a new timestamp origin: its next frame only seeds jitter.
        self._sample = None

    def _update_seq(self, seq: int) -> bool:
        udelta = (seq - self.max_seq) % SEQ_MOD
        if self.probation:
            if seq == (self.max_seq + 1) % SEQ_MOD:
                self.probation -= 1
                self.max_seq = seq
                if self.probation == 0:
                    self._init_seq(seq)
                    self.received += 1
                    self._probation_end = seq
                    if self._expected_first is not None:
                        self._count_from(self._expected_first, seq)
                    return True
            else:
                self.probation = MIN_SEQUENTIAL - 1
                self.max_seq = seq
            return False
        if udelta < MAX_DROPOUT:
            # In order, with a permissible gap.
            if seq < self.max_seq:
                self.cycles += 1  # the sequence number wrapped
            self.max_seq = seq
        elif udelta <= SEQ_MOD - MAX_MISORDER:
            # A very large jump: two sequential packets mean the sender restarted; re-sync.
            if seq == self.bad_seq:
                self._init_seq(seq)
                self._probation_end = None  # counted from here now: no expected start applies
                self._probation_seqs.clear()
            else:
                self.bad_seq = (seq + 1) % SEQ_MOD
                return False
        # Otherwise a duplicate or a reordered packet: counted, max_seq unchanged.
        self.received += 1
        return True

    def _count_from(self, first: int, end: int) -> None:
        """Move base_seq back to the expected `first`, if plausible (see the module doc);
        `end` is the sequence number that ended probation."""
        self._expected_first = None
        run_start = (end - (MIN_SEQUENTIAL - 1)) % SEQ_MOD  # the first of the valid run
        if (run_start - first) % SEQ_MOD > MAX_DROPOUT:
            log.info("expected first seq %d ignored: the stream began at %d", first, run_start)
            return
        back = (end - first) % SEQ_MOD
        # The probation packets from `first` on, except the one that ended it (counted by A.1).
        heard = sum(1 for s in self._probation_seqs if (s - first) % SEQ_MOD <= back) - 1
        base = self.base_seq - back
        if base < 0:
            self.cycles += 1  # `first` is before the wrap, base_seq after it
            base += SEQ_MOD
        self.base_seq = base
        self.received += heard
        self.first_seq = first
        self._probation_end = None
        self._probation_seqs.clear()

    def resume(self) -> None:
        """The sender paused and is sending again (RTSP PAUSE, PLAY): its timestamps go on
        where they stopped but the arrival times do not, so the next frame starts a new
        jitter sample instead of counting the pause as a delay."""
        self._sample = None

    def _update_jitter(self, rtp_timestamp: int, arrival: float) -> None:
        """A.8, for the first packet of a new frame (see the module docstring)."""
        if self._sample is None:
            self._sample = (arrival, rtp_timestamp)
            return
        last_arrival, last_timestamp = self._sample
        # The timestamp step mod 2^32 (RFC 1982 serial arithmetic): only a later frame counts.
        step = (rtp_timestamp - last_timestamp) % TIMESTAMP_MOD
        if not 0 < step < TIMESTAMP_MOD // 2:
            return
        d = (arrival - last_arrival) * self.clock_rate - step  # (Rj - Ri) - (Sj - Si)
        self.jitter += (abs(d) - self.jitter) * JITTER_GAIN
        self._sample = (arrival, rtp_timestamp)

    def __repr__(self) -> str:
        return (
            f"ReceptionStatistics(valid={self.valid}, received={self.received}, "
            f"expected={self.expected}, cumulative_lost={self.cumulative_lost}, "
            f"extended_max={self.extended_max}, jitter={self.jitter:.1f} "
            f"({self.jitter_ms:.3f} ms))"
        )
