"""Stand-in for ``picamera2.outputs`` (stand-in: no Pi camera or libcamera on this machine)."""

from __future__ import annotations


class FfmpegOutput:
    """Like the real one, ``output_filename`` is ffmpeg output options and a destination,
    split on whitespace."""

    def __init__(self, output_filename: str) -> None:
        self.output_filename = output_filename
