"""Delivery metrics, competency evidence and STAR structure from constructed transcripts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from inference.content.delivery import competency_evidence, find_fillers, speech_metrics
from inference.content.languages import count_units, rate_unit
from inference.content.star import choose_follow_up, star_coverage
from inference.findings import STAR_ELEMENTS, Transcript, Word

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "device" / "examples" / "assembly-line-operator.json"


def say(*items: str | float, start: float = 0.0, step: float = 0.4) -> list[Word]:
    """Words from strings; a number between them is an extra pause of that many seconds."""
    words, t = [], start
    for item in items:
        if isinstance(item, float | int):
            t += float(item)
            continue
        for text in item.split():
            words.append(
                Word(text=text, start=round(t, 3), end=round(t + step - 0.05, 3), conf=0.8)
            )
            t += step
    return words


def transcript(
    words: list[Word], language: str = "en", duration: float | None = None
) -> Transcript:
    end = words[-1].end if words else 0.0
    return Transcript(
        language=language,
        words=tuple(words),
        text=" ".join(w.text for w in words),
        duration_s=duration if duration is not None else end + 1.0,
        silent=not words,
    )


@pytest.fixture(scope="module")
def question() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PACKAGE.read_text("utf-8"))
    return next(i for i in data["items"] if i["id"] == "quality-issue-found")


# --- pauses, rate, confidence -----------------------------------------------------------


def test_pauses_from_timings() -> None:
    words = [
        Word(text=t, start=s, end=e, conf=c)
        for t, s, e, c in [
            ("we", 1.0, 1.3, 1.0),
            ("found", 1.5, 2.0, 0.5),  # 0.2 s gap: not a pause
            ("a", 2.8, 2.9, 0.9),  # 0.8 s pause
            ("burr", 4.4, 5.0, 0.6),  # 1.5 s pause
        ]
    ]
    m = speech_metrics(transcript(words, duration=6.0), pause_threshold_s=0.5)
    assert m.speech_s == pytest.approx(4.0) and m.duration_s == 6.0 and m.word_count == 4
    assert [(p.start, p.end) for p in m.pauses] == [(2.0, 2.8), (2.9, 4.4)]
    assert m.longest_pause is not None and m.longest_pause.length == pytest.approx(1.5)
    assert m.pause_ratio == pytest.approx(2.3 / 4.0)
    assert m.mean_confidence == pytest.approx(0.75)
    assert m.speaking_rate == pytest.approx(4 / 4.0 * 60) and m.rate_unit == "words/min"
    assert speech_metrics(transcript(words), pause_threshold_s=1.0).pause_ratio == pytest.approx(
        1.5 / 4.0
    )


def test_speaking_rate_counts_syllables_in_korean_and_chinese() -> None:
    ko = say("품질을 검사했습니다", step=1.5)  # 3 + 6 syllables in 2.95 s
    m = speech_metrics(transcript(ko, "ko"))
    assert m.rate_unit == "syllables/min"
    assert m.speaking_rate == pytest.approx(9 / 2.95 * 60)
    zh = say("我们 发现了 质量问题", step=1.0)  # 2 + 3 + 4 characters in 2.95 s
    assert speech_metrics(transcript(zh, "zh-CN")).speaking_rate == pytest.approx(9 / 2.95 * 60)
    assert count_units(["ESD", "손목 스트랩"], "ko") == 1 + 5
    assert rate_unit("en-US") == "words/min" and rate_unit("zh") == "syllables/min"


def test_silent_transcript() -> None:
    m = speech_metrics(transcript([], "ko", duration=30.0))
    assert m.silent and m.word_count == 0 and m.speech_s == 0 and m.speaking_rate == 0
    assert m.pause_ratio == 0 and m.longest_pause is None and m.mean_confidence is None
    assert m.fillers == () and m.filler_rate == 0


# --- fillers ----------------------------------------------------------------------------


def test_english_fillers() -> None:
    words = say("um I like my job and uh", 0.5, "like", 0.5, "the umbrella was", "you know")
    found = find_fillers(words, "en")
    assert [(m.phrase, m.heard) for m in found] == [("um", "um"), ("uh", "uh"), ("like", "like")]
    assert found[2].words == (7,)  # the second "like", set off by pauses; "I like my job" is not
    m = speech_metrics(transcript(words))
    assert len(m.fillers) == 3 and m.filler_rate == pytest.approx(100 * 3 / len(words))


def test_korean_fillers_need_their_pause() -> None:
    words = say("음", 0.5, "그", 0.6, "그 사람이 있 음", 0.5, "저 저는 뭐", 0.4, "했어요")
    found = find_fillers(words, "ko")
    # 음 at the start; 그 before a pause; not the determiner 그 (사람이) nor the ending 음;
    # not 저 (no pause after) nor 저는; 뭐 before a pause
    assert [(m.phrase, m.words) for m in found] == [("음", (0,)), ("그", (1,)), ("뭐", (8,))]


def test_chinese_fillers() -> None:
    words = say("嗯 那个 人", 0.5, "就是", 0.5, "那个", 0.5, "然后 我")
    found = find_fillers(words, "zh-CN")
    assert [(m.phrase, m.words) for m in found] == [
        ("嗯", (0,)),
        ("就是", (3,)),
        ("那个", (4,)),
        ("然后", (5,)),
    ]
    assert find_fillers(say("然后我就去了"), "zh-CN") == ()  # inside a word: never a filler
    assert find_fillers(say("um"), "fr") == ()


# --- competency evidence ----------------------------------------------------------------


def test_english_keyword_becomes_evidence_with_its_time() -> None:
    words = say("one day I found a scratch so I told my supervisor", start=2.0)
    ev = competency_evidence(
        transcript(words),
        "attention_to_detail",
        ["quality", "scratch", "inspect", "check"],
        ["reject"],
    )
    [m] = ev.keywords_found
    assert m.phrase == "scratch" and m.words == (5,)
    assert (m.start, m.end) == (words[5].start, words[5].end)
    assert ev.coverage == pytest.approx(1 / 4) and ev.synonyms_found == ()


def test_synonyms_count_half_and_not_on_top_of_a_keyword() -> None:
    words = say("we traced it and set aside the parts then fixed the root cause")
    ev = competency_evidence(
        transcript(words),
        "problem_solving",
        ["cause", "quarantine", "rework", "fixed"],
        ["traced", "set aside", "root cause", "traced"],
    )
    assert [m.phrase for m in ev.keywords_found] == ["cause", "fixed"]
    assert [m.phrase for m in ev.synonyms_found] == ["traced", "set aside"]  # root cause overlaps
    assert ev.coverage == pytest.approx((2 + 0.5 * 2) / 4)
    assert competency_evidence(transcript(words), "x", [], ["traced"]).coverage == 0


def test_korean_answer_against_the_example_package(question: dict[str, Any]) -> None:
    words = say("그때 품 질 검사에서 불량을 발견해서 바로 반장님께 보고했고 라인을 세웠습니다")
    t = transcript(words, "ko")
    found = {}
    for evidence in question["evidence"]:
        ev = competency_evidence(
            t, evidence["competency"], evidence["keywords"]["ko"], evidence["synonyms"]["ko"]
        )
        found[ev.competency] = [m.phrase for m in ev.keywords_found]
    assert found["attention_to_detail"] == ["품질", "검사", "불량"]
    assert found["communication"] == ["보고", "반장"]
    assert found["problem_solving"] == []


# --- STAR -------------------------------------------------------------------------------


def test_star_all_four_in_order(question: dict[str, Any]) -> None:
    words = say(
        "one day there was a burr on a bracket",
        "my job was to check the brackets",
        "so I stopped the line and told the supervisor",
        "as a result we fixed the fixture",
    )
    cues = {e: question["star_cues"][e]["en"] for e in STAR_ELEMENTS}
    cov = star_coverage(transcript(words), cues, defaults=False)
    assert cov.covered == STAR_ELEMENTS and cov.missing == () and cov.coverage == 1
    assert cov.in_order and cov.structure == pytest.approx(1.0)
    assert cov.found["result"][0].phrase == "as a result"
    assert choose_follow_up(cov, {"result": "How did it end?"}, "en") is None


def test_star_missing_result_asks_the_result_follow_up(question: dict[str, Any]) -> None:
    words = say("그때 불량이 나왔는데", "제 역할은 검사였습니다", "그래서 제가 반장님께 알렸습니다")
    cues = {e: question["star_cues"][e]["ko"] for e in STAR_ELEMENTS}
    cov = star_coverage(transcript(words, "ko"), cues)
    assert cov.covered == ("situation", "task", "action") and cov.missing == ("result",)
    assert cov.in_order and cov.structure == pytest.approx(0.6 * 0.75 + 0.25)
    templates = {e: t["ko"] for e, t in question["follow_ups"].items()}
    follow_up = choose_follow_up(cov, templates, "ko")
    assert follow_up is not None and follow_up.element == "result"
    assert follow_up.prompt == question["follow_ups"]["result"]["ko"] and follow_up.language == "ko"
    assert choose_follow_up(cov, templates, "ko", enabled=False) is None
    assert choose_follow_up(cov, {}, "ko") is None
    assert choose_follow_up(cov, {"result": "  "}, "ko") is None
    assert choose_follow_up(cov, {"situation": "when?"}, "ko") is None  # situation was heard


def test_star_priority_order_and_structure_penalties() -> None:
    words = say("结果 问题 解决了", 1.0, "当时 我负责 检查")  # result first, then S and T
    cov = star_coverage(transcript(words, "zh-CN"), {})
    assert cov.covered == ("situation", "task", "result") and not cov.in_order
    # pairs (S,T) in order, (S,R) and (T,R) not; the result cue is not at the end
    assert cov.structure == pytest.approx(0.6 * 0.75 + 0.25 * (1 / 3))
    follow_up = choose_follow_up(cov, {"action": "你做了什么？", "task": "?"}, "zh-CN")
    assert follow_up is not None and follow_up.element == "action"
    empty = star_coverage(transcript([], "zh-CN"), {"result": ["结果"]})
    assert empty.covered == () and empty.structure == 0 and empty.in_order
