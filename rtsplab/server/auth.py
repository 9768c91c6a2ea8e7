"""Who may watch: the server's side of RTSP authentication (RFC 2326 §12.5, §12.44 take
HTTP's: Digest per RFC 7616, Basic per RFC 7617), as a pure guard with time passed in.

- Every request carries credentials; without them, or with wrong ones, the answer is 401 with
  one challenge per scheme: Digest SHA-256 first, then Digest MD5 (what ffmpeg and GStreamer
  answer), then Basic where it is allowed (over TLS, or when the operator says so).
- A nonce is the time it was made and an HMAC of it under a secret of this process: nothing
  to store until it is used, unforgeable, and old after NONCE_LIFETIME, when a right answer
  gets 401 with stale=true so that the client retries with the new nonce and no prompt.
- With qop=auth the nonce count must grow: a request replayed (the same nc again) is refused.
  Without qop (RFC 2069's form, which some players still send) nothing tells a replay from a
  repeat, so the nonce's lifetime is the bound.
- Hashes are compared in constant time (`hmac.compare_digest`), and an unknown user costs the
  same work as a known one.
- Failed attempts are counted per address (`LoginThrottle`): from MAX_FAILURES in WINDOW the
  address is answered 403 without a check until BLOCK seconds after its last failure.

`Gate` is what the server's connections ask: the guard for standard RTSP, and whether the
lab's dialect — whose client has no credentials to give — is served at all. The connections'
threads share it: it takes a lock.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Protocol

from rtsplab.rtsp.digest import base_algorithm, digest_response, ha1
from rtsplab.rtsp.errors import RtspError
from rtsplab.rtsp.grammar import cseq_or_none
from rtsplab.rtsp.headers.authorization import Challenge, format_challenge, parse_credentials
from rtsplab.rtsp.message import RtspRequest, RtspResponse
from rtsplab.server.media_root import URL_SCHEMES
from rtsplab.server.users import DEFAULT_REALM, UserDigests

log = logging.getLogger(__name__)

NONCE_LIFETIME = 300.0  # s
MAX_NONCES = 4096  # nonces whose count is followed
MAX_FAILURES, WINDOW, BLOCK = 5, 60.0, 30.0  # failures in WINDOW s: blocked BLOCK s
MAX_ADDRESSES = 4096  # addresses whose failures are followed
_NC = re.compile(r"[0-9a-fA-F]{8}")
_UNKNOWN = UserDigests("", DEFAULT_REALM, "0" * 32, "0" * 64)  # compared against, never equal


@dataclass(frozen=True)
class Verdict:
    """The guard's answer: `user` when the request may go on, else the status to answer
    (401 with the challenges, stale or not; 403 while throttled) and why."""

    user: str | None
    status: int = 200
    reason: str = ""
    stale: bool = False


class LoginThrottle:
    """Failed attempts per address, bounded in addresses and in time."""

    def __init__(self) -> None:
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def blocked_for(self, address: str, now: float) -> float:
        """Seconds this address must still wait (0: not blocked)."""
        times = self._failures.get(address)
        if times is None or len(times) < MAX_FAILURES or now - times[0] > WINDOW:
            return 0.0
        return max(0.0, times[-1] + BLOCK - now)

    def failed(self, address: str, now: float) -> None:
        times = self._failures.pop(address, None) or deque(maxlen=MAX_FAILURES)
        times.append(now)
        self._failures[address] = times  # last failed, last in line
        while len(self._failures) > MAX_ADDRESSES:
            self._failures.popitem(last=False)


class Authenticator:
    def __init__(
        self,
        users: dict[str, UserDigests],
        secret: bytes,
        *,
        realm: str = DEFAULT_REALM,
        basic: bool = False,
    ) -> None:
        """`secret`: random bytes of this process, for the nonces. Basic is offered and taken
        over TLS (`secure` connections), and over plain ones too with `basic` (the operator's
        --allow-basic). The connections' threads share it: every check takes its lock."""
        self.users = users
        self.realm = realm
        self.basic = basic
        self._secret = secret
        self._counts: OrderedDict[str, int] = OrderedDict()  # nonce -> highest nc taken
        self.throttle = LoginThrottle()
        self._lock = threading.Lock()

    # -- challenges -------------------------------------------------------------------------

    def nonce(self, now: float, address: str) -> str:
        """The time and an HMAC of it and of the client's address: a nonce good for that
        address alone, so that a response seen on the way (without qop, which has no count)
        replays from nowhere else."""
        stamp = f"{round(now * 1000) & 0xFFFF_FFFF_FFFF:012x}"
        return stamp + self._mac(stamp, address)

    def _mac(self, stamp: str, address: str) -> str:
        return hmac.new(self._secret, f"{stamp} {address}".encode(), "sha256").hexdigest()[:32]

    def challenges(
        self, now: float, stale: bool = False, *, address: str = "", secure: bool = False
    ) -> list[str]:
        """The WWW-Authenticate values of a 401 to `address`, strongest first."""
        nonce = self.nonce(now, address)
        values = []
        for algorithm in ("SHA-256", "MD5"):
            params = {"realm": self.realm, "nonce": nonce, "qop": "auth", "algorithm": algorithm}
            if stale:
                params["stale"] = "true"
            values.append(format_challenge(Challenge("digest", params)))
        if self.basic or secure:
            values.append(format_challenge(Challenge("basic", {"realm": self.realm})))
        return values

    # -- checking ---------------------------------------------------------------------------

    def check(
        self, method: str, uri: str, authorization: str | None, address: str, now: float,
        secure: bool = False,
    ) -> Verdict:  # fmt: skip
        """Whether a request of `method` for `uri` from `address` may go on (`secure`: it
        came over TLS)."""
        with self._lock:
            return self._check(method, uri, authorization, address, now, secure)

    def _check(
        self, method: str, uri: str, authorization: str | None, address: str, now: float,
        secure: bool,
    ) -> Verdict:  # fmt: skip
        wait = self.throttle.blocked_for(address, now)
        if wait:
            return Verdict(None, 403, f"too many failed attempts from {address}: "
                                      f"wait {wait:.0f} s")  # fmt: skip
        if authorization is None:
            return Verdict(None, 401, "credentials required")
        try:
            credentials = parse_credentials(authorization)
            if credentials.scheme == "digest":
                verdict = self._digest(credentials, method, uri, now, address)
            elif credentials.scheme == "basic" and (self.basic or secure):
                verdict = self._basic(credentials)
            else:
                verdict = Verdict(None, 401, f"scheme {credentials.scheme!r} not accepted here")
        except (ValueError, KeyError):  # never quoted: it may hold a password
            verdict = Verdict(None, 401, "a malformed Authorization header")
        if verdict.user is None and not verdict.stale:
            self.throttle.failed(address, now)
        return verdict

    def _basic(self, credentials: Challenge) -> Verdict:
        try:
            decoded = base64.b64decode(credentials.token68 or "", validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError(f"Basic credentials are not base64 UTF-8: {exc}") from None
        name, colon, password = decoded.partition(":")
        user = self.users.get(name, _UNKNOWN)
        given = ha1("MD5", name, self.realm, password)
        if not colon or not _same(given, user.md5) or user is _UNKNOWN:
            return Verdict(None, 401, f"wrong name or password for {name!r}")
        return Verdict(name)

    def _digest(
        self, credentials: Challenge, method: str, uri: str, now: float, address: str
    ) -> Verdict:
        name, nonce = credentials["username"], credentials["nonce"]
        algorithm = credentials.get("algorithm", "MD5") or "MD5"
        base_algorithm(algorithm)  # ValueError for one not supported
        if credentials.get("realm") != self.realm:
            return Verdict(None, 401, f"realm {credentials.get('realm')!r} is not {self.realm!r}")
        if credentials.get("uri") != uri:
            return Verdict(None, 401, f"digest uri {credentials.get('uri')!r} is not {uri!r}")
        age = self._nonce_age(nonce, now, address)
        if age is None:
            return Verdict(None, 401, "a nonce this server did not make")
        qop, nc, cnonce = credentials.get("qop"), credentials.get("nc"), credentials.get("cnonce")
        if qop is not None and (qop != "auth" or nc is None or not _NC.fullmatch(nc)):
            return Verdict(None, 401, f"qop {qop!r} with nc {nc!r}: only qop=auth is offered")
        user = self.users.get(name, _UNKNOWN)
        expected = digest_response(algorithm, user.ha1(algorithm), nonce, method, uri,
                                   qop=qop, nc=nc, cnonce=cnonce)  # fmt: skip
        if not _same(expected, credentials["response"]) or user is _UNKNOWN:
            return Verdict(None, 401, f"wrong name or password for {name!r}")
        if age > NONCE_LIFETIME:
            return Verdict(None, 401, "the nonce is stale", stale=True)
        if qop is not None and not self._count(nonce, int(nc or "0", 16)):
            # A replay, or a client's requests out of order: either way a new nonce is the
            # answer, and no failure is counted (it took the password to make this response).
            return Verdict(None, 401, f"nonce count {nc} already used", stale=True)
        return Verdict(name)

    def _nonce_age(self, nonce: str, now: float, address: str) -> float | None:
        stamp, mac = nonce[:12], nonce[12:]
        if len(nonce) != 44 or not _same(mac, self._mac(stamp, address)):
            return None
        made = int(stamp, 16)
        return ((round(now * 1000) - made) & 0xFFFF_FFFF_FFFF) / 1000

    def _count(self, nonce: str, nc: int) -> bool:
        """Take nonce count `nc` once: it must be above every count seen with this nonce."""
        if nc <= self._counts.get(nonce, 0):
            return False
        self._counts[nonce] = nc
        self._counts.move_to_end(nonce)
        while len(self._counts) > MAX_NONCES:
            self._counts.popitem(last=False)
        return True


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused, and the challenges a 401 carries."""

    status: int
    reason: str
    challenges: tuple[str, ...] = ()

    def reply(self, session: Refuses, request: RtspRequest) -> RtspResponse:
        """The refusal as the session words any (`ServerSession.error_response`), with one
        WWW-Authenticate header a challenge."""
        cseq = cseq_or_none(request.headers.get("CSeq"))
        response = session.error_response(RtspError(self.status, self.reason, cseq))
        for challenge in self.challenges:
            response.headers.append("WWW-Authenticate", challenge)
        return response


class Refuses(Protocol):
    def error_response(self, error: RtspError) -> RtspResponse: ...


class Gate:
    """Who may make a request: with `guard`, a standard request needs its credentials; a lab
    request (a bare file name, as the lab's client sends) needs none, and goes through only
    while `lab_dialect` is on."""

    def __init__(self, guard: Authenticator | None, lab_dialect: bool = True) -> None:
        self.guard = guard
        self.lab_dialect = lab_dialect

    def refusal(
        self, request: RtspRequest, address: str, now: float, secure: bool = False
    ) -> Refusal | None:
        """None when `request` from `address` (over TLS: `secure`) may go on."""
        if not request.uri.lower().startswith(URL_SCHEMES) and request.uri != "*":
            if self.lab_dialect:
                return None
            return Refusal(403, "the lab's dialect is off on this server: ask for an rtsp:// URL")
        if self.guard is None:
            return None
        credentials = request.headers.get("Authorization")
        guard = self.guard
        verdict = guard.check(request.method, request.uri, credentials, address, now, secure)
        if verdict.user is not None:
            return None
        challenges = (
            guard.challenges(now, verdict.stale, address=address, secure=secure)
            if verdict.status == 401 else []
        )  # fmt: skip
        if credentials is not None or verdict.status != 401:
            log.info("%s %s from %s refused (%d): %s", request.method, request.uri, address,
                     verdict.status, verdict.reason)  # fmt: skip
        return Refusal(verdict.status, verdict.reason, tuple(challenges))


def _same(given: str, expected: str) -> bool:
    """Constant-time equality of two strings, whatever characters a peer put in one."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
