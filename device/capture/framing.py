"""The framing check on the live camera: is the candidate's face in the picture, near
enough, centred and lit? Advice codes for the touchscreen, at most ``framing_rate`` checks
a second whoever asks, on the newest low-resolution frame (never a queue of frames)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from device.capture.base import LowresFrame
from device.config import KioskConfig
from inference.vision.faces import FaceDetector
from inference.vision.framing import FramingLimits, framing_check

#: A frame older than this is not judged (the camera stalled).
STALE_S = 2.0


class FramingService:
    def __init__(self, latest: Callable[[], LowresFrame | None],
                 detector: Callable[[], FaceDetector], rate: float) -> None:
        self._latest = latest
        self._detector_factory = detector
        self._detector: FaceDetector | None = None
        self._period = 1.0 / rate
        self._lock = threading.Lock()
        self._last: tuple[float, int, dict[str, Any]] | None = None

    def check(self) -> dict[str, Any]:
        """``{checked, ok, problems, offset}``; ``checked`` False when there is no fresh frame."""
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < self._period:
                return self._last[2]
            frame = self._latest()
            if frame is None or now - frame.t > STALE_S:
                return {"checked": False, "ok": False, "problems": [], "offset": None}
            if self._last is not None and self._last[1] == frame.seq:
                return self._last[2]
            if self._detector is None:
                self._detector = self._detector_factory()
            verdict = framing_check(frame.image, self._detector, FramingLimits())
            result = {"checked": True, "ok": verdict.ok, "problems": list(verdict.problems),
                      "offset": list(verdict.offset) if verdict.offset else None}
            self._last = (now, frame.seq, result)
            return result


def detector_factory(config: KioskConfig) -> Callable[[], FaceDetector]:
    """Load the verified face-detection model from the box's model store, on first use."""

    def load() -> FaceDetector:
        from inference.models.store import ModelFiles, ModelStore
        from inference.models.tflite import TFLiteModel

        files = ModelFiles.open(ModelStore(config.models_dir))
        return FaceDetector(TFLiteModel(files.face_detection.path, num_threads=1))

    return load
