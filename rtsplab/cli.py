"""What the lab's programs share on the command line: argparse types, the logging that `-v`
turns up to the lab's RTSP dialogue, and a free loopback port for a local run."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from collections.abc import Callable

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high` (no bound above when None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bound = f"{low} or more" if high is None else f"{low}..{high}"
            raise argparse.ArgumentTypeError(f"{text}: must be {bound}")
        return value

    return parse


def positive(text: str) -> float:
    """An argparse type: a number above 0 (a frame rate, a duration)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text}: must be positive")
    return value


def setup_logging(verbose: bool, quiet_level: int = logging.WARNING) -> None:
    """Log to stderr: everything with -v (the RTSP dialogue included), else `quiet_level`."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else quiet_level, format=LOG_FORMAT, stream=sys.stderr
    )


def free_port(kind: int = socket.SOCK_DGRAM, host: str = "127.0.0.1") -> int:
    """A port nothing on `host` uses right now (it may be taken again before it is used)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
