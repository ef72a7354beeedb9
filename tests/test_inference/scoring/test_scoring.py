"""Rubric scoring: mappings, evidence, explanations, expression consent, checklist, weights."""

from __future__ import annotations

import pytest
from scoring_fixtures import (
    DEMO,
    GOOD_ANSWER,
    QUESTIONS,
    WEAK_ANSWER,
    rubric,
    session,
    spoken,
)

from inference.scoring import metrics as sm
from inference.scoring.models import (
    CompetencyScore,
    MetricScore,
    Note,
    QuestionSpec,
    RubricSpec,
    ScoreCard,
)
from inference.scoring.notes_i18n import LANGUAGES, note_text
from inference.scoring.scorer import score


def card(**kw: object) -> ScoreCard:
    use_expression = bool(kw.pop("use_expression", False))
    consent = bool(kw.pop("consent", True))
    analyses = session(**kw)  # type: ignore[arg-type]
    return score(rubric(use_expression), QUESTIONS, [DEMO], analyses, consent)


def comp(c: ScoreCard, cid: str) -> CompetencyScore:
    return next(x for x in c.competencies if x.id == cid)


def metrics(c: ScoreCard, item_id: str, cid: str) -> dict[str, MetricScore]:
    item = next(i for i in c.items if i.item_id == item_id)
    ic = next(x for x in item.competencies if x.competency == cid)
    return {m.metric: m for m in ic.metrics}


def test_same_input_gives_identical_card() -> None:
    analyses = session(expressions=True)
    first = score(rubric(), QUESTIONS, [DEMO], analyses, True)
    again = score(rubric(), QUESTIONS, [DEMO], list(reversed(session(expressions=True))), True)
    assert first.model_dump_json() == again.model_dump_json()
    assert [i.item_id for i in first.items] == [QUESTIONS[0].id, QUESTIONS[1].id, DEMO.id]
    assert ScoreCard.model_validate_json(first.model_dump_json()) == first


def test_answer_with_keywords_scores_higher() -> None:
    good, weak = card(), card(first=WEAK_ANSWER)
    assert comp(good, "problem_solving").score is not None
    assert comp(weak, "problem_solving").score is not None
    assert comp(good, "problem_solving").score > comp(weak, "problem_solving").score  # type: ignore[operator]
    kw = metrics(good, QUESTIONS[0].id, "problem_solving")["keyword_coverage"]
    assert kw.value == 1.0 and kw.counted_in_score
    assert {m.heard for m in kw.evidence} >= {"root cause", "quarantine", "stopped the line"}
    assert metrics(weak, QUESTIONS[0].id, "problem_solving")["keyword_coverage"].value == 0.0
    assert good.overall is not None and weak.overall is not None and good.overall > weak.overall


def test_competency_explanation_names_evidence_with_times() -> None:
    line = comp(card(), "problem_solving").explanation
    assert line.startswith(
        "Named 6 of 6 expected terms: keyword coverage 100% (stopped the line at 0:13, "
    )
    # the score is stated with what it is the mean of, each figure as in the metric table
    assert line.endswith(
        "; score from the mean of the marks for keyword coverage 100/100, STAR coverage"
        " 100/100, answer structure 90/100, answer length 71/100 = 90/100"
    )
    assert comp(card(), "problem_solving").score == 9.0
    ev = comp(card(), "problem_solving").evidence
    assert [e.match.start for e in ev] == sorted(e.match.start for e in ev)
    assert all(e.item_id == QUESTIONS[0].id and e.kind == "keyword" for e in ev)


def test_silent_answer_is_not_assessed_and_says_why() -> None:
    c = card(first="")
    ms = metrics(c, QUESTIONS[0].id, "problem_solving")
    for name in ("keyword_coverage", "star_coverage", "structure", "answer_duration"):
        assert ms[name].value is None
        assert ms[name].explanation == ("not assessed: no speech could be heard in the"
                                        " recording — listen to it")
    assert comp(c, "problem_solving").score is None
    assert comp(c, "problem_solving").status == "not_assessed"
    assert "no speech could be heard" in comp(c, "problem_solving").explanation


def test_expression_is_an_observation_unless_enabled() -> None:
    c = card(expressions=True, use_expression=False, consent=True)
    m = metrics(c, QUESTIONS[0].id, "communication")["expression"]
    assert m.value is not None and not m.counted_in_score
    assert c.expression == "observation_only"
    summary = next(s for s in comp(c, "communication").metrics if s.metric == "expression")
    assert not summary.counted_in_score
    without = card(expressions=False, use_expression=False, consent=True)
    assert comp(c, "communication").score == comp(without, "communication").score


def test_expression_counts_when_enabled_and_consented() -> None:
    c = card(expressions=True, use_expression=True, consent=True)
    m = metrics(c, QUESTIONS[0].id, "communication")["expression"]
    assert m.counted_in_score and m.value == 1.0
    assert c.expression == "used_in_score"
    assert "neutral" in m.explanation


def test_declined_expression_is_not_run() -> None:
    c = card(expressions=True, use_expression=True, consent=False)
    m = metrics(c, QUESTIONS[0].id, "communication")["expression"]
    assert m.value is None and not m.counted_in_score
    assert m.explanation == "not run: the candidate did not consent"
    assert c.expression == "declined"
    assert note_text(c.expression_note, "en") == "not run: the candidate did not consent"


def test_consent_without_expression_data_is_not_run() -> None:
    c = card(expressions=False, use_expression=True, consent=True)
    assert c.expression == "not_run"


def test_checklist_not_scored_awaits_staff() -> None:
    c = card(pending=True)
    op = comp(c, "operation_proficiency")
    assert op.score is None and op.status == "awaiting_staff"
    assert op.explanation.startswith("Awaiting staff checklist scoring")
    assert comp(c, "attention_to_detail").status == "awaiting_staff"
    assert not c.complete and c.pending == ("operation_proficiency", "attention_to_detail")
    assert set(c.overall_weights) == {"communication", "problem_solving"}
    assert c.overall is not None
    # the other demonstration metrics are still measured and shown
    ms = metrics(c, DEMO.id, "operation_proficiency")
    assert ms["completion_time"].value is not None and ms["checklist"].value is None


def test_checklist_is_the_weighted_share_of_ticks() -> None:
    ms = metrics(card(), DEMO.id, "attention_to_detail")
    assert ms["checklist"].value == pytest.approx(2 / 3, abs=1e-4)
    assert "ticked 1 of 2 checklist points (67% by weight)" in ms["checklist"].explanation


def test_weights_are_normalised() -> None:
    base = score(rubric(), QUESTIONS, [DEMO], session(), True)
    scaled = score(rubric(weights=(2, 3, 3, 2)), QUESTIONS, [DEMO], session(), True)
    assert base.overall == scaled.overall
    assert sum(base.overall_weights.values()) == pytest.approx(1.0)
    expected = sum(
        base.overall_weights[c.id] * c.score for c in base.competencies if c.score is not None
    )
    assert base.overall == pytest.approx(expected, abs=0.05)


def test_demonstration_over_the_time_limit_scores_zero_completion() -> None:
    over = metrics(card(duration=700.0), DEMO.id, "operation_proficiency")["completion_time"]
    assert over.value == 0.0 and over.raw == 700.0
    assert over.explanation == "went over the time limit (11:40 of 10:00)"
    fast = metrics(card(duration=300.0), DEMO.id, "operation_proficiency")["completion_time"]
    slow = metrics(card(duration=590.0), DEMO.id, "operation_proficiency")["completion_time"]
    assert fast.value is not None and slow.value is not None
    assert 1.0 > fast.value > slow.value >= sm.COMPLETION_AT_LIMIT


def test_score_uses_the_package_scale() -> None:
    r = rubric().model_copy(update={"min_score": 1.0, "max_score": 5.0})
    c = score(r, QUESTIONS, [DEMO], session(), True)
    ten = comp(score(rubric(), QUESTIONS, [DEMO], session(), True), "problem_solving").score
    five = comp(c, "problem_solving").score
    assert ten is not None and five is not None
    assert five == pytest.approx(1.0 + (ten - rubric().min_score)
                                 / (rubric().max_score - rubric().min_score) * 4.0, abs=0.06)
    assert c.min_score == 1.0 and c.max_score == 5.0


def test_missing_analysis_is_not_recorded() -> None:
    analyses = [a for a in session() if a.item_id != QUESTIONS[1].id]
    c = score(rubric(), QUESTIONS, [DEMO], analyses, True)
    item = next(i for i in c.items if i.item_id == QUESTIONS[1].id)
    assert not item.recorded
    assert all(m.value is None for ic in item.competencies for m in ic.metrics)
    assert all(m.note.code == "not_recorded" for ic in item.competencies for m in ic.metrics)


def test_bad_inputs_are_refused() -> None:
    analyses = session()
    with pytest.raises(ValueError, match="unknown item"):
        score(rubric(), QUESTIONS[:1], [DEMO], analyses, True)
    with pytest.raises(ValueError, match="two analyses"):
        score(rubric(), QUESTIONS, [DEMO], [*analyses, analyses[0]], True)
    wrong = QuestionSpec(
        id="x", prompt={"en": "?"}, answer_time_s=60, competencies=("no_such_competency",)
    )
    with pytest.raises(ValueError, match="unknown competencies"):
        score(rubric(), [wrong], [], [], True)
    with pytest.raises(ValueError, match="max_score"):
        RubricSpec.model_validate({**rubric().model_dump(), "min_score": 5, "max_score": 5})


@pytest.mark.parametrize(
    ("rate", "unit", "expected"),
    [
        (140, "words/min", 1.0),
        (110, "words/min", 1.0),
        (82.5, "words/min", 0.5),
        (55, "words/min", 0.0),
        (255, "words/min", 0.0),
        (250, "syllables/min", 1.0),
        (400, "syllables/min", 0.5),
        (100, "syllables/min", 1 - 80 / 90),
    ],
)
def test_speaking_rate_band(rate: float, unit: str, expected: float) -> None:
    assert sm.rate_value(rate, unit) == pytest.approx(expected)


def test_pause_and_filler_mappings() -> None:
    assert sm.falling(0.1, sm.PAUSE_BEST, sm.PAUSE_WORST) == 1.0
    assert sm.falling(0.375, sm.PAUSE_BEST, sm.PAUSE_WORST) == pytest.approx(0.5)
    assert sm.falling(0.7, sm.PAUSE_BEST, sm.PAUSE_WORST) == 0.0
    assert sm.falling(2, sm.FILLER_BEST, sm.FILLER_WORST) == 1.0
    assert sm.falling(15, sm.FILLER_BEST, sm.FILLER_WORST) == 0.0


def test_timed_out_answer_is_slightly_penalised() -> None:
    long_answer = " ".join([GOOD_ANSWER] * 3)
    done = spoken(QUESTIONS[0].id, long_answer, QUESTIONS[0].competencies)
    cut = spoken(QUESTIONS[0].id, long_answer, QUESTIONS[0].competencies, timed_out=True)
    r_done = sm.spoken("answer_duration", "problem_solving", QUESTIONS[0], done)
    r_cut = sm.spoken("answer_duration", "problem_solving", QUESTIONS[0], cut)
    assert r_done.value == 1.0 and r_cut.value == sm.TIMED_OUT_CAP


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_note_reads_in_every_language(language: str) -> None:
    c = card(expressions=True)
    notes: list[Note] = [c.expression_note]
    notes += [m.note for i in c.items for ic in i.competencies for m in ic.metrics]
    notes += [n for x in c.competencies for n in x.notes]
    for note in notes:
        text = note_text(note, language)  # type: ignore[arg-type]
        assert text and "{" not in text
