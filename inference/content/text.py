"""Text normalisation and phrase matching over recognised words with timings.

Recognisers split and merge words unpredictably, and Chinese and Korean are not written
with spaces between words the way English is, so matching compares the phrase with its
spaces removed against the concatenation of consecutive recognised words, and maps the
character offsets back to word indexes (and so to times). The script of the phrase picks
the rules:

* Han / Hangul phrases (zh-CN, ko), and numbers ("15", "fifteen"), match anywhere, inside
  a word too ("품질을" holds "품질", "质量问题" holds "质量", "15年" holds "15"), and
  across words ("품 질"), though never inside a longer number. A one-character phrase
  ("버", "嗯") must be a whole recognised word, in Korean optionally followed by a particle
  ("버가"), since a single syllable inside a word is almost never that word.
* Other phrases (en) match at word boundaries only ("cause" is not in "because"), but a
  split or merge is tolerated ("team work" = "teamwork") and every word is reduced by a
  light stemmer first, so "inspected", "inspecting" and "inspects" match "inspect".

Both the phrase and the recognised words are compared in one form
(:mod:`inference.speech.chinese`): Chinese in Simplified characters, numbers in digits
("三个" = "3个", "两年" = "2年",
"十五" = "15"; "three years" = "3 years", "twenty-five" = "25"; "3个" is not in "13个").
A number in characters that spans recognised words ("十" "五") touches all of them.
Korean numbers are compared as written.

A phrase matches at most once per position: occurrences are found left to right and do
not overlap. Match times are the start of the first and the end of the last word touched.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise
from typing import NamedTuple

from inference.findings import Match, Word
from inference.speech.chinese import numeral_spans, numerals_to_digits, to_simplified

_APOSTROPHES = "'’‘`´"
_VOWELS = re.compile(r"[aeiouy]")
_KO_PARTICLES = (
    "이",
    "가",
    "을",
    "를",
    "은",
    "는",
    "도",
    "만",
    "의",
    "에",
    "로",
    "으로",
    "와",
    "과",
    "랑",
)


# English number words, compared as digits. A table rather than a library (text2num's
# alpha2digit): matching needs these and tens-units compounds, nothing more.
_EN_NUMBERS = {
    w: str(n)
    for n, w in enumerate(
        (
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
            "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
            "seventeen", "eighteen", "nineteen",
        )
    )
}  # fmt: skip
_EN_TENS = {
    w: str(10 * n)
    for n, w in enumerate(
        ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"), 2
    )
}


def normalize(text: str) -> str:
    """NFKC, casefolded, apostrophes dropped, other punctuation and symbols as spaces."""
    text = unicodedata.normalize("NFKC", text).casefold()
    out = []
    for ch in text:
        if ch in _APOSTROPHES:
            continue
        out.append(" " if unicodedata.category(ch)[0] in "PSZC" else ch)
    return " ".join("".join(out).split())


def is_cjk(ch: str) -> bool:
    """A Han character, Hangul syllable or jamo, or kana."""
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0xAC00 <= o <= 0xD7A3
        or 0x1100 <= o <= 0x11FF
        or 0x3130 <= o <= 0x318F
        or 0x3040 <= o <= 0x30FF
        or 0xF900 <= o <= 0xFAFF
        or 0x20000 <= o <= 0x2FFFF
    )


def has_cjk(text: str) -> bool:
    return any(is_cjk(ch) for ch in text)


def stem(token: str) -> str:
    """A light English stemmer: drops one of -ies/-ied (to -y), -es, -s, -ed, -ing, then a
    final -e, then undoubles a final consonant; the same stem for "cause", "causes",
    "caused", "causing" and for "stop", "stopped", "stopping". Non-Latin tokens unchanged."""
    if len(token) < 4 or not token.isascii() or not token.isalpha():
        return token
    word, cut = token, False
    if word.endswith(("ies", "ied")):
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("eed"):
        pass
    else:
        for suffix in ("ing", "ed", "es", "s"):
            rest = word[: -len(suffix)]
            if word.endswith(suffix) and len(rest) >= 3 and _VOWELS.search(rest):
                if suffix == "s" and rest.endswith(("s", "u", "i")):
                    break
                word, cut = rest, suffix in ("ing", "ed")
                break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if cut and len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeioulsz":
        word = word[:-1]
    return word


class _Token(NamedTuple):
    text: str
    first: int  # the first and last text (recognised word) it comes from
    last: int
    stop: bool = False  # punctuation follows: a number in characters does not run on


def _tokens(texts: Sequence[str]) -> list[_Token]:
    """The normalised tokens of each text, English number words as digits ("twenty-five"
    as one token "25")."""
    out: list[_Token] = []
    after_tens = False
    for i, text in enumerate(texts):
        chunks = "".join(
            "\n" if unicodedata.category(ch)[0] in "PS" and ch not in _APOSTROPHES else ch
            for ch in unicodedata.normalize("NFKC", text)
        ).split("\n")
        for c, chunk in enumerate(chunks):
            for tok in normalize(chunk).split():
                unit = _EN_NUMBERS.get(tok, "")
                if after_tens and len(unit) == 1 and unit != "0":
                    out[-1] = _Token(out[-1].text[0] + unit, out[-1].first, i)
                else:
                    out.append(_Token(unit or _EN_TENS.get(tok) or tok, i, i))
                after_tens = tok in _EN_TENS
            if out and c < len(chunks) - 1:
                out[-1] = out[-1]._replace(stop=True)
    return out


@dataclass(frozen=True)
class _Hit:
    start: int  # offsets into the index's raw (unstemmed) joined text
    end: int
    first: int  # word indexes
    last: int


def _chinese_form(
    text: str, owner: list[int], breaks: Iterable[int]
) -> tuple[str, list[int], list[int]]:
    """``text`` in Simplified characters with numbers in digits, and each character's first
    and last token: all of a number's characters stand for all the tokens it came from."""
    simple = to_simplified(text)
    if len(simple) == len(text):  # OpenCC's t2s maps char for char; were that to change,
        text = simple  # match as written rather than misplace offsets
    first: list[int] = []
    last: list[int] = []
    pieces: list[str] = []
    pos = 0
    cuts = [0, *sorted(b for b in breaks if 0 < b < len(text)), len(text)]
    for a, b in pairwise(cuts):  # a number does not run on past punctuation
        for start, end, digits in numeral_spans(text[a:b]):
            start, end = a + start, a + end
            pieces += [text[pos:start], digits]
            first += [*owner[pos:start], *[owner[start]] * len(digits)]
            last += [*owner[pos:start], *[owner[end - 1]] * len(digits)]
            pos = end
    return "".join([*pieces, text[pos:]]), first + owner[pos:], last + owner[pos:]


class _Joined:
    """Tokens concatenated without spaces: each character's first and last token (two
    tokens where a number in characters spanned them: "十" "五" -> "15"), each token's
    character bounds, and the offsets that are token boundaries.

    With ``chinese``, Han characters are made Simplified and numbers in characters digits,
    a number not running on past a ``breaks`` offset (where punctuation was)."""

    def __init__(
        self, tokens: Sequence[str], chinese: bool = False, breaks: Iterable[int] = ()
    ) -> None:
        text = "".join(tokens)
        owner = [t for t, tok in enumerate(tokens) for _ in tok]
        self.first, self.last = owner, owner
        if chinese and has_cjk(text):
            text, self.first, self.last = _chinese_form(text, owner, breaks)
        self.text = text
        self.starts: dict[int, int] = {}
        self.ends: dict[int, int] = {}
        for i, (first, last) in enumerate(zip(self.first, self.last, strict=True)):
            for t in range(first, last + 1):
                self.starts.setdefault(t, i)
                self.ends[t] = i + 1
        self.bounds = {0, len(text)} | {
            i for i in range(1, len(text)) if self.first[i] > self.last[i - 1]
        }


class PhraseIndex:
    """Recognised words prepared for matching any number of phrases."""

    def __init__(self, words: Sequence[Word]) -> None:
        self.words = tuple(words)
        tokens = _tokens([w.text for w in self.words])
        raw = [t.text for t in tokens]
        self._first_word = [t.first for t in tokens]  # token -> word indexes
        self._last_word = [t.last for t in tokens]
        stops = [end for t, end in zip(tokens, accumulate(map(len, raw)), strict=True) if t.stop]
        self._raw = _Joined(raw, chinese=True, breaks=stops)
        self._raw_tokens = [to_simplified(t) for t in raw]
        self._stem = _Joined([stem(t) for t in raw])

    def find(self, phrase: str, *, whole_words: bool = False, stemmed: bool = True) -> list[Match]:
        """Every non-overlapping occurrence of ``phrase``, in order.

        ``whole_words`` makes Han/Hangul phrases obey word boundaries too, with no particle
        after a one-syllable phrase (used for fillers);
        ``stemmed=False`` compares other phrases word for word without the stemmer.
        """
        return [self._match(phrase, hit) for hit in self._hits(phrase, whole_words, stemmed)]

    def first(self, phrase: str) -> Match | None:
        found = self._hits(phrase, False, True)
        return self._match(phrase, found[0]) if found else None

    def find_all(
        self, phrases: Iterable[str], *, whole_words: bool = False, stemmed: bool = True
    ) -> list[Match]:
        """Occurrences of several phrases, no two sharing a character of the transcript:
        where they overlap the longer wins, then the earlier. Sorted by time."""
        hits = [
            (phrase, hit)
            for phrase in dict.fromkeys(phrases)
            for hit in self._hits(phrase, whole_words, stemmed)
        ]
        hits.sort(key=lambda ph: (-(ph[1].end - ph[1].start), ph[1].start))
        taken: list[_Hit] = []
        kept: list[tuple[str, _Hit]] = []
        for phrase, hit in hits:
            if all(hit.end <= t.start or hit.start >= t.end for t in taken):
                taken.append(hit)
                kept.append((phrase, hit))
        kept.sort(key=lambda ph: ph[1].start)
        return [self._match(phrase, hit) for phrase, hit in kept]

    def _hits(self, phrase: str, whole_words: bool, stemmed: bool) -> list[_Hit]:
        tokens = [t.text for t in _tokens([phrase])]
        if not tokens:
            return []
        if has_cjk(phrase) or "".join(tokens).isdigit():
            needle = to_simplified("".join(tokens))
            if len(needle) == 1:
                return self._single(needle, particles=not whole_words)
            # "第一" also as "第1", for a transcript where a unit follows ("第1次")
            needles = {numerals_to_digits(needle, open_end=e): None for e in (False, True)}
            hits: list[_Hit] = []
            for hit in sorted(
                (h for n in needles for h in self._scan(self._raw, n, whole_words)),
                key=lambda h: (h.start, -h.end),
            ):
                if not hits or hit.start >= hits[-1].end:
                    hits.append(hit)
            return hits
        if stemmed:
            return self._scan(self._stem, "".join(stem(t) for t in tokens), True)
        return self._scan(self._raw, "".join(tokens), True)

    def _scan(self, joined: _Joined, needle: str, bounded: bool) -> list[_Hit]:
        out: list[_Hit] = []
        text = joined.text
        pos = text.find(needle)
        while pos >= 0:
            end = pos + len(needle)
            if bounded:
                ok = pos in joined.bounds and end in joined.bounds
            else:  # a number is not matched inside a longer one ("3个" in "13个")
                ok = not (needle[0].isdigit() and pos > 0 and text[pos - 1].isdigit()) and not (
                    needle[-1].isdigit() and end < len(text) and text[end].isdigit()
                )
            if ok:
                first_tok, last_tok = joined.first[pos], joined.last[end - 1]
                if joined is self._raw:
                    a, b = pos, end
                else:  # whole tokens: the same tokens' span in the raw text
                    a, b = self._raw.starts[first_tok], self._raw.ends[last_tok]
                out.append(_Hit(a, b, self._first_word[first_tok], self._last_word[last_tok]))
                pos = text.find(needle, end)
            else:
                pos = text.find(needle, pos + 1)
        return out

    def _single(self, char: str, particles: bool) -> list[_Hit]:
        hangul = particles and 0xAC00 <= ord(char) <= 0xD7A3
        out = []
        for t, tok in enumerate(self._raw_tokens):
            if tok == char or (hangul and tok.startswith(char) and tok[1:] in _KO_PARTICLES):
                a, b = self._raw.starts[t], self._raw.ends[t]
                out.append(_Hit(a, b, self._first_word[t], self._last_word[t]))
        return out

    def _match(self, phrase: str, hit: _Hit) -> Match:
        span = self.words[hit.first : hit.last + 1]
        return Match(
            phrase=phrase,
            heard=" ".join(w.text for w in span),
            start=span[0].start,
            end=span[-1].end,
            words=tuple(range(hit.first, hit.last + 1)),
        )


def find_phrase(words: Sequence[Word], phrase: str) -> list[Match]:
    """Every non-overlapping occurrence of ``phrase`` in ``words`` (see the module doc)."""
    return PhraseIndex(words).find(phrase)


def find_phrases(words: Sequence[Word], phrases: Iterable[str]) -> list[Match]:
    """Occurrences of several phrases without overlaps (the longer wins), by time."""
    return PhraseIndex(words).find_all(phrases)
