"""Activity of a skill demonstration, from motion (and hands) in its work area.

Motion energy between two frames is the share of counted pixels that changed: both frames
are shrunk by an integer factor to about 80 pixels wide (area averaging, which also evens
out sensor noise), turned to grayscale, and a pixel counts as changed when its value moved
by more than ``noise`` levels. Only pixels inside the work area and outside the candidate's
face zone count (``inference.vision.work_area``; the face boxes of both frames are left out,
so a talking head is not taken for work). 0 is a still area, 1 a wholly changed one.

With the hand model (``update(..., hands=[...])``) an interval is work when a hand is in the
work area and the area moves; idle when a hand is there but nothing moves; hands away when
no hand is in the area. Without it, an interval is work when the area moves. An idle (or
hands-away) period is a run of such intervals lasting at least ``min_idle_s``, from the
last frame before the run to its last frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

import cv2
import numpy as np
import numpy.typing as npt

from inference.findings import ActivityPoint, ActivitySummary, Box, Pause, WorkArea
from inference.vision.errors import check_frame
from inference.vision.frames import Frame
from inference.vision.work_area import Mask, area_mask, in_area

Gray = npt.NDArray[np.uint8]
MIN_VISIBLE = 0.1
"""Least share of the work area that must be outside face zones for motion to be read."""


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


def motion_energy(
    previous: Gray, current: Gray, noise: int = 12, mask: Mask | None = None
) -> float:
    """Share of pixels (0-1) whose gray value changed by more than ``noise``; with ``mask``,
    of the pixels it marks (0 when it marks none)."""
    if previous.shape != current.shape:
        raise ValueError(f"frames differ in size: {previous.shape} vs {current.shape}")
    changed = cv2.absdiff(previous, current) > noise
    if mask is None:
        return float(np.count_nonzero(changed)) / changed.size
    counted = int(np.count_nonzero(mask))
    return float(np.count_nonzero(changed & mask)) / counted if counted else 0.0


def runs(times: Sequence[float], flags: Sequence[bool], *, min_s: float) -> tuple[Pause, ...]:
    """Runs of flagged intervals lasting at least ``min_s``: ``flags[i]`` marks the
    interval from ``times[i]`` to ``times[i + 1]``."""
    if len(flags) != max(len(times) - 1, 0):
        raise ValueError("need one flag per interval between consecutive times")
    periods: list[Pause] = []
    start: int | None = None
    for i, flag in enumerate([*flags, False]):  # the sentinel closes a trailing run
        if flag:
            if start is None:
                start = i
            continue
        if start is not None and times[i] - times[start] >= min_s:
            periods.append(Pause(start=times[start], end=times[i]))
        start = None
    return tuple(periods)


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
    return runs(times, [e < threshold for e in energies], min_s=min_idle_s)


class ActivityMeter:
    """Fed sampled frames one by one (``update``); ``summary`` describes the activity.

    ``work_area``: where the work is looked for (the whole picture when None). Pass each
    frame's face boxes to leave the face out, and its hand boxes when the hand model runs
    (every frame, or none: the summary's basis says which was measured).
    """

    def __init__(
        self,
        *,
        work_area: WorkArea | None = None,
        width: int = 80,
        noise: int = 12,
        idle_threshold: float = 0.005,
        min_idle_s: float = 2.0,
    ) -> None:
        self.work_area = work_area
        self.width, self.noise = width, noise
        self.idle_threshold, self.min_idle_s = idle_threshold, min_idle_s
        self.times: list[float] = []
        self.energies: list[float] = []
        self.hands_in: list[bool] = []
        self._hands_seen: list[int | None] = []
        self._previous: Gray | None = None
        self._previous_faces: tuple[Box, ...] = ()

    def update(
        self,
        t: float,
        frame: npt.NDArray[np.uint8],
        *,
        faces: Iterable[Box] = (),
        hands: Iterable[Box] | None = None,
    ) -> ActivityPoint | None:
        """Add the frame at ``t`` seconds with the faces (and hands) found on it; returns the
        motion since the previous frame (None for the first). Frames must come in time order
        and keep their size."""
        check_frame(frame)
        if self.times and t <= self.times[-1]:
            raise ValueError(f"frame at {t} s is not after the previous one ({self.times[-1]} s)")
        gray = shrink(frame, self.width)
        faces = tuple(faces)
        previous, self._previous = self._previous, gray
        previous_faces, self._previous_faces = self._previous_faces, faces
        count = None if hands is None else sum(in_area(b, self.work_area) for b in hands)
        self.times.append(t)
        if previous is None:
            self._hands_seen.append(count)
            return None
        mask = area_mask(gray.shape[:2], self.work_area, faces + previous_faces)
        whole = area_mask(gray.shape[:2], self.work_area)
        visible = np.count_nonzero(mask) >= MIN_VISIBLE * max(int(np.count_nonzero(whole)), 1)
        energy = motion_energy(previous, gray, self.noise, mask) if visible else 0.0
        self.energies.append(energy)
        self._hands_seen.append(count)
        self.hands_in.append(bool(count))
        return ActivityPoint(t=t, energy=energy, hands=count)

    @property
    def tracks_hands(self) -> bool:
        """Whether hands were given with the frames (the hand model ran)."""
        return bool(self._hands_seen) and all(c is not None for c in self._hands_seen)

    def summary(self, time_limit_s: float, *, duration_s: float | None = None) -> ActivitySummary:
        """The activity so far. ``duration_s`` defaults to the time from the first frame to
        the last; ``active_ratio`` is the share of that time spent working."""
        if time_limit_s <= 0:
            raise ValueError(f"time_limit_s must be positive, got {time_limit_s}")
        times = np.asarray(self.times, dtype=np.float64)
        span = float(times[-1] - times[0]) if len(times) > 1 else 0.0
        duration = span if duration_s is None else duration_s
        steps = np.diff(times)
        moving = np.asarray(self.energies, dtype=np.float64) >= self.idle_threshold
        hands = self.tracks_hands
        present = np.asarray(self.hands_in, dtype=np.bool_) if hands else np.ones_like(moving)
        working = moving & present
        active = float(steps[working].sum()) / span if span > 0 else 0.0
        worked = np.flatnonzero(working)
        return ActivitySummary(
            duration_s=duration,
            time_limit_s=time_limit_s,
            within_limit=duration <= time_limit_s,
            active_ratio=min(max(active, 0.0), 1.0),
            timeline=tuple(
                ActivityPoint(t=float(t), energy=float(e), hands=c)
                for t, e, c in zip(times[1:], self.energies, self._hands_seen[1:], strict=True)
            ),
            idle_periods=runs(self.times, list(present & ~moving), min_s=self.min_idle_s),
            basis="hands" if hands else "work_area_motion",
            work_area=self.work_area,
            frames_analysed=len(self.times),
            hands_in_area_ratio=(
                (float(steps[present].sum()) / span if span > 0 else 0.0) if hands else None
            ),
            hands_away_periods=(
                runs(self.times, list(~present), min_s=self.min_idle_s) if hands else ()
            ),
            work_start=float(times[worked[0]]) if worked.size else None,
            work_end=float(times[worked[-1] + 1]) if worked.size else None,
        )


def activity_summary(
    frames: Iterable[Frame | tuple[float, npt.NDArray[np.uint8]]],
    time_limit_s: float,
    *,
    duration_s: float | None = None,
    idle_threshold: float = 0.005,
    min_idle_s: float = 2.0,
    noise: int = 12,
    work_area: WorkArea | None = None,
) -> ActivitySummary:
    """Activity of a sequence of sampled frames (``Frame`` or ``(t, image)``), no faces
    left out (for faces and hands, feed an :class:`ActivityMeter`)."""
    meter = ActivityMeter(
        work_area=work_area, noise=noise, idle_threshold=idle_threshold, min_idle_s=min_idle_s
    )
    for item in frames:
        t, image = (item.t, item.image) if isinstance(item, Frame) else item
        meter.update(t, image)
    return meter.summary(time_limit_s, duration_s=duration_s)


__all__ = [
    "ActivityMeter", "activity_summary", "idle_periods", "motion_energy", "runs", "shrink"
]
