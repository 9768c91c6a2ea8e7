"""Which file a request names: resolved inside the served root, never outside it.

A name comes from the request line: the lab's bare `movie.Mjpeg`, the course report's
`video/movie.Mjpeg`, or an `rtsp://host:port/path` (or `rtsps://`) URL. It is percent-decoded
once and must be a relative path of plain segments: an absolute path, a `..` segment, a
backslash or a NUL byte is refused, and so is a hidden name (a segment starting with a dot,
`.git/config`, `.env`). The resolved file (symlinks followed) must still lie inside the root,
and in no hidden folder of it, so a symlink that points out of it, or into one, is refused too.
Every refusal is a 404, as for a file that does not exist, so a client learns nothing about what
lies outside the root; a name the file system cannot resolve (a symlink loop, a segment past
NAME_MAX) is such a refusal too. Only a URL that does not parse at all (an unbalanced `[`) is a
400. Messages name the request, never a path on the server's disk.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from rtsplab.rtsp.errors import RtspError, short

# The lab keeps its movie in video/ and names it bare: both forms resolve.
SEARCH_DIRS = (".", "video")
# The stream's control URL in the SDP is the file's URL plus this (RFC 2326 C.1.1); a clip
# with sound has its audio at AUDIO_TRACK.
TRACK = "track1"
AUDIO_TRACK = "track2"
TRACKS = (TRACK, AUDIO_TRACK)
URL_SCHEMES = ("rtsp://", "rtsps://")  # a URL, over TCP or over TLS (RFC 2326 §3.2)


def request_path(uri: str) -> str:
    """The file part of a request URI: the URL's path without its leading '/' and without the
    track's control suffix, or the bare name."""
    path = urlsplit(uri).path.lstrip("/") if uri.lower().startswith(URL_SCHEMES) else uri
    path = path.rstrip("/")
    track = track_of(path)
    return path if track is None else path[: -len(track) - 1]


def track_of(uri: str) -> str | None:
    """The track a request URI names (TRACK or AUDIO_TRACK), None for the file (the
    aggregate control of both)."""
    path = uri.rstrip("/")
    return next((track for track in TRACKS if path.endswith("/" + track)), None)


def aggregate_uri(uri: str) -> str:
    """The request URI without its track: the control of every track at once."""
    path = uri.rstrip("/")
    track = track_of(path)
    return path if track is None else path[: -len(track) - 1]


def _why_unresolved(exc: Exception) -> str:
    """What the file system said, without the path it said it of."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return os.strerror(exc.errno)
    if isinstance(exc, RuntimeError):  # pathlib before 3.13 reports ELOOP so
        return "symlink loop"
    return type(exc).__name__


def resolve(root: Path, uri: str) -> Path:
    """The file `uri` names inside `root`; RtspError(400) for a URL that does not parse,
    RtspError(404) for anything else."""
    try:
        path = request_path(uri)
    except ValueError as exc:  # urlsplit: "Invalid IPv6 URL" for an unbalanced "["
        raise RtspError(400, f"malformed URL {short(uri)}: {exc}") from None
    name = unquote(path)
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\0" in name
        or any(part in ("..", "") or part.startswith(".") and part != "." for part in parts)
    ):
        raise RtspError(404, f"refused name {short(uri)}")
    real_root = root.resolve()  # outside the try: a root that does not resolve is our fault
    why = "no such file"
    for folder in SEARCH_DIRS:
        try:
            candidate = (real_root / folder / name).resolve()
            if (
                candidate.is_relative_to(real_root)
                and candidate.is_file()
                and not _hidden(candidate.relative_to(real_root))
            ):
                return candidate
        except (OSError, RuntimeError, ValueError) as exc:  # ValueError: unencodable name
            why = _why_unresolved(exc)
    raise RtspError(404, f"{why}: {short(uri)}")


def _hidden(relative: Path) -> bool:
    """A name starting with a dot anywhere in the path (.git, .env, .ssh): never served,
    whether named or reached through a symlink ("." alone is the folder itself)."""
    return any(part.startswith(".") for part in relative.parts)
