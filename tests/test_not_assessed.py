"""Never score what was not understood: speech recognised below the reliable quality is "not
assessed" with the reason, never 0; a recorded item whose analysis failed is "not analysed"."""

from __future__ import annotations

import pytest
from scoring_fixtures import DEMO, GOOD_ANSWER, QUESTIONS, rubric, session, spoken

from inference.notes_i18n import LANGUAGES, note_text
from inference.recognition_quality import NOT_ASSESSED_REASON, RELIABLE_QUALITY
from inference.scoring import score
from inference.scoring_metrics import WORD_METRICS
from inference.scoring_models import (
    CompetencyScore,
    DemonstrationAnalysis,
    ItemScore,
    MetricScore,
    Note,
    ScoreCard,
    SpokenAnswerAnalysis,
)

Q1, Q2 = QUESTIONS[0].id, QUESTIONS[1].id
NOT_ASSESSED = f"not assessed: {NOT_ASSESSED_REASON}"
LOW, HIGH = 0.38, 0.9
Analyses = list[SpokenAnswerAnalysis | DemonstrationAnalysis]


def with_quality(first: float | None, second: float | None = None, text: str = GOOD_ANSWER
                 ) -> Analyses:
    """The fixture session with the given recognition quality on each answer."""
    analyses = session()
    analyses[0] = spoken(Q1, text, QUESTIONS[0].competencies, quality=first)
    second_text = " ".join(w.text for w in analyses[1].transcript.words)  # type: ignore[union-attr]
    analyses[1] = spoken(Q2, second_text, QUESTIONS[1].competencies, quality=second)
    return analyses


def card(analyses: Analyses, **kw: dict[str, str]) -> ScoreCard:
    return score(rubric(), QUESTIONS, [DEMO], analyses, True, **kw)


def comp(c: ScoreCard, cid: str) -> CompetencyScore:
    return next(x for x in c.competencies if x.id == cid)


def item(c: ScoreCard, item_id: str) -> ItemScore:
    return next(i for i in c.items if i.item_id == item_id)


def metrics(c: ScoreCard, item_id: str, cid: str) -> dict[str, MetricScore]:
    ic = next(x for x in item(c, item_id).competencies if x.competency == cid)
    return {m.metric: m for m in ic.metrics}


def test_low_quality_answer_is_not_assessed_never_zero() -> None:
    c = card(with_quality(LOW))
    ps = comp(c, "problem_solving")  # fed by the first answer only
    assert ps.status == "not_assessed" and ps.score is None
    assert ps.explanation == f"Not assessed: {NOT_ASSESSED_REASON}"
    assert "problem_solving" not in c.overall_weights and c.overall is not None
    ms = metrics(c, Q1, "problem_solving")
    for name in ("keyword_coverage", "star_coverage", "structure"):
        assert ms[name].value is None and not ms[name].counted_in_score
        assert ms[name].explanation == NOT_ASSESSED
        assert ms[name].note.values == {"quality": LOW}
    # answer length comes from timing, not from the words: still measured, but it alone
    # does not score a competency whose content was not understood
    assert ms["answer_duration"].value is not None
    first = item(c, Q1)
    assert first.recorded and first.not_assessed == NOT_ASSESSED_REASON
    assert all(ic.value is None for ic in first.competencies)
    assert item(c, Q2).not_assessed is None


def test_competency_with_other_evidence_is_scored_from_it_and_names_the_answer() -> None:
    c = card(with_quality(LOW, HIGH))
    com = comp(c, "communication")
    assert com.status == "scored" and com.score is not None
    assert com.explanation.startswith(f"Content of {Q1} not assessed: {NOT_ASSESSED_REASON}")
    kw = next(s for s in com.metrics if s.metric == "keyword_coverage")
    assert kw.items == (Q2,)
    assert kw.value == metrics(c, Q2, "communication")["keyword_coverage"].value
    assert com.evidence and all(e.item_id == Q2 for e in com.evidence)
    ms = metrics(c, Q1, "communication")
    assert {m for m, s in ms.items() if s.note.code == "speech_unreliable"} == (
        set(ms) & WORD_METRICS
    )
    assert ms["pause_ratio"].value is not None and ms["pause_ratio"].counted_in_score


def test_staff_checklist_still_scores_when_no_answer_was_understood() -> None:
    c = card(with_quality(LOW, LOW))
    assert comp(c, "communication").status == "not_assessed"
    ad = comp(c, "attention_to_detail")  # keywords from both answers, and the checklist
    assert ad.status == "scored"
    assert ad.score == pytest.approx(10 * 2 / 3, abs=0.05)  # the checklist alone
    assert ad.explanation.startswith(f"Content of {Q1} not assessed: ")
    assert f"; content of {Q2} not assessed: " in ad.explanation


def test_the_same_answer_recognised_reliably_scores_normally() -> None:
    unknown = card(with_quality(None, None))
    for quality in (HIGH, RELIABLE_QUALITY):
        c = card(with_quality(quality, quality))
        assert c.competencies == unknown.competencies
        assert c.overall == unknown.overall
        assert comp(c, "problem_solving").status == "scored"
        assert comp(c, "problem_solving").score is not None
        assert all(i.not_assessed is None for i in c.items)


def test_silent_answer_keeps_scoring_zero_whatever_its_quality() -> None:
    c = card(with_quality(0.1, text=""))
    ms = metrics(c, Q1, "problem_solving")
    for name in ("keyword_coverage", "star_coverage", "structure", "answer_duration"):
        assert ms[name].value == 0.0 and ms[name].explanation == "no speech was recorded"
    assert comp(c, "problem_solving").status == "scored"
    assert comp(c, "problem_solving").score == 0.0
    assert item(c, Q1).not_assessed is None


def test_failed_analysis_is_not_analysed_with_the_reason() -> None:
    analyses = [a for a in session() if a.item_id != Q2]
    reason = "wav file truncated at byte 4096"
    c = card(analyses, not_analysed={Q2: reason})
    second = item(c, Q2)
    assert second.recorded and second.not_analysed == reason
    notes = [m.note for ic in second.competencies for m in ic.metrics]
    assert notes and all(n.code == "not_analysed" and n.reason == reason for n in notes)
    assert all(
        m.explanation == f"not analysed: {reason}" for ic in second.competencies for m in ic.metrics
    )
    assert "not recorded" not in c.model_dump_json()
    # truly missing stays "not recorded"
    missing = card(analyses)
    assert not item(missing, Q2).recorded and item(missing, Q2).not_analysed is None
    assert metrics(missing, Q2, "communication")["pause_ratio"].explanation == "not recorded"


def test_a_competency_with_only_failed_analyses_says_why() -> None:
    analyses: Analyses = [a for a in session() if a.kind == "demonstration"]
    c = card(analyses, not_analysed={Q1: "decoder crashed", Q2: "decoder crashed"})
    ps = comp(c, "problem_solving")
    assert ps.score is None and ps.status == "not_measured"
    assert ps.explanation == "Not analysed: decoder crashed"


def test_failed_analysis_reasons_must_name_items_without_analysis() -> None:
    with pytest.raises(ValueError, match="unknown item"):
        card(session(), not_analysed={"no-such-item": "x"})
    with pytest.raises(ValueError, match="an analysis and a failed one"):
        card(session(), not_analysed={Q1: "x"})


@pytest.mark.parametrize("language", LANGUAGES)
def test_new_notes_read_in_every_language(language: str) -> None:
    notes = [
        Note(code="speech_unreliable", values={"quality": LOW}),
        Note(code="speech_unreliable_item", label=Q1),
        Note(code="not_analysed", reason="decoder {crashed}"),
    ]
    for note in notes:
        text = note_text(note, language, {Q1: "Q-one"})  # type: ignore[arg-type]
        assert text and "{item}" not in text and "{reason}" not in text
    assert "Q-one" in note_text(notes[1], language, {Q1: "Q-one"})  # type: ignore[arg-type]
    assert "decoder {crashed}" in note_text(notes[2], language)  # type: ignore[arg-type]


def test_english_note_states_the_recognition_rule_reason() -> None:
    assert note_text(Note(code="speech_unreliable"), "en") == NOT_ASSESSED
    zh = note_text(Note(code="speech_unreliable"), "zh-CN")
    assert zh == "未评估：语音未能可靠识别——请听录音"
