"""Activity of a skill demonstration, from motion between sampled frames.

Motion energy between two frames is the share of pixels that changed: both frames are
shrunk by an integer factor to about 80 pixels wide (area averaging, which also evens out
sensor noise), turned to grayscale, and a pixel counts as changed when its value moved by
more than ``noise`` levels. 0 is a still picture, 1 a wholly changed one; a hand moving in
a 640x480 picture typically gives 0.01-0.1.

An idle period is a run of intervals with energy below ``idle_threshold`` lasting at least
``min_idle_s``, from the last frame before the run to its last frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

import cv2
import numpy as np
import numpy.typing as npt

from inference.findings import ActivityPoint, ActivitySummary, Pause
from inference.vision.errors import check_frame
from inference.vision.frames import Frame

Gray = npt.NDArray[np.uint8]


def shrink(frame: npt.NDArray[np.uint8], width: int = 80) -> Gray:
    """``frame`` (BGR) area-averaged by an integer factor to about ``width`` wide, gray."""
    h, w = frame.shape[:2]
    k = max(1, round(w / width))
    small: npt.NDArray[Any] = (
        frame
        if k == 1
        else cv2.resize(
            frame[: h - h % k, : w - w % k], (w // k, h // k), interpolation=cv2.INTER_AREA
        )
    )
    return cast(Gray, cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))


def motion_energy(previous: Gray, current: Gray, noise: int = 12) -> float:
    """Share of pixels (0-1) whose gray value changed by more than ``noise``."""
    if previous.shape != current.shape:
        raise ValueError(f"frames differ in size: {previous.shape} vs {current.shape}")
    changed = cv2.absdiff(previous, current) > noise
    return float(np.count_nonzero(changed)) / changed.size


def idle_periods(
    times: Sequence[float],
    energies: Sequence[float],
    *,
    threshold: float,
    min_idle_s: float,
) -> tuple[Pause, ...]:
    """Idle runs in a timeline: ``energies[i]`` is the motion from ``times[i]`` to
    ``times[i + 1]`` (so one fewer energy than times)."""
    if len(energies) != max(len(times) - 1, 0):
        raise ValueError("need one energy per interval between consecutive times")
    periods: list[Pause] = []
    start: int | None = None
    for i, energy in enumerate([*energies, np.inf]):  # the sentinel closes a trailing run
        if energy < threshold:
            if start is None:
                start = i
            continue
        if start is not None and times[i] - times[start] >= min_idle_s:
            periods.append(Pause(start=times[start], end=times[i]))
        start = None
    return tuple(periods)


class ActivityMeter:
    """Fed sampled frames one by one (``update``); ``summary`` describes the activity."""

    def __init__(
        self,
        *,
        width: int = 80,
        noise: int = 12,
        idle_threshold: float = 0.005,
        min_idle_s: float = 2.0,
    ) -> None:
        self.width, self.noise = width, noise
        self.idle_threshold, self.min_idle_s = idle_threshold, min_idle_s
        self.times: list[float] = []
        self.energies: list[float] = []
        self._previous: Gray | None = None

    def update(self, t: float, frame: npt.NDArray[np.uint8]) -> ActivityPoint | None:
        """Add the frame at ``t`` seconds; returns the motion since the previous frame
        (None for the first). Frames must come in time order and keep their size."""
        check_frame(frame)
        if self.times and t <= self.times[-1]:
            raise ValueError(f"frame at {t} s is not after the previous one ({self.times[-1]} s)")
        gray = shrink(frame, self.width)
        previous, self._previous = self._previous, gray
        self.times.append(t)
        if previous is None:
            return None
        energy = motion_energy(previous, gray, self.noise)
        self.energies.append(energy)
        return ActivityPoint(t=t, energy=energy)

    def summary(self, time_limit_s: float, *, duration_s: float | None = None) -> ActivitySummary:
        """The activity so far. ``duration_s`` defaults to the time from the first frame to
        the last; ``active_ratio`` is the share of that time spent moving."""
        if time_limit_s <= 0:
            raise ValueError(f"time_limit_s must be positive, got {time_limit_s}")
        times = np.asarray(self.times, dtype=np.float64)
        span = float(times[-1] - times[0]) if len(times) > 1 else 0.0
        duration = span if duration_s is None else duration_s
        energies = np.asarray(self.energies, dtype=np.float64)
        steps = np.diff(times)
        active = float(steps[energies >= self.idle_threshold].sum()) / span if span > 0 else 0.0
        return ActivitySummary(
            duration_s=duration,
            time_limit_s=time_limit_s,
            within_limit=duration <= time_limit_s,
            active_ratio=min(max(active, 0.0), 1.0),
            timeline=tuple(
                ActivityPoint(t=float(t), energy=float(e))
                for t, e in zip(times[1:], energies, strict=True)
            ),
            idle_periods=idle_periods(
                self.times, self.energies, threshold=self.idle_threshold, min_idle_s=self.min_idle_s
            ),
        )


def activity_summary(
    frames: Iterable[Frame | tuple[float, npt.NDArray[np.uint8]]],
    time_limit_s: float,
    *,
    duration_s: float | None = None,
    idle_threshold: float = 0.005,
    min_idle_s: float = 2.0,
    noise: int = 12,
) -> ActivitySummary:
    """Activity of a sequence of sampled frames (``Frame`` or ``(t, image)``)."""
    meter = ActivityMeter(noise=noise, idle_threshold=idle_threshold, min_idle_s=min_idle_s)
    for item in frames:
        t, image = (item.t, item.image) if isinstance(item, Frame) else item
        meter.update(t, image)
    return meter.summary(time_limit_s, duration_s=duration_s)


__all__ = ["ActivityMeter", "activity_summary", "idle_periods", "motion_energy", "shrink"]
