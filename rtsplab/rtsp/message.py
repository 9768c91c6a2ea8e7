"""RTSP/1.0 messages: headers, requests, responses and interleaved frames, with their
encoding (RFC 2326 §4, §6, §7, §10.12).

A message is a start line, header lines, one empty line, then an optional body::

    Request-Line   = Method SP Request-URI SP RTSP-Version CRLF          (§6.1)
    Status-Line    = RTSP-Version SP Status-Code SP Reason-Phrase CRLF   (§7.1)
    message-header = field-name ":" [ field-value ] CRLF                 (§4.2)

Reading them from a byte stream is `rtsplab.rtsp.reader`'s; each header's value has its own
parse/format pair in `rtsplab.rtsp.headers`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from rtsplab.rtsp.errors import RtspError, reason_phrase, short
from rtsplab.rtsp.grammar import RTSP_VERSION, TOKEN_RE, cseq_or_none
from rtsplab.rtsp.headers.session import parse_session


def _check_header(name: str, value: str) -> None:
    if not TOKEN_RE.fullmatch(name):
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

    def append(self, name: str, value: str) -> None:
        """Add a header after the others, even one of a name already there (WWW-Authenticate
        gives one challenge a header)."""
        _check_header(name, value)
        self._items.append((name, value))

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


def _session_id(headers: Headers) -> str | None:
    """The id of the Session header, parameters dropped; RtspError(400) if garbled."""
    value = headers.get("Session")
    return None if value is None else parse_session(value)[0]


def _encode_message(start_line: str, headers: Headers, body: bytes) -> bytes:
    lines = [start_line]
    headers._encode_into(lines, body)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


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
        cseq = cseq_or_none(value)
        if cseq is None:
            raise RtspError(400, f"bad CSeq {short(value)}")
        return cseq

    @property
    def session(self) -> str | None:
        """The session id of the Session header (no parameters); RtspError(400) if garbled."""
        try:
            return _session_id(self.headers)
        except RtspError as err:
            err.cseq = cseq_or_none(self.headers.get("CSeq"))
            raise

    def encode(self) -> bytes:
        """Request line, headers in the given order, CRLF line ends, empty line, body.

        Adds Content-Length when there is a body and the headers do not already give one.
        ValueError when the method or URI would break the request line.
        """
        if not TOKEN_RE.fullmatch(self.method):
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
        return cseq_or_none(self.headers.get("CSeq"))

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


DOLLAR = 0x24  # "$": an interleaved binary frame, between messages (RFC 2326 §10.12)
INTERLEAVED_HEADER = 4  # "$", channel, 16-bit length


@dataclass
class InterleavedFrame:
    """RTP or RTCP carried on the RTSP connection: `$`, a channel byte, a 16-bit length."""

    channel: int
    data: bytes

    def encode(self) -> bytes:
        return bytes((DOLLAR, self.channel)) + len(self.data).to_bytes(2, "big") + self.data
