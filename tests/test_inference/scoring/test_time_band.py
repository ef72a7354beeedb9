"""A demonstration's time band: full marks inside it, "too fast to be credible" below it."""

from __future__ import annotations

import pytest
from scoring_fixtures import DEMO, QUESTIONS, rubric, session

from inference.scoring import metrics as sm
from inference.scoring.models import MetricScore, ScoreCard, TimeBandSpec
from inference.scoring.notes_i18n import LANGUAGES, note_text
from inference.scoring.scorer import score

OP, AD = "operation_proficiency", "attention_to_detail"
BAND = TimeBandSpec(expected_min_s=240, expected_max_s=480, credible_min_s=120)
BANDED = DEMO.model_copy(update={"time_band": BAND})


def card(duration: float, demo: object = BANDED) -> ScoreCard:
    return score(rubric(), QUESTIONS, [demo], session(duration=duration), True)  # type: ignore[list-item]


def demo_metrics(c: ScoreCard, cid: str) -> dict[str, MetricScore]:
    item = next(i for i in c.items if i.item_id == DEMO.id)
    return {m.metric: m for m in next(x for x in item.competencies if x.competency == cid).metrics}


def test_a_too_fast_demonstration_is_flagged_and_not_scored() -> None:
    c = card(15.0)
    item = next(i for i in c.items if i.item_id == DEMO.id)
    assert item.not_assessed == (
        "not assessed: finished in 0:15, under the credible minimum of 2:00"
        " — too fast to be credible — review the recording"
    )
    got = demo_metrics(c, OP)
    for metric in ("completion_time", "activity"):  # neither a top score nor 0
        assert got[metric].value is None and got[metric].note.code == "too_fast"
        assert got[metric].note.values == {"took": 15.0, "credible": 120.0}
        assert not got[metric].counted_in_score
    assert got["checklist"].value is not None and not got["checklist"].counted_in_score
    op = next(x for x in c.competencies if x.id == OP)
    assert op.status == "not_assessed" and op.score is None
    assert [n.code for n in op.notes] == ["too_fast_item"]
    assert "too fast to be credible — review the recording" in op.explanation
    assert OP not in c.overall_weights and not any(s.counted_in_score for s in op.metrics)
    # a competency with other evidence is scored on that alone, and says what was left out
    ad = next(x for x in c.competencies if x.id == AD)
    assert ad.status == "scored" and "too_fast_item" in [n.code for n in ad.notes]
    checklist = next(s for s in ad.metrics if s.metric == "checklist")
    assert not checklist.counted_in_score


def test_the_credible_minimum_itself_is_credible() -> None:
    c = card(120.0)
    assert demo_metrics(c, OP)["completion_time"].value == 1.0
    assert next(x for x in c.competencies if x.id == OP).status == "scored"
    assert next(i for i in c.items if i.item_id == DEMO.id).not_assessed is None


@pytest.mark.parametrize("duration", [130.0, 240.0, 300.0, 480.0])
def test_inside_the_band_or_briskly_gets_full_time_marks(duration: float) -> None:
    reading = demo_metrics(card(duration), OP)["completion_time"]
    assert reading.value == 1.0 and reading.note.code == "in_band"
    assert reading.counted_in_score


def test_slower_than_the_band_falls_off_to_the_limit() -> None:
    late = demo_metrics(card(540.0), OP)["completion_time"]
    assert late.value == pytest.approx(0.9) and late.note.code == "over_band"
    assert late.explanation == "took 9:00, longer than the expected 4:00–8:00 (limit 10:00)"
    assert demo_metrics(card(600.0), OP)["completion_time"].value == pytest.approx(0.8)
    assert demo_metrics(card(700.0), OP)["completion_time"].value == 0.0


def test_without_a_band_a_fast_finish_still_scores_as_before() -> None:
    c = card(15.0, DEMO)
    reading = demo_metrics(c, OP)["completion_time"]
    expected = sm.COMPLETION_AT_LIMIT + (1 - sm.COMPLETION_AT_LIMIT) * (1 - 15.0 / 600.0)
    assert reading.value == pytest.approx(expected, abs=1e-4) and reading.note.code == "completion"
    assert next(x for x in c.competencies if x.id == OP).status == "scored"


def test_band_notes_are_in_every_language() -> None:
    c = card(15.0)
    op = next(x for x in c.competencies if x.id == OP)
    texts = {lang: note_text(op.notes[0], lang, {DEMO.id: "Task 1"}) for lang in LANGUAGES}
    assert texts["en"].startswith("Task 1 not assessed: finished in 0:15")
    assert "快得不可信" in texts["zh-CN"] and "2:00" in texts["zh-CN"]
    assert "믿기 어려울 만큼 빠름" in texts["ko"] and "0:15" in texts["ko"]
    inside = demo_metrics(card(300.0), OP)["completion_time"].note
    assert note_text(inside, "zh-CN") == "用时 5:00（预期 4:00–8:00，限时 10:00）"


def test_an_inconsistent_band_is_refused() -> None:
    with pytest.raises(ValueError, match="credible_min_s <= expected_min_s"):
        TimeBandSpec(expected_min_s=100, expected_max_s=480, credible_min_s=120)
