"""Score analysed answers and demonstrations against a job's competency rubric.

Deterministic: no clock, no randomness; items in interview order (``position``), competencies and
metrics in rubric order. The box never decides: each score carries its evidence and explanation.

Metric -> 0-1 (constants in ``inference.scoring.metrics``):

- ``keyword_coverage``: the answer's evidence coverage for the competency (a synonym counts half).
- ``star_coverage``: share of the four STAR elements heard; ``structure``: the STAR structure score.
- ``speaking_rate``: 1 inside 110-170 words/min (en) or 180-320 syllables/min (zh-CN, ko), falling
  linearly to 0 at half the lower bound and at 1.5 times the upper bound.
- ``pause_ratio``: 1 at <= 0.15, 0 at >= 0.6, linear between.
- ``filler_rate``: 1 at <= 2 fillers per 100 words, 0 at >= 15, linear between.
- ``word_confidence``: the mean recogniser confidence.
- ``answer_duration``: speech time / (0.3 x answer time), capped at 1; an answer that ran to the
  time limit is capped at 0.8.
- ``completion_time``: over the limit -> 0; within it 0.8 at the limit rising linearly to 1 (with
  a time band: to 1 at the band's slowest expected finish; see below).
- ``checklist``: weighted share of the competency's points staff ticked (a point missing from the
  ticks counts as not ticked); not yet scored by staff -> the competency awaits staff.
- ``activity``: the demonstration's active ratio, read in its work area with the candidate's
  face left out (with the hand model: hands in the area and moving), so talking to the camera
  is not activity; not assessed, never 0, when the camera gave no view of the work area.
  ``facing_screen``: share of time facing the screen.
- ``expression``: 1 minus the share of negative expressions (angry, disgust, fear, sad). Counted
  only when the rubric enables it and the candidate consented; otherwise an observation
  (``counted_in_score`` false), or not run at all when consent was declined.

A silent answer scores its spoken metrics 0 ("no speech was recorded"); an item without analysis
measures nothing: "not recorded", or "not analysed" with the reason when it was recorded but its
analysis failed (``not_analysed``: item id -> reason).

Never score what was not understood: when an answer's speech was recognised below
``inference.speech.quality.RELIABLE_QUALITY``, its word metrics (``inference.scoring.metrics.
WORD_METRICS``: keywords, STAR, structure, speaking rate, fillers, word confidence) are "not
assessed" with the reason, never 0, and are left out of every mean. Its pauses, answer length and
camera readings depend on when and how, not on the words, and stay measured; but they alone never
score a competency whose content was not understood. So a competency with a not-assessed reading
is scored only when it keeps substantive evidence -- a word metric assessed on another answer, or
a reading of a demonstration -- and its notes name the answers whose content was not assessed;
otherwise it is "not_assessed", with the reason, and left out of the overall score.

A demonstration with a time band (``DemonstrationSpec.time_band``) gets full time marks when it
finishes inside the band or briskly before it; slower than the band, its time marks fall linearly
to 0.8 at the limit, and over the limit to 0. Finished below the band's credible minimum, it is
"too fast to be credible -- review the recording": its time and activity are not assessed, none of
its readings (the staff checklist included) counts in a score, and a competency left with no
other counted evidence is "not_assessed" with that reason -- never a top score, never 0.

A competency's score is the mean over its counted metrics (each metric first averaged over the
items that measured it), scaled to the package range. The overall score is the weight-normalised
mean of the scored competencies' (rounded) scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from inference.findings import DemonstrationAnalysis, ModelRef, SpokenAnswerAnalysis
from inference.scoring import metrics as sm
from inference.scoring.competency import (
    NOT_UNDERSTOOD,
    competency_score,
    heard_evidence,
    mean_of,
)
from inference.scoring.figures import round_half_up
from inference.scoring.models import (
    SCORING_VERSION,
    DemonstrationSpec,
    ExpressionStatus,
    ItemCompetencyScore,
    ItemScore,
    Metric,
    MetricScore,
    Note,
    QuestionSpec,
    RubricSpec,
    ScoreCard,
    Span,
)
from inference.scoring.notes_i18n import note_text

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


def _check_not_analysed(
    items: Sequence[ItemSpec], by_id: Mapping[str, Analysis], not_analysed: Mapping[str, str]
) -> None:
    ids = {spec.id for spec in items}
    for item_id in not_analysed:
        if item_id not in ids:
            raise ValueError(f"failed analysis for unknown item {item_id!r}")
        if item_id in by_id:
            raise ValueError(f"item {item_id!r} has an analysis and a failed one")


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
    metric: Metric,
    cid: str,
    spec: ItemSpec,
    analysis: Analysis | None,
    consent: bool,
    failed: str | None,
) -> sm.Reading:
    if analysis is None:
        return sm.not_recorded() if failed is None else sm.not_analysed(failed)
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


def _item_score(
    rubric: RubricSpec,
    spec: ItemSpec,
    analysis: Analysis | None,
    consent: bool,
    failed: str | None,
) -> ItemScore:
    expression_counted = rubric.use_expression_in_score and consent
    fast = (
        sm.too_fast(spec, analysis)
        if isinstance(spec, DemonstrationSpec) and isinstance(analysis, DemonstrationAnalysis)
        else None
    )
    comps: list[ItemCompetencyScore] = []
    for comp in rubric.competencies:
        if comp.id not in spec.competencies:
            continue
        scores = tuple(
            _metric_score(
                m, spec, _reading(m, comp.id, spec, analysis, consent, failed), expression_counted
            )
            for m in comp.metrics
            if _applies(m, spec)
        )
        if fast is not None:  # nothing of an attempt too fast to be credible counts
            scores = tuple(s.model_copy(update={"counted_in_score": False}) for s in scores)
        counted = [s.value for s in scores if s.counted_in_score and s.value is not None]
        mean = mean_of(counted)
        if any(s.note.code in NOT_UNDERSTOOD for s in scores):
            mean = None  # pauses and length alone say nothing of content not understood
        value = None if mean is None else round(mean, 4)
        comps.append(ItemCompetencyScore(competency=comp.id, value=value, metrics=scores))
    kind = "question" if isinstance(spec, QuestionSpec) else "demonstration"
    unassessed = (
        sm.content_not_assessed(analysis.transcript)
        if isinstance(analysis, SpokenAnswerAnalysis)
        else None
    )
    basis = None
    evidence: tuple[Span, ...] = ()
    if isinstance(analysis, DemonstrationAnalysis):
        basis, evidence = analysis.activity.basis, sm.activity_spans(analysis.activity)
        unassessed = sm.work_area_unseen(analysis.activity)
    if fast is not None:
        unassessed = note_text(fast, "en")
    return ItemScore(
        item_id=spec.id,
        kind=kind,
        recorded=analysis is not None or failed is not None,
        not_analysed=failed,
        not_assessed=unassessed,
        too_fast=fast,
        activity_basis=basis,
        evidence=evidence,
        competencies=tuple(comps),
    )


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
    *,
    not_analysed: Mapping[str, str] | None = None,
) -> ScoreCard:
    """Score the analyses against the rubric; same inputs give an identical card.

    ``not_analysed``: item id -> why its analysis failed, for items that were recorded but have
    no analysis; they are "not analysed" with that reason instead of "not recorded".
    """
    items = ordered_items(questions, demonstrations)
    _check_references(rubric, items)
    by_id = index_analyses(items, analyses)
    failed = dict(not_analysed or {})
    _check_not_analysed(items, by_id, failed)
    item_scores = tuple(
        _item_score(rubric, spec, by_id.get(spec.id), expression_consent, failed.get(spec.id))
        for spec in items
    )
    competencies = tuple(
        competency_score(rubric, c, item_scores, heard_evidence(c, items, by_id))
        for c in rubric.competencies
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
