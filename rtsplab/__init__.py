"""Everything beside the lab's own files: the RTSP/RTP stack, by protocol, and the two halves
built on it.

    rtp/      RTP sender, receiver, reception statistics (RFC 3550 A.1/A.3/A.8), pacer, ports
    payload/  JPEG structure, the lab's whole-JPEG fragments, RFC 2435 (rfc2435/)
    rtcp/     RTCP packets (one module each), the report timer and member table, the one
              RTCP engine both halves use (endpoint), its two roles (session)
    rtsp/     messages, readers, headers, SDP, the state table: the protocol, no session
    server/   the server's pure session, its channel and writer, its RTCP driver, the pacing
              loop, the payload cache and the multicast streams
    client/   the client's pure session, its channel, its RTCP driver, the driver that owns
              the connection, and multicast reception
    player/   the frame buffer, the decoder and the statistics panel of the Tk player
    media/    making clips for the lab: the test picture, the file formats, ffmpeg conversion

The lab's files at the top (`RtpPacket`, `VideoStream`...) are the lab's real code: the
package uses `RtpPacket` for every RTP header and `VideoStream` for every file. Imports go
one way: server and client use rtsp, rtcp, rtp and payload, never each other; player uses
client and rtsp; rtsp and rtcp use rtp; rtp and media use payload; nothing here imports the
lab's servers or clients.
"""
