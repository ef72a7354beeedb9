"""Normalisation and phrase matching over recognised words (constructed transcripts)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from inference.content.text import PhraseIndex, find_phrase, find_phrases, normalize, stem
from inference.findings import Match, Word


def timed(text: str, start: float = 0.0, step: float = 0.5, length: float = 0.4) -> list[Word]:
    """Words of ``text`` (split on spaces), one every ``step`` seconds."""
    return [
        Word(text=t, start=start + i * step, end=start + i * step + length, conf=0.9)
        for i, t in enumerate(text.split())
    ]


def spans(matches: Sequence[Match]) -> list[tuple[int, ...]]:
    return [m.words for m in matches]


def test_normalize() -> None:
    assert normalize("Ｑｕａｌｉｔｙ  CHECK!") == "quality check"
    assert normalize("Don’t stop—the line.") == "dont stop the line"
    assert normalize("质量，检查。") == "质量 检查"
    assert normalize("품질을 (검사)했습니다…") == "품질을 검사 했습니다"
    assert normalize("double-check") == "double check"
    assert normalize("  ") == ""


def test_stem_groups_inflections() -> None:
    assert {stem(w) for w in ("cause", "causes", "caused", "causing")} == {"caus"}
    assert {stem(w) for w in ("stop", "stops", "stopped", "stopping")} == {"stop"}
    assert {stem(w) for w in ("inspect", "inspected", "inspecting", "inspects")} == {"inspect"}
    assert stem("process") == stem("processes") == "process"
    assert stem("tallied") == stem("tally")
    assert stem("because") != stem("cause")
    assert stem("품질을") == "품질을"


# --- English ----------------------------------------------------------------------------


def test_english_keyword_with_timestamp() -> None:
    words = timed("then I found a defect on the bracket")
    [m] = find_phrase(words, "defect")
    assert m.words == (4,) and m.heard == "defect"
    assert (m.start, m.end) == (words[4].start, words[4].end)
    [m] = find_phrase(words, "Found a DEFECT")
    assert m.words == (2, 3, 4) and m.start == words[2].start and m.end == words[4].end


def test_english_word_boundaries() -> None:
    words = timed("because it was late")
    assert find_phrase(words, "cause") == []
    assert spans(find_phrase(timed("the cause was a burr"), "cause")) == [(1,)]
    assert spans(find_phrase(timed("that caused scratches"), "cause")) == [(1,)]
    assert find_phrase(timed("the causeway"), "cause") == []
    assert find_phrase(timed("i checked the recheck list"), "check") != []
    assert spans(find_phrase(timed("recheck it"), "check")) == []


def test_english_inflections() -> None:
    assert spans(find_phrase(timed("we inspected every part"), "inspect")) == [(1,)]
    assert spans(find_phrase(timed("I inspect parts"), "inspected")) == [(1,)]
    assert spans(find_phrase(timed("so we stopped the lines"), "stop the line")) == [(2, 3, 4)]
    assert spans(find_phrase(timed("it was double-checked"), "double-check")) == [(2,)]
    assert spans(find_phrase(timed("they fixes it"), "fixed")) == [(1,)]


def test_english_split_and_merged_words() -> None:
    assert spans(find_phrase(timed("good team work matters"), "teamwork")) == [(1, 2)]
    assert spans(find_phrase(timed("good teamwork matters"), "team work")) == [(1,)]
    assert spans(find_phrase(timed("the hand over went well"), "handover")) == [(1, 2)]
    # the merge must still end on a word boundary
    assert find_phrase(timed("a teamworker"), "team work") == []


# --- Korean -----------------------------------------------------------------------------


def test_korean_keyword_split_by_the_recogniser() -> None:
    words = timed("그때 품 질 문제가 있었습니다")
    [m] = find_phrase(words, "품질")
    assert m.words == (1, 2) and m.heard == "품 질"
    assert (m.start, m.end) == (words[1].start, words[2].end)


def test_korean_keyword_with_particle_or_inside_a_word() -> None:
    words = timed("제가 품질을 확인했습니다")
    [m] = find_phrase(words, "품질")
    assert m.words == (1,) and m.heard == "품질을"
    assert spans(find_phrase(timed("바로 품질검사 했어요"), "검사")) == [(1,)]
    assert spans(find_phrase(timed("반장님께 알렸습니다"), "알렸")) == [(1,)]
    # a phrase written with a space matches without it and vice versa
    assert spans(find_phrase(timed("라인정지 했습니다"), "라인 정지")) == [(0,)]
    assert spans(find_phrase(timed("해야 했 습니다"), "해야 했")) == [(0, 1)]


def test_korean_single_syllable_needs_a_whole_word() -> None:
    assert spans(find_phrase(timed("버 가 있었어요"), "버")) == [(0,)]
    assert spans(find_phrase(timed("버가 있었어요"), "버")) == [(0,)]
    assert find_phrase(timed("버스 타고 버렸어요"), "버") == []


# --- Chinese ----------------------------------------------------------------------------


def test_chinese_keyword_inside_a_longer_word() -> None:
    words = timed("我 发现 质量问题 了")
    [m] = find_phrase(words, "质量")
    assert m.words == (2,) and m.heard == "质量问题"
    assert (m.start, m.end) == (words[2].start, words[2].end)


def test_chinese_keyword_across_two_words() -> None:
    words = [
        Word(text="马上", start=0.0, end=0.5, conf=1.0),
        Word(text="停", start=0.6, end=0.8, conf=1.0),
        Word(text="线了", start=0.8, end=1.2, conf=1.0),
    ]
    [m] = find_phrase(words, "停线")
    assert m.words == (1, 2) and (m.start, m.end) == (0.6, 1.2) and m.heard == "停 线了"


def test_chinese_single_character_needs_a_whole_word() -> None:
    assert spans(find_phrase(timed("嗯 我 觉得"), "嗯")) == [(0,)]
    assert find_phrase(timed("嗯嗯 我"), "嗯") == []


# --- several matches --------------------------------------------------------------------


def test_each_position_matches_once() -> None:
    assert spans(find_phrase(timed("检查 检查 再 检查"), "检查")) == [(0,), (1,), (3,)]
    assert spans(find_phrase(timed("检查检查"), "检查")) == [(0,), (0,)]
    assert spans(find_phrase(timed("aa aa aa"), "aa aa")) == [(0, 1)]


def test_overlapping_phrases_longer_wins() -> None:
    words = timed("we found the root cause and the cause was a burr")
    found = find_phrases(words, ["cause", "root cause"])
    assert [(m.phrase, m.words) for m in found] == [("root cause", (3, 4)), ("cause", (7,))]
    assert [m.phrase for m in find_phrases(timed("곧바로 했습니다"), ["바로", "곧바로"])] == [
        "곧바로"
    ]


def test_index_reuse_and_empty_inputs() -> None:
    index = PhraseIndex(timed("one day I checked the parts"))
    assert index.first("check") is not None and index.first("inspect") is None
    assert index.find("") == [] and index.find("!!") == []
    assert PhraseIndex([]).find("품질") == []
    assert find_phrases([], ["a", "b"]) == []


@pytest.mark.parametrize("phrase", ["Quality", "QUALITY", "quality!"])
def test_case_and_punctuation_in_phrases(phrase: str) -> None:
    assert spans(find_phrase(timed("quality matters"), phrase)) == [(0,)]
