"""Text normalisation and phrase matching over recognised words with timings.

Recognisers split and merge words unpredictably, and Chinese and Korean are not written
with spaces between words the way English is, so matching compares the phrase with its
spaces removed against the concatenation of consecutive recognised words, and maps the
character offsets back to word indexes (and so to times). The script of the phrase picks
the rules:

* Han / Hangul phrases (zh-CN, ko) match anywhere, inside a word too ("품질을" holds
  "품질", "质量问题" holds "质量"), and across words ("품 질"). A one-character phrase
  ("버", "嗯") must be a whole recognised word, in Korean optionally followed by a particle
  ("버가"), since a single syllable inside a word is almost never that word.
* Other phrases (en) match at word boundaries only ("cause" is not in "because"), but a
  split or merge is tolerated ("team work" = "teamwork") and every word is reduced by a
  light stemmer first, so "inspected", "inspecting" and "inspects" match "inspect".

A phrase matches at most once per position: occurrences are found left to right and do
not overlap. Match times are the start of the first and the end of the last word touched.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from inference.records import Match, Word

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


@dataclass(frozen=True)
class _Hit:
    start: int  # offsets into the index's raw (unstemmed) joined text
    end: int
    first: int  # word indexes
    last: int


class _Joined:
    """Tokens concatenated without spaces, with each character's token and token bounds."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.text = "".join(tokens)
        self.owner: list[int] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        for t, tok in enumerate(tokens):
            self.starts.append(len(self.owner))
            self.owner.extend([t] * len(tok))
            self.ends.append(len(self.owner))
        self.start_set, self.end_set = set(self.starts), set(self.ends)


class PhraseIndex:
    """Recognised words prepared for matching any number of phrases."""

    def __init__(self, words: Sequence[Word]) -> None:
        self.words = tuple(words)
        raw: list[str] = []
        self._word_of: list[int] = []  # token -> word index
        for w, word in enumerate(self.words):
            for tok in normalize(word.text).split():
                raw.append(tok)
                self._word_of.append(w)
        self._raw = _Joined(raw)
        self._raw_tokens = raw
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
        tokens = normalize(phrase).split()
        if not tokens:
            return []
        if has_cjk(phrase):
            needle = "".join(tokens)
            if len(needle) == 1:
                return self._single(needle, particles=not whole_words)
            return self._scan(self._raw, needle, whole_words)
        if stemmed:
            return self._scan(self._stem, "".join(stem(t) for t in tokens), True)
        return self._scan(self._raw, "".join(tokens), True)

    def _scan(self, joined: _Joined, needle: str, bounded: bool) -> list[_Hit]:
        out: list[_Hit] = []
        pos = joined.text.find(needle)
        while pos >= 0:
            end = pos + len(needle)
            if not bounded or (pos in joined.start_set and end in joined.end_set):
                first_tok, last_tok = joined.owner[pos], joined.owner[end - 1]
                if joined is self._raw:
                    a, b = pos, end
                else:  # whole tokens: the same tokens' span in the raw text
                    a, b = self._raw.starts[first_tok], self._raw.ends[last_tok]
                out.append(_Hit(a, b, self._word_of[first_tok], self._word_of[last_tok]))
                pos = joined.text.find(needle, end)
            else:
                pos = joined.text.find(needle, pos + 1)
        return out

    def _single(self, char: str, particles: bool) -> list[_Hit]:
        hangul = particles and 0xAC00 <= ord(char) <= 0xD7A3
        out = []
        for t, tok in enumerate(self._raw_tokens):
            if tok == char or (hangul and tok.startswith(char) and tok[1:] in _KO_PARTICLES):
                a = self._raw.starts[t]
                out.append(_Hit(a, a + len(tok), self._word_of[t], self._word_of[t]))
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
