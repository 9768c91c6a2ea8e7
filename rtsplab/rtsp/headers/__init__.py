"""RTSP header values, each as a parse/format pair."""
