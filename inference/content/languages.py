"""Per-language vocabulary: filler words, default STAR cue phrases, the speaking-rate unit.

Fillers are matched as whole recognised words only ("um" is not in "umbrella", "그" is
not in "그는"). Words that are fillers in one use and ordinary words in another count
only when a pause of at least :data:`FILLER_PAUSE_S` sets them off, on the side that
tells the two uses apart (:attr:`Filler.pause`):

* ``"after"``: determiners used as hesitations (那个, 这个, 그, 저) are left hanging before a
  pause; as determiners they run straight into their noun ("그 사람").
* ``"before"``: hesitation sounds that are also endings or particles (ko 음, 어, 아, 으; zh
  啊, 哦) count after a pause or at the start of the answer, never straight after a word
  (the small Korean vosk model splits endings off: "했 어", "좋 아", "있 음").
* ``"either"``: discourse words ("like", "you know", 就是, 然后, 뭐, 이제) need a pause on
  one side: "I like my job" is not a filler, "I was, like ... checking" is.

A filler said fluently with no pause at all is missed rather than an ordinary word counted
against the candidate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from inference.content.text import is_cjk, normalize
from inference.findings import StarElement

RateUnit = Literal["words/min", "syllables/min"]
LANGUAGES = ("zh-CN", "en", "ko")
FILLER_PAUSE_S = 0.3
"""Gap (s) next to an ambiguous filler that marks it as a hesitation."""


PauseRule = Literal["none", "before", "after", "either"]


@dataclass(frozen=True)
class Filler:
    phrase: str
    pause: PauseRule = "none"
    """Where a pause must be for the word to count as a filler ("none": always a filler)."""


def _fillers(rule: PauseRule, phrases: str) -> tuple[Filler, ...]:
    return tuple(Filler(p, rule) for p in phrases.split("|"))


FILLERS: dict[str, tuple[Filler, ...]] = {
    "en": _fillers("none", "um|umm|uh|uhh|er|erm|ah|hmm|mm")
    + _fillers("either", "like|you know|i mean|sort of|kind of"),
    "zh-CN": _fillers("none", "嗯|呃|额|唔")
    + _fillers("before", "啊|哦")
    + _fillers("after", "那个|这个")
    + _fillers("either", "就是|就是说|然后"),
    "ko": _fillers("before", "음|어|아|으")
    + _fillers("after", "그|저")
    + _fillers("either", "뭐|막|이제|그니까|그러니까"),
}

STAR_CUES: dict[str, dict[StarElement, tuple[str, ...]]] = {
    "en": {
        "situation": (
            "at the time",
            "one day",
            "there was a time",
            "back when",
            "in my last job",
            "in my previous job",
            "a few years ago",
            "last year",
        ),
        "task": (
            "my job was",
            "i was responsible for",
            "my role was",
            "i had to",
            "i needed to",
            "my task was",
            "i was asked to",
            "i was in charge of",
        ),
        "action": (
            "i decided",
            "i immediately",
            "so i",
            "first i",
            "then i",
            "i checked",
            "i stopped",
            "i reported",
            "i told",
        ),
        "result": (
            "as a result",
            "in the end",
            "after that",
            "since then",
            "the result was",
            "it turned out",
            "finally",
            "we managed to",
            "i learned",
        ),
    },
    "zh-CN": {
        "situation": ("当时", "那时候", "有一次", "那天", "以前在", "之前在", "去年"),
        "task": ("我的任务", "我负责", "我的工作是", "需要我", "目标是", "领导让我", "班长让我"),
        "action": ("我就", "我马上", "我先", "然后我", "我立刻", "我决定", "我把"),
        "result": ("结果", "最后", "后来", "从那以后", "最终", "解决了", "学到"),
    },
    "ko": {
        "situation": ("그때", "당시", "한번은", "그날", "예전에", "작년에", "일할 때"),
        "task": ("제 역할은", "제가 맡은", "제 업무는", "해야 했", "담당했", "제 일은"),
        "action": ("제가 바로", "바로", "먼저", "그래서 제가", "즉시", "곧바로", "직접"),
        "result": ("결과적으로", "결국", "그 후로", "덕분에", "결과", "마침내", "그 뒤로"),
    },
}


def base_language(language: str) -> str:
    """The product language a tag belongs to: "en-US" -> "en", "zh" -> "zh-CN", "ko-KR" ->
    "ko"; other tags are returned unchanged."""
    tag = language.replace("_", "-").casefold()
    for lang in LANGUAGES:
        if tag == lang.casefold() or tag.split("-")[0] == lang.split("-")[0].casefold():
            return lang
    return language


def fillers(language: str) -> tuple[Filler, ...]:
    """The filler words of ``language``; none for a language without a list."""
    return FILLERS.get(base_language(language), ())


def star_cues(language: str) -> dict[StarElement, tuple[str, ...]]:
    """Default STAR cue phrases of ``language`` (used besides a question's own cues)."""
    return dict(STAR_CUES.get(base_language(language), {}))


def rate_unit(language: str) -> RateUnit:
    """Words per minute for English (and other spaced scripts), syllables for zh-CN and ko."""
    lang = base_language(language)
    return (
        "syllables/min" if lang in ("zh-CN", "ko") or lang.startswith(("zh", "ja")) else "words/min"
    )


_RUN = re.compile(r"[^\W_]+")


def count_units(texts: list[str], language: str) -> int:
    """Speaking-rate units in recognised words: words for English; for zh-CN and ko each
    Han character or Hangul syllable is one syllable, and each run of other letters or
    digits (a Latin word, a number) counts as one."""
    if rate_unit(language) == "words/min":
        return sum(len(normalize(t).split()) for t in texts)
    count = 0
    for text in texts:
        norm = normalize(text)
        count += sum(1 for ch in norm if is_cjk(ch))
        count += len(_RUN.findall("".join(" " if is_cjk(ch) else ch for ch in norm)))
    return count
