"""A competency over all the items that measured it: its score, status, evidence and notes.

See ``inference.scoring.scorer`` for the rules; this module gathers the per-item readings into one
:class:`~inference.scoring.models.CompetencyScore`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from inference.findings import DemonstrationAnalysis, SpokenAnswerAnalysis
from inference.scoring import metrics as sm
from inference.scoring.figures import on_scale
from inference.scoring.models import (
    CompetencyScore,
    CompetencySpec,
    DemonstrationSpec,
    ItemMatch,
    ItemScore,
    MetricScore,
    MetricSummary,
    Note,
    QuestionSpec,
    RubricSpec,
)
from inference.scoring.notes_i18n import notes_line

ItemSpec = QuestionSpec | DemonstrationSpec
Analysis = SpokenAnswerAnalysis | DemonstrationAnalysis


def mean_of(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _summaries(comp: CompetencySpec, scores: list[MetricScore]) -> tuple[MetricSummary, ...]:
    out: list[MetricSummary] = []
    for metric in comp.metrics:
        mine = [s for s in scores if s.metric == metric]
        if not mine:
            continue
        valued = [s for s in mine if s.value is not None]
        # readings left out of the score (an attempt too fast to be credible) stay out of the mean
        valued = [s for s in valued if s.counted_in_score] or valued
        values = [s.value for s in valued if s.value is not None]
        mean = mean_of(values)
        weakest = min(valued, key=lambda s: s.value or 0.0) if valued else _telling(mine)
        out.append(
            MetricSummary(
                metric=metric,
                value=None if mean is None else round(mean, 4),
                items=tuple(s.item_id for s in valued),
                counted_in_score=any(s.counted_in_score for s in mine),
                note=weakest.note,
            )
        )
    return tuple(out)


NOT_UNDERSTOOD = ("speech_unreliable", "speech_not_heard")
"""Notes of word metrics left unassessed: the words were not understood, or none was heard."""
TOO_FAST = "too_fast"
"""Note of demonstration readings left unassessed: finished below the credible minimum."""
_TELLING = (*NOT_UNDERSTOOD, TOO_FAST, "not_analysed")
"""Notes of unmeasured readings that say more than "not recorded", first when none has a value."""


def _telling(scores: list[MetricScore]) -> MetricScore:
    return next((s for s in scores if s.note.code in _TELLING), scores[0])


def _unassessed_notes(scores: list[MetricScore]) -> list[Note]:
    """One note per answer whose content was not assessed, in interview order."""
    codes = {s.item_id: f"{s.note.code}_item" for s in scores if s.note.code in NOT_UNDERSTOOD}
    return [Note(code=code, label=item_id) for item_id, code in codes.items()]


def _too_fast_notes(cid: str, items: Sequence[ItemScore]) -> list[Note]:
    """One note per demonstration feeding the competency that was finished too fast to be
    credible, in interview order."""
    return [
        Note(code="too_fast_item", label=item.item_id, values=item.too_fast.values)
        for item in items
        if item.too_fast is not None and any(ic.competency == cid for ic in item.competencies)
    ]


def _keyword_notes(scores: list[MetricScore]) -> list[Note]:
    """The keyword note of each answer that was listened for the competency's terms, each with
    its own counts and coverage, labelled with the answer when several questions feed the
    competency (a sum over answers would state a share that is not the mean coverage the score
    uses)."""
    found = [s for s in scores if s.metric == "keyword_coverage" and s.note.code == "keywords"]
    answers = {s.item_id for s in scores if s.metric == "keyword_coverage"}
    if len(answers) == 1:
        return [s.note for s in found]
    return [s.note.model_copy(update={"label": s.item_id}) for s in found]


def basis_note(summaries: Sequence[MetricSummary]) -> Note | None:
    """What a scored competency's score is the mean of: each counted metric's value, in rubric
    order, and the mean (``pct``) that is put on the package scale."""
    counted = [(s.metric, s.value) for s in summaries if s.counted_in_score and s.value is not None]
    mean = mean_of([v for _, v in counted])
    if mean is None:
        return None
    values: dict[str, float] = {m: v for m, v in counted}
    return Note(code="score_basis", values={**values, "pct": mean})


def _competency_notes(
    scores: list[MetricScore], pending: bool, too_fast: list[Note]
) -> tuple[Note, ...]:
    notes: list[Note] = []
    if pending:
        notes.append(next(s.note for s in scores if s.note.code == "checklist_pending"))
    notes += _unassessed_notes(scores)
    notes += too_fast
    notes += _keyword_notes(scores)
    if not notes:
        notes.append(_telling(scores).note if scores else Note(code="not_recorded"))
    return tuple(notes)


def _substantive(score: MetricScore, demonstrations: frozenset[str]) -> bool:
    """A counted reading that can score a competency whose content was not understood."""
    return (
        score.counted_in_score
        and score.value is not None
        and (score.metric in sm.WORD_METRICS or score.item_id in demonstrations)
    )


def competency_score(
    rubric: RubricSpec,
    comp: CompetencySpec,
    items: Sequence[ItemScore],
    evidence: tuple[ItemMatch, ...],
) -> CompetencyScore:
    scores = [
        s
        for item in items
        for ic in item.competencies
        if ic.competency == comp.id
        for s in ic.metrics
    ]
    summaries = _summaries(comp, scores)
    pending = any(s.note.code == "checklist_pending" for s in scores)
    counted = [s.value for s in summaries if s.counted_in_score and s.value is not None]
    mean = mean_of(counted)
    demonstrations = frozenset(i.item_id for i in items if i.kind == "demonstration")
    unassessed = any(s.note.code in NOT_UNDERSTOOD for s in scores) and not any(
        _substantive(s, demonstrations) for s in scores
    )
    fast_notes = _too_fast_notes(comp.id, items)
    too_fast = bool(fast_notes) and not any(
        s.counted_in_score and s.value is not None for s in scores
    )
    score: float | None = None
    if pending:
        status = "awaiting_staff"
    elif unassessed or too_fast:
        status = "not_assessed"
    elif mean is None:
        status = "not_measured"
    else:
        status = "scored"
        score = on_scale(mean, rubric.min_score, rubric.max_score)
    notes = _competency_notes(scores, pending, fast_notes)
    basis = basis_note(summaries) if status == "scored" else None
    if basis is not None:
        notes = (*notes, basis)
    if status == "not_assessed":
        if unassessed:
            why = next(s.note.code for s in scores if s.note.code in NOT_UNDERSTOOD)
            notes = (Note(code=why),)
        else:
            notes = tuple(fast_notes)
        # shown for what they are, but nothing counts in a score the competency does not get
        summaries = tuple(s.model_copy(update={"counted_in_score": False}) for s in summaries)
    return CompetencyScore(
        id=comp.id,
        weight=comp.weight,
        score=score,
        status=status,
        metrics=summaries,
        evidence=evidence,
        notes=notes,
        explanation=notes_line(notes, "en"),
    )


def heard_evidence(
    comp: CompetencySpec, items: Sequence[ItemSpec], by_id: Mapping[str, Analysis]
) -> tuple[ItemMatch, ...]:
    """Keywords and synonyms heard for the competency, in interview then time order."""
    if "keyword_coverage" not in comp.metrics:
        return ()
    out: list[ItemMatch] = []
    for spec in items:
        analysis = by_id.get(spec.id)
        if not isinstance(analysis, SpokenAnswerAnalysis) or comp.id not in spec.competencies:
            continue
        if sm.content_not_assessed(analysis.transcript) is not None:
            continue  # words not understood are no evidence
        for ev in analysis.evidence:
            if ev.competency != comp.id:
                continue
            found = [ItemMatch(item_id=spec.id, kind="keyword", match=m) for m in ev.keywords_found]
            found += [
                ItemMatch(item_id=spec.id, kind="synonym", match=m) for m in ev.synonyms_found
            ]
            out += sorted(found, key=lambda x: (x.match.start, x.match.end, x.match.phrase))
    return tuple(out)
