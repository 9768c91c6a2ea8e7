"""A file's multicast stream (rtsplab.server.multicast) that cannot be made: whatever it
opened is closed again, and the file holds no port. No group is joined: the failures come
before, or are made to."""

import pytest

from conftest import open_fds
from MakeVideo import make_clip
from rtsplab.server import multicast
from rtsplab.server.multicast import MulticastStreams
from rtsplab.server.session import MulticastConfig, StreamConfig
from rtsplab.server.stream import Streaming

GROUP = "239.255.12.42"
NOT_OURS = "192.0.2.123"  # TEST-NET-1 (RFC 5737): no interface of this host has it


@pytest.fixture
def clips(tmp_path):
    for name in ("a.mjpeg", "b.mjpeg"):
        make_clip(tmp_path / name, 64, 48, 5, fmt="mjpeg")
    return tmp_path


def streams(root, interface):
    config = StreamConfig(root, 20.0, multicast=MulticastConfig(GROUP, 5004, 1, interface))
    return MulticastStreams(config, Streaming(), "127.0.0.1")


def test_an_interface_not_ours_fails_the_join_and_leaks_nothing(clips):
    groups = streams(clips, NOT_OURS)
    before = open_fds()
    with pytest.raises(OSError):
        groups.join(clips / "a.mjpeg")  # the file opened, then its first socket failed
    assert open_fds() <= before
    assert groups._ports == {} and groups._streams == {}


def test_a_later_step_failing_closes_the_file_and_the_sockets_and_frees_the_port(
    clips, monkeypatch
):
    groups = streams(clips, "127.0.0.1")
    groups._ports[clips / "b.mjpeg"] = 5004  # another file streamed before holds the first

    def no_group(*args, **kwargs):
        raise OSError("cannot join the group")

    monkeypatch.setattr(multicast, "bind_multicast_socket", no_group)
    before = open_fds()
    with pytest.raises(OSError, match="cannot join"):
        groups.join(clips / "a.mjpeg")  # after the file and two sockets were opened
    assert open_fds() <= before
    assert groups._ports == {clips / "b.mjpeg": 5004}
    assert groups._port(clips / "c.mjpeg") == 5006  # the lowest free pair, none taken twice
