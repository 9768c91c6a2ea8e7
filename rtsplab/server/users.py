"""The server's users file: who may watch, kept as Digest's HA1 and never as a password.

One line a user, Apache's htdigest format with a fourth field::

    alice:rtsplab:<HA1 for MD5>:<HA1 for SHA-256>

HA1 = H(name:realm:password) (RFC 7616 §3.4.2) is all a server needs to check a Digest
response, for either algorithm, and a Basic password (hashed the same way and compared). It
is a password-equivalent for this realm only: the file is written readable by its owner
alone. `python Server.py --add-user FILE NAME` adds or replaces a user.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rtsplab.rtsp.digest import ha1

DEFAULT_REALM = "rtsplab"
MAX_NAME = 64
MAX_USERS = 10_000


@dataclass(frozen=True)
class UserDigests:
    """One user's HA1 for each algorithm, as the file keeps them."""

    name: str
    realm: str
    md5: str
    sha256: str

    @classmethod
    def from_password(cls, name: str, password: str, realm: str = DEFAULT_REALM) -> UserDigests:
        check_name(name)
        check_name(realm, "realm")
        return cls(name, realm, ha1("MD5", name, realm, password),
                   ha1("SHA-256", name, realm, password))  # fmt: skip

    def ha1(self, algorithm: str) -> str:
        """HA1 for "MD5" or "SHA-256" (a -sess algorithm uses its base's)."""
        return self.sha256 if algorithm.upper().startswith("SHA-256") else self.md5

    def line(self) -> str:
        return f"{self.name}:{self.realm}:{self.md5}:{self.sha256}"


def check_name(name: str, what: str = "user name") -> None:
    """A name the file and Digest's quoted strings can both carry: ValueError otherwise."""
    if not name or len(name) > MAX_NAME or not name.isprintable() or any(c in name for c in ':"\\'):
        raise ValueError(
            f"{what} must be 1-{MAX_NAME} printable characters without ':', '\"' or '\\', "
            f"got {name!r}"
        )


def read_users(path: str | Path, realm: str = DEFAULT_REALM) -> dict[str, UserDigests]:
    """Name -> digests; ValueError naming the line for anything else (OSError if unreadable),
    a line of another realm too: its HA1s could never match this server's challenges."""
    users: dict[str, UserDigests] = {}
    for number, raw in enumerate(Path(path).read_text("utf-8").splitlines(), 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        fields = text.split(":")
        if len(fields) != 4 or not all(
            _is_hex(f, n) for f, n in zip(fields[2:], (32, 64), strict=True)
        ):
            raise ValueError(f"{path}:{number}: expected name:realm:md5-ha1:sha256-ha1")
        if fields[1] != realm:
            raise ValueError(f"{path}:{number}: realm {fields[1]!r}, not this server's {realm!r}")
        users[fields[0]] = UserDigests(*fields)
        if len(users) > MAX_USERS:
            raise ValueError(f"{path}: more than {MAX_USERS} users")
    return users


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and all(c in "0123456789abcdef" for c in text)


def add_user(path: str | Path, user: UserDigests) -> bool:
    """Add `user` to the file (made if missing), replacing one of that name; True if it
    replaced one. Written whole to a temporary file beside it and moved into place, mode
    0600, so a reader never sees half a file."""
    path = Path(path)
    users = read_users(path) if path.exists() else {}
    replaced = user.name in users
    users[user.name] = user
    text = "".join(entry.line() + "\n" for entry in users.values())
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return replaced
