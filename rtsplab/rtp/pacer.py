"""When to send each frame, and each burst of its packets: by the clock.

The lab's server sleeps 50 ms after each frame, so every frame also waits for the time it took
to read and send it, and the stream runs slow. Here frame k is due at `origin + k / fps` on a
monotonic clock, whatever the previous frames cost, so 60 s at 20 fps is 1200 frames.

A 4K frame is hundreds of packets. Sent back to back they arrive faster than a receiver drains
its socket, and Linux's default UDP receive buffer holds only about 92 datagrams. So a frame's
packets go out in bursts of `burst` packets spread over `spread` of the frame interval.

Pure: time is passed in; the sleeping is the caller's.
"""

from __future__ import annotations

BURST_PACKETS = 16
# Leave the last fifth of the interval free so a frame is out before the next one is due.
SPREAD = 0.8
# Further behind the clock than this (a stalled disk, a suspended process), start the clock
# again from now rather than sending a backlog as fast as possible.
MAX_LAG = 1.0


class Pacer:
    def __init__(self, fps: float, *, burst: int = BURST_PACKETS, spread: float = SPREAD) -> None:
        """`burst` packets at a time; 0 sends each frame's packets all at once."""
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if burst < 0 or not 0.0 <= spread < 1.0:
            raise ValueError("burst must be >= 0 and spread in [0, 1)")
        self.interval = 1.0 / fps
        self.burst = burst
        self.spread = spread
        self.origin = 0.0
        self.frame = 0  # frames scheduled since start()

    def start(self, now: float) -> None:
        """The next frame is due now (at PLAY)."""
        self.origin = now
        self.frame = 0

    def next_due(self) -> float:
        """When the next frame is due (before next_frame() moves the clock on a lag)."""
        return self.origin + self.frame * self.interval

    def skip(self) -> None:
        """A frame not sent: its time passes all the same."""
        self.frame += 1

    def next_frame(self, n_packets: int, now: float) -> list[tuple[int, int, float]]:
        """Schedule the next frame's packets: (first, end, send_at) per burst, in order."""
        due = self.next_due()
        if now - due > MAX_LAG:
            self.origin = now - self.frame * self.interval
            due = now
        self.frame += 1
        burst = self.burst
        if not burst or n_packets <= burst:
            return [(0, n_packets, due)]  # one burst: all at once, or the usual frame at SD
        n_bursts = -(-n_packets // burst)
        step = self.spread * self.interval / n_bursts
        return [
            (i * burst, min(n_packets, (i + 1) * burst), due + i * step) for i in range(n_bursts)
        ]
