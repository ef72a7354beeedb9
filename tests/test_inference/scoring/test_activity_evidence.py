"""A demonstration's activity is scored from its work area, says what it measured, shows its
evidence as timestamps, and is not assessed when the camera never saw the work area."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from scoring_fixtures import DEMO, QUESTIONS, rubric, session

from inference.findings import (
    ActivitySummary,
    DemonstrationAnalysis,
    Pause,
    SpokenAnswerAnalysis,
    WorkArea,
)
from inference.models.store import ModelFiles
from inference.pipeline import Analyzer, Settings
from inference.scoring.models import SCORING_VERSION, ItemScore, MetricScore, ScoreCard, Span
from inference.scoring.notes_i18n import LANGUAGES, note_text
from inference.scoring.scorer import score
from kiosk.rigs.samples import ModelPaths

OP = "operation_proficiency"
TABLE = WorkArea(x=0.1, y=0.45, width=0.8, height=0.55)


def card(activity: ActivitySummary) -> ScoreCard:
    analyses = session()
    demo = next(a for a in analyses if isinstance(a, DemonstrationAnalysis))
    swapped = demo.model_copy(update={"activity": activity})
    return score(rubric(), QUESTIONS, [DEMO],
                 [swapped if a is demo else a for a in analyses], True)


def item_of(c: ScoreCard) -> ItemScore:
    return next(i for i in c.items if i.item_id == DEMO.id)


def activity_of(c: ScoreCard) -> MetricScore:
    comp = next(x for x in item_of(c).competencies if x.competency == OP)
    return next(m for m in comp.metrics if m.metric == "activity")


def hands_at_work() -> ActivitySummary:
    return ActivitySummary(
        duration_s=300.0, time_limit_s=600.0, within_limit=True, active_ratio=0.7,
        timeline=(), idle_periods=(Pause(start=100.0, end=130.0),), basis="hands",
        work_area=TABLE, frames_analysed=1500, hands_in_area_ratio=0.85,
        hands_away_periods=(Pause(start=200.0, end=220.0),), work_start=4.0, work_end=296.0,
    )


@pytest.fixture(scope="module")
def analyzers(model_files: ModelPaths) -> dict[str, Analyzer]:
    files = ModelFiles.open(model_files.store)
    assert files.hands is not None
    return {
        "hands": Analyzer(files, Settings(tflite_threads=1)),
        "work_area_motion": Analyzer(dataclasses.replace(files, hands=None),
                                     Settings(tflite_threads=1)),
    }


@pytest.fixture(scope="module")
def talking_head(crema_clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The six CREMA-D clips of one actor, one after the other: about 12 s of a real person
    talking to the camera."""
    path = tmp_path_factory.mktemp("talking") / "talking-head.avi"
    writer: cv2.VideoWriter | None = None
    for code in sorted(crema_clips):
        capture = cv2.VideoCapture(str(crema_clips[code]))
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30.0, (w, h))
            writer.write(frame)
        capture.release()
    assert writer is not None
    writer.release()
    return path


@pytest.fixture(scope="module")
def hand_at_work(hand_photo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 s of a real hand (the photograph, shrunk) moving about on the table: in the work
    area for 4 s, lifted above it for 4 s, back in the area for 4 s."""
    hand = cv2.imread(str(hand_photo))
    assert hand is not None
    hand = cv2.resize(hand, (240, 180), interpolation=cv2.INTER_AREA)
    path = tmp_path_factory.mktemp("hand") / "hand-at-work.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30.0, (640, 480))
    for i in range(12 * 30):
        t = i / 30
        frame = np.full((480, 640, 3), 190, np.uint8)
        x = int(200 + 120 * math.sin(2 * math.pi * t / 3))
        y = 20 if 4 <= t < 8 else 285
        frame[y:y + 180, x:x + 240] = hand
        writer.write(frame)
    writer.release()
    return path


def test_a_real_hand_working_in_the_area_is_active_and_its_absence_is_shown(
    analyzers: dict[str, Analyzer], hand_at_work: Path
) -> None:
    spec = DEMO.model_copy(update={"work_area": TABLE})
    act = analyzers["hands"].demonstration(spec, video=hand_at_work, expression=False).activity
    assert act.basis == "hands"
    assert act.hands_in_area_ratio is not None
    assert 0.5 <= act.hands_in_area_ratio <= 0.8  # 8 s of 12 in the area
    assert act.active_ratio >= 0.5
    away = [p for p in act.hands_away_periods if p.end - p.start >= 2.0]
    assert len(away) == 1
    assert away[0].start == pytest.approx(4.0, abs=0.8)
    assert away[0].end == pytest.approx(8.0, abs=0.8)
    assert act.work_start is not None and act.work_start < 1.0


@pytest.mark.parametrize("basis", ["hands", "work_area_motion"])
def test_a_talking_head_without_work_scores_low_activity(
    analyzers: dict[str, Analyzer], talking_head: Path, basis: str
) -> None:
    """A real person talking to the camera, no work on the table: the activity reading is
    low, with or without the hand model, and says what it measured."""
    spec = DEMO.model_copy(update={"work_area": TABLE})
    analysis = analyzers[basis].demonstration(spec, video=talking_head, expression=False)
    act = analysis.activity
    assert act.basis == basis and act.work_area == TABLE
    assert act.frames_analysed is not None and act.frames_analysed >= 8
    assert act.active_ratio <= 0.15
    if basis == "hands":
        assert act.hands_in_area_ratio == 0.0 and act.work_start is None
    analyses: list[SpokenAnswerAnalysis | DemonstrationAnalysis] = [
        a for a in session() if not isinstance(a, DemonstrationAnalysis)]
    c = score(rubric(), QUESTIONS, [spec], [*analyses, analysis], True)
    reading = activity_of(c)
    assert reading.value is not None and reading.value <= 0.15 and reading.counted_in_score
    assert item_of(c).activity_basis == basis


def test_the_reading_states_its_basis_and_evidence_timestamps() -> None:
    c = card(hands_at_work())
    assert c.scoring_version == SCORING_VERSION == "kiosk-scoring/5"
    reading = activity_of(c)
    assert reading.value == 0.7 and reading.note.label == "hands"
    assert reading.explanation == (
        "hands in the work area: active 70% of the time; hands in the work area 85% of the"
        " time; idle periods: 1 (longest 0:30 at 1:40); hands left the work area 1 times"
    )
    for lang in LANGUAGES:
        assert "85%" in note_text(reading.note, lang)
    item = item_of(c)
    assert item.activity_basis == "hands"
    assert item.evidence == (
        Span(start=4.0, end=296.0, kind="work"),
        Span(start=100.0, end=130.0, kind="idle"),
        Span(start=200.0, end=220.0, kind="hands_away"),
    )
    assert reading.spans == item.evidence


def test_without_the_hand_model_it_says_motion_in_the_work_area() -> None:
    motion = hands_at_work().model_copy(update={
        "basis": "work_area_motion", "hands_in_area_ratio": None, "hands_away_periods": ()})
    reading = activity_of(card(motion))
    assert reading.explanation.startswith(
        "motion in the work area, face excluded: active 70% of the time")
    assert "hands" not in reading.explanation
    assert [s.kind for s in item_of(card(motion)).evidence] == ["work", "idle"]


@pytest.mark.parametrize("frames", [0, 1])
def test_an_unseen_work_area_is_not_assessed_never_zero(frames: int) -> None:
    unseen = hands_at_work().model_copy(update={
        "frames_analysed": frames, "active_ratio": 0.0, "work_start": None, "work_end": None,
        "idle_periods": (), "hands_away_periods": ()})
    c = card(unseen)
    reading = activity_of(c)
    assert reading.value is None and reading.raw is None and not reading.counted_in_score
    assert reading.note.code == "activity_unseen"
    assert reading.note.reason == "the camera gave no view of the work area"
    assert reading.explanation.startswith("not assessed: the camera gave no view")
    assert item_of(c).not_assessed == "the camera gave no view of the work area"
    completion = next(m for m in next(x for x in item_of(c).competencies
                                      if x.competency == OP).metrics
                      if m.metric == "completion_time")
    assert completion.value is not None  # the time taken is still known


def test_an_analysis_from_before_the_work_area_still_scores() -> None:
    old = session()
    demo = next(a for a in old if isinstance(a, DemonstrationAnalysis))
    reloaded = DemonstrationAnalysis.model_validate_json(demo.model_dump_json(
        exclude={"activity": {"basis", "work_area", "frames_analysed", "hands_in_area_ratio",
                              "hands_away_periods", "work_start", "work_end"}}))
    assert reloaded.activity.basis == "frame_motion"
    c = card(reloaded.activity)
    assert activity_of(c).value == 0.85
    assert activity_of(c).explanation.startswith("motion in the whole picture: active 85%")
    assert [s.kind for s in item_of(c).evidence] == ["idle"]
