"""How many sessions the process's limits allow, with the descriptor limit raised at start.

A unicast session holds four descriptors (its RTSP connection, its RTP and RTCP UDP sockets,
bound when it connects, and the file it plays, from SETUP on) and two threads (its RTSP
reader and its connection's writer; every session's RTCP is one loop's), a third with the
lab's impaired network on. Every wait is a poll(), which holds no descriptor. The soft
RLIMIT_NOFILE is often 1024 while the hard one is far above: the server raises the soft one
to the hard one at start (any process may, setrlimit(2)), then says how many sessions fit.

`sessions_allowed` is the arithmetic, pure; `process_limits` asks the system.
"""

from __future__ import annotations

import logging
import os
import resource
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SESSION_DESCRIPTORS = 4
SESSION_THREADS = 2
IMPAIRED_SESSION_THREADS = 3  # with the lab's impaired network: its link's thread
# Held by the server whatever its sessions: stdio, the listener, a multicast stream's three
# sockets and file, a log file, the RTCP loop's epoll and wake-up pair; and its main thread,
# the pacing loop, the RTCP loop. Kept aside before sessions are counted.
SPARE_DESCRIPTORS = 16
SPARE_THREADS = 8
THREADS_MAX = Path("/proc/sys/kernel/threads-max")


@dataclass(frozen=True)
class Limits:
    """The limits a server runs under: descriptors (soft RLIMIT_NOFILE, after raising it),
    what it was before, and threads (None: no limit that applies to this process)."""

    descriptors: int
    descriptors_before: int
    threads: int | None


def sessions_allowed(limits: Limits, threads_per_session: int = SESSION_THREADS) -> tuple[int, str]:
    """How many sessions fit in `limits`, and which limit says so."""
    by_descriptors = max(0, (limits.descriptors - SPARE_DESCRIPTORS) // SESSION_DESCRIPTORS)
    if limits.threads is None:
        return by_descriptors, "descriptors"
    by_threads = max(0, (limits.threads - SPARE_THREADS) // threads_per_session)
    if by_threads < by_descriptors:
        return by_threads, "threads"
    return by_descriptors, "descriptors"


def raise_descriptor_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard one: (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or (hard != resource.RLIM_INFINITY and soft >= hard):
        return soft, soft
    # An unlimited hard limit still has the kernel's ceiling (fs.nr_open).
    target = hard if hard != resource.RLIM_INFINITY else _nr_open(soft)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("cannot raise the descriptor limit from %d to %d: %s", soft, target, exc)
        return soft, soft
    return soft, target


def _nr_open(fallback: int) -> int:
    try:
        return int(Path("/proc/sys/fs/nr_open").read_text())
    except (OSError, ValueError):
        return fallback


def thread_limit() -> int | None:
    """The threads this process may have: the system's threads-max, and RLIMIT_NPROC (per
    user, so an upper bound) unless root, whom the kernel does not hold to it."""
    limits = []
    try:
        limits.append(int(THREADS_MAX.read_text()))
    except (OSError, ValueError):
        pass
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    if nproc != resource.RLIM_INFINITY and os.geteuid() != 0:
        limits.append(nproc)
    return min(limits) if limits else None


def process_limits() -> Limits:
    """Raise the descriptor limit, then read the limits this process runs under."""
    before, after = raise_descriptor_limit()
    return Limits(after, before, thread_limit())


def describe(limits: Limits, max_clients: int, impaired: bool = False) -> tuple[int, str]:
    """The log level and line a server says at start about its limits and --max-clients."""
    per_thread = IMPAIRED_SESSION_THREADS if impaired else SESSION_THREADS
    allowed, binding = sessions_allowed(limits, per_thread)
    raised = (
        f" (raised from {limits.descriptors_before})"
        if limits.descriptors != limits.descriptors_before
        else ""
    )
    threads = "no thread limit" if limits.threads is None else f"{limits.threads} threads"
    line = (
        f"limits: {limits.descriptors} descriptors{raised}, {threads}: room for {allowed} "
        f"sessions ({SESSION_DESCRIPTORS} descriptors and {per_thread} threads each), "
        f"--max-clients {max_clients}"
    )
    if allowed >= max_clients:
        return logging.INFO, line
    if binding == "descriptors":
        return logging.WARNING, f"{line}: the descriptor limit comes first (ulimit -Hn)"
    return logging.WARNING, f"{line}: the thread limit comes first (ulimit -u, threads-max)"
