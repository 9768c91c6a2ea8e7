"""RTSP authentication's pure parts: Digest arithmetic against RFC 2617's and RFC 7616's
worked examples, the WWW-Authenticate/Authorization grammar, the users file, and the
server's guard (right and wrong answers, stale and forged nonces, replays, Basic only where
allowed, the throttle), cross-checked with the standard library's own Digest client."""

import base64
import os
import stat
import urllib.request

import pytest

from rtsplab.rtsp.digest import digest_response, ha1
from rtsplab.rtsp.headers.authorization import (
    Challenge,
    format_challenge,
    parse_challenges,
    parse_credentials,
)
from rtsplab.server.auth import BLOCK, MAX_FAILURES, NONCE_LIFETIME, Authenticator
from rtsplab.server.users import UserDigests, add_user, read_users

URL = "rtsp://127.0.0.1:8554/movie.Mjpeg"
SECRET = b"0123456789abcdef"


def test_digest_md5_matches_rfc_2617_section_3_5():
    user_ha1 = ha1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life")
    response = digest_response("MD5", user_ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "GET",
                               "/dir/index.html", qop="auth", nc="00000001",
                               cnonce="0a4f113b")  # fmt: skip
    assert response == "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize(
    "algorithm, expected",
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_digest_matches_rfc_7616_section_3_9_1(algorithm, expected):
    user_ha1 = ha1(algorithm, "Mufasa", "http-auth@example.org", "Circle of Life")
    response = digest_response(algorithm, user_ha1,
                               "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "GET",
                               "/dir/index.html", qop="auth", nc="00000001",
                               cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")  # fmt: skip
    assert response == expected


def test_one_header_may_hold_several_challenges_and_parameters_in_any_case():
    value = ('Digest realm="lab", nonce="a\\"b", qop="auth", algorithm=SHA-256, '
             'digest REALM="lab", nonce=x, Basic realm="lab"')  # fmt: skip
    first, second, basic = parse_challenges(value)
    assert first.params == {"realm": "lab", "nonce": 'a"b', "qop": "auth", "algorithm": "SHA-256"}
    assert (second.scheme, second.params) == ("digest", {"realm": "lab", "nonce": "x"})
    assert (basic.scheme, basic["realm"]) == ("basic", "lab")
    assert parse_credentials("Basic YWxhZGRpbjpvcGVuc2VzYW1l").token68 == "YWxhZGRpbjpvcGVuc2VzYW1l"


def test_a_challenge_formats_to_what_parses_back():
    challenge = Challenge("digest", {"realm": 'a "b"', "nonce": "n", "qop": "auth",
                                     "algorithm": "MD5", "stale": "true"})  # fmt: skip
    text = format_challenge(challenge)
    assert text == 'Digest realm="a \\"b\\"", nonce="n", qop="auth", algorithm=MD5, stale=true'
    assert parse_challenges(text) == [challenge]


@pytest.mark.parametrize(
    "value", ['realm="x"', 'Digest realm="x", =y', 'Digest realm="open', "Digest ,=", ""]
)
def test_malformed_headers_are_value_errors(value):
    with pytest.raises(ValueError):
        parse_challenges(value)


def test_the_users_file_keeps_digests_only_and_is_private(tmp_path):
    path = tmp_path / "users"
    assert add_user(path, UserDigests.from_password("alice", "secret")) is False
    assert add_user(path, UserDigests.from_password("bob", "hunter2")) is False
    assert add_user(path, UserDigests.from_password("alice", "new secret")) is True
    text = path.read_text()
    assert "secret" not in text and "hunter2" not in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    users = read_users(path)
    assert list(users) == ["alice", "bob"]
    assert users["alice"].md5 == ha1("MD5", "alice", "rtsplab", "new secret")
    assert users["alice"].sha256 == ha1("SHA-256", "alice", "rtsplab", "new secret")


@pytest.mark.parametrize(
    "line",
    ["alice:rtsplab:abc:def", "alice:rtsplab", "a:b:" + "0" * 32,
     "alice:elsewhere:" + "0" * 32 + ":" + "0" * 64],
)  # fmt: skip
def test_a_bad_users_line_is_named(tmp_path, line):
    path = tmp_path / "users"
    path.write_text(line + "\n")
    with pytest.raises(ValueError, match=r"users:1"):
        read_users(path)


@pytest.mark.parametrize("name", ["", "a:b", 'a"b', "x" * 65, "tab\there"])
def test_names_the_file_cannot_carry_are_refused(name):
    with pytest.raises(ValueError):
        UserDigests.from_password(name, "pw")


def guard(basic=False):
    users = {"alice": UserDigests.from_password("alice", "secret")}
    return Authenticator(users, SECRET, basic=basic)


def answer(guard, nonce, *, algorithm="MD5", password="secret", nc="00000001", method="DESCRIBE",
           uri=URL, user="alice"):  # fmt: skip
    user_ha1 = ha1(algorithm, user, "rtsplab", password)
    response = digest_response(algorithm, user_ha1, nonce, method, uri, qop="auth", nc=nc,
                               cnonce="c0ffee")  # fmt: skip
    return (f'Digest username="{user}", realm="rtsplab", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", algorithm={algorithm}, qop=auth, nc={nc}, '
            f'cnonce="c0ffee"')  # fmt: skip


ADDRESS = "127.0.0.2"


def check(g, authorization, now=10.0, method="DESCRIBE", address=ADDRESS):
    return g.check(method, URL, authorization, address, now)


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "MD5-sess", "SHA-256-sess"])
def test_a_right_digest_answer_is_taken_and_a_wrong_one_refused(algorithm):
    g = guard()
    nonce = g.nonce(10.0, ADDRESS)
    assert check(g, answer(g, nonce, algorithm=algorithm)).user == "alice"
    wrong = check(g, answer(g, nonce, algorithm=algorithm, password="guess", nc="00000002"))
    assert (wrong.user, wrong.status, wrong.stale) == (None, 401, False)
    unknown = check(g, answer(g, nonce, algorithm=algorithm, user="mallory", nc="00000003"))
    assert unknown.status == 401


def test_without_credentials_the_challenges_offer_sha256_then_md5_and_basic_only_if_allowed():
    assert check(guard(), None).status == 401
    schemes = [parse_challenges(v)[0] for v in guard().challenges(0.0)]
    assert [c.get("algorithm") for c in schemes] == ["SHA-256", "MD5"]
    assert all(c["qop"] == "auth" and c["realm"] == "rtsplab" for c in schemes)
    assert parse_challenges(guard(basic=True).challenges(0.0)[-1])[0].scheme == "basic"


def test_basic_is_taken_only_where_allowed():
    token = base64.b64encode(b"alice:secret").decode()
    assert check(guard(basic=True), f"Basic {token}").user == "alice"
    assert check(guard(basic=False), f"Basic {token}").status == 401
    wrong = base64.b64encode(b"alice:guess").decode()
    assert check(guard(basic=True), f"Basic {wrong}").status == 401
    assert check(guard(basic=True), "Basic !!!").status == 401


def test_a_stale_nonce_asks_for_a_retry_and_a_forged_one_is_refused():
    g = guard()
    old = g.nonce(0.0, ADDRESS)
    stale = check(g, answer(g, old), now=NONCE_LIFETIME + 1)
    assert (stale.status, stale.stale) == (401, True)
    forged = old[:12] + "0" * 32
    assert check(g, answer(g, forged)).reason == "a nonce this server did not make"
    other_process = Authenticator(g.users, b"another secret")
    assert check(g, answer(g, other_process.nonce(10.0, ADDRESS))).status == 401


def test_a_replayed_nonce_count_is_refused_and_a_growing_one_taken():
    g = guard()
    nonce = g.nonce(10.0, ADDRESS)
    assert check(g, answer(g, nonce, nc="00000001")).user == "alice"
    replayed = check(g, answer(g, nonce, nc="00000001"))
    assert (replayed.user, replayed.stale) == (None, True) and "already used" in replayed.reason
    assert check(g, answer(g, nonce, nc="00000002", method="PLAY"), method="PLAY").user == "alice"


def test_the_answer_must_be_for_this_request():
    g = guard()
    nonce = g.nonce(10.0, ADDRESS)
    assert check(g, answer(g, nonce, method="SETUP")).status == 401  # answered for SETUP
    assert check(g, answer(g, nonce, uri=URL + "x", nc="00000002")).status == 401


def test_an_address_that_keeps_failing_is_throttled_and_others_are_not():
    g = guard()
    nonce = g.nonce(10.0, ADDRESS)
    for n in range(MAX_FAILURES):
        assert check(g, answer(g, nonce, password=f"guess{n}", nc=f"{n + 1:08x}")).status == 401
    right = answer(g, nonce, nc="000000ff")
    blocked = check(g, right, now=11.0)
    assert blocked.status == 403 and "too many failed attempts" in blocked.reason
    elsewhere = answer(g, g.nonce(10.0, "127.0.0.3"))
    assert check(g, elsewhere, now=11.0, address="127.0.0.3").user == "alice"
    assert check(g, right, now=11.0, address="127.0.0.4").status == 401  # its nonce is not 4's
    later = answer(g, g.nonce(10.0 + BLOCK + 1, ADDRESS), nc="00000001")
    assert check(g, later, now=10.0 + BLOCK + 1).user == "alice"


def test_a_standard_library_digest_client_is_accepted():
    g = guard()
    manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    manager.add_password(None, "http://127.0.0.1:8554/", "alice", "secret")
    handler = urllib.request.AbstractDigestAuthHandler(manager)
    request = urllib.request.Request("http://127.0.0.1:8554/movie.Mjpeg")
    challenge = parse_challenges(g.challenges(10.0, address=ADDRESS)[1])[0]  # MD5: the library's
    header = handler.get_authorization(request, challenge.params)
    assert g.check("GET", "/movie.Mjpeg", "Digest " + header, "127.0.0.2", 10.0).user == "alice"
