"""The client's side of RTSP authentication: answering a server's 401 (RFC 2326 §12.5,
§12.44; Digest per RFC 7616, Basic per RFC 7617), pure and fed the challenges.

The first request goes without credentials. A 401 names the schemes the server takes; the
client picks the strongest it speaks — Digest SHA-256, then Digest MD5 (MD5-sess too), then
Basic — and from then on signs every request: Digest with qop=auth when offered (a fresh nc
each request, one cnonce for the nonce), RFC 2069's form when not. It retries once with
new credentials; a second 401 is a wrong name or password, unless the server says the nonce
was only stale (stale=true), which is answered again with the new nonce and no error.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from rtsplab.rtsp.digest import base_algorithm, digest_response, ha1
from rtsplab.rtsp.headers.authorization import Challenge, format_challenge, parse_challenges

_PREFERENCE = ("SHA-256", "SHA-256-sess", "MD5", "MD5-sess")


@dataclass(frozen=True)
class Login:
    """A name and password, from the URL (rtsp://name:password@host/...) or a prompt."""

    user: str
    password: str = ""

    def __repr__(self) -> str:  # never the password in a log
        return f"Login(user={self.user!r})"


def pick(challenges: list[Challenge], basic: bool = True) -> Challenge | None:
    """The challenge to answer: Digest by algorithm preference, then Basic where `basic`
    allows it; None if the server offers nothing spoken here."""
    digests = [c for c in challenges if c.scheme == "digest" and "nonce" in c.params]
    for name in _PREFERENCE:
        for challenge in digests:
            if (challenge.get("algorithm") or "MD5").upper() == name.upper():
                return challenge
    return next((c for c in challenges if c.scheme == "basic" and basic), None)


class ClientAuth:
    """Signs requests for one connection once a server has asked."""

    def __init__(
        self, login: Login, cnonce: Callable[[], str] | None = None, basic: bool = True
    ) -> None:
        """`basic`: Basic, which sends the password itself, may be answered (only over a
        TLS connection whose certificate was checked: anyone else could be asking)."""
        self.login = login
        self.basic = basic
        self._new_cnonce = cnonce or (lambda: secrets.token_hex(8))
        self._challenge: Challenge | None = None
        self._nc = 0
        self._cnonce = ""
        self._tried = False  # credentials were sent for the current challenge

    def answer_401(self, www_authenticate: list[str]) -> str | None:
        """Take a 401's challenges; None to retry the request signed, or the reason not to
        (nothing offered that is spoken here, or the credentials were already refused)."""
        challenges: list[Challenge] = []
        for value in www_authenticate:
            try:
                challenges += parse_challenges(value)
            except ValueError:
                continue
        chosen = pick(challenges, self.basic)
        if chosen is None:
            offered = ", ".join(sorted({c.scheme for c in challenges})) or "no scheme"
            basic = "Basic" if self.basic else "Basic (over rtsps:// with its certificate checked)"
            return f"the server asks for {offered}; this client speaks Digest and {basic}"
        stale = chosen.get("stale", "").lower() == "true"
        if self._tried and not stale:
            return f"the server refused the credentials of {self.login.user!r}"
        self._challenge, self._nc, self._cnonce = chosen, 0, self._new_cnonce()
        self._tried = True
        return None

    def accepted(self) -> None:
        """A signed request was answered other than 401: a later 401 may be retried again."""
        self._tried = False

    def authorization(self, method: str, uri: str) -> str | None:
        """The Authorization value for a request, once a server has asked (else None)."""
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            token = f"{self.login.user}:{self.login.password}".encode()
            return format_challenge(Challenge("basic", token68=base64.b64encode(token).decode()),
                                    credentials=True)  # fmt: skip
        return self._digest(challenge, method, uri)

    def _digest(self, challenge: Challenge, method: str, uri: str) -> str:
        algorithm = challenge.get("algorithm") or "MD5"
        realm, nonce = challenge.get("realm", ""), challenge["nonce"]
        qops = [q.strip() for q in (challenge.get("qop") or "").split(",")]
        qop = "auth" if "auth" in qops else None
        self._nc += 1
        nc = f"{self._nc:08x}"
        user_ha1 = ha1(base_algorithm(algorithm), self.login.user, realm, self.login.password)
        response = digest_response(algorithm, user_ha1, nonce, method, uri,
                                   qop=qop, nc=nc, cnonce=self._cnonce)  # fmt: skip
        params = {"username": self.login.user, "realm": realm, "nonce": nonce, "uri": uri,
                  "response": response, "algorithm": algorithm}  # fmt: skip
        if qop is not None:
            params |= {"qop": qop, "nc": nc, "cnonce": self._cnonce}
        if "opaque" in challenge.params:
            params["opaque"] = challenge["opaque"]
        return format_challenge(Challenge("digest", params), credentials=True)
