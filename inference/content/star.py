"""STAR structure of an answer (situation, task, action, result) and the follow-up to ask.

Cue phrases are matched with :mod:`inference.content.text` (question cues plus the language's
defaults from :mod:`inference.content.languages`); where cues overlap the longer wins.

Structure score (0-1)::

    structure = 0.60 * coverage + 0.25 * order + 0.15 * closing

* coverage: share of the four elements with at least one cue heard;
* order: of the pairs of covered elements, the share whose first cues come in S, T, A, R
  order (0 with fewer than two elements covered: one element shows no structure);
* closing: 1 when a result cue is heard in the last third of the speech time (a closing
  result or summary), else 0.

All four in order, ending on a result, scores 1.0; the same answer without a result cue
scores 0.60 * 0.75 + 0.25 = 0.70.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

from inference.content.languages import star_cues
from inference.content.text import PhraseIndex
from inference.findings import STAR_ELEMENTS, FollowUp, Match, StarCoverage, StarElement, Transcript

WEIGHTS = (0.60, 0.25, 0.15)
"""Weights of coverage, order and closing in the structure score."""
CLOSING_SHARE = 1 / 3
FOLLOW_UP_PRIORITY: tuple[StarElement, ...] = ("result", "action", "task", "situation")


def star_coverage(
    transcript: Transcript,
    cues: Mapping[StarElement, Sequence[str]] | None = None,
    *,
    defaults: bool = True,
) -> StarCoverage:
    """Which STAR elements the answer covers, from cue phrases heard (see the module doc).

    ``cues`` are the question's cue phrases in the answer's language; with ``defaults``
    the language's default cues are added. A phrase listed for two elements belongs to
    the question's element, then the first in S, T, A, R order.
    """
    element_of: dict[str, StarElement] = {}
    for source in (cues or {}, star_cues(transcript.language) if defaults else {}):
        for element in STAR_ELEMENTS:
            for phrase in source.get(element, ()):
                element_of.setdefault(phrase, element)
    found: dict[StarElement, list[Match]] = {e: [] for e in STAR_ELEMENTS}
    if transcript.words and element_of:
        for m in PhraseIndex(transcript.words).find_all(element_of):
            found[element_of[m.phrase]].append(m)
    covered = tuple(e for e in STAR_ELEMENTS if found[e])
    first = {e: found[e][0].start for e in covered}
    pairs = list(combinations(covered, 2))  # in S, T, A, R order
    in_sequence = sum(1 for a, b in pairs if first[a] <= first[b])
    order = in_sequence / len(pairs) if pairs else 0.0
    closing = 0.0
    if found["result"]:
        begin, end = transcript.words[0].start, transcript.words[-1].end
        cutoff = end - CLOSING_SHARE * (end - begin)
        closing = 1.0 if any(m.start >= cutoff for m in found["result"]) else 0.0
    coverage = len(covered) / len(STAR_ELEMENTS)
    structure = WEIGHTS[0] * coverage + WEIGHTS[1] * order + WEIGHTS[2] * closing
    return StarCoverage(
        found={e: tuple(found[e]) for e in STAR_ELEMENTS},
        covered=covered,
        missing=tuple(e for e in STAR_ELEMENTS if e not in covered),
        coverage=coverage,
        in_order=in_sequence == len(pairs),
        structure=round(min(1.0, max(0.0, structure)), 6),
    )


def choose_follow_up(
    coverage: StarCoverage,
    templates: Mapping[StarElement, str],
    language: str,
    *,
    enabled: bool = True,
) -> FollowUp | None:
    """The one follow-up for the most important missing element that has a template.

    Priority: result, then action, task, situation. None when follow-ups are disabled,
    nothing is missing, or no missing element has a (non-blank) template.
    """
    if not enabled:
        return None
    for element in FOLLOW_UP_PRIORITY:
        prompt = templates.get(element, "").strip()
        if element in coverage.missing and prompt:
            return FollowUp(element=element, prompt=prompt, language=language)
    return None
