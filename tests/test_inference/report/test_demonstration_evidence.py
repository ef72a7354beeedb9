"""The report's demonstration section says what activity measured and where, and shows the
evidence as timestamps into the recording, in every language."""

from __future__ import annotations

from datetime import datetime, timezone

from scoring_fixtures import DEMO, QUESTIONS, rubric, session

from inference.findings import ActivitySummary, DemonstrationAnalysis, Language, Pause, WorkArea
from inference.report.build import build_report, render_html

LANGS: tuple[Language, ...] = ("zh-CN", "en", "ko")
WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
TABLE = WorkArea(x=0.1, y=0.45, width=0.8, height=0.55)


def pages(activity: ActivitySummary | None) -> dict[Language, str]:
    analyses = session()
    if activity is not None:
        analyses = [
            a.model_copy(update={"activity": activity}) if isinstance(a, DemonstrationAnalysis)
            else a for a in analyses
        ]
    r = build_report(
        session_id="S-0042", candidate_id="C-7", candidate_name="Li Wei", language="en",
        consent_version="2026-01", expression_consent=True, generated_at=WHEN,
        interviewed_at=WHEN, rubric=rubric(False), questions=QUESTIONS,
        demonstrations=[DEMO.model_copy(update={"work_area": TABLE})], analyses=analyses,
    )
    return {lang: render_html(r, lang) for lang in LANGS}


def hands() -> ActivitySummary:
    return ActivitySummary(
        duration_s=300.0, time_limit_s=600.0, within_limit=True, active_ratio=0.7,
        timeline=(), idle_periods=(Pause(start=100.0, end=130.0),), basis="hands",
        work_area=TABLE, frames_analysed=1500, hands_in_area_ratio=0.85,
        hands_away_periods=(Pause(start=200.0, end=220.0),), work_start=4.0, work_end=296.0,
    )


def test_hands_evidence_is_shown_as_timestamps() -> None:
    got = pages(hands())
    en = got["en"]
    assert "Activity measured as</th><td>hands in the work area" in en
    assert "80% × 55% of the picture from (10%, 45%)" in en
    assert "Work seen</th><td>0:04–4:56" in en
    assert "Idle periods</th><td>1:40–2:10" in en
    assert "Hands in the work area</th><td>85%" in en
    assert "Hands away from the work area</th><td>3:20–3:40" in en
    assert "工作区内的手" in got["zh-CN"] and "手离开工作区" in got["zh-CN"]
    assert "3:20–3:40" in got["zh-CN"] and "0:04–4:56" in got["zh-CN"]
    assert "작업 영역 안의 손" in got["ko"] and "손이 작업 영역을 벗어난 구간" in got["ko"]
    assert "3:20–3:40" in got["ko"]


def test_without_the_hand_model_it_says_plainly_it_measured_motion() -> None:
    motion = hands().model_copy(update={
        "basis": "work_area_motion", "hands_in_area_ratio": None, "hands_away_periods": ()})
    got = pages(motion)
    assert "motion in the work area, face excluded (no hand model installed)" in got["en"]
    assert "Hands away from the work area" not in got["en"]
    assert "未安装手部模型" in got["zh-CN"] and "손 모델 미설치" in got["ko"]


def test_an_unseen_work_area_is_flagged_not_shown_as_zero() -> None:
    unseen = hands().model_copy(update={
        "frames_analysed": 0, "active_ratio": 0.0, "work_start": None, "work_end": None,
        "idle_periods": (), "hands_away_periods": ()})
    en = pages(unseen)["en"]
    assert "Activity not assessed: the camera gave no view of the work area." in en
    assert "Active</th><td>—" in en


def test_an_older_analysis_says_it_measured_the_whole_picture() -> None:
    en = pages(None)["en"]
    assert "motion in the whole picture, face included" in en
