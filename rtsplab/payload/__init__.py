"""RTP payloads for JPEG: the lab's whole-JPEG fragments and RFC 2435, and what both share."""

from rtsplab.payload.jpeg import Buffer

# One RTP payload as a payloader cuts it: its payload headers (b"" in the lab's format),
# then its slice of the frame, a view that copies nothing until the packet is sent.
Payload = tuple[bytes, Buffer]
