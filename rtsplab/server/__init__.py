"""The server: a pure session per RTSP connection, its RTCP, and the sending engine."""
