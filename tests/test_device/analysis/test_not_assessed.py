"""Never score what was not understood: speech recognised below the reliable quality is "not
assessed" with the reason, never 0; a recorded item whose analysis failed is "not analysed"."""

from __future__ import annotations

import re
from typing import Any

import pytest
from scoring_fixtures import DEMO, GOOD_ANSWER, QUESTIONS, rubric, session, spoken

from inference.findings import DemonstrationAnalysis, Language, SpokenAnswerAnalysis
from inference.report.build import Report, build_report, render_html
from inference.report.i18n import t
from inference.report.models import SpokenItemReport
from inference.scoring.metrics import WORD_METRICS
from inference.scoring.models import CompetencyScore, ItemScore, MetricScore, Note, ScoreCard
from inference.scoring.notes_i18n import LANGUAGES, note_text
from inference.scoring.scorer import score
from inference.speech.quality import NOT_ASSESSED_REASON, RELIABLE_QUALITY

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
    assert not any(s.counted_in_score for s in ps.metrics)
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


def test_an_answer_with_no_speech_is_not_assessed_never_zero() -> None:
    """Silence (or only noise) is not a candidate with nothing to say: a muted microphone
    must not score 0."""
    c = card(with_quality(None, text=""))
    ms = metrics(c, Q1, "problem_solving")
    for name in ("keyword_coverage", "star_coverage", "structure", "answer_duration"):
        assert ms[name].value is None and ms[name].note.code == "speech_not_heard"
        assert ms[name].explanation.startswith("not assessed: no speech could be heard")
    assert comp(c, "problem_solving").status == "not_assessed"
    assert comp(c, "problem_solving").score is None
    assert item(c, Q1).not_assessed is not None


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


# --- the report -----------------------------------------------------------------------------

ZH_NOT_ASSESSED = "未评估：语音未能可靠识别——请听录音"
EN_NOT_ASSESSED = f"Not assessed: {NOT_ASSESSED_REASON}"
KO_NOT_ASSESSED = "평가하지 않음: 음성을 신뢰할 수 있게 인식하지 못함 — 녹음을 들어 보세요"


def build(analyses: Analyses, not_analysed: dict[str, str] | None = None,
          language: Language = "zh-CN", **kw: Any) -> Report:
    return build_report(
        session_id="S-1",
        candidate_id="C-1",
        language=language,
        consent_version="2026-01",
        expression_consent=True,
        generated_at="2026-01-12T02:05:00+00:00",
        rubric=rubric(),
        questions=QUESTIONS,
        demonstrations=[DEMO],
        analyses=analyses,
        not_analysed=not_analysed,
        **kw,
    )


def section(page: str, opening: str, closing: str) -> str:
    found = re.search(re.escape(opening) + r".*?" + re.escape(closing), page, re.S)
    assert found is not None, opening
    return found.group(0)


def answer(page: str, n: int) -> str:
    return section(page, f'<article class="item" aria-labelledby="question-{n}-h">', "</article>")


def competency(page: str, n: int) -> str:
    return section(page, f'<section class="competency" id="competency-{n}"', "</section>")


@pytest.mark.parametrize(
    ("lang", "not_assessed", "status", "figure"),
    [
        ("zh-CN", ZH_NOT_ASSESSED, "未评估", "识别质量 0.38"),
        ("en", EN_NOT_ASSESSED, "Not assessed", "Recognition quality 0.38"),
        ("ko", KO_NOT_ASSESSED, "평가하지 않음", "인식 품질 0.38"),
    ],
    ids=["zh-CN", "en", "ko"],
)
def test_report_says_not_assessed_on_the_answer_and_the_competency(
    lang: Language, not_assessed: str, status: str, figure: str
) -> None:
    r = build(with_quality(LOW, HIGH))
    first_item = r.items[0]
    assert isinstance(first_item, SpokenItemReport)
    assert first_item.word_evidence == ()  # misheard words are no evidence
    page = render_html(r, lang)
    first = answer(page, 1)
    assert not_assessed in first and figure in first
    assert '<mark class="evidence"' not in first
    ps = competency(page, 2)  # problem solving: only the first answer feeds it
    assert f"{status}</h3>" in ps and not_assessed in ps
    assert "0.0" not in ps
    assert t("evidence_none", lang) not in ps  # not "no expected terms were heard"
    assert figure.replace("0.38", "0.90") in answer(page, 2)
    assert not_assessed not in answer(page, 2)


def test_report_in_chinese_names_the_answer_and_warns_about_the_overall_score() -> None:
    page = render_html(build(with_quality(LOW, HIGH)), "zh-CN")
    communication = competency(page, 1)
    assert "问题 1 的内容未评估：语音未能可靠识别——请听录音" in communication
    assert "未评估：问题解决。语音未能可靠识别" in page  # the header's warning


def test_report_says_not_analysed_with_the_reason_not_not_recorded() -> None:
    analyses = [a for a in session() if a.item_id != Q2]
    reason = "wav file truncated at byte 4096"
    r = build(analyses, {Q2: reason})
    en, zh = render_html(r, "en"), render_html(r, "zh-CN")
    assert f"Not analysed: {reason}" in answer(en, 2)
    assert "This item was not recorded." not in en
    assert f"未分析：{reason}" in answer(zh, 2) and "此项没有录制" not in zh
    missing = render_html(build(analyses), "en")
    assert "This item was not recorded." in answer(missing, 2)
    assert "Not analysed" not in missing


def test_a_score_card_without_the_failed_analyses_is_refused() -> None:
    analyses = [a for a in session() if a.item_id != Q2]
    card_without = score(rubric(), QUESTIONS, [DEMO], analyses, True)
    with pytest.raises(ValueError, match="score card"):
        build(analyses, {Q2: "decoder crashed"}, "en", scorecard=card_without)
