"""RTP payloads for JPEG: the lab's whole-JPEG fragments and RFC 2435, and what both share."""
