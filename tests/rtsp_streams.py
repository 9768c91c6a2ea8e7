"""RTSP byte streams the reader tests share: the lab's request, a well-formed request to
send after a malformed one, feeding in chunks, and header filler up to a cap."""

from rtsplab.rtsp.message import RtspRequest
from rtsplab.rtsp.reader import MAX_LINE

# The lab's client, byte for byte, plus the closing empty line.
LAB_SETUP = b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000\n\n"
# A well-formed request sent after each malformed one: it must still come out.
NEXT = b"OPTIONS * RTSP/1.0\r\nCSeq: 99\r\n\r\n"


def feed_chunks(reader, data, size):
    """Feed `data` in chunks of `size` bytes (all at once for None); collect the output."""
    if size is None:
        return reader.feed(data)
    out = []
    for i in range(0, len(data), size):
        out += reader.feed(data[i : i + size])
    return out


def assert_next(item):
    assert isinstance(item, RtspRequest), item
    assert (item.method, item.uri, item.cseq) == ("OPTIONS", "*", 99)


def filler(total):
    """Header lines 'X: aaa' (each at most MAX_LINE) whose contents add up to `total` bytes."""
    lines = []
    while total:
        size = min(total, MAX_LINE)
        if 0 < total - size < 4:  # leave room for one more "X: a"
            size -= 4
        lines.append(b"X: " + b"a" * (size - 3) + b"\r\n")
        total -= size
    return b"".join(lines)


HEAD_START = b"OPTIONS * RTSP/1.0\r\nCSeq: 7\r\n"
HEAD_START_SIZE = len(b"OPTIONS * RTSP/1.0") + len(b"CSeq: 7")
