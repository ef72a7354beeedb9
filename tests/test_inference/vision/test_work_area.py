"""Activity is measured where the work happens: in the work area, the candidate's face left
out, and with the hand model, by the hands in the area."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from inference.findings import Box, Pause, WorkArea
from inference.vision.analyzer import FaceAnalyzer
from inference.vision.frames import read_frames
from inference.vision.motion import ActivityMeter
from inference.vision.work_area import area_mask, face_zone, in_area
from kiosk.rigs.samples import ModelPaths

Image = npt.NDArray[np.uint8]
TABLE = WorkArea(x=0.0, y=0.5, width=1.0, height=0.5)
"""The lower half of the picture."""


def square(x: int, y: int, size: int = 40) -> Image:
    """A 320x240 gray picture with a white square at (x, y)."""
    frame = np.full((240, 320, 3), 90, np.uint8)
    frame[y : y + size, x : x + size] = 255
    return frame


def run(frames: list[Image], **kwargs: object) -> ActivityMeter:
    """A meter fed ``frames`` at 5 per second; kwargs: ``work_area``, and per-frame
    ``faces`` / ``hands`` lists."""
    faces = kwargs.pop("faces", None)
    hands = kwargs.pop("hands", None)
    meter = ActivityMeter(**kwargs)  # type: ignore[arg-type]
    for i, frame in enumerate(frames):
        meter.update(
            i / 5,
            frame,
            faces=faces[i] if isinstance(faces, list) else (),
            hands=hands[i] if isinstance(hands, list) else None,
        )
    return meter


def sway(y: int, n: int = 30) -> list[Image]:
    """A square moving left and right at height ``y``."""
    return [square(100 + (i % 2) * 30, y) for i in range(n)]


@pytest.fixture(scope="module")
def faces(model_files: ModelPaths) -> FaceAnalyzer:
    return FaceAnalyzer.load(
        model_files.face_detection, model_files.face_landmarks, expression=False
    )


@pytest.mark.parametrize("area", [None, WorkArea(x=0.1, y=0.45, width=0.8, height=0.55)])
def test_a_talking_head_without_work_scores_low_activity(
    faces: FaceAnalyzer, crema_clips: dict[str, Path], area: WorkArea | None
) -> None:
    """A real person speaking to the camera, nothing done with the hands: low activity with
    the face left out (over the whole picture, or in the table area), high without."""
    for code in ("ANG", "HAP", "NEU"):
        measured, naive = ActivityMeter(work_area=area), ActivityMeter()
        for frame in read_frames(crema_clips[code], fps=5):
            seen = faces.analyse(frame.image, frame.t)
            measured.update(frame.t, frame.image, faces=[f.box for f in seen.faces])
            naive.update(frame.t, frame.image)
        summary = measured.summary(600.0)
        assert summary.active_ratio <= 0.15, code
        assert summary.basis == "work_area_motion" and summary.work_area == area
        assert summary.work_start is None or summary.active_ratio > 0
        assert naive.summary(600.0).active_ratio >= 0.5, code  # what the old measure said


def test_motion_outside_the_work_area_is_not_counted() -> None:
    above = run(sway(30), work_area=TABLE).summary(60.0)
    assert above.active_ratio == 0.0 and all(p.energy == 0.0 for p in above.timeline)
    assert above.work_start is None and above.work_end is None
    assert len(above.idle_periods) == 1
    on_table = run(sway(170), work_area=TABLE).summary(60.0)
    assert on_table.active_ratio == pytest.approx(1.0)
    assert on_table.work_start == 0.0 and on_table.work_end == pytest.approx(5.8)
    assert on_table.idle_periods == ()


def test_the_face_is_left_out_even_inside_the_work_area() -> None:
    face = Box(x=100 / 320, y=170 / 240, w=70 / 320, h=40 / 240, score=0.9)
    frames = sway(170)
    assert run(frames, faces=[[face]] * len(frames)).summary(60.0).active_ratio == 0.0
    assert run(frames).summary(60.0).active_ratio == pytest.approx(1.0)


def test_a_face_on_the_previous_frame_is_left_out_too() -> None:
    face = Box(x=100 / 320, y=170 / 240, w=70 / 320, h=40 / 240, score=0.9)
    frames = sway(170, 2)
    # the detector missed the face on the second frame: the first frame's face still counts
    assert run(frames, faces=[[face], []]).summary(60.0).active_ratio == 0.0


def test_hands_working_idle_and_away() -> None:
    """Hands at work for 2 s, still in the area for 3 s, gone for 3 s, back at work for 2 s."""
    hand = Box(x=0.3, y=0.7, w=0.15, h=0.15, score=0.9)
    frames = sway(170, 11) + [square(100, 170)] * 15 + [square(100, 170)] * 15 + sway(170, 10)
    hands = [[hand]] * 26 + [[]] * 15 + [[hand]] * 10
    summary = run(frames, work_area=TABLE, hands=hands).summary(60.0)
    assert summary.basis == "hands"
    assert summary.idle_periods == (Pause(start=2.0, end=5.0),)
    assert summary.hands_away_periods == (Pause(start=5.0, end=8.0),)
    assert summary.hands_in_area_ratio == pytest.approx(7.0 / 10.0, abs=0.05)
    assert summary.active_ratio == pytest.approx(4.0 / 10.0, abs=0.05)
    assert (summary.work_start, summary.work_end) == (0.0, 10.0)
    assert [p.hands for p in summary.timeline[:3]] == [1, 1, 1]


def test_motion_without_hands_is_not_work_when_hands_are_tracked() -> None:
    frames = sway(170)
    summary = run(frames, work_area=TABLE, hands=[[] for _ in frames]).summary(60.0)
    assert summary.active_ratio == 0.0 and summary.hands_in_area_ratio == 0.0
    assert summary.hands_away_periods == (Pause(start=0.0, end=5.8),)


def test_a_hand_outside_the_work_area_is_away() -> None:
    assert in_area(Box(x=0.4, y=0.6, w=0.1, h=0.1, score=1.0), TABLE)
    assert not in_area(Box(x=0.4, y=0.1, w=0.1, h=0.1, score=1.0), TABLE)
    assert in_area(Box(x=0.4, y=0.1, w=0.1, h=0.1, score=1.0), None)


def test_the_mask_is_the_area_less_the_face_zone() -> None:
    face = Box(x=0.4, y=0.4, w=0.2, h=0.2, score=1.0)
    x0, y0, x1, y1 = face_zone(face)
    assert x0 < face.x and x1 > face.x + face.w and y0 < face.y and y1 > face.y + face.h
    mask = area_mask((100, 100), TABLE, [face])
    assert not mask[:50].any()  # above the table
    assert not mask[60:80, 50].any()  # under the face: chin and neck
    assert mask[90, 5] and mask[90, 95]
    assert area_mask((10, 10), None).all()
