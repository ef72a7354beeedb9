"""Score analysed answers and demonstrations against a job's competency rubric.

Deterministic: no clock, no randomness; items in interview order (``position``), competencies and
metrics in rubric order. The box never decides: each score carries its evidence and explanation.

Metric -> 0-1 (constants in ``inference.scoring_metrics``):

- ``keyword_coverage``: the answer's evidence coverage for the competency (a synonym counts half).
- ``star_coverage``: share of the four STAR elements heard; ``structure``: the STAR structure score.
- ``speaking_rate``: 1 inside 110-170 words/min (en) or 180-320 syllables/min (zh-CN, ko), falling
  linearly to 0 at half the lower bound and at 1.5 times the upper bound.
- ``pause_ratio``: 1 at <= 0.15, 0 at >= 0.6, linear between.
- ``filler_rate``: 1 at <= 2 fillers per 100 words, 0 at >= 15, linear between.
- ``word_confidence``: the mean recogniser confidence.
- ``answer_duration``: speech time / (0.3 x answer time), capped at 1; an answer that ran to the
  time limit is capped at 0.8.
- ``completion_time``: over the limit -> 0; within it 0.8 at the limit rising linearly to 1.
- ``checklist``: weighted share of the competency's points staff ticked (a point missing from the
  ticks counts as not ticked); not yet scored by staff -> the competency awaits staff.
- ``activity``: the demonstration's active ratio; ``facing_screen``: share of time facing
  the screen.
- ``expression``: 1 minus the share of negative expressions (angry, disgust, fear, sad). Counted
  only when the rubric enables it and the candidate consented; otherwise an observation
  (``counted_in_score`` false), or not run at all when consent was declined.

A silent answer scores its spoken metrics 0 ("no speech was recorded"); an item without analysis
measures nothing. A competency's score is the mean over its counted metrics (each metric first
averaged over the items that measured it), scaled to the package range. The overall score is the
weight-normalised mean of the scored competencies' (rounded) scores.
"""

from __future__ import annotations

from collections.abc import Sequence

from inference import scoring_metrics as sm
from inference.notes_i18n import note_text, notes_line, round_half_up
from inference.records import ModelRef
from inference.scoring_models import (
    SCORING_VERSION,
    CompetencyScore,
    CompetencySpec,
    DemonstrationAnalysis,
    DemonstrationSpec,
    ExpressionStatus,
    ItemCompetencyScore,
    ItemMatch,
    ItemScore,
    Metric,
    MetricScore,
    MetricSummary,
    Note,
    QuestionSpec,
    RubricSpec,
    ScoreCard,
    SpokenAnswerAnalysis,
    TimedPhrase,
)

ItemSpec = QuestionSpec | DemonstrationSpec
Analysis = SpokenAnswerAnalysis | DemonstrationAnalysis


def ordered_items(
    questions: Sequence[QuestionSpec], demonstrations: Sequence[DemonstrationSpec]
) -> list[ItemSpec]:
    """Items in interview order: by ``position``, then questions before demonstrations."""
    keyed: list[tuple[int, int, int, ItemSpec]] = [
        (q.position, 0, i, q) for i, q in enumerate(questions)
    ]
    keyed += [(d.position, 1, i, d) for i, d in enumerate(demonstrations)]
    return [spec for *_, spec in sorted(keyed, key=lambda k: k[:3])]


def index_analyses(items: Sequence[ItemSpec], analyses: Sequence[Analysis]) -> dict[str, Analysis]:
    """Analyses by item id; raise ValueError on duplicates, unknown items or the wrong kind."""
    specs = {spec.id: spec for spec in items}
    if len(specs) != len(items):
        raise ValueError("item ids must be unique")
    found: dict[str, Analysis] = {}
    for analysis in analyses:
        spec = specs.get(analysis.item_id)
        if spec is None:
            raise ValueError(f"analysis for unknown item {analysis.item_id!r}")
        if analysis.item_id in found:
            raise ValueError(f"two analyses for item {analysis.item_id!r}")
        if isinstance(spec, QuestionSpec) != isinstance(analysis, SpokenAnswerAnalysis):
            raise ValueError(f"analysis of item {analysis.item_id!r} is of the wrong kind")
        found[analysis.item_id] = analysis
    return found


def _check_references(rubric: RubricSpec, items: Sequence[ItemSpec]) -> None:
    ids = {c.id for c in rubric.competencies}
    for spec in items:
        unknown = [c for c in spec.competencies if c not in ids]
        if isinstance(spec, DemonstrationSpec):
            unknown += [p.competency for p in spec.checklist if p.competency not in ids]
        if unknown:
            raise ValueError(f"item {spec.id!r} names unknown competencies {sorted(set(unknown))}")


def _applies(metric: str, spec: ItemSpec) -> bool:
    if metric in sm.VISION_METRICS:
        return True
    if isinstance(spec, QuestionSpec):
        return metric in sm.SPOKEN_METRICS
    return metric in sm.DEMONSTRATION_METRICS


def _reading(
    metric: Metric, cid: str, spec: ItemSpec, analysis: Analysis | None, consent: bool
) -> sm.Reading:
    if analysis is None:
        return sm.not_recorded()
    if metric in sm.VISION_METRICS:
        return sm.vision(metric, analysis.vision, consent)
    if isinstance(spec, QuestionSpec) and isinstance(analysis, SpokenAnswerAnalysis):
        return sm.spoken(metric, cid, spec, analysis)
    if isinstance(spec, DemonstrationSpec) and isinstance(analysis, DemonstrationAnalysis):
        return sm.demonstration(metric, cid, spec, analysis)
    raise ValueError(f"analysis of item {spec.id!r} is of the wrong kind")


def _metric_score(
    metric: Metric, spec: ItemSpec, reading: sm.Reading, expression_counted: bool
) -> MetricScore:
    value = None if reading.value is None else round(sm.clamp01(reading.value), 4)
    counted = value is not None and (metric != "expression" or expression_counted)
    return MetricScore(
        metric=metric,
        item_id=spec.id,
        value=value,
        raw=None if reading.raw is None else round(reading.raw, 4),
        unit=reading.unit,
        evidence=reading.evidence,
        spans=reading.spans,
        note=reading.note,
        explanation=note_text(reading.note, "en"),
        counted_in_score=counted,
    )


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _item_score(
    rubric: RubricSpec,
    spec: ItemSpec,
    analysis: Analysis | None,
    consent: bool,
) -> ItemScore:
    expression_counted = rubric.use_expression_in_score and consent
    comps: list[ItemCompetencyScore] = []
    for comp in rubric.competencies:
        if comp.id not in spec.competencies:
            continue
        scores = tuple(
            _metric_score(
                m, spec, _reading(m, comp.id, spec, analysis, consent), expression_counted
            )
            for m in comp.metrics
            if _applies(m, spec)
        )
        counted = [s.value for s in scores if s.counted_in_score and s.value is not None]
        mean = _mean(counted)
        value = None if mean is None else round(mean, 4)
        comps.append(ItemCompetencyScore(competency=comp.id, value=value, metrics=scores))
    kind = "question" if isinstance(spec, QuestionSpec) else "demonstration"
    return ItemScore(
        item_id=spec.id, kind=kind, recorded=analysis is not None, competencies=tuple(comps)
    )


def _summaries(comp: CompetencySpec, scores: list[MetricScore]) -> tuple[MetricSummary, ...]:
    out: list[MetricSummary] = []
    for metric in comp.metrics:
        mine = [s for s in scores if s.metric == metric]
        if not mine:
            continue
        valued = [s for s in mine if s.value is not None]
        values = [s.value for s in valued if s.value is not None]
        mean = _mean(values)
        weakest = min(valued, key=lambda s: s.value or 0.0) if valued else mine[0]
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


def _keyword_note(scores: list[MetricScore]) -> Note | None:
    notes = [s.note for s in scores if s.metric == "keyword_coverage" and s.note.code == "keywords"]
    if not notes:
        return None
    values = {
        k: sum(n.values.get(k, 0.0) for n in notes) for k in ("found", "expected", "synonyms")
    }
    terms: list[TimedPhrase] = []
    for term in (t for n in notes for t in n.terms):
        if term.text not in {x.text for x in terms} and len(terms) < sm.TERMS_SHOWN:
            terms.append(term)
    return Note(code="keywords", values=values, terms=tuple(terms))


def _competency_notes(scores: list[MetricScore], pending: bool) -> tuple[Note, ...]:
    notes: list[Note] = []
    if pending:
        notes.append(next(s.note for s in scores if s.note.code == "checklist_pending"))
    keyword = _keyword_note(scores)
    if keyword is not None:
        notes.append(keyword)
    ranked = [s for s in scores if s.counted_in_score and s.metric != "keyword_coverage"]
    if ranked:
        strongest = max(ranked, key=lambda s: s.value or 0.0)
        weakest = min(ranked, key=lambda s: s.value or 0.0)
        for s in (strongest, weakest):
            if s.note not in notes:
                notes.append(s.note)
    if not notes:
        notes.append(scores[0].note if scores else Note(code="not_recorded"))
    return tuple(notes)


def _competency(
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
    mean = _mean(counted)
    score: float | None = None
    if pending:
        status = "awaiting_staff"
    elif mean is None:
        status = "not_measured"
    else:
        status = "scored"
        score = round_half_up(rubric.min_score + mean * (rubric.max_score - rubric.min_score), 1)
    notes = _competency_notes(scores, pending)
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


def _evidence(
    comp: CompetencySpec, items: Sequence[ItemSpec], by_id: dict[str, Analysis]
) -> tuple[ItemMatch, ...]:
    """Keywords and synonyms heard for the competency, in interview then time order."""
    if "keyword_coverage" not in comp.metrics:
        return ()
    out: list[ItemMatch] = []
    for spec in items:
        analysis = by_id.get(spec.id)
        if not isinstance(analysis, SpokenAnswerAnalysis) or comp.id not in spec.competencies:
            continue
        for ev in analysis.evidence:
            if ev.competency != comp.id:
                continue
            found = [ItemMatch(item_id=spec.id, kind="keyword", match=m) for m in ev.keywords_found]
            found += [
                ItemMatch(item_id=spec.id, kind="synonym", match=m) for m in ev.synonyms_found
            ]
            out += sorted(found, key=lambda x: (x.match.start, x.match.end, x.match.phrase))
    return tuple(out)


def _expression(
    rubric: RubricSpec, analyses: Sequence[Analysis], consent: bool
) -> tuple[ExpressionStatus, Note]:
    if not consent:
        return "declined", Note(code="expression_declined")
    ran = any(
        a.vision is not None and a.vision.expression_run and a.vision.expression_distribution
        for a in analyses
    )
    if not ran:
        return "not_run", Note(code="expression_not_run")
    if rubric.use_expression_in_score:
        return "used_in_score", Note(code="expression_used")
    return "observation_only", Note(code="expression_observation")


def models_used(analyses: Sequence[Analysis]) -> tuple[ModelRef, ...]:
    refs: set[ModelRef] = set()
    for a in analyses:
        if isinstance(a, SpokenAnswerAnalysis) and a.transcript.model is not None:
            refs.add(a.transcript.model)
        if a.vision is not None:
            refs.update(a.vision.model)
    return tuple(sorted(refs, key=lambda r: (r.name, r.version, r.sha256)))


def score(
    rubric: RubricSpec,
    questions: Sequence[QuestionSpec],
    demonstrations: Sequence[DemonstrationSpec],
    analyses: Sequence[SpokenAnswerAnalysis | DemonstrationAnalysis],
    expression_consent: bool,
) -> ScoreCard:
    """Score the analyses against the rubric; same inputs give an identical card."""
    items = ordered_items(questions, demonstrations)
    _check_references(rubric, items)
    by_id = index_analyses(items, analyses)
    item_scores = tuple(
        _item_score(rubric, spec, by_id.get(spec.id), expression_consent) for spec in items
    )
    competencies = tuple(
        _competency(rubric, c, item_scores, _evidence(c, items, by_id)) for c in rubric.competencies
    )
    scored = [(c.id, c.weight, c.score) for c in competencies if c.score is not None]
    total = sum(w for _, w, _ in scored)
    weights = {cid: round(w / total, 6) for cid, w, _ in scored}
    overall = round_half_up(sum(w * s for _, w, s in scored) / total, 1) if scored else None
    present = [by_id[spec.id] for spec in items if spec.id in by_id]
    status, note = _expression(rubric, present, expression_consent)
    return ScoreCard(
        scoring_version=SCORING_VERSION,
        job_id=rubric.job_id,
        package_version=rubric.package_version,
        rubric_version=rubric.version,
        min_score=rubric.min_score,
        max_score=rubric.max_score,
        overall=overall,
        overall_weights=weights,
        complete=not any(c.status == "awaiting_staff" for c in competencies),
        pending=tuple(c.id for c in competencies if c.status == "awaiting_staff"),
        competencies=competencies,
        items=item_scores,
        models=models_used(present),
        expression=status,
        expression_note=note,
    )
