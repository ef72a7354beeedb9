"""The interview report: JSON model, and the reviewer's self-contained HTML in three languages."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
from report_helpers import LANGS, WHEN, Analyses, report
from scoring_fixtures import DEMO, QUESTIONS, WEAK_ANSWER, rubric, session, spoken, vision

from inference.findings import SpokenAnswerAnalysis
from inference.report.build import Report, build_report, render_html
from inference.scoring.models import TimeBandSpec
from inference.scoring.scorer import score


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    r = report(session(expressions=True))
    return {lang: render_html(r, lang) for lang in LANGS}


def test_report_is_deterministic() -> None:
    a, b = report(session(expressions=True)), report(session(expressions=True))
    assert a.model_dump_json() == b.model_dump_json()
    assert render_html(a, "en") == render_html(b, "en")


def test_report_json_round_trips() -> None:
    r = report(session(expressions=True))
    again = Report.model_validate_json(r.model_dump_json())
    assert again == r
    assert again.format == "kiosk-report/1"
    assert again.rubric_version == "2026.1" and again.generated_at == WHEN
    assert {m.name for m in again.models} == {"vosk-small-en", "face-detect"}


def test_a_given_score_card_and_iso_times_are_used() -> None:
    analyses = session()
    card = score(rubric(), QUESTIONS, [DEMO], analyses, True)
    kw = {
        "session_id": "S-1",
        "candidate_id": "C-1",
        "language": "ko",
        "consent_version": "2026-01",
        "expression_consent": True,
        "generated_at": "2026-01-12T02:05:00+00:00",
        "rubric": rubric(),
        "questions": QUESTIONS,
        "demonstrations": [DEMO],
        "analyses": analyses,
    }
    r = build_report(**kw, scorecard=card)  # type: ignore[arg-type]
    assert r.scorecard is card
    assert r.generated_at == datetime(2026, 1, 12, 2, 5, tzinfo=timezone.utc)
    assert r == build_report(**kw)  # type: ignore[arg-type]
    other = score(rubric(), QUESTIONS[:1], [DEMO], analyses[:1] + analyses[2:], True)
    with pytest.raises(ValueError, match="score card"):
        build_report(**kw, scorecard=other)  # type: ignore[arg-type]


def test_words_carry_the_evidence_they_support() -> None:
    r = report()
    first = r.items[0]
    assert first.kind == "question" and first.analysis is not None
    words = first.analysis.transcript.words
    tagged = {words[w.index].text: w.tags for w in first.word_evidence}
    assert any(t.kind == "keyword" and t.competency == "problem_solving" for t in tagged["root"])
    assert any(t.kind == "star" and t.element == "result" for t in tagged["end"])
    assert [t.kind for t in tagged["um"]] == ["filler"]


@pytest.mark.parametrize(
    ("lang", "strings"),
    [
        (
            "en",
            [
                "Interview report",
                "Problem Solving",
                "Tell us about a time",
                "Staff checklist",
                "support the reviewer&#x27;s judgement, not to replace it",
            ],
        ),
        (
            "zh-CN",
            [
                "面试评估报告",
                "问题解决",
                "请讲一次你在工作中发现质量问题的经历",
                "装配线操作工",
                "辅助而不是代替评审人的判断",
                "风扇电机支架组装",
            ],
        ),
        (
            "ko",
            [
                "면접 평가 보고서",
                "문제 해결",
                "품질 문제를 발견했던",
                "조립라인 작업자",
                "판단을 대신하지 않습니다",
                "팬 모터 브래킷 조립",
            ],
        ),
    ],
)
def test_html_is_in_the_chosen_language(
    pages: dict[str, str], lang: str, strings: list[str]
) -> None:
    page = pages[lang]
    assert f'<html lang="{lang}">' in page
    for s in strings:
        assert s in page
    if lang != "en":
        for english in ("Interview report", "Overall score", "Transcript", "Staff checklist"):
            assert english not in page


@pytest.mark.parametrize("lang", LANGS)
def test_html_is_self_contained(pages: dict[str, str], lang: str) -> None:
    page = pages[lang]
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower()
    assert "<link" not in page.lower() and "@import" not in page
    assert page.count("<svg") >= 4  # attention x2, expressions x2, speaking rate, activity
    assert 'role="img"' in page and "<title id=" in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def test_untrusted_transcript_text_is_escaped() -> None:
    words = "one day I typed <script>alert('x')</script> and " + '"quoted" & <b>bold</b>'
    analyses = session()
    analyses[0] = spoken(QUESTIONS[0].id, words, QUESTIONS[0].competencies)
    page = render_html(report(analyses), "en")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page


def test_evidence_words_are_highlighted_with_timestamps(pages: dict[str, str]) -> None:
    en = pages["en"]
    assert re.search(
        r'<mark class="evidence" title="Problem Solving · keyword “root cause” · 0:17">root</mark>',
        en,
    )
    assert '<mark class="cue" title="STAR result cue “in the end” · ' in en
    # the words of one match share one highlight
    assert 'keyword “stopped the line” · 0:13">stopped the line</mark>' in en
    assert '<span class="filler" title="Filler “um” · ' in en
    assert re.search(
        r'<mark class="evidence" title="问题解决 · 关键词“root cause” · 0:17">root', pages["zh-CN"]
    )


def test_declined_expression_consent_is_stated_and_nothing_is_shown() -> None:
    r = report(session(expressions=True), consent=False, use_expression=True)
    assert r.scorecard.expression == "declined"
    for item in r.items:
        v = item.analysis.vision if item.analysis is not None else None
        assert v is None or (not v.expression_run and v.expression_distribution is None)
        assert v is None or all(p.expression is None for p in v.timeline)
    en, zh, ko = (render_html(r, lang) for lang in ("en", "zh-CN", "ko"))
    assert "not run: the candidate did not consent" in en
    assert "Expressions over time" not in en
    assert "未进行：候选人未同意" in zh
    assert "실행하지 않음: 지원자가 동의하지 않음" in ko


def test_expression_observation_is_charted_but_not_scored(pages: dict[str, str]) -> None:
    for lang, title, heading in (
        ("en", "Expressions over time", "Observations, not scored"),
        ("zh-CN", "表情随时间分布", "观察记录（不计分）"),
        ("ko", "시간에 따른 표정 분포", "관찰 기록 (점수에 반영하지 않음)"),
    ):
        page = pages[lang]
        observations = page.index('<section class="observations"')
        details = page.index("<details>", observations)
        assert page.index(heading) > page.index('<section aria-labelledby="items-h">')
        assert page.index(title) > details  # only inside the collapsed section
        assert page.count(title) == 2 * 2  # one chart per answer: its title and caption
    en = pages["en"]
    assert "observation only: not counted in the score" in en.split("<details>")[1]
    # the caption describes what the chart draws: 26 of the 40 frames have neutral on top
    # (the mean class probability, 67 %, is not what the chart shows)
    assert "most often neutral (65% of the frames)" in en
    assert "Facial-expression" not in en.split("</header>")[0]


def test_structure_and_order_are_stated_together() -> None:
    en = render_html(report(session(WEAK_ANSWER)), "en")
    assert "Answer structure 0% (fewer than 2 of 4 STAR elements, so no order to judge)" in en
    assert "Told in STAR order" not in en and "Structure 0%" not in en
    good = render_html(report(), "zh-CN")
    assert "回答结构 90%（讲到 STAR 四要素中的 4 个，按 STAR 顺序讲述）" in good
    assert "条理" not in good  # one name for the figure


def test_recognition_quality_is_the_figure_shown_not_word_confidence() -> None:
    analyses = session()
    low = analyses[0]
    assert isinstance(low, SpokenAnswerAnalysis)
    analyses[0] = low.model_copy(
        update={"transcript": low.transcript.model_copy(update={"quality": 0.38})}
    )
    en = render_html(report(analyses), "en")
    first = en.split('<article class="item"')[1]
    assert "Recognition quality 0.38 (below 0.45: content not assessed)" in first
    assert "Recognition confidence" not in en
    assert "<th scope=\"row\">Mean word confidence</th><td>Not assessed</td>" in first
    second = en.split('<article class="item"')[2]
    assert "<th scope=\"row\">Mean word confidence</th><td>90%</td>" in second


def test_checklist_awaiting_staff_is_explained() -> None:
    page = render_html(report(session(pending=True)), "en")
    assert "Awaiting staff scoring" in page
    assert "Staff have not scored the checklist yet." in page
    assert (
        "Provisional: Operation Proficiency, Attention to Detail await the staff checklist" in page
    )
    assert "等待工作人员完成检查表评分" in render_html(report(session(pending=True)), "zh-CN")


def test_silent_answer_and_missing_video_are_stated() -> None:
    analyses: Analyses = [
        spoken(QUESTIONS[0].id, "", QUESTIONS[0].competencies),
        spoken(QUESTIONS[1].id, "", QUESTIONS[1].competencies, with_vision=vision()),
    ]
    page = render_html(report(analyses), "en")
    assert "No speech was recorded." in page
    assert "No video analysis for this item." in page
    assert "This item was not recorded." in page  # the demonstration


def test_a_demonstrations_time_band_and_too_fast_flag_are_shown() -> None:
    band = TimeBandSpec(expected_min_s=240, expected_max_s=480, credible_min_s=120)
    banded = DEMO.model_copy(update={"time_band": band})
    fast = {lang: render_html(report(session(duration=15.0), demonstration=banded), lang)
            for lang in LANGS}
    assert "Expected time" in fast["en"] and "4:00–8:00 (credible minimum 2:00)" in fast["en"]
    assert "0:15 (Too fast to be credible — review the recording)" in fast["en"]
    assert ("not assessed: finished in 0:15, under the credible minimum of 2:00 — too fast to be"
            " credible — review the recording") in fast["en"]
    assert "A demonstration was finished too fast to be credible" in fast["en"]
    assert "The speech could not be recognised reliably" not in fast["en"]
    assert "预期用时" in fast["zh-CN"] and "快得不可信——请查看录像" in fast["zh-CN"]
    assert "技能演示完成得快到不可信" in fast["zh-CN"]
    assert "예상 소요 시간" in fast["ko"]
    assert "믿기 어려울 만큼 빠름 — 녹화를 확인해 주세요" in fast["ko"]
    assert "실기 시연이 믿기 어려울 만큼 빨리 끝나" in fast["ko"]
    inside = render_html(report(session(duration=300.0), demonstration=banded), "en")
    assert "4:00–8:00 (credible minimum 2:00)" in inside and "Too fast" not in inside
    assert "Expected time" not in render_html(report(), "en")  # no band, no row


def test_rendering_is_thread_safe() -> None:
    r = report(session(expressions=True))
    serial = [render_html(r, lang) for lang in LANGS]
    with ThreadPoolExecutor(max_workers=3) as pool:
        parallel = list(pool.map(lambda lang: render_html(r, lang), LANGS))
    assert parallel == serial


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        render_html(report(), "fr")  # type: ignore[arg-type]


def test_times_are_shown_in_the_site_zone_and_kept_in_utc() -> None:
    r = report().model_copy(update={
        "generated_at": datetime(2026, 3, 5, 8, 20, tzinfo=timezone.utc),
        "interviewed_at": datetime(2026, 3, 5, 7, 50, tzinfo=timezone.utc)})
    for lang in LANGS:
        page = render_html(r, lang, "Asia/Shanghai")
        assert "2026-03-05 16:20 (Asia/Shanghai)" in page  # generated, in the footer
        assert "2026-03-05 15:50 (Asia/Shanghai)" in page  # the interview, in the header
        assert "2026-03-05 08:20" not in page and "(UTC" not in page
    assert "2026-03-05 08:20 (UTC)" in render_html(r, "en")  # the default zone, named
    assert r.model_dump(mode="json")["generated_at"] == "2026-03-05T08:20:00Z"  # data: UTC
    seoul = render_html(r, "ko", "Asia/Seoul")
    assert "2026-03-05 17:20 (Asia/Seoul)" in seoul


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Asia/Shanghia'"):
        render_html(report(), "en", "Asia/Shanghia")
