"""The RTSP stream readers: bytes from a connection in, messages and interleaved frames out.

Pure code, no sockets or threads: the server worker feeds `RequestReader` with whatever
`recv()` returned and writes `RtspResponse.encode()`; the client writes `RtspRequest.encode()`
and feeds `ResponseReader`.

Framing (RFC 2326 §4, §6, §7)
-----------------------------
A message is a start line, header lines, one empty line, then an optional body::

    Request-Line   = Method SP Request-URI SP RTSP-Version CRLF          (§6.1)
    Status-Line    = RTSP-Version SP Status-Code SP Reason-Phrase CRLF   (§7.1)
    message-header = field-name ":" [ field-value ] CRLF                 (§4.2)

The body is exactly Content-Length bytes; without Content-Length there is no body (§4.3:
unlike HTTP there is no chunked coding and no "read until close"). Text is UTF-8 (§4).

What the readers accept beyond the letter of the grammar:

* Lines end in CRLF or a bare LF, mixed freely (§4 asks receivers to take bare line ends).
  A bare CR is *not* a line end here: no client sends one, and a CR that ends one recv()
  would be ambiguous until the next byte arrives.
* Empty lines before a start line are skipped (HTTP/1.1's robustness rule; some clients
  send a bare CRLF as a keep-alive).
* Header names match case-insensitively; values are stripped of surrounding blanks.
  Obsolete line folding (continuation lines) is not supported.
* The lab's own client and server send each message *without* the closing empty line and
  rely on one TCP send per message. `flush_partial()` closes such a message when the
  caller has seen the peer go quiet.

Size caps
---------
Every byte a reader holds is bounded by MAX_LINE, MAX_HEADERS, MAX_HEAD and MAX_BODY, so
a peer that streams an endless line or an endless head costs a fixed amount of memory.
After a cap is hit the reader reports it once and discards input up to and including the
next empty line, holding at most two bytes meanwhile; a body over MAX_BODY is skipped by
its Content-Length instead, since its framing is known.

Errors
------
`RequestReader.feed` never raises on bad input: it returns an `RtspError` carrying the
status to answer with (400, 413, 414, 505) in order with the requests, then goes on with
the next request. `ResponseReader` raises `RtspProtocolError` (status 0: it is the client's
own diagnosis, never sent on the wire).
"""

from __future__ import annotations

import logging

from rtsplab.rtsp.errors import RtspError, short
from rtsplab.rtsp.grammar import (
    STATUS_LINE_RE,
    TOKEN_RE,
    VERSION_RE,
    bounded_int,
    cseq_or_none,
)
from rtsplab.rtsp.message import (
    DOLLAR,
    INTERLEAVED_HEADER,
    Headers,
    InterleavedFrame,
    RtspRequest,
    RtspResponse,
)

logger = logging.getLogger(__name__)


class RtspProtocolError(RtspError):
    """The client's verdict on a malformed response; status 0, never sent on the wire.

    `responses` holds the well-formed responses that completed in the same `feed()` call:
    the reader steps past the bad message as RequestReader does, so none are lost.
    """

    def __init__(self, message: str, cseq: int | None = None) -> None:
        super().__init__(0, message, cseq)
        self.args = (message, cseq)
        self.reason = "Protocol Error"
        self.responses: list[RtspResponse | InterleavedFrame] = []

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


# Caps on what one peer may make a reader hold. A real SETUP line or Transport header is
# under 200 bytes and a request has under a dozen headers, so these leave a wide margin
# while keeping a hostile or broken peer to ~80 KiB per connection.
MAX_LINE = 4096  # bytes in one start or header line, line end excluded
MAX_HEADERS = 64  # header lines in one message
MAX_HEAD = 16 * 1024  # bytes in start line + header lines, line ends excluded
MAX_BODY = 64 * 1024  # bytes of body; the lab's requests carry none, SDP is a few KiB
# The largest Content-Length read as a length (larger ones are 413, their body skipped);
# past it, or longer than its 10 digits, the value is no length a peer means: 400.
MAX_CONTENT_LENGTH = 2**31 - 1

CR = 0x0D
LF = b"\n"

_HEAD = "head"  # reading a start line and headers
_BODY = "body"  # reading (or skipping) Content-Length bytes
_DISCARD = "discard"  # dropping lines up to and including the next empty one

_Event = RtspRequest | RtspResponse | InterleavedFrame | RtspError


class _MessageReader:
    """Line framing, caps and resynchronisation shared by the request and response readers.

    Subclasses parse the start line (`_on_start_line`, which returns an RtspError or
    None) and build the message (`_build`). `_parse` returns messages and RtspErrors in
    stream order and never raises on input.
    """

    _start_name = "start line"
    _start_too_long_status = 400

    def __init__(self) -> None:
        self._buf = bytearray()  # unconsumed bytes: only ever a partial line between feeds
        self._scan = 0  # _buf[:_scan] is known to hold no LF, so it is not searched again
        self._state = _HEAD
        self._reset_message()

    def _reset_message(self) -> None:
        self._started = False  # a start line has been taken (valid or not)
        self._start: tuple[str, ...] | None = None
        self._headers: list[tuple[str, str]] = []
        self._head_size = 0
        self._header_lines = 0  # counted whether or not they parse
        self._error: RtspError | None = None  # first defect found; reported at the head's end
        self._body = bytearray()
        self._body_left = 0
        self._skipping = False  # body of a message already reported as an error

    # ---- public state

    @property
    def pending(self) -> bool:
        """True while part of a message (or a body being skipped) is buffered."""
        return bool(self._buf) or self._started or self._state == _BODY

    @property
    def buffered(self) -> int:
        """Bytes of input currently held: partial line, accepted head lines and body."""
        return len(self._buf) + self._head_size + len(self._body)

    # ---- framing

    def _parse(self, data: bytes) -> list[_Event]:
        out: list[_Event] = []
        buf = self._buf
        buf += data
        pos = 0
        while pos < len(buf):
            if self._state == _BODY:
                take = min(len(buf) - pos, self._body_left)
                if not self._skipping:
                    self._body += buf[pos : pos + take]
                self._body_left -= take
                pos += take
                if self._body_left == 0:
                    self._finish(out)
                continue
            if self._state == _HEAD and not self._started and buf[pos] == DOLLAR:
                if len(buf) - pos < INTERLEAVED_HEADER:
                    break  # wait for the frame's header
                size = int.from_bytes(buf[pos + 2 : pos + INTERLEAVED_HEADER], "big")
                end = pos + INTERLEAVED_HEADER + size
                if end > len(buf):
                    break  # wait for the rest of the frame (at most 64 KiB)
                out.append(
                    InterleavedFrame(buf[pos + 1], bytes(buf[pos + INTERLEAVED_HEADER : end]))
                )
                pos = end
                continue
            nl = buf.find(LF, max(pos, self._scan))
            if nl < 0:
                self._partial_line(pos, out)
                break
            end = nl - 1 if nl > pos and buf[nl - 1] == CR else nl
            self._complete_line(pos, end, out)
            pos = nl + 1
        del buf[:pos]
        self._scan = len(buf)
        return out

    def _partial_line(self, pos: int, out: list[_Event]) -> None:
        """Check the unterminated tail buf[pos:] against the caps; trim it when discarding."""
        buf = self._buf
        if self._state == _HEAD:
            length = len(buf) - pos
            if buf[-1] == CR:
                length -= 1  # may be the first half of a CRLF
            if length > MAX_LINE:
                self._over_line_cap(out)
            elif self._head_size + length > MAX_HEAD:
                self._over_cap(400, f"head longer than {MAX_HEAD} bytes", out)
        if self._state == _DISCARD:
            # Two bytes tell an empty line ("" or CR) from any other: keep no more.
            del buf[pos + 2 :]

    def _complete_line(self, start: int, end: int, out: list[_Event]) -> None:
        length = end - start
        if self._state == _DISCARD:
            if length == 0:
                self._state = _HEAD
            return
        if length == 0:
            if self._started:
                self._end_head(out)
            return  # an empty line before a start line: keep-alive or stray line end
        if length > MAX_LINE:
            self._over_line_cap(out)
            return
        if self._head_size + length > MAX_HEAD:
            self._over_cap(400, f"head longer than {MAX_HEAD} bytes", out)
            return
        if self._started and self._header_lines >= MAX_HEADERS:
            self._over_cap(400, f"more than {MAX_HEADERS} header lines", out)
            return
        self._head_size += length
        line = bytes(self._buf[start:end])
        if not self._started:
            self._started = True
            error = self._on_start_line(line)
        else:
            self._header_lines += 1
            error = self._on_header_line(line)
        if error is not None and self._error is None:
            self._error = error

    def _on_header_line(self, line: bytes) -> RtspError | None:
        if CR in line:
            return RtspError(400, f"stray CR in header line {short(line)}")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return RtspError(400, f"header line is not UTF-8: {short(line)}")
        name, colon, value = text.partition(":")
        if not colon:
            return RtspError(400, f"header line without ':': {short(text)}")
        name = name.strip()
        if not TOKEN_RE.fullmatch(name):
            return RtspError(400, f"bad header name {short(name)}")
        self._headers.append((name, value.strip()))
        return None

    def _on_start_line(self, line: bytes) -> RtspError | None:
        raise NotImplementedError

    def _build(self) -> _Event:
        raise NotImplementedError

    def _cseq(self) -> int | None:
        for name, value in self._headers:
            if name.lower() == "cseq":
                return cseq_or_none(value)
        return None

    def _content_length(self) -> tuple[int, str | None]:
        """(length, None), or (0, why) when Content-Length is unusable."""
        values = [v for n, v in self._headers if n.lower() == "content-length"]
        if not values:
            return 0, None
        numbers = [bounded_int(v, MAX_CONTENT_LENGTH) for v in values]
        if None in numbers:
            bad = values[numbers.index(None)]
            return 0, f"bad Content-Length {short(bad.strip())}"
        lengths = {n for n in numbers if n is not None}
        if len(lengths) > 1:
            return 0, f"conflicting Content-Length headers {sorted(lengths)}"
        return lengths.pop(), None

    def _end_head(self, out: list[_Event]) -> None:
        length, problem = self._content_length()
        if problem is not None:
            # The body's extent is unknown: report, then drop lines up to the next empty one.
            self._report(self._error or RtspError(400, problem), out)
            self._reset_message()
            self._state = _DISCARD
            return
        error = self._error
        if error is None and length > MAX_BODY:
            error = RtspError(413, f"body of {length} bytes exceeds {MAX_BODY}")
        if error is not None:
            # The framing is sound, so answer now and skip exactly the announced body.
            self._report(error, out)
            self._reset_message()
            if length:
                self._state, self._body_left, self._skipping = _BODY, length, True
            return
        if length:
            self._state, self._body_left = _BODY, length
            return
        self._finish(out)

    def _finish(self, out: list[_Event]) -> None:
        if not self._skipping:
            out.append(self._build())
        self._reset_message()
        self._state = _HEAD

    def _over_line_cap(self, out: list[_Event]) -> None:
        if self._started:
            self._over_cap(400, f"header line longer than {MAX_LINE} bytes", out)
        else:
            what = f"{self._start_name} longer than {MAX_LINE} bytes"
            self._over_cap(self._start_too_long_status, what, out)

    def _over_cap(self, status: int, message: str, out: list[_Event]) -> None:
        self._report(self._error or RtspError(status, message), out)
        self._reset_message()
        self._state = _DISCARD

    def _report(self, error: RtspError, out: list[_Event]) -> None:
        if error.cseq is None:
            error.cseq = self._cseq()
        logger.debug("malformed message: %s", error)
        out.append(error)

    def _flush(self) -> list[_Event]:
        """Treat the buffered input as a whole message: the peer has gone quiet."""
        out: list[_Event] = []
        if self._state == _BODY:
            return out  # a body is framed by Content-Length: wait for the rest
        if self._state == _HEAD:
            tail = bytes(self._buf)
            if tail.endswith(b"\r"):
                tail = tail[:-1]
            if not self._started and not tail.strip():
                self._drop_buffer()
                return out
            if self._declares_body(tail):
                return out  # a sender that gives Content-Length also sends the empty line
            self._drop_buffer()
            if tail:
                self._buf += tail
                self._complete_line(0, len(tail), out)
                self._drop_buffer()
            if self._state == _HEAD and self._started:
                self._end_head(out)
        if self._state == _DISCARD:
            # The quiet period ends the bad message as an empty line would.
            self._drop_buffer()
            self._state = _HEAD
        return out

    def _drop_buffer(self) -> None:
        self._buf.clear()
        self._scan = 0

    def _declares_body(self, tail: bytes) -> bool:
        values = [v for n, v in self._headers if n.lower() == "content-length"]
        name, colon, value = tail.partition(b":")
        if colon and name.strip().lower() == b"content-length":
            values.append(value.strip().decode("ascii", "replace"))
        return any((bounded_int(v, MAX_CONTENT_LENGTH) or 0) > 0 for v in values)


class RequestReader(_MessageReader):
    """Server side: turns the bytes of a TCP stream into requests.

    `feed(data)` returns the requests completed by `data`, and an RtspError in their
    place for each malformed one, in stream order; it never raises on input. After an
    error the next request is parsed normally (see the module docstring for how far
    the reader skips). The error's status is what to answer: 400 bad request line,
    header line or Content-Length; 505 RTSP version other than 1.x; 414 request line over
    MAX_LINE; 400 header line over MAX_LINE, head over MAX_HEAD, over MAX_HEADERS; 413
    body over MAX_BODY. `cseq` is set when the CSeq header was readable.
    """

    _start_name = "request line"
    _start_too_long_status = 414

    def feed(self, data: bytes) -> list[RtspRequest | RtspError | InterleavedFrame]:
        return self._parse(data)  # type: ignore[return-value]

    def flush_partial(self) -> list[RtspRequest | RtspError]:
        """Take a request the peer left without its closing empty line.

        The lab's client sends e.g. b"PLAY movie.Mjpeg RTSP/1.0\\nCSeq: 2\\nSession: 1"
        in one send and nothing more. Call this once the connection has been quiet for a
        moment; it returns the request (or its error), or [] when nothing is buffered or
        a body announced by Content-Length is still incomplete.
        """
        return self._flush()  # type: ignore[return-value]

    def _on_start_line(self, line: bytes) -> RtspError | None:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return RtspError(400, f"request line is not UTF-8: {short(line)}")
        parts = text.split(" ")
        if len(parts) != 3 or not TOKEN_RE.fullmatch(parts[0]) or not parts[1]:
            return RtspError(400, f"malformed request line {short(text)}")
        method, uri, version = parts
        if not uri.isprintable():
            return RtspError(400, f"control character in request URI {short(uri)}")
        match = VERSION_RE.fullmatch(version)
        if match is None:
            return RtspError(400, f"malformed request line {short(text)}")
        if match.group(1) != "1":
            return RtspError(505, f"{short(version)} is not RTSP/1.x")
        self._start = (method, uri, version)
        return None

    def _build(self) -> RtspRequest:
        assert self._start is not None
        method, uri, version = self._start
        return RtspRequest(method, uri, Headers(self._headers), bytes(self._body), version)


class ResponseReader(_MessageReader):
    """Client side: turns the bytes of a TCP stream into responses.

    `feed(data)` returns the responses completed by `data`. A malformed response (status
    line, header line, Content-Length, or a cap exceeded) raises RtspProtocolError after
    the whole of `data` has been read; responses completed in that same call are on the
    error's `responses`, and the reader carries on after the bad message.
    """

    _start_name = "status line"

    def feed(self, data: bytes) -> list[RtspResponse | InterleavedFrame]:
        return self._split(self._parse(data))

    def flush_partial(self) -> RtspResponse | InterleavedFrame | None:
        """Take a response the server left without its closing empty line.

        The lab's reference server sends b"RTSP/1.0 200 OK\\nCSeq: 1\\nSession: 123456"
        in one send, not even a final line end. Call this once the connection has been
        quiet for a moment. Returns None when nothing is buffered or a body announced by
        Content-Length is still incomplete; RtspProtocolError when the buffered status
        line or headers are malformed.
        """
        responses = self._split(self._flush())
        return responses[0] if responses else None

    @staticmethod
    def _split(events: list[_Event]) -> list[RtspResponse | InterleavedFrame]:
        responses = [e for e in events if isinstance(e, (RtspResponse, InterleavedFrame))]
        errors = [e for e in events if isinstance(e, RtspError)]
        if errors:
            first = errors[0]
            error = RtspProtocolError(first.message, first.cseq)
            error.responses = responses
            raise error
        return responses

    def _on_start_line(self, line: bytes) -> RtspError | None:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return RtspError(0, f"status line is not UTF-8: {short(line)}")
        match = STATUS_LINE_RE.fullmatch(text)
        if match is None:
            return RtspError(0, f"malformed status line {short(text)}")
        version, status, reason = match.groups()
        self._start = (version, status, reason or "")
        return None

    def _build(self) -> RtspResponse:
        assert self._start is not None
        version, status, reason = self._start
        headers = Headers(self._headers)
        return RtspResponse(int(status), headers, bytes(self._body), reason, version)
