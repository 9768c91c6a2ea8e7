"""A busy server's descriptors are numbered above 1023, where select() cannot watch them: its
connections must play there as anywhere (the server waits with poll)."""

import logging
import os
import resource

import pytest

from conftest import ROOT, frame_hashes, open_fds, run_client, running_server, wait_until
from rtsplab.server.rtcp_loop import RTCP_LOOP
from ServerWorker import ServerWorker

SELECT_LIMIT = 1024  # FD_SETSIZE: select() takes descriptors 0 to 1023 only
ABOVE = SELECT_LIMIT + 100  # every descriptor below this is taken while the test runs
HEADROOM = 1000  # what the server, the client's pipes and pytest open beside


@pytest.fixture
def low_descriptors_taken():
    """Every descriptor below ABOVE held open, so whatever opens next is numbered above
    it; the soft limit raised for that if it must be (the hard limit allowing)."""
    # The RTCP loop's thread, ending once an earlier test's last session has, frees its
    # descriptors: let it go first, or the next socket could take one of them.
    wait_until(lambda: RTCP_LOOP.thread is None, what="an earlier test's RTCP loop to end")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = ABOVE + HEADROOM
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"RLIMIT_NOFILE's hard limit {hard} is below {need}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    held = []
    try:
        while (fd := os.open(os.devnull, os.O_RDONLY)) < ABOVE:
            held.append(fd)
        os.close(fd)
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def record_descriptors(monkeypatch, seen):
    """Each worker's RTSP connection and UDP pair, by descriptor number."""
    real = ServerWorker.__init__

    def init(self, *args, **kwargs):
        real(self, *args, **kwargs)
        sockets = (self.connection, self.rtp_socket, self.rtcp_socket)
        seen.append(tuple(sock.fileno() for sock in sockets))

    monkeypatch.setattr(ServerWorker, "__init__", init)


@pytest.mark.parametrize("how", ["lab", "standard UDP", "standard TCP"])
def test_a_session_on_descriptors_above_1023_plays_whole(
    low_descriptors_taken, monkeypatch, caplog, tmp_path, how
):
    seen = []
    record_descriptors(monkeypatch, seen)
    saved = tmp_path / "out.mjpeg"
    extra = ["--tcp"] if how == "standard TCP" else []
    with running_server(ROOT, fps=200) as server:
        fds_before = open_fds()
        name = "movie.Mjpeg" if how == "lab" else f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg"
        with caplog.at_level(logging.INFO):
            code, summary, err = run_client(server.port, name, "--save", str(saved), *extra)
        assert code == 0, err
        wait_until(lambda: not server.active_workers())
        wait_until(lambda: open_fds() <= fds_before)  # nothing left open up there either
    assert seen and all(fd >= SELECT_LIMIT for fd in seen[0])
    assert summary["frames"] == 200 and summary["lost_packets"] == 0
    if how == "lab":
        assert frame_hashes(saved) == frame_hashes(ROOT / "video" / "movie.Mjpeg")
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [m for m in failures if "RTCP failed" not in m], failures
    if failures:
        pytest.xfail("the RTCP thread still waits with select(): " + "; ".join(failures))
