"""RTCP (RFC 3550 §6, RFC 3611): packets, report timing, and each side's session."""
