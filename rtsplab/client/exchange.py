"""One request and its reply on the RTSP connection, for the connection's owner thread: the
request sent, its reply awaited (replies to older requests skipped), the reply's numbers
checked (`reply_bounds`), and handed to the session.

A server that wants credentials answers 401 (RFC 2326 §12.5): with a `ClientAuth` the request
is signed and sent again, and once more if the server says only the nonce was stale; every
later request is signed from the start. Without credentials, or with refused ones, the 401 is
the session's refusal like any other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from rtsplab.client.auth import ClientAuth
from rtsplab.client.channel import LAB_REPLY_QUIET, ClientChannel
from rtsplab.client.reply_bounds import check_reply
from rtsplab.client.session import ClientSession
from rtsplab.errors import ClientError
from rtsplab.rtsp.headers.authorization import redacted
from rtsplab.rtsp.message import RtspRequest, RtspResponse

log = logging.getLogger(__name__)
dialogue = logging.getLogger("rtsp")  # the lab's verbose dialogue, shown with -v

UNAUTHORIZED = 401
AUTH_TRIES = 3  # the request, signed once, and once more after a stale nonce


def exchange(
    channel: ClientChannel, session: ClientSession, build: Callable[[float], RtspRequest],
    timeout: float, auth: ClientAuth | None,
) -> tuple[RtspResponse, float]:  # fmt: skip
    """The session's reply to the request `build(now)` makes, and when it came. Raises
    ClientError (the session's refusal, a bad reply, no reply), ConnectionClosed, OSError;
    after any of them the session awaits no reply."""
    for _ in range(AUTH_TRIES):
        request = build(time.monotonic())
        signature = None if auth is None else auth.authorization(request.method, request.uri)
        if signature is not None:
            request.headers["Authorization"] = signature
        try:
            reply = _sent_and_answered(channel, session, request, timeout)
        except (OSError, ClientError):
            session.abandon()
            raise
        if reply.status == UNAUTHORIZED and auth is not None:
            why = auth.answer_401(reply.headers.get_all("WWW-Authenticate"))
            if why is None:
                session.unanswered()
                continue
            log.info("%s", why)
        elif auth is not None:
            auth.accepted()
        replied_at = time.monotonic()
        return session.receive(reply, replied_at), replied_at
    session.unanswered()
    raise ClientError(f"the server kept answering 401 to {request.method}")


def _sent_and_answered(
    channel: ClientChannel, session: ClientSession, request: RtspRequest, timeout: float
) -> RtspResponse:
    data = request.encode()
    if dialogue.isEnabledFor(logging.DEBUG):
        dialogue.debug("Data sent:\n%s", redacted(data.decode("utf-8", "replace")))
    quiet = LAB_REPLY_QUIET if session.reply_may_end_quietly else None
    channel.send(data, timeout)

    def is_ours(reply: RtspResponse) -> bool:
        if dialogue.isEnabledFor(logging.DEBUG):
            dialogue.debug("Reply received:\n%s", reply.encode().decode("utf-8", "replace"))
        if not session.is_reply(reply):
            log.info("ignoring a reply to CSeq %s (waiting for %d)", reply.cseq, session.cseq)
            return False
        return True

    reply = channel.await_reply(request.method, is_ours, timeout, quiet)
    check_reply(request.method, reply)
    return reply
