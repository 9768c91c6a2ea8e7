"""RTSP's errors: the status codes of RFC 2326 §7.1.1 and the error that carries one.

`RtspError` is what a request that cannot be served raises: the server answers it with its
status, its reason phrase and, where the request's CSeq could be read, that CSeq. The client
reads a malformed reply as `rtsplab.rtsp.reader.RtspProtocolError`.
"""

from __future__ import annotations

from rtsplab.errors import PeerError

# RFC 2326 §7.1.1, with its recommended reason phrases as written there.
STATUS_REASONS: dict[int, str] = {
    100: "Continue",
    200: "OK",
    201: "Created",
    250: "Low on Storage Space",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    303: "See Other",
    304: "Not Modified",
    305: "Use Proxy",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Time-out",
    410: "Gone",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Large",
    415: "Unsupported Media Type",
    451: "Parameter Not Understood",
    452: "Conference Not Found",
    453: "Not Enough Bandwidth",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    456: "Header Field Not Valid for Resource",
    457: "Invalid Range",
    458: "Parameter Is Read-Only",
    459: "Aggregate operation not allowed",
    460: "Only aggregate operation allowed",
    461: "Unsupported transport",
    462: "Destination unreachable",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Time-out",
    505: "RTSP Version not supported",
    551: "Option not supported",
}


def reason_phrase(status: int) -> str:
    """The RFC 2326 reason phrase for `status`, or "Unknown Status"."""
    return STATUS_REASONS.get(status, "Unknown Status")


def short(text: str | bytes, limit: int = 60) -> str:
    """repr() of untrusted input, cut so that error messages and logs stay small."""
    shown = repr(text[:limit])
    return shown + "..." if len(text) > limit else shown


class RtspError(PeerError):
    """A request the server must answer with `status` instead of serving it.

    `reason` is the phrase from STATUS_REASONS, `message` says what was wrong, and `cseq`
    is the request's CSeq when it could be read, so that even a 400 can echo it.
    str(): "455 Method Not Valid in This State: PLAY before SETUP".
    """

    def __init__(self, status: int, message: str = "", cseq: int | None = None) -> None:
        super().__init__(status, message, cseq)
        self.status = status
        self.reason = reason_phrase(status)
        self.message = message
        self.cseq = cseq

    def __str__(self) -> str:
        head = f"{self.status} {self.reason}"
        return f"{head}: {self.message}" if self.message else head

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.message!r}, cseq={self.cseq})"
