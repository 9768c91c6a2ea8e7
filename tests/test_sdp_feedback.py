"""The SDP's offer of loss repair (RFC 4585 §4.2 NACK feedback, RFC 4588 retransmission):
the exact lines we write, and what a client reads from ours and from gst-rtsp-server's."""

import pytest

from rtsplab.rtsp.sdp import AVPF, make_sdp, parse_sdp
from test_sdp import HD_ARGS, HD_SDP

HD_FEEDBACK_SDP = HD_SDP.replace(
    "m=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\n",
    "m=video 0 RTP/AVPF 26 97\r\n"
    "a=rtpmap:26 JPEG/90000\r\n"
    "a=rtcp-fb:26 nack\r\n"  # generic NACKs for the JPEG stream
    "a=rtpmap:97 rtx/90000\r\n"  # retransmission packets, payload type 97
    "a=fmtp:97 apt=26;rtx-time=1000\r\n",  # of type 26, kept a second
)

# gst-rtsp-server with retransmission on (set_retransmission_time 1000 ms, AVPF profile)
GST_AVPF_MEDIA = (
    "m=video 0 RTP/AVPF 26 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtpmap:26 JPEG/90000\r\n"
    "a=rtcp-fb:26 nack\r\n"
    "a=rtcp-fb:26 nack pli\r\n"
    "a=rtpmap:96 rtx/90000\r\n"
    "a=fmtp:96 apt=26;rtx-time=1000\r\n"
    "a=control:stream=0\r\n"
)


def test_the_offer_is_written_exactly():
    assert make_sdp(**HD_ARGS, rtx_time_ms=1000) == HD_FEEDBACK_SDP
    assert make_sdp(**HD_ARGS) == HD_SDP  # not offered: plain RTP/AVP as before


def test_a_client_reads_the_offer_from_ours_and_gstreamers():
    (ours,) = parse_sdp(HD_FEEDBACK_SDP).media
    assert (ours.rtp_profile, ours.nack(26), ours.rtx_for(26)) == (AVPF, True, (97, 1000))
    (gst,) = parse_sdp("v=0\r\ns=x\r\nt=0 0\r\n" + GST_AVPF_MEDIA).media
    assert (gst.nack(26), gst.rtx_for(26), gst.rtx_for(97)) == (True, (96, 1000), None)
    (plain,) = parse_sdp(HD_SDP).media
    assert (plain.nack(26), plain.rtx_for(26)) == (False, None)


def test_nack_for_every_type_and_an_rtx_without_a_time():
    (media,) = parse_sdp(
        "v=0\r\nm=video 0 RTP/AVPF 26 99\r\na=rtcp-fb:* nack\r\n"
        "a=rtpmap:99 rtx/90000\r\na=fmtp:99 apt=26\r\n"
    ).media
    assert media.nack(26) and media.rtx_for(26) == (99, None)


@pytest.mark.parametrize("bad", [0, -5, 1.5])
def test_a_bad_rtx_time_is_refused(bad):
    with pytest.raises(ValueError, match="rtx-time"):
        make_sdp(**HD_ARGS, rtx_time_ms=bad)
