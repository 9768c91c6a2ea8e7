"""Network namespaces for tests that need a network of their own: multicast, above all.

    reason = netns_unavailable()          # None, or why not (for pytest.skip): not root...
    with netns("mc") as ns:               # lo up, multicast on, 224.0.0.0/4 routed to lo
        server = ns.popen([...])          # a process inside, stopped when the block ends
        done = ns.run([...], timeout=30)  # subprocess.run inside
    with linked_netns("mc") as (a, b):    # two, joined by a veth pair: a.address, b.address
        ...

A namespace has no interface but its own, so nothing a test sends there (a multicast group
included) reaches any other network. Each is named with the test process's pid and a count,
so that parallel runs never share one; it is always deleted at the end, after every process
started in it, and any process still left in it, has been stopped. Every wait is bounded.

Why two namespaces and not one: gst-rtsp-server binds a multicast stream's ports (0.0.0.0:
5000 and 5001) without SO_REUSEADDR, so no receiver on its host can bind them too; receivers
sharing a host with each other is what SO_REUSEADDR is for, and they do in `b`.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from helpers import wait_until

__all__ = ["LINK_ADDRESSES", "Netns", "linked_netns", "netns", "netns_unavailable", "stop_process"]

ROOT = Path(__file__).resolve().parent.parent
IP = "ip"
MULTICAST_ROUTE = "224.0.0.0/4"  # every IPv4 multicast group (RFC 5771)
# The veth pair's two ends: TEST-NET-1 (RFC 5737), documentation addresses no network routes,
# used only inside the two namespaces a test makes.
LINK_ADDRESSES = ("192.0.2.1", "192.0.2.2")
LINK_PREFIX = 24
LOOPBACK = "127.0.0.1"
LINK_DEVICE = "veth0"  # the same name in both namespaces: each has its own devices
COMMAND_TIMEOUT = 10.0  # seconds for one `ip` command
STOP_TIMEOUT = 5.0  # seconds after SIGTERM before SIGKILL
_counter = itertools.count()


class NetnsError(RuntimeError):
    """An `ip` command failed (the message has its stderr)."""


def _ip(*args: str) -> str:
    """Run `ip ARGS` in this namespace; its stdout, or NetnsError with its stderr."""
    try:
        done = subprocess.run([IP, *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise NetnsError(f"ip {' '.join(args)}: no answer in {COMMAND_TIMEOUT:g} s") from None
    if done.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


@functools.cache
def netns_unavailable() -> str | None:
    """None if this process can make network namespaces, else why not (to skip with)."""
    if os.geteuid() != 0:
        return "needs root to make a network namespace (ip netns add)"
    if shutil.which(IP) is None:
        return "needs iproute2's ip (apt install iproute2)"
    try:
        with netns("probe"):
            pass
    except NetnsError as exc:  # a container without CAP_SYS_ADMIN, say
        return f"cannot make a network namespace: {exc}"
    return None


class Netns:
    """One namespace: commands run inside it, and the processes started there."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.address: str | None = None  # its end of a veth pair (linked_netns)
        self._processes: list[subprocess.Popen[Any]] = []

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` to run inside the namespace."""
        return [IP, "netns", "exec", self.name, *argv]

    def ip(self, *args: str) -> str:
        """`ip ARGS` inside the namespace."""
        return _ip("-n", self.name, *args)

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start `argv` inside; it is stopped (SIGTERM, then SIGKILL) when the namespace
        goes, if it has not ended by then."""
        process = subprocess.Popen(self.command(argv), **kwargs)
        self._processes.append(process)
        return process

    def run(
        self, argv: Sequence[str], timeout: float, **kwargs: Any
    ) -> subprocess.CompletedProcess[Any]:
        """`subprocess.run(argv)` inside, within `timeout` seconds."""
        return subprocess.run(self.command(argv), timeout=timeout, **kwargs)

    def pids(self) -> list[int]:
        """Every process in the namespace, whoever started it."""
        return [int(pid) for pid in _ip("netns", "pids", self.name).split()]

    def close(self) -> None:
        """Stop what was started here, then anything still inside; then delete."""
        for process in self._processes:
            stop_process(process)
        with contextlib.suppress(NetnsError):
            for pid in self.pids():  # started by those processes, and outliving them
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        _ip("netns", "delete", self.name)

    def __repr__(self) -> str:
        return f"Netns({self.name!r}, address={self.address!r})"


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Stop `process` (SIGTERM, then SIGKILL after STOP_TIMEOUT) and close its pipes."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


@contextlib.contextmanager
def netns(tag: str = "test") -> Iterator[Netns]:
    """A new namespace with its loopback up and multicast on it, 224.0.0.0/4 routed there:
    the processes inside form a multicast group among themselves and reach nothing else."""
    ns = Netns(f"rtsplab-{tag}-{os.getpid()}-{next(_counter)}")
    _ip("netns", "add", ns.name)
    try:
        ns.ip("link", "set", "lo", "up")
        ns.ip("link", "set", "lo", "multicast", "on")
        # `src`: loopback's 127.0.0.1 is scope host, narrower than the route's scope link, so
        # without it the kernel finds no source address and multicast leaves from 0.0.0.0,
        # which no receiver can tell from anyone else's.
        ns.ip("route", "add", MULTICAST_ROUTE, "dev", "lo", "src", LOOPBACK)
        yield ns
    finally:
        ns.close()


@contextlib.contextmanager
def linked_netns(tag: str = "test") -> Iterator[tuple[Netns, Netns]]:
    """Two namespaces joined by a veth pair, LINK_ADDRESSES on its two ends, multicast on
    it and routed over it: a host each, on one link of their own."""
    with netns(f"{tag}a") as a, netns(f"{tag}b") as b:
        _ip("link", "add", LINK_DEVICE, "netns", a.name, "type", "veth",
            "peer", "name", LINK_DEVICE, "netns", b.name)  # fmt: skip
        for ns, address in zip((a, b), LINK_ADDRESSES, strict=True):
            ns.ip("address", "add", f"{address}/{LINK_PREFIX}", "dev", LINK_DEVICE)
            ns.ip("link", "set", LINK_DEVICE, "multicast", "on")
            ns.ip("link", "set", LINK_DEVICE, "up")
            ns.ip("route", "replace", MULTICAST_ROUTE, "dev", LINK_DEVICE)
            ns.address = address
        yield a, b


def netns_or_skip(tag: str) -> Iterator[Netns]:
    """A module's namespace (`netns`), or its tests skipped saying why: `yield from` it in
    a module-scoped fixture."""
    why = netns_unavailable()
    if why:
        pytest.skip(why)
    with netns(tag) as ns:
        yield ns


def bound(ns: Netns, kind: str, port: int) -> bool:
    """Whether a socket of `kind` (ss's -ltn: listening TCP, -uan: UDP) in the namespace has
    local port `port` (asked from inside)."""
    probe = ns.run(["ss", kind, f"sport = :{port}"], capture_output=True, text=True,
                   timeout=5)  # fmt: skip
    return f":{port}" in probe.stdout


@contextlib.contextmanager
def group_server(
    ns: Netns, root: Path, port: int, fps: float, group: str, *options: str,
    interface: str = LOOPBACK,
) -> Iterator[subprocess.Popen[str]]:  # fmt: skip
    """Our server in `ns`, RTSP on `port`, its files' multicast streams to `group` sent from
    `interface` (else the namespace's route to 224.0.0.0/4 sends from 0.0.0.0)."""
    server = ns.popen(
        [sys.executable, str(ROOT / "Server.py"), str(port), "--root", str(root),
         "--fps", str(fps), "--multicast", group, "--multicast-interface", interface,
         *options],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_until(lambda: bound(ns, "-ltn", port), timeout=10, what="the server")
        yield server
    finally:
        server.terminate()
        server.wait(timeout=10)
