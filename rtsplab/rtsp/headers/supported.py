"""The Supported header (RFC 7826 §18.51, RTSP 2.0's; a 1.0 peer that does not know it
ignores it, RFC 2326 §12): the option tags a request or a reply says its side understands.

    Supported: x-rtx

`RTX_OPTION` is this project's own tag (hence x-): in a SETUP, the client NACKs lost packets
and takes RFC 4588 retransmission packets for them; in the reply, the server will send them.
Both ends of the lab dialect are ours, so it works there too, where there is no SDP to offer
anything in.
"""

from __future__ import annotations

RTX_OPTION = "x-rtx"


def option_tags(values: list[str]) -> set[str]:
    """The tags of every Supported header's value (comma lists), in lower case."""
    return {tag.strip().lower() for value in values for tag in value.split(",") if tag.strip()}
