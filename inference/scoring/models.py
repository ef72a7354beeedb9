"""Scoring inputs and outputs: the rubric, the items, each item's analysis and the score card.

The input specs mirror the parts of a job package that scoring needs; the adapter from the
device's ``JobPackage`` lives outside ``inference`` (which imports nothing from other project
packages). Outputs carry their evidence (matched words with timestamps, time spans, raw figures)
and a structured :class:`Note` per explanation, so the report can state every explanation in the
reviewer's language; the English text is kept beside it for central HR's systems.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from inference.findings import (
    ActivityBasis,
    Language,
    Match,
    ModelRef,
    Record,
    StarElement,
    WorkArea,
)

SCORECARD_FORMAT: Literal["kiosk-scorecard/1"] = "kiosk-scorecard/1"
SCORING_VERSION = "kiosk-scoring/5"
"""Version of the metric mappings in ``inference.scoring.scorer``; bump it when a mapping changes.

5: a demonstration's activity is read in its work area with the candidate's face left out
(with the hand model: hands in the area and moving), so talking to the camera is no longer
activity; a demonstration whose work area the camera never saw has its activity not assessed.

4: explanations state what they measure with the figure beside them: a competency's notes end
with what its score is the mean of (``score_basis``) instead of its strongest and weakest item;
keyword notes carry their coverage, per answer; a structure note carries the STAR elements heard,
and fewer than two are "too few to judge the order", never "in order". A competency's score is
rounded half up on the decimal figure (a 0.575 mean is 5.8 of 10, as it is 58 %), no longer on
the float product (5.7499...).

3: a demonstration with a time band gets full time marks inside it (and when brisk), falls off
above it, and is "too fast to be credible" below its credible minimum (time and activity not
assessed). Without a band nothing changed.

2: content metrics of speech recognised below ``RELIABLE_QUALITY`` are not assessed (no longer
scored from the misheard words), and an item whose analysis failed is "not analysed"."""

Metric = Literal[
    "keyword_coverage",
    "star_coverage",
    "structure",
    "speaking_rate",
    "pause_ratio",
    "filler_rate",
    "word_confidence",
    "answer_duration",
    "completion_time",
    "checklist",
    "activity",
    "facing_screen",
    "expression",
]
ExpressionStatus = Literal["used_in_score", "observation_only", "declined", "not_run"]
ItemKind = Literal["question", "demonstration"]
LocalizedText = dict[Language, str]

# --- inputs ---------------------------------------------------------------------------------


class CompetencySpec(Record):
    """One rubric competency: its names, weight and the metrics that measure it."""

    id: str = Field(description="Stable competency id from the job package.")
    name: LocalizedText = Field(description="Competency name per language.")
    weight: float = Field(gt=0, description="Relative weight in the overall score.")
    metrics: tuple[Metric, ...] = Field(min_length=1, description="Metrics that measure it.")


class RubricSpec(Record):
    """The rubric and scoring settings of one job package version."""

    version: str = Field(description="Rubric version label.")
    job_id: str = Field(description="Stable job id.")
    job_title: LocalizedText = Field(default_factory=dict, description="Job title per language.")
    package_version: int = Field(ge=1, description="Job package version the rubric comes from.")
    min_score: float = Field(default=0, description="Lowest score on the reporting scale.")
    max_score: float = Field(default=10, description="Highest score on the reporting scale.")
    use_expression_in_score: bool = Field(
        default=False, description="Count 'expression' (with the candidate's consent only)."
    )
    competencies: tuple[CompetencySpec, ...] = Field(min_length=1, description="In report order.")

    @model_validator(mode="after")
    def _check(self) -> RubricSpec:
        if not self.min_score < self.max_score:
            raise ValueError("max_score must be greater than min_score")
        ids = [c.id for c in self.competencies]
        if len(set(ids)) != len(ids):
            raise ValueError("competency ids must be unique")
        return self


class QuestionSpec(Record):
    """A spoken question of the job package, as scoring sees it."""

    id: str = Field(description="Stable item id.")
    position: int = Field(default=0, description="Place in the interview; items sort by it.")
    prompt: LocalizedText = Field(description="The question per language.")
    answer_time_s: float = Field(gt=0, description="Maximum answer length, seconds.")
    competencies: tuple[str, ...] = Field(description="Competencies the question feeds.")


class ChecklistPointSpec(Record):
    """One point staff tick off while watching a demonstration."""

    id: str = Field(description="Stable checklist point id.")
    label: LocalizedText = Field(description="What staff check, per language.")
    competency: str = Field(description="Competency the point counts towards.")
    weight: float = Field(default=1.0, gt=0, description="Relative weight within the competency.")


class TimeBandSpec(Record):
    """How long a demonstration is expected to take, and the least time a real attempt takes."""

    expected_min_s: float = Field(gt=0, description="Fastest expected finish, seconds.")
    expected_max_s: float = Field(gt=0, description="Slowest expected finish, seconds.")
    credible_min_s: float = Field(
        gt=0, description="Below this the result is too fast to be credible, seconds."
    )

    @model_validator(mode="after")
    def _check(self) -> TimeBandSpec:
        if not self.credible_min_s <= self.expected_min_s <= self.expected_max_s:
            raise ValueError("need credible_min_s <= expected_min_s <= expected_max_s")
        return self


class DemonstrationSpec(Record):
    """A hands-on task of the job package, as scoring sees it."""

    id: str = Field(description="Stable item id.")
    position: int = Field(default=0, description="Place in the interview; items sort by it.")
    title: LocalizedText = Field(description="Task title per language.")
    time_limit_s: float = Field(gt=0, description="Time allowed, seconds.")
    competencies: tuple[str, ...] = Field(description="Competencies the task feeds.")
    checklist: tuple[ChecklistPointSpec, ...] = Field(description="Points staff tick off.")
    time_band: TimeBandSpec | None = Field(
        default=None,
        description="Expected time band; None: time is weighed against the limit only.",
    )
    work_area: WorkArea | None = Field(
        default=None,
        description="Where in the picture the work is done; None: the whole picture.",
    )


# --- outputs --------------------------------------------------------------------------------

NoteCode = Literal[
    "not_recorded",
    "not_analysed",
    "speech_unreliable",
    "speech_not_heard",
    "speech_unreliable_item",
    "speech_not_heard_item",
    "no_speech",
    "no_vocabulary",
    "keywords",
    "star",
    "structure",
    "score_basis",
    "speaking_rate",
    "pauses",
    "fillers",
    "confidence",
    "duration",
    "timed_out",
    "completion",
    "over_time",
    "in_band",
    "over_band",
    "too_fast",
    "too_fast_item",
    "checklist",
    "checklist_pending",
    "no_checklist_points",
    "activity",
    "activity_unseen",
    "facing",
    "no_video",
    "expression",
    "expression_used",
    "expression_observation",
    "expression_declined",
    "expression_not_run",
]


class TimedPhrase(Record):
    """A phrase heard and when (for explanations such as "root cause at 0:12")."""

    text: str = Field(description="What was heard (or the label of a period).")
    t: float = Field(description="Seconds from the start of the item's recording.")


class Note(Record):
    """A language-neutral explanation: a message code and its values (see report.i18n)."""

    code: NoteCode = Field(description="Message code; see inference.scoring.notes_i18n.NOTES.")
    values: dict[str, float] = Field(default_factory=dict, description="Numbers in the message.")
    terms: tuple[TimedPhrase, ...] = Field(default=(), description="Phrases with timestamps.")
    elements: tuple[StarElement, ...] = Field(default=(), description="STAR elements named.")
    label: str = Field(
        default="", description="A unit, class name or item id used by the message."
    )
    reason: str = Field(
        default="",
        description="Why an item could not be analysed, quoted as given (not translated).",
    )


SpanKind = Literal["pause", "idle", "work", "hands_away"]


class Span(Record):
    """A stretch of time behind a metric value (a pause, an idle period, the work itself)."""

    start: float = Field(description="Seconds from the start of the item's recording.")
    end: float = Field(description="Seconds from the start of the item's recording.")
    kind: SpanKind = Field(
        description="What the span marks: 'work' from the first work seen to the last, 'idle'"
        " no motion of note in the work area, 'hands_away' no hand in it, 'pause' in speech."
    )


class ItemMatch(Record):
    """A keyword or synonym heard in one answer, as evidence for a competency."""

    item_id: str = Field(description="The question whose answer it was heard in.")
    kind: Literal["keyword", "synonym"] = Field(description="Expected keyword or synonym.")
    match: Match = Field(description="What was heard, when, and which transcript words.")


class MetricScore(Record):
    """One metric measured on one item for one competency."""

    metric: Metric = Field(description="The rubric metric.")
    item_id: str = Field(description="The item it was measured on.")
    value: float | None = Field(ge=0, le=1, description="0-1; None when not measured.")
    raw: float | None = Field(description="The measured figure behind the value.")
    unit: str = Field(description="Unit of `raw`, e.g. 'words/min', 'ratio', 's'.")
    evidence: tuple[Match, ...] = Field(default=(), description="Words behind the value.")
    spans: tuple[Span, ...] = Field(default=(), description="Time spans behind the value.")
    note: Note = Field(description="Structured explanation (translated in the report).")
    explanation: str = Field(description="One-line explanation in English.")
    counted_in_score: bool = Field(description="Whether the value counts in the score.")


class ItemCompetencyScore(Record):
    """What one item measured for one competency."""

    competency: str = Field(description="Competency id.")
    value: float | None = Field(
        description="Mean of the counted metric values, 0-1; None when none was measured or"
        " the answer's content for this competency was not assessed."
    )
    metrics: tuple[MetricScore, ...] = Field(description="In the rubric's metric order.")


class ItemScore(Record):
    """Scores measured on one interview item, per competency it feeds."""

    item_id: str = Field(description="Item id.")
    kind: ItemKind = Field(description="Item type.")
    recorded: bool = Field(
        description="False when nothing was recorded for the item; an item recorded but whose"
        " analysis failed is recorded, with `not_analysed`."
    )
    not_analysed: str | None = Field(
        default=None, description="Why the analysis of the recorded item failed; None otherwise."
    )
    not_assessed: str | None = Field(
        default=None,
        description="Why the content of a spoken answer was not assessed (speech recognised"
        " below inference.speech.quality.RELIABLE_QUALITY), or why a demonstration's time and"
        " activity were not (finished too fast to be credible) or its activity was not (the"
        " camera gave no view of the work area); None when they were.",
    )
    too_fast: Note | None = Field(
        default=None,
        description="A demonstration finished below its time band's credible minimum: the"
        " 'too_fast' note with the time taken and the minimum; None otherwise.",
    )
    activity_basis: ActivityBasis | None = Field(
        default=None,
        description="What a demonstration's activity measured: 'hands' (hands in the work"
        " area), 'work_area_motion' (motion in the work area, face excluded) or"
        " 'frame_motion' (older analyses: the whole picture); None for a spoken answer.",
    )
    evidence: tuple[Span, ...] = Field(
        default=(),
        description="A demonstration's evidence as timestamps into its recording: work start"
        " to end, idle periods and hands-away periods, in time order.",
    )
    competencies: tuple[ItemCompetencyScore, ...] = Field(description="In rubric order.")


class MetricSummary(Record):
    """One metric of a competency over all the items that measured it."""

    metric: Metric = Field(description="The rubric metric.")
    value: float | None = Field(description="Mean over the items, 0-1; None when not measured.")
    items: tuple[str, ...] = Field(description="Items with a value for this metric.")
    counted_in_score: bool = Field(description="Whether the value counts in the score.")
    note: Note = Field(description="Explanation of the weakest item's value.")


CompetencyStatus = Literal["scored", "awaiting_staff", "not_measured", "not_assessed"]


class CompetencyScore(Record):
    """A competency's score on the package scale, with its evidence and explanation."""

    id: str = Field(description="Competency id.")
    weight: float = Field(description="Weight as in the rubric.")
    score: float | None = Field(
        description="On the package scale, 1 decimal; None when not (yet) scored."
    )
    status: CompetencyStatus = Field(
        description="'awaiting_staff' while a demonstration checklist is not scored yet;"
        " 'not_assessed' when its content readings could not be assessed because the speech"
        " was not recognised reliably, or its demonstration was too fast to be credible, and"
        " no other evidence of it remains."
    )
    metrics: tuple[MetricSummary, ...] = Field(description="In the rubric's metric order.")
    evidence: tuple[ItemMatch, ...] = Field(description="Keywords and synonyms heard.")
    notes: tuple[Note, ...] = Field(description="Strongest and weakest evidence, structured.")
    explanation: str = Field(description="One line in English built from `notes`.")


class ScoreCard(Record):
    """All scores of one session. Deterministic: no time stamps, stable ordering."""

    format: Literal["kiosk-scorecard/1"] = Field(
        default=SCORECARD_FORMAT, description="Format tag and version."
    )
    scoring_version: str = Field(description="Version of the metric mappings.")
    job_id: str = Field(description="Stable job id.")
    package_version: int = Field(description="Job package version.")
    rubric_version: str = Field(description="Rubric version the scores are against.")
    min_score: float = Field(description="Lowest score on the package scale.")
    max_score: float = Field(description="Highest score on the package scale.")
    overall: float | None = Field(
        description="Weight-normalised mean of the scored competencies, package scale, 1 decimal."
    )
    overall_weights: dict[str, float] = Field(
        description="Normalised weights used for `overall` (scored competencies, sum 1)."
    )
    complete: bool = Field(description="False while any competency awaits staff scoring.")
    pending: tuple[str, ...] = Field(description="Competencies awaiting staff scoring.")
    competencies: tuple[CompetencyScore, ...] = Field(description="In rubric order.")
    items: tuple[ItemScore, ...] = Field(description="In interview order.")
    models: tuple[ModelRef, ...] = Field(description="Models whose output was scored.")
    expression: ExpressionStatus = Field(description="What happened to expression analysis.")
    expression_note: Note = Field(description="`expression` stated as a message.")
