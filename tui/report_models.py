"""The parts of the interview report (``GET .../sessions/{id}/report``) the terminal UI reads.

The box sends the whole report (format ``kiosk-report/1``); these typed views name only the
fields the Reports screen shows. Explanations arrive already worded in English by the box's
scoring (``explanation`` and ``not_assessed``), so the UI states them as they are.
"""

from __future__ import annotations

from typing import Any, TypedDict


class CompetencyName(TypedDict, total=False):
    id: str
    name: dict[str, str]
    weight: float


class Rubric(TypedDict, total=False):
    competencies: list[CompetencyName]
    min_score: float
    max_score: float


class MetricScore(TypedDict, total=False):
    metric: str
    item_id: str
    value: float | None
    explanation: str


class ItemCompetencyScore(TypedDict, total=False):
    competency: str
    value: float | None
    metrics: list[MetricScore]


class ItemScore(TypedDict, total=False):
    item_id: str
    kind: str
    recorded: bool
    #: why the analysis of a recorded item failed
    not_analysed: str | None
    #: why a spoken answer's content, or a demonstration's time and activity, was not assessed
    not_assessed: str | None
    #: the "too fast to be credible" note of a demonstration, or None
    too_fast: dict[str, Any] | None
    competencies: list[ItemCompetencyScore]


class CompetencyScore(TypedDict, total=False):
    id: str
    weight: float
    score: float | None
    #: ``scored``, ``awaiting_staff``, ``not_measured`` or ``not_assessed``
    status: str
    #: one line in English built from the score card's notes
    explanation: str


class ScoreCard(TypedDict, total=False):
    overall: float | None
    min_score: float
    max_score: float
    complete: bool
    #: competencies awaiting a staff checklist
    pending: list[str]
    competencies: list[CompetencyScore]
    items: list[ItemScore]


class ChecklistPoint(TypedDict, total=False):
    id: str
    label: dict[str, str]
    competency: str
    weight: float


class TimeBand(TypedDict):
    expected_min_s: float
    expected_max_s: float
    credible_min_s: float


class ItemSpec(TypedDict, total=False):
    id: str
    title: dict[str, str]
    prompt: dict[str, str]
    time_limit_s: float
    competencies: list[str]
    checklist: list[ChecklistPoint]
    time_band: TimeBand | None


class Activity(TypedDict, total=False):
    duration_s: float
    time_limit_s: float
    within_limit: bool
    active_ratio: float


class ItemAnalysis(TypedDict, total=False):
    item_id: str
    activity: Activity
    #: a demonstration's staff checklist: point id -> achieved; None while not scored
    checklist: dict[str, bool] | None


class ReportItem(TypedDict, total=False):
    #: ``question`` or ``demonstration``
    kind: str
    number: int
    spec: ItemSpec
    #: None when nothing was recorded or the analysis failed
    analysis: ItemAnalysis | None


class Report(TypedDict, total=False):
    session_id: str
    candidate_id: str
    candidate_name: str | None
    job_id: str
    job_title: dict[str, str]
    language: str
    interviewed_at: str | None
    generated_at: str
    rubric: Rubric
    scorecard: ScoreCard
    items: list[ReportItem]


class ReportEnvelope(TypedDict):
    """The report endpoint's answer: the report and its revision (1, then one more each time
    it is rebuilt, e.g. after a checklist is scored)."""

    revision: int
    report: Report


class ChecklistOutcome(TypedDict):
    session_id: str
    item_id: str
    points: dict[str, bool]
    #: whether the report was rebuilt with the new checklist
    rescored: bool
