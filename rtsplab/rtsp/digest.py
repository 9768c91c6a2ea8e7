"""HTTP Digest access authentication's arithmetic, as RTSP uses it (RFC 2326 §12.5 takes
HTTP's; RFC 7616 §3.4.1-§3.4.3, which RFC 2617 began): both sides compute the same response,
and only the client knows the password.

    HA1      = H(username ":" realm ":" password)
    HA1-sess = H(HA1 ":" nonce ":" cnonce)                    (algorithm ...-sess)
    HA2      = H(method ":" digest-uri)
    response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)   (qop=auth)
    response = H(HA1 ":" nonce ":" HA2)                       (no qop: RFC 2069's form)

H is MD5 or SHA-256 (SHA-512-256 is in RFC 7616 too; no RTSP player asks for it), each in
lower-case hex. A server can keep HA1 instead of the password: that is what a users file
holds (`rtsplab.server.users`).
"""

from __future__ import annotations

import hashlib

SESS = "-sess"
HASHES = {"MD5": "md5", "SHA-256": "sha256"}  # Digest's names -> hashlib's
ALGORITHMS = (*HASHES, *(name + SESS for name in HASHES))  # what a challenge may name


def base_algorithm(algorithm: str) -> str:
    """ "MD5-sess" -> "MD5"; ValueError for an algorithm not supported here."""
    name = algorithm.upper().replace("-SESS", "")
    if name not in HASHES:
        raise ValueError(f"Digest algorithm {algorithm!r} not supported (MD5, SHA-256)")
    return name


def hash_hex(algorithm: str, text: str) -> str:
    """H(text) in lower-case hex, text encoded as UTF-8 (RFC 7616 §3.4.4)."""
    return hashlib.new(HASHES[base_algorithm(algorithm)], text.encode("utf-8")).hexdigest()


def ha1(algorithm: str, username: str, realm: str, password: str) -> str:
    """H(username:realm:password), what the server may keep instead of the password."""
    return hash_hex(algorithm, f"{username}:{realm}:{password}")


def digest_response(
    algorithm: str,
    user_ha1: str,
    nonce: str,
    method: str,
    uri: str,
    *,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
) -> str:
    """The `response` parameter (RFC 7616 §3.4.1), from HA1 rather than the password.

    With `qop` ("auth"), `nc` and `cnonce` are required; without, RFC 2069's shorter form
    (which some players still send, and which a -sess algorithm cannot use)."""
    if algorithm.upper().endswith(SESS.upper()):
        if cnonce is None:
            raise ValueError(f"{algorithm} needs a cnonce")
        user_ha1 = hash_hex(algorithm, f"{user_ha1}:{nonce}:{cnonce}")
    ha2 = hash_hex(algorithm, f"{method}:{uri}")
    if qop is None:
        return hash_hex(algorithm, f"{user_ha1}:{nonce}:{ha2}")
    if nc is None or cnonce is None:
        raise ValueError("qop needs nc and cnonce")
    return hash_hex(algorithm, f"{user_ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
