"""TLS over bytes for rtsps:// (rtsplab.rtsp.tls): two layers talk through memory as a
client and a server would through a socket — the handshake, data both ways in order,
certificates checked or not, garbage and the end of the stream."""

import pytest

from rtsplab.rtsp.tls import TlsError, TlsLayer, client_context, server_context


def pair(tls_certificate, verify=False, cafile=None, hostname="localhost"):
    cert, key = tls_certificate
    server = TlsLayer(server_context(str(cert), str(key)), server_side=True)
    client = TlsLayer(client_context(verify, cafile), server_side=False, server_hostname=hostname)
    return client, server


def shuttle(client, server, rounds=4):
    """Let the records flow both ways until nothing waits; what each side read."""
    got = {"client": b"", "server": b""}
    for _ in range(rounds):
        got["server"] += server.receive(client.seal()) if client.pending else b""
        got["client"] += client.receive(server.seal()) if server.pending else b""
    return got


def test_handshake_then_requests_and_replies_in_order(tls_certificate):
    client, server = pair(tls_certificate)
    client.start()
    shuttle(client, server)
    assert client.established and server.established
    records = client.seal(b"OPTIONS rtsps://localhost/ RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    records += client.seal(b"DESCRIBE ...")
    assert b"OPTIONS" not in records  # encrypted on the wire
    assert (
        server.receive(records)
        == b"OPTIONS rtsps://localhost/ RTSP/1.0\r\nCSeq: 1\r\n\r\nDESCRIBE ..."
    )
    frames = b"".join(server.seal(b"$\x00\x00\x04" + bytes([n]) * 4) for n in range(50))
    assert client.receive(frames) == b"".join(b"$\x00\x00\x04" + bytes([n]) * 4 for n in range(50))


def test_a_record_may_arrive_in_pieces(tls_certificate):
    client, server = pair(tls_certificate)
    client.start()
    shuttle(client, server)
    records = client.seal(b"x" * 10_000)
    got = b"".join(server.receive(records[i : i + 7]) for i in range(0, len(records), 7))
    assert got == b"x" * 10_000


def test_a_self_signed_certificate_is_refused_unless_trusted_or_insecure(tls_certificate):
    cert, _ = tls_certificate
    client, server = pair(tls_certificate, verify=True)
    client.start()
    with pytest.raises(TlsError, match="not trusted"):
        shuttle(client, server)
    client, server = pair(tls_certificate, verify=True, cafile=str(cert))
    client.start()
    shuttle(client, server)
    assert client.established and client.peer_certificate()["subject"]
    client, server = pair(tls_certificate, verify=True, cafile=str(cert), hostname="example.org")
    client.start()
    with pytest.raises(TlsError, match="not trusted"):
        shuttle(client, server)


def test_plain_rtsp_to_a_tls_port_is_an_error_not_a_hang(tls_certificate):
    _, server = pair(tls_certificate)
    with pytest.raises(TlsError, match="handshake failed"):
        server.receive(b"OPTIONS rtsp://localhost/ RTSP/1.0\r\nCSeq: 1\r\n\r\n")


def test_data_before_the_handshake_cannot_be_sealed_and_the_end_is_seen(tls_certificate):
    client, server = pair(tls_certificate)
    with pytest.raises(ValueError, match="before the handshake"):
        client.seal(b"too early")
    client.start()
    shuttle(client, server)
    assert server.receive(client.close()) == b"" and server.closed
