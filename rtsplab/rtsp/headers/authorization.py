"""WWW-Authenticate and Authorization (RFC 2326 §12.5, §12.44, which take HTTP's; today's
grammar is RFC 7235 §2.1, §4.1, §4.2): challenges from a server, credentials from a client.

::

    challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
    credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
    auth-param  = token BWS "=" BWS ( token / quoted-string )

One WWW-Authenticate value may hold several challenges separated by commas, as may the
parameters inside one: a name followed by "=" is a parameter of the challenge before it, a
name followed by a space or the end is the next challenge's scheme. Scheme and parameter
names are case-insensitive; they are kept in lower case. Parsing is bounded (values past
MAX_PARAMS parameters are refused) and never raises anything but ValueError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import overload

from rtsplab.rtsp.grammar import TOKEN_RE

MAX_PARAMS = 32  # a Digest challenge has about eight
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_SPACE = re.compile(r"[ \t]*")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_NEEDS_QUOTES = {"realm", "nonce", "opaque", "domain", "username", "uri", "response", "cnonce"}


@dataclass
class Challenge:
    """One challenge (server) or credentials (client): a scheme and its parameters, or its
    token68 (Basic credentials carry one)."""

    scheme: str  # lower case: "digest", "basic"
    params: dict[str, str] = field(default_factory=dict)
    token68: str | None = None

    def __getitem__(self, name: str) -> str:
        return self.params[name]

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        return self.params.get(name, default)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def skip(self, pattern: re.Pattern[str] = _SPACE) -> None:
        match = pattern.match(self.text, self.pos)
        if match:
            self.pos = match.end()

    def take(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        match = pattern.match(self.text, self.pos)
        if match:
            self.pos = match.end()
        return match

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def done(self) -> bool:
        return self.pos >= len(self.text)


_COMMAS = re.compile(r"[ \t,]*")


def parse_challenges(value: str) -> list[Challenge]:
    """Every challenge of one WWW-Authenticate value, in order. ValueError if malformed."""
    scanner = _Scanner(value)
    challenges: list[Challenge] = []
    while True:
        scanner.skip(_COMMAS)
        if scanner.done():
            break
        name = _token(scanner)
        scanner.skip()
        if scanner.peek() == "=" and challenges:
            _param_value(scanner, challenges[-1], name)
            continue
        if scanner.peek() == "=":
            raise ValueError(f"parameter {name!r} before any auth-scheme in {value!r}")
        challenge = Challenge(name.lower())
        challenges.append(challenge)
        token68 = _token68_here(scanner)
        if token68 is not None:
            challenge.token68 = token68
    if not challenges:
        raise ValueError("no challenge in an empty WWW-Authenticate")
    return challenges


def parse_credentials(value: str) -> Challenge:
    """An Authorization value: its scheme and parameters or token68. ValueError if malformed."""
    challenges = parse_challenges(value)
    if len(challenges) != 1:
        raise ValueError(f"Authorization carries {len(challenges)} schemes, not one")
    return challenges[0]


def _token(scanner: _Scanner) -> str:
    match = scanner.take(TOKEN_RE)
    if match is None:
        raise ValueError(f"expected a token at offset {scanner.pos} of {scanner.text!r}")
    return match[0]


def _token68_here(scanner: _Scanner) -> str | None:
    """A token68 right after the scheme: one that ends the challenge. Otherwise (the name
    and "=" of a first parameter matched as one) nothing is taken."""
    start = scanner.pos
    match = scanner.take(_TOKEN68)
    if match is not None:
        scanner.skip()
        if scanner.done() or scanner.peek() == ",":
            return match[0]
    scanner.pos = start
    return None


def _param_value(scanner: _Scanner, challenge: Challenge, name: str) -> None:
    scanner.pos += 1  # the "="
    scanner.skip()
    quoted = scanner.take(_QUOTED)
    if quoted is not None:
        value = re.sub(r"\\(.)", r"\1", quoted[1])
    else:
        value = _token(scanner)
    if len(challenge.params) >= MAX_PARAMS:
        raise ValueError(f"more than {MAX_PARAMS} parameters in one challenge")
    challenge.params[name.lower()] = value


def format_challenge(challenge: Challenge, *, credentials: bool = False) -> str:
    """`Digest realm="x", nonce="y", qop="auth"` or `Basic dXNlcjpwYXNz`: quoted strings
    where the Digest grammar (RFC 7616 §3.3, §3.4) has them, tokens elsewhere — qop is a
    quoted list in a challenge and a token in `credentials`."""
    scheme = challenge.scheme.capitalize()
    if challenge.token68 is not None:
        return f"{scheme} {challenge.token68}"
    quoted = _NEEDS_QUOTES if credentials else _NEEDS_QUOTES | {"qop"}
    params = ", ".join(_format_param(n, v, quoted) for n, v in challenge.params.items())
    return f"{scheme} {params}" if params else scheme


def _format_param(name: str, value: str, quoted: set[str]) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"line break in the {name} parameter")
    if name in quoted or not TOKEN_RE.fullmatch(value):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{name}="{escaped}"'
    return f"{name}={value}"


_AUTHORIZATION_LINE = re.compile(r"^(authorization:)[^\r\n]*", re.IGNORECASE | re.MULTILINE)


def redacted(message: str) -> str:
    """A message as the -v dialogue shows it: an Authorization header's value hidden (Basic
    carries the password itself, Digest what an eavesdropper could try words against)."""
    return _AUTHORIZATION_LINE.sub(r"\1 (hidden)", message)
