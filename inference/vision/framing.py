"""The pre-recording framing check: is the candidate alone, close, centred and well lit?

Problems are listed in order of importance: ``no_face``, ``several_faces``, ``too_dark``,
``too_bright``, ``too_far``, ``too_close``, ``off_centre`` (light first: a dark picture is
often why no face is found). Size and position are judged on the largest face. Brightness
is the mean luma of that face's box when there is a face, else of the whole frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from inference.findings import Box, FramingProblem, FramingVerdict
from inference.vision.faces import FaceDetector

ADVICE: dict[FramingProblem, str] = {
    "no_face": "We can't see your face: sit in front of the camera and look at the screen",
    "several_faces": "Make sure you are alone in front of the camera",
    "too_dark": "Turn on more light or face the light",
    "too_bright": "Move away from bright light behind or beside you, or dim it",
    "too_far": "Move closer to the screen",
    "too_close": "Move back a little from the screen",
    "off_centre": "Move so your face is in the middle of the picture",
}


@dataclass(frozen=True)
class FramingLimits:
    """Thresholds of the framing check. Heights and offsets are shares of the frame's
    height (width for ``max_offset_x``); brightness is mean luma, 0-255. ``mirrored`` says
    the frames are mirror images (flips the left/right hint of the off-centre advice)."""

    min_face_height: float = 0.2
    max_face_height: float = 0.75
    max_offset_x: float = 0.15
    max_offset_y: float = 0.2
    min_brightness: float = 60.0
    max_brightness: float = 210.0
    mirrored: bool = False


DEFAULT_LIMITS = FramingLimits()


def judge_framing(
    faces: Sequence[Box], brightness: float, limits: FramingLimits = DEFAULT_LIMITS
) -> FramingVerdict:
    """The verdict for faces already found (any order) and the judged brightness."""
    problems: list[FramingProblem] = []
    face = max(faces, key=lambda b: b.w * b.h) if faces else None
    if face is None:
        problems.append("no_face")
    elif len(faces) > 1:
        problems.append("several_faces")
    if brightness < limits.min_brightness:
        problems.append("too_dark")
    elif brightness > limits.max_brightness:
        problems.append("too_bright")
    offset: tuple[float, float] | None = None
    advice_off = ADVICE["off_centre"]
    if face is not None:
        if face.h < limits.min_face_height:
            problems.append("too_far")
        elif face.h > limits.max_face_height:
            problems.append("too_close")
        offset = (face.x + face.w / 2 - 0.5, face.y + face.h / 2 - 0.5)
        dx, dy = offset
        if abs(dx) > limits.max_offset_x or abs(dy) > limits.max_offset_y:
            problems.append("off_centre")
            advice_off = _centre_advice(dx, dy, limits)
    advice = tuple(advice_off if p == "off_centre" else ADVICE[p] for p in problems)
    return FramingVerdict(
        ok=not problems,
        problems=tuple(problems),
        advice=advice,
        face=face,
        brightness=brightness,
        face_height=None if face is None else face.h,
        offset=offset,
    )


def framing_check(
    frame: npt.NDArray[np.uint8],
    detector: FaceDetector,
    limits: FramingLimits = DEFAULT_LIMITS,
    *,
    fine: bool = True,
) -> FramingVerdict:
    """Detect faces in a BGR frame and judge its framing. ``fine`` searches tiles too, so
    a face too far away to be found in the whole frame is reported as ``too_far`` (and a
    bystander as ``several_faces``)."""
    scan = detector.scan(frame, fine=fine)
    boxes = [f.to_box() for f in scan.faces]
    brightness = scan.brightness
    if boxes:
        brightness = box_luma(frame, max(boxes, key=lambda b: b.w * b.h))
    return judge_framing(boxes, brightness, limits)


def box_luma(frame: npt.NDArray[np.uint8], box: Box) -> float:
    """Mean luma (0-255) of a BGR frame inside a 0-1 box (the whole frame if empty)."""
    h, w = frame.shape[:2]
    x0, y0 = int(box.x * w), int(box.y * h)
    x1, y1 = max(int((box.x + box.w) * w), x0 + 1), max(int((box.y + box.h) * h), y0 + 1)
    region = frame[y0:y1, x0:x1]
    if region.size == 0:
        region = frame
    b, g, r, _ = cv2.mean(region)
    return float(0.114 * b + 0.587 * g + 0.299 * r)


def _centre_advice(dx: float, dy: float, limits: FramingLimits) -> str:
    """Which way to move: the candidate's own left and right (the camera's are swapped)."""
    hints: list[str] = []
    if abs(dx) > limits.max_offset_x:
        to_their_right = (dx > 0) != limits.mirrored
        hints.append(f"a little to your {'right' if to_their_right else 'left'}")
    if abs(dy) > limits.max_offset_y:
        hints.append("down a little" if dy < 0 else "up a little")
    return f"{ADVICE['off_centre']} (move {' and '.join(hints)})"


__all__ = [
    "ADVICE",
    "DEFAULT_LIMITS",
    "FramingLimits",
    "box_luma",
    "framing_check",
    "judge_framing",
]
