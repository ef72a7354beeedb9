"""The pre-recording framing check, on real frames with the real detector and on made-up boxes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from inference.findings import Box, FramingVerdict
from inference.models.tflite import TFLiteModel
from inference.vision import (
    ADVICE,
    FaceDetector,
    FramingLimits,
    framing_check,
    judge_framing,
    read_frames,
)
from kiosk.rigs.samples import ModelPaths

Image = npt.NDArray[np.uint8]


@pytest.fixture(scope="module")
def detector(model_files: ModelPaths) -> FaceDetector:
    return FaceDetector(TFLiteModel(model_files.face_detection))


@pytest.fixture(scope="module")
def frame(crema_clips: dict[str, Path]) -> Image:
    return next(iter(read_frames(crema_clips["NEU"]))).image


@pytest.fixture(scope="module")
def astro(astronaut: Path) -> Image:
    image = cv2.imread(str(astronaut))
    assert image is not None
    return np.asarray(image, dtype=np.uint8)


def box(cx: float = 0.5, cy: float = 0.5, h: float = 0.35, w: float | None = None) -> Box:
    width = h * 0.75 if w is None else w
    return Box(x=cx - width / 2, y=cy - h / 2, w=width, h=h, score=0.9)


def consistent(verdict: FramingVerdict) -> None:
    assert verdict.ok == (not verdict.problems)
    assert len(verdict.advice) == len(verdict.problems)
    assert all(isinstance(a, str) and a for a in verdict.advice)


# -- real frames -----------------------------------------------------------------------------


def test_a_well_framed_actor_is_ok(detector: FaceDetector, frame: Image) -> None:
    verdict = framing_check(frame, detector)
    consistent(verdict)
    assert verdict.ok, verdict.problems
    assert verdict.face is not None and verdict.face_height is not None
    assert 0.25 < verdict.face_height < 0.35
    assert verdict.offset is not None and max(map(abs, verdict.offset)) < 0.15
    assert 60 < verdict.brightness < 210


def test_astronaut_gets_a_sensible_verdict(detector: FaceDetector, astro: Image) -> None:
    verdict = framing_check(astro, detector)
    consistent(verdict)
    assert verdict.face is not None
    # One face, well lit, high in the picture and smallish: at most "move down / closer".
    assert set(verdict.problems) <= {"off_centre", "too_far"}
    assert verdict.offset is not None and verdict.offset[1] < 0
    if "off_centre" in verdict.problems:
        assert "down" in verdict.advice[verdict.problems.index("off_centre")]


def test_a_black_frame_is_no_face_and_too_dark(detector: FaceDetector) -> None:
    verdict = framing_check(np.zeros((480, 640, 3), np.uint8), detector)
    consistent(verdict)
    assert verdict.problems == ("no_face", "too_dark")
    assert verdict.advice == (ADVICE["no_face"], "Turn on more light or face the light")
    assert verdict.face is None and verdict.face_height is None and verdict.offset is None
    assert verdict.brightness == 0.0


def test_a_dim_frame_is_too_dark(detector: FaceDetector, frame: Image) -> None:
    dim = (frame // 4).astype(np.uint8)
    verdict = framing_check(dim, detector)
    assert "too_dark" in verdict.problems and verdict.brightness < 60


def test_an_overexposed_face_is_too_bright(detector: FaceDetector, frame: Image) -> None:
    bright = cv2.convertScaleAbs(frame, alpha=1.0, beta=110)
    verdict = framing_check(np.asarray(bright, dtype=np.uint8), detector)
    assert "too_bright" in verdict.problems and verdict.brightness > 210


@pytest.mark.parametrize("source", ["astronaut", "crema"])
def test_two_people_is_several_faces(
    source: str, detector: FaceDetector, astro: Image, frame: Image
) -> None:
    image = astro if source == "astronaut" else frame
    verdict = framing_check(np.hstack([image, image]), detector)
    consistent(verdict)
    assert verdict.problems[0] == "several_faces"
    assert verdict.advice[0] == "Make sure you are alone in front of the camera"


def test_a_shifted_frame_is_off_centre(detector: FaceDetector, frame: Image) -> None:
    left_cut = framing_check(frame[:, 150:], detector)  # the face ends up in the left part
    consistent(left_cut)
    assert left_cut.problems == ("off_centre",)
    assert left_cut.offset is not None and left_cut.offset[0] < -0.15
    # The face sits at the camera's left, the candidate's right: they should move left.
    assert "your left" in left_cut.advice[0]
    right_cut = framing_check(frame[:, :-150], detector)
    assert right_cut.problems == ("off_centre",) and "your right" in right_cut.advice[0]


def test_a_small_face_in_a_large_canvas_is_too_far(detector: FaceDetector, frame: Image) -> None:
    canvas = np.full((480, 640, 3), 120, np.uint8)
    small: Any = cv2.resize(frame, (288, 216), interpolation=cv2.INTER_AREA)
    canvas[132:348, 176:464] = small
    verdict = framing_check(canvas, detector)
    consistent(verdict)
    assert verdict.problems == ("too_far",)
    assert verdict.advice == ("Move closer to the screen",)
    assert verdict.face_height is not None and verdict.face_height < 0.2


def test_a_face_filling_the_frame_is_too_close(detector: FaceDetector, frame: Image) -> None:
    close: Any = cv2.resize(frame[90:210, 160:320], (480, 360))
    verdict = framing_check(np.asarray(close, dtype=np.uint8), detector)
    assert "too_close" in verdict.problems
    assert verdict.face_height is not None and verdict.face_height > 0.75


# -- the rules ---------------------------------------------------------------------------------


def test_problems_come_in_order_of_importance() -> None:
    verdict = judge_framing([box(0.1, 0.5, 0.1), box(0.8, 0.5, 0.05)], 30.0)
    assert verdict.problems == ("several_faces", "too_dark", "too_far", "off_centre")
    assert verdict.face == box(0.1, 0.5, 0.1)  # the largest face is judged


@pytest.mark.parametrize(
    ("face", "brightness", "expected"),
    [
        (box(), 120.0, ()),
        (box(h=0.19), 120.0, ("too_far",)),
        (box(h=0.21), 120.0, ()),
        (box(h=0.8), 120.0, ("too_close",)),
        (box(cx=0.66), 120.0, ("off_centre",)),
        (box(cx=0.64), 120.0, ()),
        (box(cy=0.75), 120.0, ("off_centre",)),
        (box(), 59.0, ("too_dark",)),
        (box(), 211.0, ("too_bright",)),
    ],
)
def test_default_limits(face: Box, brightness: float, expected: tuple[str, ...]) -> None:
    verdict = judge_framing([face], brightness)
    consistent(verdict)
    assert verdict.problems == expected
    assert verdict.face_height == pytest.approx(face.h)


def test_limits_are_parameters() -> None:
    strict = FramingLimits(min_face_height=0.4, max_offset_x=0.05, min_brightness=130)
    verdict = judge_framing([box(cx=0.6)], 120.0, strict)
    assert verdict.problems == ("too_dark", "too_far", "off_centre")


def test_off_centre_advice_names_the_way_to_move() -> None:
    (advice,) = judge_framing([box(cx=0.8, cy=0.2)], 120.0).advice
    assert "your right" in advice and "down" in advice
    (mirrored,) = judge_framing([box(cx=0.8)], 120.0, FramingLimits(mirrored=True)).advice
    assert "your left" in mirrored


def test_no_face_still_judges_the_light() -> None:
    assert judge_framing([], 230.0).problems == ("no_face", "too_bright")
    assert judge_framing([], 120.0).problems == ("no_face",)
