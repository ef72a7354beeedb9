"""Frames from a video file or a live source, sampled at an adaptive rate.

Sampling never stalls or queues the source: a frame that arrives before the next sampling
time is skipped (for files it is grabbed but not converted). :class:`RateController`
lowers the rate when analysing a frame takes longer than the time until the next one, or
a CPU-load reading is high, and raises it back towards the target when there is room.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

from inference.vision.errors import MediaError

DEFAULT_FPS = 5.0
_TEXT_CODECS = {b"ansi"}  # FFmpeg renders text files as video: refuse them


@dataclass(frozen=True, eq=False)
class Frame:
    """A sampled frame: seconds from the start, index in the source, BGR uint8 image."""

    t: float
    index: int
    image: npt.NDArray[np.uint8] = field(repr=False)


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video (``fps`` is None when it does not say)."""

    width: int
    height: int
    fps: float | None
    frame_count: int | None

    @property
    def duration_s(self) -> float | None:
        if self.fps is None or self.frame_count is None:
            return None
        return self.frame_count / self.fps


class RateController:
    """Adaptive sampling rate between ``min_fps`` and ``target_fps``.

    ``due(t)`` says whether a frame at ``t`` seconds should be analysed (it keeps the
    schedule, never bursting to catch up); ``report(elapsed_s, cpu_load)`` feeds back how
    long the analysis took and, optionally, the CPU load (0-1). Over budget (elapsed longer
    than the sampling period) or load >= ``high_load``: the rate drops at once to what the
    analysis can sustain, at most ``down`` x the rate. After ``patience`` calm reports in
    a row (elapsed <= ``headroom`` x period and load < ``low_load``) it rises by ``up``.
    """

    def __init__(
        self,
        target_fps: float = DEFAULT_FPS,
        *,
        min_fps: float = 1.0,
        high_load: float = 0.85,
        low_load: float = 0.6,
        down: float = 0.7,
        up: float = 1.5,
        headroom: float = 0.5,
        patience: int = 2,
    ) -> None:
        if not (math.isfinite(target_fps) and target_fps > 0):
            raise ValueError(f"target_fps must be a positive number, got {target_fps}")
        if not 0 < min_fps <= target_fps:
            raise ValueError(f"min_fps must be in (0, target_fps], got {min_fps}")
        if not (0 < down < 1 < up):
            raise ValueError("need 0 < down < 1 < up")
        self.target_fps = target_fps
        self.min_fps = min_fps
        self.high_load, self.low_load = high_load, low_load
        self.down, self.up, self.headroom, self.patience = down, up, headroom, patience
        self.rate = target_fps
        self._next: float | None = None
        self._calm = 0

    @property
    def period(self) -> float:
        return 1.0 / self.rate

    def due(self, t: float) -> bool:
        """True when a frame at ``t`` should be analysed; False means skip it."""
        if self._next is not None and t + 1e-6 < self._next:
            return False
        start = t if self._next is None else self._next
        self._next = start + self.period
        if self._next <= t:  # fell more than a period behind: resume from now
            self._next = t + self.period
        return True

    def report(self, elapsed_s: float, cpu_load: float | None = None) -> float:
        """Feed back one analysis; returns the (possibly new) rate."""
        budget = self.period
        loaded = cpu_load is not None and cpu_load >= self.high_load
        if elapsed_s > budget or loaded:
            sustainable = 0.9 / elapsed_s if elapsed_s > budget else math.inf
            self.rate = max(self.min_fps, min(self.rate * self.down, sustainable))
            self._calm = 0
        elif elapsed_s <= self.headroom * budget and (cpu_load is None or cpu_load < self.low_load):
            self._calm += 1
            if self._calm >= self.patience and self.rate < self.target_fps:
                self.rate = min(self.target_fps, self.rate * self.up)
                self._calm = 0
        else:
            self._calm = 0
        return self.rate


def probe(path: str | Path) -> VideoInfo:
    """Size, rate and length of a video file (MediaError when it cannot be opened)."""
    cap = _open(Path(path))
    try:
        return _info(cap)
    finally:
        cap.release()


def read_frames(
    path: str | Path,
    *,
    fps: float = DEFAULT_FPS,
    controller: RateController | None = None,
    max_frames: int | None = None,
) -> Iterator[Frame]:
    """Frames of a video file sampled at ``fps`` (or by ``controller``), BGR uint8.

    Timestamps come from the container's frame rate (its per-frame timestamps when it has
    none). A file that cannot be opened, or holds no decodable frame, raises MediaError
    naming it; a truncated file yields the frames before the damage and stops.
    """
    source = Path(path)
    rate = controller if controller is not None else RateController(fps)
    cap = _open(source)  # raises here, not at the first next()
    return _frames(cap, source, rate, max_frames)


def _frames(
    cap: cv2.VideoCapture, source: Path, rate: RateController, max_frames: int | None
) -> Iterator[Frame]:
    try:
        native = _info(cap).fps
        index = yielded = 0
        while max_frames is None or yielded < max_frames:
            if not cap.grab():
                break
            t = index / native if native else max(cap.get(cv2.CAP_PROP_POS_MSEC), 0.0) / 1000
            index += 1
            if not rate.due(t):
                continue
            ok, image = cap.retrieve()
            if not ok or image is None:
                break
            yielded += 1
            yield Frame(t=t, index=index - 1, image=cast("npt.NDArray[np.uint8]", image))
        if yielded == 0 and max_frames != 0:
            raise MediaError(f"no decodable video frame in {source}")
    finally:
        cap.release()


def sample(
    frames: Iterable[tuple[float, npt.NDArray[np.uint8]]], controller: RateController
) -> Iterator[Frame]:
    """Sampled frames of a live source of ``(t, image)``: skips those not due, so a slow
    consumer drops frames instead of queueing them."""
    for index, (t, image) in enumerate(frames):
        if controller.due(t):
            yield Frame(t=t, index=index, image=image)


def _open(path: Path) -> cv2.VideoCapture:
    if not path.is_file():
        raise MediaError(f"video file not found: {path}")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise MediaError(
            f"cannot open video {path}: not a readable video file "
            "(corrupt, truncated or unsupported format)"
        )
    code = int(cap.get(cv2.CAP_PROP_FOURCC))
    if bytes((code >> shift) & 0xFF for shift in (0, 8, 16, 24)) in _TEXT_CODECS:
        cap.release()
        raise MediaError(f"cannot open video {path}: it is a text file, not a video")
    return cap


def _info(cap: cv2.VideoCapture) -> VideoInfo:
    fps = cap.get(cv2.CAP_PROP_FPS)
    count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    return VideoInfo(
        width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        fps=float(fps) if math.isfinite(fps) and 1 <= fps <= 1000 else None,
        frame_count=int(count) if math.isfinite(count) and count > 0 else None,
    )


__all__ = ["DEFAULT_FPS", "Frame", "RateController", "VideoInfo", "probe", "read_frames", "sample"]
