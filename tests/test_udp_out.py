"""UdpOut: a burst of RTP packets out of one socket, with UDP GSO or a send each, on loopback."""

import errno
import logging
import socket

import pytest

from rtsplab.rtp.sender import RtpSender, joined
from rtsplab.server.udp_out import MAX_GSO_BYTES, MAX_SEGMENTS, UdpOut, gso_available, runs

GSO_MISSING = gso_available()
needs_gso = pytest.mark.skipif(GSO_MISSING is not None, reason=f"{GSO_MISSING}")


@pytest.fixture
def receiver():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


@pytest.fixture
def out_sock():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    yield sock
    sock.close()


def received(sock, most=500, quiet=0.3):
    """Every datagram that arrives until none has for `quiet` s (at most `most`)."""
    got = []
    sock.settimeout(quiet)
    for _ in range(most):
        try:
            got.append(sock.recv(65536))
        except TimeoutError:
            break
    return got


def frame_burst(n_full=39, last=500, max_packet=1400):
    """One frame's packets from a real sender: `n_full` packets of `max_packet` bytes, then
    one of `last` bytes."""
    sender = RtpSender(20, max_packet, ssrc=0x11223344, first_seq=7, timestamp_origin=0)
    frame = bytes(i % 251 for i in range(n_full * sender.max_payload + last - 12))
    return sender.packets(sender.cut(frame))


def mixed_burst():
    """Packets of many sizes, each with its own bytes, some with a payload header."""
    sizes = [1400, 1400, 600, 1400, 1400, 1400, 200, 100, 100, 1500, 12, 12, 900, 900]
    packets = []
    for i, size in enumerate(sizes):
        header = bytes([i]) * 12
        head = b"H" * 4 if i % 3 == 0 and size > 16 else b""
        body = memoryview(bytes([i + 100]) * (size - 12 - len(head)))
        packets.append((header, head, body))
    assert [len(a) + len(b) + len(c) for a, b, c in packets] == sizes
    return packets


class Refusing:
    """A socket whose `sendmsg` with control messages (a GSO send) fails with `error` once
    `allowed` of them have gone through; plain sends go to the real socket."""

    def __init__(self, sock, error, allowed=0):
        self.sock, self.error, self.allowed = sock, error, allowed
        self.refused = 0

    def sendmsg(self, buffers, ancdata=(), flags=0, address=None):
        if ancdata:
            if self.allowed == 0:
                self.refused += 1
                raise OSError(self.error, f"{errno.errorcode[self.error]} (test)")
            self.allowed -= 1
        return self.sock.sendmsg(buffers, ancdata, flags, address)


# -- runs -----------------------------------------------------------------------------------------


def test_equal_packets_are_cut_into_runs_of_at_most_64_segments():
    assert MAX_SEGMENTS == 64
    assert runs([1000] * 130) == [(0, 64), (64, 128), (128, 130)]


def test_equal_packets_are_cut_into_runs_within_the_byte_limit():
    assert MAX_GSO_BYTES // 1400 == 46
    assert runs([1400] * 100) == [(0, 46), (46, 92), (92, 100)]
    assert runs([100] * 10, limit=350) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert runs([500, 500], limit=100) == [(0, 1), (1, 2)]  # one packet a run at least


def test_a_shorter_packet_ends_a_run():
    assert runs([1400, 1400, 500]) == [(0, 3)]
    assert runs([1400, 1400, 500, 1400, 1400]) == [(0, 3), (3, 5)]
    assert runs([1400, 500, 500]) == [(0, 2), (2, 3)]


def test_a_longer_packet_starts_a_new_run():
    assert runs([1000, 1000, 1400, 1400]) == [(0, 2), (2, 4)]
    assert runs([100, 1400]) == [(0, 1), (1, 2)]


def test_empty_packets_are_runs_of_one_and_no_packets_no_run():
    assert runs([0, 0, 0]) == [(0, 1), (1, 2), (2, 3)]
    assert runs([0, 700, 700]) == [(0, 1), (1, 3)]
    assert runs([]) == []


def test_every_packet_is_in_exactly_one_run_in_order():
    sizes = [1400] * 50 + [300] + [1400] * 3 + [12] * 70 + [2000, 1999, 2000]
    cut = runs(sizes)
    assert [i for first, end in cut for i in range(first, end)] == list(range(len(sizes)))
    for first, end in cut:
        run = sizes[first:end]
        assert all(size == run[0] for size in run[:-1]) and run[-1] <= run[0]
        assert len(run) <= MAX_SEGMENTS and sum(run) <= MAX_GSO_BYTES


# -- UdpOut on loopback ---------------------------------------------------------------------------


@pytest.mark.parametrize("gso", [pytest.param(True, marks=needs_gso), False])
@pytest.mark.parametrize("burst", [frame_burst, mixed_burst], ids=["frame", "mixed"])
def test_each_packet_arrives_as_one_datagram_in_order(receiver, out_sock, gso, burst):
    packets = burst()
    out = UdpOut(out_sock, receiver.getsockname(), gso=gso)
    out.send(packets)
    assert received(receiver) == [joined(p) for p in packets]
    assert out.gso is gso


@needs_gso
def test_with_gso_a_frame_leaves_in_one_call(receiver, out_sock):
    packets = frame_burst()
    assert len(packets) == 40 and len(joined(packets[-1])) == 500
    out = UdpOut(out_sock, receiver.getsockname(), gso=True)
    out.send(packets)
    assert out.calls == 1
    assert len(received(receiver)) == 40


@needs_gso
def test_with_gso_a_mixed_burst_takes_a_call_per_run(receiver, out_sock):
    packets = mixed_burst()
    sizes = [len(joined(p)) for p in packets]
    out = UdpOut(out_sock, receiver.getsockname(), gso=True)
    out.send(packets)
    assert runs(sizes) == [(0, 3), (3, 7), (7, 9), (9, 11), (11, 12), (12, 14)]
    assert out.calls == 6 < len(packets)
    assert received(receiver) == [joined(p) for p in packets]


def test_without_gso_each_packet_is_a_call(receiver, out_sock):
    out = UdpOut(out_sock, receiver.getsockname(), gso=False)
    out.send(frame_burst())
    out.send(mixed_burst())
    assert out.calls == 40 + 14
    assert len(received(receiver)) == 40 + 14


def test_a_single_packet_is_sent_without_gso(receiver, out_sock):
    wrapper = Refusing(out_sock, errno.EIO)
    packet = frame_burst()[0]
    out = UdpOut(wrapper, receiver.getsockname(), gso=True)
    out.send([packet])
    assert wrapper.refused == 0 and out.gso is True and out.calls == 1
    assert received(receiver) == [joined(packet)]


def test_refused_gso_sends_the_burst_one_by_one_and_is_turned_off(receiver, out_sock, caplog):
    wrapper = Refusing(out_sock, errno.EIO)
    out = UdpOut(wrapper, receiver.getsockname(), gso=True)
    first, second = frame_burst(), mixed_burst()
    with caplog.at_level(logging.WARNING, logger="rtsplab.server.udp_out"):
        out.send(first)
        assert out.gso is False
        out.send(second)
    assert received(receiver) == [joined(p) for p in first + second]  # each once, in order
    assert wrapper.refused == 1
    assert out.calls == 40 + 14
    warnings = [r for r in caplog.records if r.name == "rtsplab.server.udp_out"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "UDP GSO refused" in warnings[0].getMessage()


@needs_gso
def test_refused_gso_mid_burst_resends_only_what_has_not_left(receiver, out_sock):
    packets = mixed_burst()[:6]  # runs (0, 3) and (3, 6)
    assert runs([len(joined(p)) for p in packets]) == [(0, 3), (3, 6)]
    wrapper = Refusing(out_sock, errno.EOPNOTSUPP, allowed=1)
    out = UdpOut(wrapper, receiver.getsockname(), gso=True)
    out.send(packets)
    assert received(receiver) == [joined(p) for p in packets]
    assert out.gso is False
    assert out.calls == 1 + 3


@pytest.mark.parametrize("error", [errno.ENOPROTOOPT, errno.EINVAL, errno.EIO, errno.EOPNOTSUPP])
def test_every_unsupported_errno_falls_back(receiver, out_sock, error):
    out = UdpOut(Refusing(out_sock, error), receiver.getsockname(), gso=True)
    out.send(frame_burst(n_full=3))
    assert out.gso is False
    assert len(received(receiver)) == 4


def test_another_error_from_a_gso_send_propagates(receiver, out_sock):
    out = UdpOut(Refusing(out_sock, errno.ECONNREFUSED), receiver.getsockname(), gso=True)
    with pytest.raises(OSError) as raised:
        out.send(frame_burst(n_full=3))
    assert raised.value.errno == errno.ECONNREFUSED
    assert out.gso is True  # not a verdict on GSO: the client is gone
    assert received(receiver, quiet=0.1) == []


@needs_gso
def test_an_empty_packet_after_a_longer_one_still_arrives_with_gso(receiver, out_sock):
    packets = [(b"abcde", b"", b""), (b"", b"", b"")]
    out = UdpOut(out_sock, receiver.getsockname(), gso=True)
    out.send(packets)
    assert received(receiver) == [b"abcde", b""]


@needs_gso
def test_a_frame_of_known_segment_size_leaves_whole_in_calls_of_at_most_46(receiver, out_sock):
    """The segment size a CutFrame knows spares looking at each packet: 100 packets of
    1400 bytes go in three calls (46 of 1400 bytes fit in one IPv4 datagram's 65,507), and
    each datagram arrives as it was."""
    sender = RtpSender(20, 1400, ssrc=1, first_seq=0, timestamp_origin=0)
    frame = sender.cut(bytes(i % 253 for i in range(99 * sender.max_payload + 700)))
    assert frame.segment == 1400
    packets = sender.packets(frame)
    out = UdpOut(out_sock, receiver.getsockname(), gso=True)
    out.send(packets, frame.segment)
    assert out.calls == 3
    assert received(receiver) == [joined(p) for p in packets]


def test_payloads_of_unequal_sizes_have_no_segment_size():
    sender = RtpSender(20, 1400, payloader=lambda frame, size: [(b"", frame[:10]), (b"", frame)])
    assert sender.cut(bytes(100)).segment is None
    assert RtpSender(20, 1400).cut(bytes(100)).segment == 112  # one packet: header + 100
