"""Chinese text in one canonical form: Simplified characters, numbers in digits.

Whisper writes Mandarin in Traditional characters about half the time, and writes some
numbers in digits ("3个月") and others in characters ("三个月"). :func:`to_simplified`
converts with OpenCC's ``t2s`` tables (loaded once, from the package's own data: no
network). :func:`numeral_spans` finds the numbers written in characters that should be
compared as digits, so that keyword matching (:mod:`inference.content.text`) can normalise both the
keyword and the transcript.

Which numerals become digits is deliberately narrow. cn2an's own ``transform`` turns every
numeral character into a digit ("一样" -> "1样", "统一" -> "统1", "零件" -> "0件",
"十分" -> "10分", "三四个" -> "34个"), so only cn2an's number parser is used, on runs that
read as a quantity:

* a run with a place value (十 百 千 万 亿) of two or more characters that cn2an parses:
  "十五" -> "15", "两千零二十四" -> "2024" ("万一" and "千万" do not parse, so stay);
* a single 一-九, 两 or 十 followed by a measure word or unit: "三个", "两年", "十天";
* three or more digits read one by one, before 年 or with a zero: "一九九八年", "二零二四".

Two adjacent digits ("三四个", "七八年") are an estimate, not a number, and stay as they are;
so do 零 alone ("零件") and numerals before anything else ("一样", "一些", "一起", "第一").
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from itertools import accumulate
from typing import Protocol

_DIGITS = "零〇一二两三四五六七八九"
_PLACES = "十百千万亿"
_RUN = re.compile(f"[{_DIGITS}{_PLACES}]+")
_ONE_BY_ONE = str.maketrans("零〇一二三四五六七八九", "00123456789")
_SINGLE = "一二两三四五六七八九十"
# Measure words and units after which a single numeral is a quantity. Left out on purpose:
# 点 (一点 "a little"), 分 (十分 "very"), 下 (一下), 些, 样, 部, 步 (进一步), 时, 间.
_UNITS = (
    "小时",
    "分钟",
    "星期",
    "公里",
    "公斤",
    *"个位名人家件项种次遍年月日天周岁倍元块台套张本份条层批箱米吨轮届期季组类款辆只双对号",
)


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


_converter: _Converter | None = None
_converter_lock = threading.Lock()


def _t2s() -> _Converter:
    global _converter
    if _converter is None:
        with _converter_lock:
            if _converter is None:
                import opencc  # the compiled tables: loaded on first use, not at import

                _converter = opencc.OpenCC("t2s")
    return _converter


def _has_han(text: str) -> bool:
    """Any Han character (unified ideographs, extension A, compatibility, planes 2-3)."""
    return any(
        "\u3400" <= ch <= "\u9fff"
        or "\uf900" <= ch <= "\ufaff"
        or "\U00020000" <= ch < "\U00040000"
        for ch in text
    )


def to_simplified(text: str) -> str:
    """``text`` with Traditional Chinese characters in their Simplified form.

    Latin, Hangul, kana, digits and punctuation are returned untouched (OpenCC only maps Han
    characters; text without any is not passed to it at all). OpenCC's t2s tables map
    character for character, so the result has the length of ``text``."""
    if not _has_han(text):
        return text
    return _t2s().convert(text)


def simplify_words(texts: Sequence[str]) -> list[str]:
    """:func:`to_simplified` of consecutive recognised words, converted together so that
    OpenCC's phrase tables see across word boundaries: "乾" "坤" stays 乾坤, where word by
    word it would read 干坤."""
    joined = to_simplified("".join(texts))
    if len(joined) != sum(map(len, texts)):  # t2s maps char for char; if not, word by word
        return [to_simplified(t) for t in texts]
    ends = list(accumulate(map(len, texts)))
    return [joined[end - len(t) : end] for t, end in zip(texts, ends, strict=True)]


def _value(run: str) -> str | None:
    import cn2an  # 0.1 s of regex compilation: only when a transcript has numerals

    try:
        return str(cn2an.cn2an(run, "normal"))
    except ValueError:
        return None


def numeral_spans(text: str, *, open_end: bool = False) -> list[tuple[int, int, str]]:
    """``(start, end, digits)`` for each number written in characters in ``text`` that
    compares as digits (see the module doc), left to right.

    ``open_end`` reads the end of ``text`` as if a unit followed: a keyword ending in a
    numeral ("第一") can then also be compared with a transcript where one does ("第1次").
    Expects Simplified text (run :func:`to_simplified` first)."""
    out = []
    for m in _RUN.finditer(text):
        run, after = m.group(), text[m.end() :]
        unit = after.startswith(_UNITS) or (open_end and not after)
        year = after.startswith("年") or (open_end and not after)
        digits: str | None = None
        if any(ch in _PLACES for ch in run):
            if len(run) > 1 or unit:
                digits = _value(run)
        elif len(run) == 1:
            digits = _value(run) if unit and run in _SINGLE else None
        elif len(run) >= 3 and "两" not in run and (year or "零" in run or "〇" in run):
            digits = run.translate(_ONE_BY_ONE)
        if digits is not None:
            out.append((m.start(), m.end(), digits))
    return out


def numerals_to_digits(text: str, *, open_end: bool = False) -> str:
    """``text`` with the numbers :func:`numeral_spans` finds written in digits."""
    parts, pos = [], 0
    for start, end, digits in numeral_spans(text, open_end=open_end):
        parts += [text[pos:start], digits]
        pos = end
    return "".join([*parts, text[pos:]])
