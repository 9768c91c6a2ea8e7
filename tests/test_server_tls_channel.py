"""The server's connection over TLS (rtsps://), on real loopback TCP: a standard-library TLS
client's request read through the handshake, the reply and interleaved frames sealed by the
one writer, plain RTSP to the TLS port refused as a close."""

import socket
import ssl
import threading

from helpers import wait_until
from rtsplab.rtsp.tls import server_context
from rtsplab.server.channel import ServerChannel


class Pump:
    """The server's reading side, as the worker runs it: read until the end, keep the items."""

    def __init__(self, tls_certificate):
        listener = socket.create_server(("127.0.0.1", 0))
        self.client = socket.create_connection(listener.getsockname(), timeout=10)
        accepted, address = listener.accept()
        listener.close()
        cert, key = tls_certificate
        self.channel = ServerChannel(accepted, address, tls=server_context(str(cert), str(key)))
        self.channel.start()
        self.items, self.ended = [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for _ in range(10_000):  # bounded: each turn waits up to 50 ms
            if self.channel.readable(0.05):
                got = self.channel.read()
                if got is None:
                    break
                self.items.extend(got)
        self.ended.set()

    def close(self):
        self.channel.shutdown()
        self.thread.join(10)
        self.channel.close(linger=0)
        self.client.close()


def test_a_request_over_tls_is_read_and_the_reply_and_frames_come_back(tls_certificate):
    pump = Pump(tls_certificate)
    context = ssl.create_default_context(cafile=str(tls_certificate[0]))
    tls = context.wrap_socket(pump.client, server_hostname="localhost")
    tls.sendall(b"OPTIONS rtsps://localhost/movie.Mjpeg RTSP/1.0\r\nCSeq: 7\r\n\r\n")
    wait_until(lambda: pump.items, timeout=10, what="the request")
    (request,) = pump.items
    assert (request.method, request.cseq) == ("OPTIONS", 7)
    pump.channel.send_reply(b"RTSP/1.0 200 OK\r\nCSeq: 7\r\n\r\n")
    for n in range(20):
        pump.channel.send_interleaved(0, bytes([n]) * 100)
    frames = b"".join(b"$\x00\x00\x64" + bytes([n]) * 100 for n in range(20))
    expected = b"RTSP/1.0 200 OK\r\nCSeq: 7\r\n\r\n" + frames
    got = b""
    while len(got) < len(expected):
        got += tls.recv(65536)
    assert got == expected
    tls.close()
    assert pump.ended.wait(10)  # close_notify, then the end
    pump.close()


def test_plain_rtsp_to_a_tls_port_ends_the_connection(tls_certificate):
    pump = Pump(tls_certificate)
    pump.client.sendall(b"OPTIONS rtsp://localhost/ RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    assert pump.ended.wait(10) and pump.items == []
    pump.close()
