"""RTP (RFC 3550): the sender, the receiver and its statistics, pacing, UDP ports."""
