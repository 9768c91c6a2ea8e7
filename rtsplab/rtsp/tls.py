"""TLS for an RTSP connection (rtsps://), over bytes: an `ssl.SSLObject` on two memory BIOs,
so that the connection's reader and its one writer keep doing what they do for plain RTSP.

The reader hands in what arrived (`receive`) and gets the plaintext; the writer seals each
message or `$` frame as it takes it from its queue (`seal`) and sends the records it gets.
Every record leaves through `seal` — the handshake's replies and TLS 1.3's messages after
the handshake too (`pending` says some wait; sealing nothing sends them) — so records go out
in the order TLS made them, whichever thread made them. The two threads meet in one lock.

A frame dropped by the writer's bound is dropped before it is sealed: a record never is.
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Mapping

from rtsplab.errors import PeerError

READ_SIZE = 64 * 1024


class TlsError(PeerError):
    """The peer does not speak TLS, or failed the handshake or a record's check."""


class TlsLayer:
    def __init__(
        self, context: ssl.SSLContext, *, server_side: bool, server_hostname: str | None = None
    ) -> None:
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._in, self._out, server_side=server_side,
                                     server_hostname=server_hostname)  # fmt: skip
        self._lock = threading.Lock()
        self.established = False
        self.closed = False  # the peer said close_notify (or ended the stream)

    def start(self) -> None:
        """A client begins the handshake: its hello waits to be sealed out."""
        with self._lock:
            self._handshake()

    def receive(self, data: bytes) -> bytes:
        """Records that arrived (b"": the stream ended) -> the plaintext they carry. Raises
        TlsError for anything that is not TLS, or fails."""
        with self._lock:
            if data:
                self._in.write(data)
            else:
                self._in.write_eof()
            if not self.established and not self._handshake():
                return b""
            chunks = []
            try:
                while True:
                    chunk = self._tls.read(READ_SIZE)
                    if not chunk:  # close_notify read: nothing more will come
                        self.closed = True
                        break
                    chunks.append(chunk)
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                self.closed = True
            except ssl.SSLError as exc:
                raise TlsError(f"TLS record refused: {exc.reason or exc}") from None
            return b"".join(chunks)

    def _handshake(self) -> bool:
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            return False
        except ssl.SSLCertVerificationError as exc:
            raise TlsError(f"TLS certificate not trusted: {exc.verify_message}") from None
        except ssl.SSLError as exc:
            raise TlsError(f"TLS handshake failed: {exc.reason or exc}") from None
        self.established = True
        return True

    @property
    def pending(self) -> bool:
        """Records wait to be sent (the handshake's, or after it)."""
        return self._out.pending > 0

    def seal(self, plaintext: bytes = b"") -> bytes:
        """The records to send now: any waiting, then `plaintext`'s (before the handshake is
        done, plaintext cannot go yet: ValueError)."""
        with self._lock:
            if plaintext:
                if not self.established:
                    raise ValueError("TLS data before the handshake is done")
                self._tls.write(plaintext)
            return self._out.read()

    def close(self) -> bytes:
        """Our close_notify, to send last."""
        with self._lock:
            try:
                self._tls.unwrap()
            except (ssl.SSLWantReadError, ssl.SSLError):
                pass
            return self._out.read()

    def peer_certificate(self) -> Mapping[str, object] | None:
        return self._tls.getpeercert() if self.established else None


def server_context(
    certificate: str | os.PathLike[str], key: str | os.PathLike[str]
) -> ssl.SSLContext:
    """TLS 1.2 or later, the certificate and key given (PEM files)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    return context


def client_context(verify: bool = True, cafile: str | None = None) -> ssl.SSLContext:
    """The system's trusted roots (or `cafile`), the server's name checked; `verify` False
    takes any certificate (a lab's self-signed one, with --insecure)."""
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
