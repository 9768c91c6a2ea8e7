"""The server's limits at start: the soft descriptor limit raised to the hard one, and how
many sessions the limits hold said beside --max-clients, in a real Server.py process."""

import logging
import re
import resource
import subprocess
import sys

import pytest

from conftest import ROOT
from rtsplab.server.limits import (
    SESSION_DESCRIPTORS,
    SPARE_DESCRIPTORS,
    SPARE_THREADS,
    Limits,
    describe,
    sessions_allowed,
)

START_TIMEOUT = 20.0
SESSIONS = re.compile(r"limits: (\d+) descriptors.*room for (\d+) sessions")


def start_server(soft, hard, *extra):
    """Server.py on a free port, its descriptor limit (soft, hard) set before it starts;
    (the process, its first lines up to the one about its limits)."""

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    process = subprocess.Popen(
        [sys.executable, str(ROOT / "Server.py"), "0", "--root", str(ROOT / "video"), *extra],
        stderr=subprocess.PIPE, text=True, preexec_fn=limit,
    )  # fmt: skip
    lines = []
    assert process.stderr is not None
    for _ in range(20):  # the limits are among the first lines the server says
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        if SESSIONS.search(line):
            break
    return process, lines


def soft_nofile(pid):
    with open(f"/proc/{pid}/limits") as limits:
        for line in limits:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError("no descriptor limit in /proc")


@pytest.fixture
def hard():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard < 2048:
        pytest.skip(f"the hard descriptor limit here is {hard}: nothing to raise the soft to")
    return hard


def test_a_low_soft_limit_is_raised_to_the_hard_one_and_said(hard):
    process, lines = start_server(256, hard)
    try:
        found = SESSIONS.search(lines[-1])
        assert found, lines
        assert int(found.group(1)) == hard
        assert "(raised from 256)" in lines[-1]
        assert soft_nofile(process.pid) == hard
        assert int(found.group(2)) >= (hard - SPARE_DESCRIPTORS) // SESSION_DESCRIPTORS - 1
        assert "INFO" in lines[-1]  # 256 clients fit
    finally:
        process.terminate()
        process.wait(timeout=START_TIMEOUT)


def test_a_low_hard_limit_says_how_many_sessions_fit_and_warns_past_max_clients():
    process, lines = start_server(200, 200, "--max-clients", "100")
    try:
        found = SESSIONS.search(lines[-1])
        assert found, lines
        assert (int(found.group(1)), int(found.group(2))) == (200, 46)  # (200 - 16) // 4
        assert "raised" not in lines[-1]
        assert "WARNING" in lines[-1] and "--max-clients 100" in lines[-1]
        assert "descriptor limit comes first" in lines[-1]
        assert soft_nofile(process.pid) == 200
    finally:
        process.terminate()
        process.wait(timeout=START_TIMEOUT)


@pytest.mark.parametrize(
    ("descriptors", "threads", "per", "expected"),
    [
        (1024, None, 3, (252, "descriptors")),
        (16, None, 3, (0, "descriptors")),
        (10, None, 3, (0, "descriptors")),
        (100_000, 3008, 3, (1000, "threads")),
        (100_000, 4008, 4, (1000, "threads")),
        (1024, 1_000_000, 3, (252, "descriptors")),
    ],
)
def test_sessions_allowed_is_the_tighter_of_the_two_limits(descriptors, threads, per, expected):
    assert SPARE_THREADS == 8 and SPARE_DESCRIPTORS == 16
    assert sessions_allowed(Limits(descriptors, descriptors, threads), per) == expected


def test_the_impaired_network_counts_its_thread():
    limits = Limits(100_000, 1024, 2 * 1000 + SPARE_THREADS)
    assert "room for 1000 sessions" in describe(limits, 1000)[1]
    level, line = describe(limits, 1000, impaired=True)
    assert "room for 666 sessions" in line and "thread limit comes first" in line
    assert level == logging.WARNING  # 1000 clients do not fit
