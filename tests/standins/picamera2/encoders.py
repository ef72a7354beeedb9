"""Stand-in for ``picamera2.encoders`` (stand-in: no Pi camera or libcamera on this machine)."""

from __future__ import annotations


class H264Encoder:
    """Holds the settings; the stand-in camera encodes with ffmpeg's libx264 instead of the
    Pi's hardware encoder."""

    def __init__(self, bitrate: int | None = None, iperiod: int | None = None) -> None:
        self.bitrate = bitrate
        self.iperiod = iperiod
