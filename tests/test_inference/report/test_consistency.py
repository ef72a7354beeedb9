"""No sentence in the report contradicts the number beside it, for any session: generated score
cards (scores, answers not assessed, not analysed or not recorded, STAR results, keyword and
related-word counts, recognition quality, expression consent, demonstrations) rendered in all
three languages and read back.

The sentences are read from the rendered page with each language's own wording and their numbers
compared with the tables and the score card, not with the functions that wrote them. Charts are
drawn by stand-ins here (a chart's caption is written by the report, not by the chart): these
tests are about the text, and matplotlib would make a few hundred pages take minutes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from report_pages import (
    BASIS,
    IN_ORDER,
    KEYWORDS,
    STRUCTURE,
    answer,
    basis_parts,
    competency,
    rows,
    score_rows,
    section,
    tables,
    text,
)
from scoring_fixtures import (
    ALL_TICKED,
    DEMO,
    FILLERS,
    QUESTIONS,
    STAR_CUES,
    demo,
    rubric,
    spoken,
    vision,
)
from scoring_fixtures import (
    KEYWORDS as VOCABULARY,
)

from inference.content.star import star_coverage
from inference.findings import (
    DemonstrationAnalysis,
    Language,
    Match,
    SpokenAnswerAnalysis,
)
from inference.report import charts
from inference.report.build import Report, build_report, render_html
from inference.report.i18n import metric_name, t
from inference.scoring.competency import NOT_UNDERSTOOD
from inference.scoring.figures import pct, round_half_up
from inference.scoring.models import Note, TimeBandSpec
from inference.scoring.notes_i18n import NOTES, note_text, pick
from inference.speech.quality import RELIABLE_QUALITY

LANGS: tuple[Language, ...] = ("zh-CN", "en", "ko")
PIECES = (
    *(k for ks in VOCABULARY.values() for k in ks),
    *(c for cs in STAR_CUES.values() for c in cs),
    *FILLERS,
    *("we", "the", "part", "line", "was", "and", "then", "it"),
)
Analysis = SpokenAnswerAnalysis | DemonstrationAnalysis


def _stand_in(*args: object) -> str:
    text_ = args[-1]
    assert isinstance(text_, charts.ChartText)
    p = text_.id
    return (
        f'<svg role="img" aria-labelledby="{p}-title {p}-desc" class="chart">'
        f'<title id="{p}-title">{text_.title}</title><desc id="{p}-desc">{text_.desc}</desc></svg>'
    )


@pytest.fixture(scope="module", autouse=True)
def _charts_stood_in() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for chart in ("attention_chart", "expression_chart", "rate_chart", "activity_chart"):
            mp.setattr(charts, chart, _stand_in)
        yield


@st.composite
def answers(draw: st.DrawFn, index: int, expressions: bool) -> SpokenAnswerAnalysis | str | None:
    """A question's analysis; "failed" when its analysis failed; None when not recorded."""
    kind = draw(st.sampled_from(["analysed"] * 4 + ["failed", "missing"]))
    if kind != "analysed":
        return "failed" if kind == "failed" else None
    spec = QUESTIONS[index]
    words = draw(st.lists(st.sampled_from(PIECES), max_size=24))
    quality = draw(st.none() | st.floats(0, 1))
    seen = draw(st.booleans())
    a = spoken(
        spec.id,
        " ".join(words),
        spec.competencies,
        quality=quality,
        timed_out=draw(st.booleans()),
        with_vision=vision(expressions, facing=draw(st.floats(0, 1))) if seen else None,
    )
    evidence = []
    for ev in a.evidence:  # related words count half, as analysis counts them
        related = draw(st.integers(0, 3)) if a.transcript.words else 0
        synonyms = tuple(
            Match(phrase=f"related{i}", heard="it", start=2.0, end=2.3, words=(0,))
            for i in range(related)
        )
        share = (len(ev.keywords_found) + 0.5 * related) / len(ev.keywords_expected)
        update = {"synonyms_found": synonyms, "coverage": min(1, share)}
        evidence.append(ev.model_copy(update=update))
    star = star_coverage(a.transcript, STAR_CUES, defaults=False)
    return a.model_copy(update={"evidence": tuple(evidence), "star": star})


@st.composite
def reports(draw: st.DrawFn) -> Report:
    consent, expressions = draw(st.booleans()), draw(st.booleans())
    analyses: list[Analysis] = []
    failed: dict[str, str] = {}
    for i in range(len(QUESTIONS)):
        a = draw(answers(i, expressions))
        if isinstance(a, SpokenAnswerAnalysis):
            analyses.append(a)
        elif a == "failed":
            failed[QUESTIONS[i].id] = "decoder crashed"
    task = draw(st.sampled_from(["done", "done", "pending", "failed", "missing"]))
    band = TimeBandSpec(expected_min_s=240, expected_max_s=480, credible_min_s=120)
    spec = DEMO.model_copy(update={"time_band": band if draw(st.booleans()) else None})
    if task in ("done", "pending"):
        ticks = {k: draw(st.booleans()) for k in ALL_TICKED}
        duration = draw(st.floats(5, 700))
        analyses.append(demo(None if task == "pending" else ticks, duration=duration))
    elif task == "failed":
        failed[DEMO.id] = "video unreadable"
    return build_report(
        session_id="S-1",
        candidate_id="C-1",
        language="en",
        consent_version="2026-01",
        expression_consent=consent,
        generated_at="2026-01-12T02:05:00+00:00",
        rubric=rubric(use_expression=draw(st.booleans())),
        questions=QUESTIONS,
        demonstrations=[spec],
        analyses=analyses,
        not_analysed=failed,
    )


def check_competencies(r: Report, page: str, lang: Language) -> None:
    card = r.scorecard
    table = score_rows(page)
    for n, comp in enumerate(card.competencies, start=1):
        shown = competency(page, n)
        row = table[n - 1]
        assert row[3] == shown.line  # the table's explanation is the section's
        assert shown.heading.endswith(row[2])  # the heading's score is the table's
        if comp.score is None:
            # not assessed, awaiting staff or not measured: a status, never a number or 0
            assert row[2] == t(f"status.{comp.status}", lang)
            assert not BASIS[lang].search(shown.line)
        else:
            assert row[2] == f"{comp.score:.1f}"
            basis = BASIS[lang].search(shown.line)
            assert basis is not None, shown.line
            parts = basis_parts(basis.group("parts"), lang)
            for metric, mark in parts:  # each figure in the sentence is the table's
                value, counted, _ = shown.metrics[metric]
                assert value == f"{mark}/100" and counted == t("yes", lang)
            counted_rows = [m for m, v in shown.metrics.items() if v[1] == t("yes", lang)]
            assert sorted(counted_rows) == sorted(m for m, _ in parts)
            mean = int(basis.group("marks"))
            assert abs(mean - sum(s for _, s in parts) / len(parts)) <= 1  # each rounded
            scale = card.max_score - card.min_score
            assert abs(comp.score - (card.min_score + mean / 100 * scale)) <= 0.05 + scale / 200
        for value, counted, _ in shown.metrics.values():
            assert value == "—" or re.fullmatch(r"\d+/100", value), value
            if comp.status == "not_assessed":  # nothing in it counts, nothing is "observed"
                assert counted == t("no", lang)
        check_keywords(shown.line, lang)


def check_keywords(sentence: str, lang: Language) -> None:
    """Every keyword count states the coverage it gives: a related word counts half."""
    for m in KEYWORDS[lang].finditer(sentence):
        found, expected = int(m.group("found")), int(m.group("expected"))
        related = int(m.group("syn") or 0)
        share = min(1.0, (found + 0.5 * related) / expected)
        assert m.group("pct") == pct(share), m.group(0)


def check_metric_details(r: Report, page: str, lang: Language) -> None:
    """A value is its item's figure, or the mean of the items it names; nothing not assessed
    shows a figure."""
    for n, comp in enumerate(r.scorecard.competencies, start=1):
        shown = competency(page, n)
        for summary in comp.metrics:
            rows_ = [v for k, v in shown.metrics.items() if k == metric_key(summary.metric, lang)]
            if not rows_:
                continue
            value, _, detail = rows_[0]
            check_keywords(detail, lang)
            assert value == ("—" if summary.value is None else f"{pct(summary.value)}/100")
            if len(summary.items) == 1 and summary.metric in ("keyword_coverage", "structure"):
                keywords = summary.metric == "keyword_coverage"
                pattern = KEYWORDS[lang] if keywords else STRUCTURE[lang]
                figures = [m.group("pct") for m in pattern.finditer(detail)]
                assert f"{figures[0]}/100" == value, (detail, value)  # the share is the mark
            for code in NOT_UNDERSTOOD:  # an answer not assessed: the reason, no figure
                phrase = pick(NOTES, code, lang)
                for clause in detail.split(pick(NOTES, "note_sep", lang)):
                    if phrase in clause:
                        assert not re.search(r"\d+ ?%", clause), clause


def metric_key(metric: str, lang: Language) -> str:
    return metric_name(metric, lang).casefold()


def check_answers(r: Report, page: str, lang: Language) -> None:
    for item in r.items:
        if item.kind != "question" or item.analysis is None:
            continue
        html = answer(page, item.number)
        a = item.analysis
        assessed = not a.transcript.silent and a.transcript.words and (
            a.transcript.quality is None or a.transcript.quality >= RELIABLE_QUALITY
        )
        star_tables = tables(section(html, f"<h4>{t('star', lang)}</h4>", "<h4>"))
        if not assessed:
            assert not star_tables and not STRUCTURE[lang].search(text(html))
        else:
            heard = sum(row[1] == t("yes", lang) for row in rows(star_tables[0]))
            sentence = STRUCTURE[lang].search(text(html))
            assert sentence is not None
            share = int(sentence.group("pct"))
            assert share == int(pct(a.star.structure))
            if sentence.group("few"):
                assert heard < 2 and share <= 30
            else:
                assert int(sentence.group("covered")) == heard >= 2
                assert share >= round(60 * heard / 4)
            if sentence.group("order") == IN_ORDER[lang]:
                assert share >= 55  # two elements in order, at the least
        speech = rows(tables(section(html, f"<h4>{t('speech', lang)}</h4>", "</table>"))[0])
        confidence = next(c for c in speech if c[0] == t("confidence", lang))[1]
        if not assessed:
            assert confidence == t("not_assessed", lang)
        q = a.transcript.quality
        if q is not None and a.transcript.words and not a.transcript.silent:
            verdict = "quality.reliable" if q >= RELIABLE_QUALITY else "quality.unreliable"
            line = t("quality", lang, q=f"{round_half_up(q, 2):.2f}")
            assert line + t(verdict, lang, min="0.45") in text(html)
        assert t("chart.expression", lang) not in html  # observations are shown apart


def check_expressions_apart(r: Report, page: str, lang: Language) -> None:
    header = section(page, "<header>", "</header>")
    observations = page.index('<section class="observations"')
    assert page.index("<details>", observations) > observations
    assert "<details open" not in page  # collapsed until the reader opens it
    status = note_text(r.scorecard.expression_note, lang)
    assert status not in text(header)  # what happened to expressions is not a headline
    assert status in text(section(page, "<details>", "</details>"))
    for name in ("angry", "happy", "neutral", "sad"):
        assert name not in header
    first_chart = page.find(t("chart.expression", lang))
    assert first_chart == -1 or first_chart > observations
    if not r.expression_consent:
        assert first_chart == -1
    expression = metric_key("expression", lang)
    for n, comp in enumerate(r.scorecard.competencies, start=1):
        row = competency(page, n).metrics.get(expression)
        counted = any(s.metric == "expression" and s.counted_in_score for s in comp.metrics)
        assert (row is not None) == counted  # beside the scores only when it is one of them


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reports())
def test_no_sentence_contradicts_its_number(r: Report) -> None:
    for lang in LANGS:
        page = render_html(r, lang)
        overall = "—" if r.scorecard.overall is None else f"{r.scorecard.overall:.1f}"
        assert f"<strong>{overall}</strong>" in section(page, "<header>", "</header>")
        check_competencies(r, page, lang)
        check_metric_details(r, page, lang)
        check_answers(r, page, lang)
        check_expressions_apart(r, page, lang)


@pytest.mark.parametrize("lang", LANGS)
def test_notes_stored_before_the_figures_were_kept_read_consistently(lang: Language) -> None:
    """A report stored by an earlier version still reads without contradiction: a structure
    note "in order" with a score no in-order answer can have had too few elements, and a
    keyword note without its coverage states the coverage its counts give."""
    vacuous = Note(code="structure", values={"pct": 0.0, "in_order": 1.0})
    sentence = STRUCTURE[lang].search(note_text(vacuous, lang))
    assert sentence is not None and sentence.group("few")
    ordered = STRUCTURE[lang].search(
        note_text(Note(code="structure", values={"pct": 0.7, "in_order": 1.0}), lang)
    )
    assert ordered is not None and ordered.group("order") == IN_ORDER[lang]
    assert ordered.group("covered") is None  # not counted then: no count made up
    counts = Note(code="keywords", values={"found": 3.0, "expected": 6.0, "synonyms": 2.0})
    check_keywords(note_text(counts, lang), lang)
    assert KEYWORDS[lang].search(note_text(counts, lang)).group("pct") == "67"  # type: ignore[union-attr]
