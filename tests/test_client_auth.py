"""The client's answers to a 401 (rtsplab.client.auth), checked by the server's guard: the
strongest scheme picked, every request signed with a fresh nonce count, a stale nonce
retried without an error, wrong credentials given up after one retry, Basic only when it is
all that is offered."""

import base64

import pytest

from rtsplab.client.auth import ClientAuth, Login, pick
from rtsplab.rtsp.headers.authorization import Challenge, parse_challenges, parse_credentials
from rtsplab.server.auth import NONCE_LIFETIME, Authenticator
from rtsplab.server.users import UserDigests

URL = "rtsp://127.0.0.1:8554/movie.Mjpeg"


def server(basic=False):
    return Authenticator({"alice": UserDigests.from_password("alice", "secret")}, b"k" * 16,
                         basic=basic)  # fmt: skip


def test_the_strongest_offer_is_picked():
    offers = parse_challenges('Basic realm="r", Digest realm="r", nonce="1", algorithm=MD5, '
                              'Digest realm="r", nonce="2", algorithm=SHA-256')  # fmt: skip
    assert pick(offers)["nonce"] == "2"
    assert pick(offers[:2])["nonce"] == "1"
    assert pick(offers[:1]).scheme == "basic"
    assert pick([Challenge("negotiate")]) is None


@pytest.mark.parametrize("basic", [False, True])
def test_every_request_is_signed_and_accepted(basic):
    guard, client = server(basic), ClientAuth(Login("alice", "secret"))
    assert client.authorization("DESCRIBE", URL) is None  # nobody asked yet
    assert client.answer_401(guard.challenges(1.0, address="127.0.0.2")) is None
    for method in ("DESCRIBE", "SETUP", "PLAY", "PAUSE", "PLAY", "TEARDOWN"):
        verdict = guard.check(method, URL, client.authorization(method, URL), "127.0.0.2", 2.0)
        assert verdict.user == "alice", verdict.reason
    sent = parse_credentials(client.authorization("OPTIONS", URL))
    assert (sent["algorithm"], sent["qop"], sent["nc"]) == ("SHA-256", "auth", "00000007")


def test_basic_when_it_is_all_the_server_offers():
    client = ClientAuth(Login("alice", "s3cr:t"))
    assert client.answer_401(['Basic realm="cam"']) is None
    token = parse_credentials(client.authorization("DESCRIBE", URL)).token68
    assert base64.b64decode(token) == b"alice:s3cr:t"


def test_a_stale_nonce_is_answered_again_and_wrong_credentials_are_given_up():
    guard, client = server(), ClientAuth(Login("alice", "secret"))
    client.answer_401(guard.challenges(0.0, address="127.0.0.2"))
    late = NONCE_LIFETIME + 5
    stale = guard.check("PLAY", URL, client.authorization("PLAY", URL), "127.0.0.2", late)
    assert stale.stale
    assert client.answer_401(guard.challenges(late, stale=True, address="127.0.0.2")) is None
    assert guard.check("PLAY", URL, client.authorization("PLAY", URL), "127.0.0.2", late).user
    wrong = ClientAuth(Login("alice", "guess"))
    assert wrong.answer_401(guard.challenges(1.0, address="127.0.0.2")) is None
    assert guard.check("PLAY", URL, wrong.authorization("PLAY", URL), "127.0.0.2", 1.0).user is None
    assert "refused the credentials of 'alice'" in wrong.answer_401(
        guard.challenges(1.0, address="127.0.0.2")
    )


def test_an_offer_not_spoken_here_is_said():
    reason = ClientAuth(Login("a")).answer_401(["Negotiate", "NTLM"])
    assert "negotiate, ntlm" in reason


def test_the_password_never_shows_in_a_repr():
    assert "secret" not in repr(Login("alice", "secret"))


def test_basic_is_not_answered_where_the_connection_is_not_known_to_be_the_server():
    client = ClientAuth(Login("alice", "secret"), basic=False)  # plain rtsp:// or --insecure
    why = client.answer_401(['Basic realm="cam"'])
    assert "over rtsps://" in why and client.authorization("DESCRIBE", URL) is None
