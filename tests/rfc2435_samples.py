"""JPEGs made with Pillow and the RTP/JPEG plumbing the RFC 2435 tests share: pictures,
feeding payloads to a depacketizer, reading and replacing marker segments."""

import io
import random
import struct

from PIL import Image

MAX_PAYLOAD = 1400
TABLES = bytes(range(1, 65)) + bytes(range(65, 129))  # two recognisable 64-byte tables


def picture(size=(320, 240), seed=1) -> Image.Image:
    """Gradients with noise: smooth enough to look like video, noisy enough that the scan
    holds stuffed 0xFF bytes and spans many packets."""
    rng = random.Random(seed)
    noise = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    ramp = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (Image.blend(ramp, noise, 0.3), noise, ramp.rotate(90)))


def pillow_jpeg(size=(320, 240), seed=1, **options) -> bytes:
    out = io.BytesIO()
    picture(size, seed).save(out, "JPEG", **{"quality": 90, **options})
    return out.getvalue()


def items(payloads, first_seq=1000, timestamp=0):
    """(ext_seq, timestamp, marker, payload) for one frame's payloads, in order."""
    last = len(payloads) - 1
    return [(first_seq + i, timestamp, i == last, p) for i, p in enumerate(payloads)]


def feed(depacketizer, packets):
    return [f for p in packets if (f := depacketizer.push(*p)) is not None]


def segments(jpeg: bytes):
    """(code, body) of each marker segment up to SOS (test pictures have no fill bytes)."""
    pos, out = 2, []
    while True:
        code = jpeg[pos + 1]
        length = int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
        out.append((code, jpeg[pos + 4 : pos + 2 + length]))
        if code == 0xDA:
            return out
        pos += 2 + length


def dqt_tables(jpeg: bytes) -> dict[int, bytes]:
    tables = {}
    for code, body in segments(jpeg):
        if code == 0xDB:
            for i in range(0, len(body), 65):
                tables[body[i] & 15] = body[i + 1 : i + 65]
    return tables


def replace_segment(jpeg: bytes, code: int, body: bytes) -> bytes:
    """`jpeg` with its first segment `code` holding `body` instead."""
    pos = 2
    while jpeg[pos + 1] != code:
        pos += 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
    old_end = pos + 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
    return (
        jpeg[:pos] + bytes((0xFF, code)) + struct.pack("!H", len(body) + 2) + body + jpeg[old_end:]
    )
