"""The client: a pure session, its RTCP, and the driver that owns the connection."""
