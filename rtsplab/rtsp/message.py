"""RTSP/1.0 messages: requests, responses, the stream readers, and the Transport/Session headers.

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
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

__all__ = [
    "MAX_BODY",
    "MAX_HEAD",
    "MAX_HEADERS",
    "MAX_LINE",
    "STATUS_REASONS",
    "Headers",
    "RequestReader",
    "ResponseReader",
    "RtspError",
    "RtspProtocolError",
    "RtspRequest",
    "RtspResponse",
    "TransportSpec",
    "format_session",
    "format_transport",
    "parse_session",
    "parse_transport",
    "reason_phrase",
]

logger = logging.getLogger(__name__)

RTSP_VERSION = "RTSP/1.0"

# Caps on what one peer may make a reader hold. A real SETUP line or Transport header is
# under 200 bytes and a request has under a dozen headers, so these leave a wide margin
# while keeping a hostile or broken peer to ~80 KiB per connection.
MAX_LINE = 4096  # bytes in one start or header line, line end excluded
MAX_HEADERS = 64  # header lines in one message
MAX_HEAD = 16 * 1024  # bytes in start line + header lines, line ends excluded
MAX_BODY = 64 * 1024  # bytes of body; the lab's requests carry none, SDP is a few KiB

CR = 0x0D
LF = b"\n"

# RFC 2326 §7.1.1, with its recommended reason phrases as written there.
STATUS_REASONS: dict[int, str] = {
    100: "Continue",
    200: "OK",
    201: "Created",
    250: "Low on Storage Space",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    303: "See Other",
    304: "Not Modified",
    305: "Use Proxy",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Time-out",
    410: "Gone",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Large",
    415: "Unsupported Media Type",
    451: "Parameter Not Understood",
    452: "Conference Not Found",
    453: "Not Enough Bandwidth",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    456: "Header Field Not Valid for Resource",
    457: "Invalid Range",
    458: "Parameter Is Read-Only",
    459: "Aggregate operation not allowed",
    460: "Only aggregate operation allowed",
    461: "Unsupported transport",
    462: "Destination unreachable",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Time-out",
    505: "RTSP Version not supported",
    551: "Option not supported",
}

# RFC 2616 §2.2 token: what a method or header name may be made of.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION_RE = re.compile(r"RTSP/([0-9]+)\.([0-9]+)")
_STATUS_LINE_RE = re.compile(r"(RTSP/[0-9]+\.[0-9]+) ([0-9]{3})(?: (.*))?")


def reason_phrase(status: int) -> str:
    """The RFC 2326 reason phrase for `status`, or "Unknown Status"."""
    return STATUS_REASONS.get(status, "Unknown Status")


def _short(text: str | bytes, limit: int = 60) -> str:
    """repr() of untrusted input, cut so that error messages and logs stay small."""
    shown = repr(text[:limit])
    return shown + "..." if len(text) > limit else shown


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


# --------------------------------------------------------------------------- errors


class RtspError(Exception):
    """A request the server must answer with `status` instead of serving it.

    `reason` is the phrase from STATUS_REASONS, `message` says what was wrong, and `cseq`
    is the request's CSeq when it could be read, so that even a 400 can echo it.
    str(): "455 Method Not Valid in This State: PLAY before SETUP".
    """

    def __init__(self, status: int, message: str = "", cseq: int | None = None) -> None:
        super().__init__(status, message, cseq)
        self.status = status
        self.reason = reason_phrase(status)
        self.message = message
        self.cseq = cseq

    def __str__(self) -> str:
        head = f"{self.status} {self.reason}"
        return f"{head}: {self.message}" if self.message else head

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.message!r}, cseq={self.cseq})"


class RtspProtocolError(RtspError):
    """The client's verdict on a malformed response; status 0, never sent on the wire.

    `responses` holds the well-formed responses that completed in the same `feed()` call:
    the reader steps past the bad message as RequestReader does, so none are lost.
    """

    def __init__(self, message: str, cseq: int | None = None) -> None:
        super().__init__(0, message, cseq)
        self.args = (message, cseq)
        self.reason = "Protocol Error"
        self.responses: list[RtspResponse] = []

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


# --------------------------------------------------------------------------- headers


def _check_header(name: str, value: str) -> None:
    if not _TOKEN_RE.fullmatch(name):
        raise ValueError(f"bad header name {name!r}")
    if "\r" in value or "\n" in value:
        raise ValueError(f"line break in the value of header {name!r}")


class Headers:
    """Ordered header list with case-insensitive lookup.

    Names keep the spelling they were given (items() returns it) because order and
    spelling are what goes on the wire. A repeated header is kept in place, but lookups
    (`h[name]`, `get`, `in`) see the first occurrence only; `get_all` returns every value.
    Setting a name replaces the value of its first occurrence, keeping that entry's place
    and spelling, and drops later duplicates; an absent name is appended. Names must be
    tokens and values must not contain CR or LF (ValueError): encoding can never break
    the framing.
    """

    def __init__(
        self, items: Headers | Iterable[tuple[str, str]] | Mapping[str, str] | None = None
    ) -> None:
        self._items: list[tuple[str, str]] = []
        if items is None:
            return
        pairs = items.items() if isinstance(items, (Headers, Mapping)) else items
        for name, value in pairs:
            value = str(value)
            _check_header(name, value)
            self._items.append((name, value))

    def _index(self, name: str) -> int:
        key = name.lower()
        for i, (have, _) in enumerate(self._items):
            if have.lower() == key:
                return i
        return -1

    def __getitem__(self, name: str) -> str:
        i = self._index(name)
        if i < 0:
            raise KeyError(name)
        return self._items[i][1]

    def get(self, name: str, default: str | None = None) -> str | None:
        i = self._index(name)
        return default if i < 0 else self._items[i][1]

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [value for have, value in self._items if have.lower() == key]

    def __setitem__(self, name: str, value: str | int) -> None:
        value = str(value)
        _check_header(name, value)
        i = self._index(name)
        if i < 0:
            self._items.append((name, value))
            return
        key = name.lower()
        self._items[i] = (self._items[i][0], value)
        self._items[i + 1 :] = [p for p in self._items[i + 1 :] if p[0].lower() != key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._index(name) >= 0

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items)

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(n.lower(), v) for n, v in self._items] == [(n.lower(), v) for n, v in other._items]

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"

    def _encode_into(self, lines: list[str], body: bytes) -> None:
        lines.extend(f"{name}: {value}" for name, value in self._items)
        if body and "Content-Length" not in self:
            lines.append(f"Content-Length: {len(body)}")


def _cseq_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if _is_digits(value) else None


def _session_id(headers: Headers) -> str | None:
    """The id of the Session header, parameters dropped; RtspError(400) if garbled."""
    value = headers.get("Session")
    return None if value is None else parse_session(value)[0]


def _encode_message(start_line: str, headers: Headers, body: bytes) -> bytes:
    lines = [start_line]
    headers._encode_into(lines, body)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


# --------------------------------------------------------------------------- messages


@dataclass
class RtspRequest:
    """One RTSP request (RFC 2326 §6). The method is kept as sent: the server decides 501."""

    method: str
    uri: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = RTSP_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            self.headers = Headers(self.headers)

    @property
    def cseq(self) -> int:
        """The CSeq as an int; RtspError(400) when missing or not a non-negative integer."""
        value = self.headers.get("CSeq")
        if value is None:
            raise RtspError(400, "missing CSeq header")
        cseq = _cseq_or_none(value)
        if cseq is None:
            raise RtspError(400, f"bad CSeq {_short(value)}")
        return cseq

    @property
    def session(self) -> str | None:
        """The session id of the Session header (no parameters); RtspError(400) if garbled."""
        try:
            return _session_id(self.headers)
        except RtspError as err:
            err.cseq = _cseq_or_none(self.headers.get("CSeq"))
            raise

    def encode(self) -> bytes:
        """Request line, headers in the given order, CRLF line ends, empty line, body.

        Adds Content-Length when there is a body and the headers do not already give one.
        ValueError when the method or URI would break the request line.
        """
        if not _TOKEN_RE.fullmatch(self.method):
            raise ValueError(f"bad method {self.method!r}")
        if not self.uri or any(c.isspace() for c in self.uri):
            raise ValueError(f"bad request URI {self.uri!r}")
        return _encode_message(f"{self.method} {self.uri} {self.version}", self.headers, self.body)


@dataclass
class RtspResponse:
    """One RTSP response (RFC 2326 §7). `reason` None means the phrase from STATUS_REASONS.

    Header order is kept on the wire. The server puts CSeq then Session first: the lab's
    own client parses replies by position (line 2 is CSeq, line 3 is Session).
    """

    status: int
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    reason: str | None = None
    version: str = RTSP_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            self.headers = Headers(self.headers)

    @property
    def cseq(self) -> int | None:
        """The CSeq as an int, or None when missing or not a non-negative integer."""
        return _cseq_or_none(self.headers.get("CSeq"))

    @property
    def session(self) -> str | None:
        """The session id of the Session header (no parameters), or None if absent/garbled."""
        try:
            return _session_id(self.headers)
        except RtspError:
            return None

    def encode(self) -> bytes:
        """Status line, headers in the given order, CRLF line ends, empty line, body.

        Adds Content-Length when there is a body and the headers do not already give one.
        """
        if not 100 <= self.status <= 999:
            raise ValueError(f"status {self.status} is not three digits")
        reason = reason_phrase(self.status) if self.reason is None else self.reason
        if "\r" in reason or "\n" in reason:
            raise ValueError(f"line break in reason phrase {reason!r}")
        return _encode_message(f"{self.version} {self.status} {reason}", self.headers, self.body)


# --------------------------------------------------------------------------- readers

_HEAD = "head"  # reading a start line and headers
_BODY = "body"  # reading (or skipping) Content-Length bytes
_DISCARD = "discard"  # dropping lines up to and including the next empty one

_Event = object  # a parsed message, an InterleavedFrame, or an RtspError

DOLLAR = 0x24  # "$": an interleaved binary frame, between messages (RFC 2326 §10.12)
INTERLEAVED_HEADER = 4  # "$", channel, 16-bit length


@dataclass
class InterleavedFrame:
    """RTP or RTCP carried on the RTSP connection: `$`, a channel byte, a 16-bit length."""

    channel: int
    data: bytes

    def encode(self) -> bytes:
        return bytes((DOLLAR, self.channel)) + len(self.data).to_bytes(2, "big") + self.data


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
            return RtspError(400, f"stray CR in header line {_short(line)}")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return RtspError(400, f"header line is not UTF-8: {_short(line)}")
        name, colon, value = text.partition(":")
        if not colon:
            return RtspError(400, f"header line without ':': {_short(text)}")
        name = name.strip()
        if not _TOKEN_RE.fullmatch(name):
            return RtspError(400, f"bad header name {_short(name)}")
        self._headers.append((name, value.strip()))
        return None

    def _on_start_line(self, line: bytes) -> RtspError | None:
        raise NotImplementedError

    def _build(self) -> _Event:
        raise NotImplementedError

    def _cseq(self) -> int | None:
        for name, value in self._headers:
            if name.lower() == "cseq":
                return _cseq_or_none(value)
        return None

    def _content_length(self) -> tuple[int, str | None]:
        """(length, None), or (0, why) when Content-Length is unusable."""
        values = [v for n, v in self._headers if n.lower() == "content-length"]
        if not values:
            return 0, None
        if not all(_is_digits(v) for v in values):
            bad = next(v for v in values if not _is_digits(v))
            return 0, f"bad Content-Length {_short(bad)}"
        lengths = {int(v) for v in values}
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
        return any(_is_digits(v) and int(v) > 0 for v in values)


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
            return RtspError(400, f"request line is not UTF-8: {_short(line)}")
        parts = text.split(" ")
        if len(parts) != 3 or not _TOKEN_RE.fullmatch(parts[0]) or not parts[1]:
            return RtspError(400, f"malformed request line {_short(text)}")
        method, uri, version = parts
        if not uri.isprintable():
            return RtspError(400, f"control character in request URI {_short(uri)}")
        match = _VERSION_RE.fullmatch(version)
        if match is None:
            return RtspError(400, f"malformed request line {_short(text)}")
        if match.group(1) != "1":
            return RtspError(505, f"{_short(version)} is not RTSP/1.x")
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

    def flush_partial(self) -> RtspResponse | None:
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
        responses = [e for e in events if not isinstance(e, RtspError)]
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
            return RtspError(0, f"status line is not UTF-8: {_short(line)}")
        match = _STATUS_LINE_RE.fullmatch(text)
        if match is None:
            return RtspError(0, f"malformed status line {_short(text)}")
        version, status, reason = match.groups()
        self._start = (version, status, reason or "")
        return None

    def _build(self) -> RtspResponse:
        assert self._start is not None
        version, status, reason = self._start
        headers = Headers(self._headers)
        return RtspResponse(int(status), headers, bytes(self._body), reason, version)


# --------------------------------------------------------------------------- Transport

# Transport = "Transport" ":" 1#transport-spec                        (RFC 2326 §12.39)
# transport-spec = transport-protocol/profile[/lower-transport] *parameter
_PROTOCOL_RE = re.compile(r"[A-Za-z0-9_.+-]+(?:/[A-Za-z0-9_.+-]+){1,2}")
_RANGE_RE = re.compile(r"([0-9]{1,5})(?:\s*-\s*([0-9]{1,5}))?")
_SSRC_RE = re.compile(r"[0-9A-Fa-f]{1,8}")
MAX_PORT = 0xFFFF
MAX_CHANNEL = 0xFF  # interleaved channel ids are one byte ("$" channel length, §10.12)
MAX_SSRC = 0xFFFFFFFF  # 32-bit RTP SSRC (RFC 3550 §5.1)

_Range = tuple[int, int | None]
_RANGE_PARAMS = {"client_port": MAX_PORT, "server_port": MAX_PORT, "interleaved": MAX_CHANNEL}


def _split_unquoted(text: str, sep: str) -> list[str]:
    """Split on `sep` outside double quotes (mode="PLAY,RECORD" stays whole)."""
    parts, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise RtspError(400, f"unbalanced quote in {_short(text)}")
    parts.append("".join(current))
    return parts


def _parse_range(name: str, value: str, limit: int) -> _Range:
    match = _RANGE_RE.fullmatch(value)
    if match is None:
        raise RtspError(400, f"bad {name} {_short(value)}")
    low = int(match.group(1))
    high = None if match.group(2) is None else int(match.group(2))
    if low > limit or (high is not None and high > limit):
        raise RtspError(400, f"{name} {_short(value)} out of range 0-{limit}")
    return low, high


def _format_range(name: str, value: _Range, limit: int) -> str:
    low, high = value
    for number in (low, high):
        if number is not None and not 0 <= number <= limit:
            raise ValueError(f"{name} {number} out of range 0-{limit}")
    return f"{name}={low}" if high is None else f"{name}={low}-{high}"


@dataclass
class TransportSpec:
    """One transport-spec of a Transport header (RFC 2326 §12.39).

    `protocol` is kept as written ("RTP/AVP", "RTP/AVP/UDP", "RTP/AVP/TCP", the lab's
    "RTP/UDP"). Ranges are (first, second) with second None for a single number.
    Parameters this class does not model go to `other`, name -> value (None for a flag),
    in the order given, and are written back by format().
    """

    protocol: str = "RTP/AVP"
    unicast: bool | None = None
    client_port: _Range | None = None
    server_port: _Range | None = None
    interleaved: _Range | None = None
    ssrc: int | None = None
    mode: str | None = None
    other: dict[str, str | None] = field(default_factory=dict)

    @property
    def lower_transport(self) -> str:
        """The lower transport, "UDP" or "TCP"; UDP when not written (§12.39)."""
        parts = self.protocol.upper().split("/")
        if len(parts) >= 3:
            return parts[2]
        if len(parts) == 2 and parts[1] in ("UDP", "TCP"):
            return parts[1]  # the lab's "RTP/UDP"
        return "UDP"

    @classmethod
    def parse(cls, text: str) -> TransportSpec:
        """Parse one transport-spec; RtspError(400) when it is garbled."""
        params = [p.strip() for p in _split_unquoted(text, ";")]
        protocol = params[0]
        if not _PROTOCOL_RE.fullmatch(protocol):
            raise RtspError(400, f"bad transport protocol {_short(protocol)}")
        spec = cls(protocol)
        seen: set[str] = set()
        for param in params[1:]:
            if not param:
                continue  # "RTP/AVP;unicast;" — a trailing ';' is harmless
            raw_name, eq, raw_value = param.partition("=")
            name, value = raw_name.strip(), raw_value.strip() if eq else None
            key = name.lower()
            if key in ("unicast", "multicast"):
                key = "unicast"  # one slot: both flags would contradict each other
            if key in seen:
                raise RtspError(400, f"repeated transport parameter {_short(name)}")
            seen.add(key)
            spec._set_param(name, key, value)
        return spec

    def _set_param(self, name: str, key: str, value: str | None) -> None:
        if key == "unicast":
            if value is not None:
                raise RtspError(400, f"{name} takes no value")
            self.unicast = name.lower() == "unicast"
            return
        if not _TOKEN_RE.fullmatch(name):
            raise RtspError(400, f"bad transport parameter name {_short(name)}")
        if key not in _RANGE_PARAMS and key not in ("ssrc", "mode"):
            self.other[name] = value
            return
        if not value:
            raise RtspError(400, f"transport parameter {name} needs a value")
        if key in _RANGE_PARAMS:
            setattr(self, key, _parse_range(key, value, _RANGE_PARAMS[key]))
        elif key == "ssrc":
            if not _SSRC_RE.fullmatch(value):
                raise RtspError(400, f"bad ssrc {_short(value)}: want up to 8 hex digits")
            self.ssrc = int(value, 16)
        else:
            mode = value
            if '"' in value:
                if len(value) < 2 or value[0] != '"' or value[-1] != '"':
                    raise RtspError(400, f"bad transport mode {_short(value)}")
                mode = value[1:-1].strip()
            if not mode:
                raise RtspError(400, "empty transport mode")
            self.mode = mode

    def format(self) -> str:
        """Canonical form, e.g. "RTP/AVP;unicast;client_port=25000-25001;ssrc=1A2B3C4D"."""
        parts = [self.protocol]
        if self.unicast is not None:
            parts.append("unicast" if self.unicast else "multicast")
        for name, limit in _RANGE_PARAMS.items():
            value = getattr(self, name)
            if value is not None:
                parts.append(_format_range(name, value, limit))
        if self.ssrc is not None:
            if not 0 <= self.ssrc <= MAX_SSRC:
                raise ValueError(f"ssrc {self.ssrc} is not 32 bits")
            parts.append(f"ssrc={self.ssrc:08X}")
        if self.mode is not None:
            mode = self.mode if _TOKEN_RE.fullmatch(self.mode) else f'"{self.mode}"'
            parts.append(f"mode={mode}")
        parts.extend(name if v is None else f"{name}={v}" for name, v in self.other.items())
        return ";".join(parts)


def parse_transport(value: str) -> list[TransportSpec]:
    """Parse a Transport header: its comma-separated specs, in the client's order.

    RtspError(400) when the header is empty, or when any spec in it is empty or garbled.
    A garbled spec is not skipped: the list is the client's order of preference, and
    answering 400 tells the client what is wrong, where dropping the spec could make the
    server pick an alternative the client ranked lower. (461 is for a spec that parses
    but that the server does not offer: the caller decides that.)
    """
    if not value.strip():
        raise RtspError(400, "empty Transport header")
    specs = []
    for text in _split_unquoted(value, ","):
        if not text.strip():
            raise RtspError(400, f"empty transport spec in {_short(value)}")
        specs.append(TransportSpec.parse(text))
    return specs


def format_transport(specs: Iterable[TransportSpec]) -> str:
    """The Transport header value for `specs` (the inverse of parse_transport)."""
    return ",".join(spec.format() for spec in specs)


# --------------------------------------------------------------------------- Session

# Session = "Session" ":" session-id [ ";" "timeout" "=" delta-seconds ]   (RFC 2326 §12.37)
# §3.4 limits session-id to ALPHA / DIGIT / "$-_.+"; ids from other servers are taken as any
# visible ASCII except ';' so that the client never rejects a server's choice.
_SESSION_ID_RE = re.compile(r"[!-:<-~]+")


def parse_session(value: str) -> tuple[str, int | None]:
    """("abc;timeout=60") -> ("abc", 60). Unknown parameters are ignored.

    RtspError(400) when the id is empty or has blanks, or the timeout is not a
    non-negative integer.
    """
    session_id, *params = value.split(";")
    session_id = session_id.strip()
    if not _SESSION_ID_RE.fullmatch(session_id):
        raise RtspError(400, f"bad session id {_short(session_id)}")
    timeout = None
    for param in params:
        name, _, raw = param.partition("=")
        if name.strip().lower() == "timeout":
            raw = raw.strip()
            if not _is_digits(raw):
                raise RtspError(400, f"bad session timeout {_short(raw)}")
            timeout = int(raw)
    return session_id, timeout


def format_session(session_id: str | int, timeout: int | None = None) -> str:
    """("abc", 60) -> "abc;timeout=60"; ValueError for an id or timeout that would not parse."""
    text = str(session_id)
    if not _SESSION_ID_RE.fullmatch(text):
        raise ValueError(f"bad session id {text!r}")
    if timeout is None:
        return text
    if not isinstance(timeout, int) or timeout < 0:
        raise ValueError(f"bad session timeout {timeout!r}")
    return f"{text};timeout={timeout}"
