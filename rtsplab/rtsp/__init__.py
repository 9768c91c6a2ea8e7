"""RTSP (RFC 2326): messages, their reader, headers, SDP, the state table, both sessions."""
