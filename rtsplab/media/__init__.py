"""Making MJPEG clips for the lab: the moving test picture (picture), clip files in the lab's
and the raw MJPEG format (clip_file), and conversion of real videos with ffmpeg (ffmpeg).
MakeVideo.py is their command line."""

from rtsplab.errors import LabError


class MakeVideoError(LabError, ValueError):
    """A clip or conversion that cannot be made as asked."""


class FfmpegNotFound(MakeVideoError):
    """ffmpeg is needed (convert) and not on PATH."""
