"""Which file a request names: resolved inside the served root, never outside it.

A name comes from the request line: the lab's bare `movie.Mjpeg`, the course report's
`video/movie.Mjpeg`, or an `rtsp://host:port/path` URL. It is percent-decoded once and must be
a relative path of plain segments: an absolute path, a `..` segment, a backslash or a NUL byte
is refused. The resolved file (symlinks followed) must still lie inside the root, so a symlink
that points out of it is refused too. Every refusal is a 404, as for a file that does not
exist, so a client learns nothing about what lies outside the root.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from rtsplab.rtsp.errors import RtspError

# The lab keeps its movie in video/ and names it bare: both forms resolve.
SEARCH_DIRS = (".", "video")
# The stream's control URL in the SDP is the file's URL plus this (RFC 2326 C.1.1).
TRACK = "track1"


def request_path(uri: str) -> str:
    """The file part of a request URI: the URL's path without its leading '/' and without the
    track's control suffix, or the bare name."""
    path = urlsplit(uri).path.lstrip("/") if uri.lower().startswith("rtsp://") else uri
    path = path.rstrip("/")
    if path.endswith("/" + TRACK):
        path = path[: -len(TRACK) - 1]
    return path


def resolve(root: Path, uri: str) -> Path:
    """The file `uri` names inside `root`; RtspError(404) for anything else."""
    name = unquote(request_path(uri))
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\0" in name
        or any(part in ("..", "") for part in parts)
    ):
        raise RtspError(404, f"refused name {uri!r}")
    real_root = root.resolve()
    for folder in SEARCH_DIRS:
        candidate = (real_root / folder / name).resolve()
        if candidate.is_relative_to(real_root) and candidate.is_file():
            return candidate
    raise RtspError(404, f"no such file {uri!r}")
