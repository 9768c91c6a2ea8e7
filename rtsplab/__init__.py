"""Everything beside the lab's own files: the RTSP/RTP stack, by protocol.

    rtp/      RTP sender, receiver, reception statistics (RFC 3550 A.1/A.3/A.8), pacer, ports
    payload/  JPEG structure, the lab's whole-JPEG fragments, RFC 2435 (rfc2435/)
    rtcp/     RTCP packets (one module each), report timing, each side's session
    rtsp/     messages, reader, headers, SDP, the state table, the server's session, the client
    player/   the frame cache, the decoder and the statistics panel of the Tk player

The lab's files at the top (`RtpPacket`, `VideoStream`...) are the lab's real code: the
package uses `RtpPacket` for every RTP header and `VideoStream` for every file. Imports go
one way: rtsp and player use rtcp, rtp and payload; rtcp uses rtp; nothing here imports the
lab's servers or clients.
"""
