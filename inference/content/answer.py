"""What a spoken answer says: evidence per competency, STAR, speech metrics, the follow-up.

Pure functions over a transcript: the same transcript and vocabulary give the same result,
so a stored transcript can be re-analysed after a package update without the audio.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from inference.content.delivery import competency_evidence, speech_metrics
from inference.content.star import choose_follow_up, star_coverage
from inference.findings import (
    STAR_ELEMENTS,
    FollowUp,
    SpokenAnswerAnalysis,
    StarElement,
    Transcript,
    VisionSummary,
)


@dataclass(frozen=True)
class QuestionVocabulary:
    """A spoken question's words to listen for, in the interview's language."""

    item_id: str
    language: str
    evidence: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]
    """(competency, keywords, synonyms) per competency the question feeds."""
    star_cues: Mapping[StarElement, tuple[str, ...]] = field(default_factory=dict)
    follow_ups: Mapping[StarElement, str] = field(default_factory=dict)
    """Follow-up prompt per missing STAR element; empty when follow-ups are off."""
    answer_time_s: float | None = None

    def hints(self) -> tuple[str, ...]:
        """The terms this answer is expected to hold (keywords, then synonyms), once each,
        for the recogniser to listen for."""
        terms = [k for _, keywords, _ in self.evidence for k in keywords]
        terms += [s for _, _, synonyms in self.evidence for s in synonyms]
        return tuple(dict.fromkeys(terms))


def content_analysis(vocab: QuestionVocabulary, transcript: Transcript, *,
                     vision: VisionSummary | None = None, timed_out: bool = False,
                     pause_threshold_s: float = 0.7) -> SpokenAnswerAnalysis:
    """Everything measured on a transcript (pure; the same transcript gives the same result)."""
    metrics = speech_metrics(transcript, pause_threshold_s)
    evidence = tuple(competency_evidence(transcript, competency, keywords, synonyms)
                     for competency, keywords, synonyms in vocab.evidence)
    cues = {e: vocab.star_cues.get(e, ()) for e in STAR_ELEMENTS}
    star = star_coverage(transcript, cues)
    return SpokenAnswerAnalysis(
        item_id=vocab.item_id, transcript=transcript, metrics=metrics, evidence=evidence,
        star=star, follow_up=decide_follow_up(vocab, transcript), vision=vision,
        timed_out=timed_out, answer_time_s=vocab.answer_time_s,
    )


def decide_follow_up(vocab: QuestionVocabulary, transcript: Transcript) -> FollowUp | None:
    """The one follow-up for an answer that misses a STAR element, when the job allows it."""
    if not vocab.follow_ups or transcript.silent:
        return None
    cues = {e: vocab.star_cues.get(e, ()) for e in STAR_ELEMENTS}
    return choose_follow_up(star_coverage(transcript, cues), vocab.follow_ups, vocab.language)
