"""The command-line types the programs share: a clear error for every bad value."""

import argparse
import socket

import pytest

import ClientLauncher
from rtsplab.cli import free_port, int_in, positive


def test_int_in_takes_its_bounds_and_refuses_beyond_them():
    mtu = int_in(200, 65507)
    assert (mtu("200"), mtu("65507")) == (200, 65507)
    for bad, message in (("199", "must be 200..65507"), ("65508", "must be 200..65507"),
                         ("1.5", "not a whole number"), ("", "not a whole number")):  # fmt: skip
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            mtu(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="must be 1 or more"):
        int_in(1)("0")
    assert int_in(0)("123456789") == 123456789


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "x"])
def test_positive_refuses_what_is_not_a_positive_number(bad):
    with pytest.raises(argparse.ArgumentTypeError):
        positive(bad)


def test_positive_takes_fractions():
    assert positive("29.97") == 29.97


def test_a_free_port_can_be_bound():
    port = free_port(socket.SOCK_STREAM)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        assert s.getsockname()[1] == port


@pytest.mark.parametrize(
    "argv, message",
    [
        (["h", "554", "70000", "movie.Mjpeg"], "must be 1024..65534"),
        (["h", "554", "65535", "movie.Mjpeg"], "RTCP takes the next port"),
        (["h", "554", "80", "movie.Mjpeg"], "must be 1024..65534"),
        (["h", "554", "-2", "movie.Mjpeg"], "must be 0 or more"),
        (["h", "70000", "25000", "movie.Mjpeg"], "must be 1..65535"),
    ],
)
def test_the_client_refuses_a_port_it_cannot_bind_with_a_message(argv, message, capsys):
    """A port out of range used to reach the socket and end in an OverflowError."""
    with pytest.raises(SystemExit):
        ClientLauncher.parse_args(argv)
    assert message in capsys.readouterr().err


def test_the_client_takes_the_rtp_ports_it_can_bind():
    for port in (0, 1024, 25000, 65534):
        assert ClientLauncher.parse_args(["h", "554", str(port), "movie.Mjpeg"]).rtp_port == port
