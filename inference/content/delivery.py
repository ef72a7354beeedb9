"""Delivery metrics of one answer and the evidence it holds for a competency.

Everything is computed from the transcript's word timings: no audio is needed, so a stored
transcript can be re-measured after a threshold changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from inference.content.languages import FILLER_PAUSE_S, count_units, fillers, rate_unit
from inference.content.text import PhraseIndex
from inference.findings import CompetencyEvidence, Match, Pause, SpeechMetrics, Transcript, Word

PAUSE_THRESHOLD_S = 0.5
"""A gap between two words this long or longer is a pause."""


def find_pauses(words: Sequence[Word], threshold_s: float = PAUSE_THRESHOLD_S) -> tuple[Pause, ...]:
    """Gaps of at least ``threshold_s`` between consecutive words."""
    return tuple(
        Pause(start=a.end, end=b.start)
        for a, b in pairwise(words)
        if b.start - a.end >= threshold_s
    )


def find_fillers(
    words: Sequence[Word],
    language: str,
    *,
    pause_s: float = FILLER_PAUSE_S,
    index: PhraseIndex | None = None,
) -> tuple[Match, ...]:
    """Filler words of ``language`` (see :mod:`inference.content.languages` for the pause rules)."""
    vocabulary = {f.phrase: f.pause for f in fillers(language)}
    if not vocabulary or not words:
        return ()
    index = index or PhraseIndex(words)
    out = []
    for m in index.find_all(vocabulary, whole_words=True, stemmed=False):
        first, last = m.words[0], m.words[-1]
        before = first == 0 or words[first].start - words[first - 1].end >= pause_s
        gap_before = first > 0 and words[first].start - words[first - 1].end >= pause_s
        gap_after = last + 1 < len(words) and words[last + 1].start - words[last].end >= pause_s
        rule = vocabulary[m.phrase]
        if (
            rule == "none"
            or (rule == "before" and before)
            or (rule == "after" and gap_after)
            or (rule == "either" and (gap_before or gap_after))
        ):
            out.append(m)
    return tuple(out)


def speech_metrics(
    transcript: Transcript,
    pause_threshold_s: float = PAUSE_THRESHOLD_S,
    *,
    filler_pause_s: float = FILLER_PAUSE_S,
) -> SpeechMetrics:
    """Speaking rate, pauses, fillers and confidence of one answer.

    Speech time runs from the first word's start to the last word's end; the speaking rate
    is units (words for en, syllables for zh-CN and ko) per minute of it and the pause
    ratio the share of it in pauses of at least ``pause_threshold_s``.
    """
    words = transcript.words
    index = PhraseIndex(words)
    speech_s = max(0.0, words[-1].end - words[0].start) if words else 0.0
    pauses = find_pauses(words, pause_threshold_s)
    paused = sum(p.length for p in pauses)
    found = find_fillers(words, transcript.language, pause_s=filler_pause_s, index=index)
    units = count_units([w.text for w in words], transcript.language)
    return SpeechMetrics(
        duration_s=transcript.duration_s,
        speech_s=speech_s,
        word_count=len(words),
        speaking_rate=units / speech_s * 60 if speech_s > 0 else 0.0,
        rate_unit=rate_unit(transcript.language),
        pause_ratio=min(1.0, paused / speech_s) if speech_s > 0 else 0.0,
        longest_pause=max(pauses, key=lambda p: p.length) if pauses else None,
        pauses=pauses,
        fillers=found,
        filler_rate=100 * len(found) / len(words) if words else 0.0,
        mean_confidence=sum(w.conf for w in words) / len(words) if words else None,
        silent=transcript.silent,
    )


def competency_evidence(
    transcript: Transcript, competency: str, keywords: Sequence[str], synonyms: Sequence[str] = ()
) -> CompetencyEvidence:
    """Which of a question's keywords (and synonyms) for ``competency`` the answer holds.

    Each keyword is found at most once (its first occurrence). A synonym counts only where
    it does not overlap a keyword match (so "원인 파악" does not add to "원인"), again at most
    once. coverage = min(1, (keywords found + 0.5 x synonyms found) / keywords expected),
    0 when no keyword is expected.
    """
    index = PhraseIndex(transcript.words)
    expected = tuple(dict.fromkeys(keywords))
    found = [m for m in (index.first(k) for k in expected) if m is not None]
    used = {w for m in found for w in m.words}
    synonym_hits = []
    for synonym in dict.fromkeys(synonyms):
        free = [m for m in index.find(synonym) if used.isdisjoint(m.words)]
        if free:
            synonym_hits.append(free[0])
    score = len(found) + 0.5 * len(synonym_hits)
    return CompetencyEvidence(
        competency=competency,
        keywords_expected=expected,
        keywords_found=tuple(found),
        synonyms_found=tuple(synonym_hits),
        coverage=min(1.0, score / len(expected)) if expected else 0.0,
    )
