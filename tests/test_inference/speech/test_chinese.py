"""Simplified characters and numbers as digits, alone and inside phrase matching."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import opencc
import pytest

from inference.content.text import find_phrase
from inference.findings import Match, Word
from inference.speech import chinese
from inference.speech.chinese import numerals_to_digits, simplify_words, to_simplified


def timed(texts: str | Sequence[str], step: float = 0.5, length: float = 0.4) -> list[Word]:
    """One recognised word per text (a string: per space), one every ``step`` seconds."""
    if isinstance(texts, str):
        texts = texts.split()
    return [
        Word(text=t, start=i * step, end=i * step + length, conf=0.9) for i, t in enumerate(texts)
    ]


def spans(matches: Sequence[Match]) -> list[tuple[int, ...]]:
    return [m.words for m in matches]


# --- Traditional -> Simplified -----------------------------------------------------------


def test_traditional_transcript_becomes_simplified() -> None:
    assert to_simplified("我們發現品質問題後立刻報告") == "我们发现品质问题后立刻报告"
    assert to_simplified("兩萬個零件") == "两万个零件"
    assert simplify_words(["我們", "發現", "了"]) == ["我们", "发现", "了"]
    # converted together: the phrase tables see across word boundaries
    assert simplify_words(["乾", "坤"]) == ["乾", "坤"] and to_simplified("乾") == "干"
    assert simplify_words([" 乾", "淨", "", " ok"]) == [" 干", "净", "", " ok"]


@pytest.mark.parametrize(
    "text",
    [
        "Root cause, 3.5% OK!",
        "품질 검사를 했습니다",
        "ｆｕｌｌ　ｗｉｄｔｈ",
        "",
        "我们发现质量问题",
    ],
)
def test_non_traditional_text_is_untouched(text: str) -> None:
    assert to_simplified(text) == text


def test_mixed_text_keeps_its_latin_and_hangul() -> None:
    assert to_simplified("品質 QC 품질 123。") == "品质 QC 품질 123。"


def test_the_converter_is_built_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[opencc.OpenCC] = []
    real = opencc.OpenCC

    def counting(config: str) -> opencc.OpenCC:
        built.append(real(config))
        return built[-1]

    monkeypatch.setattr(chinese, "_converter", None)
    monkeypatch.setattr(opencc, "OpenCC", counting)
    start = threading.Barrier(8)
    results: list[str] = []

    def convert() -> None:
        start.wait()
        results.append(to_simplified("問題報告"))

    threads = [threading.Thread(target=convert) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["问题报告"] * 8 and len(built) == 1


def test_traditional_words_match_simplified_keywords() -> None:
    words = timed(["我們", "發現", "品質", "問題"])
    [m] = find_phrase(words, "品质问题")
    assert m.words == (2, 3) and m.heard == "品質 問題"
    assert spans(find_phrase(timed(["我们", "发现", "质量问题"]), "質量")) == [(2,)]


# --- numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("三个", "3个"),
        ("两年", "2年"),
        ("十五", "15"),
        ("我做了十五年", "我做了15年"),
        ("一千两百个", "1200个"),
        ("三十多个", "30多个"),
        ("二零二四年", "2024年"),
        ("有一次", "有1次"),
        # words and idioms with a numeral in them stay as they are
        ("一样", "一样"),
        ("统一", "统一"),
        ("一些", "一些"),
        ("一起", "一起"),
        ("一下", "一下"),
        ("一点点", "一点点"),
        ("进一步", "进一步"),
        ("零件", "零件"),
        ("十分重要", "十分重要"),
        ("万一", "万一"),
        ("千万", "千万"),
        ("一五一十", "一五一十"),
        ("三心二意", "三心二意"),
        # two digits side by side are an estimate, not a number
        ("三四个", "三四个"),
        ("七八年", "七八年"),
    ],
)
def test_numerals_to_digits(text: str, expected: str) -> None:
    assert numerals_to_digits(text) == expected


def test_keyword_in_characters_matches_digits_in_the_transcript() -> None:
    words = timed(["我", "做", "了", "3个", "月"])
    [m] = find_phrase(words, "三个")
    assert m.words == (3,) and m.heard == "3个"
    assert (m.start, m.end) == (words[3].start, words[3].end)


def test_keyword_in_digits_matches_characters_in_the_transcript() -> None:
    words = timed(["我", "做", "了", "三", "个", "月"])
    [m] = find_phrase(words, "3个")
    assert m.words == (3, 4) and m.heard == "三 个"
    assert (m.start, m.end) == (words[3].start, words[4].end)


def test_number_split_across_words_touches_all_of_them() -> None:
    words = timed(["干了", "十", "五", "年"])
    [m] = find_phrase(words, "15年")
    assert m.words == (1, 2, 3) and (m.start, m.end) == (words[1].start, words[3].end)
    [m] = find_phrase(words, "15")
    assert m.words == (1, 2) and (m.start, m.end) == (words[1].start, words[2].end)
    assert spans(find_phrase(timed(["工作", "2年"]), "两年")) == [(1,)]
    assert spans(find_phrase(timed(["工作", "两年"]), "2年")) == [(1,)]
    assert spans(find_phrase(timed(["工作", "兩年"]), "2年")) == [(1,)]
    assert spans(find_phrase(timed(["大概", "15", "个人"]), "十五个")) == [(1, 2)]


def test_a_number_is_not_found_inside_a_longer_one() -> None:
    assert find_phrase(timed(["做", "了", "13个", "月"]), "三个") == []
    assert find_phrase(timed(["做", "了", "十三个", "月"]), "3个") == []
    assert find_phrase(timed(["一百二十", "个"]), "二十个") == []


def test_words_with_a_numeral_are_not_digits() -> None:
    assert spans(find_phrase(timed(["标准", "不", "一样"]), "一样")) == [(2,)]
    assert find_phrase(timed(["标准", "不", "一样"]), "1样") == []
    assert spans(find_phrase(timed(["我们", "统", "一", "了", "标准"]), "统一")) == [(1, 2)]
    assert spans(find_phrase(timed(["检查", "零件"]), "零件")) == [(1,)]


def test_keyword_ending_in_a_numeral_matches_before_a_unit() -> None:
    assert spans(find_phrase(timed(["第1次", "做"]), "第一")) == [(0,)]
    assert spans(find_phrase(timed(["第一次", "做"]), "第一")) == [(0,)]
    assert spans(find_phrase(timed(["安全", "第一"]), "第一")) == [(1,)]


def test_punctuation_ends_a_number() -> None:
    words = timed(["排名第一。", "十个", "人"])
    [m] = find_phrase(words, "10个")
    assert m.words == (1,)


def test_english_number_words_match_digits() -> None:
    assert spans(find_phrase(timed("I spent 3 years there"), "three years")) == [(2, 3)]
    assert spans(find_phrase(timed("I spent three years there"), "3 years")) == [(2, 3)]
    assert spans(find_phrase(timed("about twenty-five people"), "25 people")) == [(1, 2)]
    assert spans(find_phrase(timed("about twenty five people"), "25")) == [(1, 2)]
    assert spans(find_phrase(timed("about 25 people"), "twenty-five")) == [(1,)]
    assert find_phrase(timed("about 13 people"), "three") == []
    assert spans(find_phrase(timed("about 15 people"), "fifteen")) == [(1,)]
    assert find_phrase(timed("about 150 people"), "fifteen") == []
