"""The low-resolution stream every camera backend offers: the newest picture in one slot,
made small only when someone asks for it, and its JPEG for the live preview.

Sampling never queues: the slot is overwritten by each new picture, and the work of
shrinking (or colour-converting) and JPEG-encoding is done at most once per picture, and
only for the pictures analysis or a preview viewer actually takes.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from device.capture.base import LowresFrame

#: JPEG quality of the preview (small enough for a steady MJPEG stream on the box).
JPEG_QUALITY = 70

Image = npt.NDArray[np.uint8]


def encode_jpeg(image: Image, quality: int = JPEG_QUALITY) -> bytes:
    """One BGR picture as JPEG bytes."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot encode a {image.shape} picture as JPEG")
    return bytes(data.tobytes())


def resize(image: Image, size: tuple[int, int], shrink: bool = True) -> Image:
    """``image`` scaled to ``size`` (width, height): area averaging to shrink, bilinear
    to grow."""
    mode = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(image, size, interpolation=mode), dtype=np.uint8)


def lowres_size(width: int, height: int, analysis_width: int) -> tuple[int, int]:
    """(width, height) of the low-resolution stream: ``analysis_width`` wide, the source's
    aspect ratio, both even."""
    w = max(2, analysis_width - analysis_width % 2)
    h = max(2, round(w * height / width / 2) * 2)
    return w, h


class LatestFrame:
    """The newest picture of a camera and its low-resolution copy, made on demand.

    ``to_lowres`` turns a raw picture (as the backend delivers it) into the small BGR
    picture; it runs at most once per picture, outside the lock.
    """

    def __init__(self, to_lowres: Callable[[Any], Image], quality: int = JPEG_QUALITY) -> None:
        self._to_lowres = to_lowres
        self.quality = quality
        self.converted = 0
        self.encoded = 0
        self._lock = threading.Lock()
        self._raw: Any = None
        self._t = 0.0
        self._seq = 0
        self._small: LowresFrame | None = None
        self._jpeg: tuple[int, bytes] | None = None
        self._jpeg_lock = threading.Lock()

    @property
    def seq(self) -> int:
        return self._seq

    def put(self, raw: Any, t: float) -> int:
        """Keep ``raw`` as the newest picture (captured at monotonic time ``t``)."""
        with self._lock:
            self._seq += 1
            self._raw, self._t = raw, t
            return self._seq

    def clear(self) -> None:
        """Forget the pictures of a closed device (the sequence keeps counting up)."""
        with self._lock:
            self._raw, self._small = None, None

    def latest(self) -> LowresFrame | None:
        with self._lock:
            raw, t, seq, small = self._raw, self._t, self._seq, self._small
        if raw is None:
            return None
        if small is not None and small.seq == seq:
            return small
        frame = LowresFrame(image=self._to_lowres(raw), t=t, seq=seq)
        with self._lock:
            self.converted += 1
            if self._small is None or self._small.seq < seq:
                self._small = frame
        return frame

    def jpeg(self) -> tuple[int, bytes] | None:
        """``(seq, jpeg)`` of the newest picture, encoded once per picture."""
        frame = self.latest()
        if frame is None:
            return None
        with self._jpeg_lock:
            if self._jpeg is not None and self._jpeg[0] >= frame.seq:
                return self._jpeg  # this picture (or a newer one) is encoded already
            self._jpeg = (frame.seq, encode_jpeg(frame.image, self.quality))
            self.encoded += 1
            return self._jpeg


class RateMeter:
    """Pictures per second over the last few seconds."""

    def __init__(self, window_s: float = 3.0) -> None:
        self.window_s = window_s
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def tick(self, t: float) -> None:
        with self._lock:
            self._times.append(t)
            while self._times and t - self._times[0] > self.window_s:
                self._times.popleft()

    def rate(self) -> float | None:
        with self._lock:
            times = list(self._times)
        if len(times) < 2 or time.monotonic() - times[-1] > self.window_s:
            return None
        return (len(times) - 1) / (times[-1] - times[0]) if times[-1] > times[0] else None
