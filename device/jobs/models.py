"""Data model of the job package (format ``kiosk-job-package/1``).

A job package is the JSON document central HR sends to a kiosk to define one job: the job
itself, its competency rubric, the interview items (spoken questions and skill demonstrations),
the consent text shown to candidates and the scoring settings. ``docs/job-package.md`` documents
every field and rule; ``device.jobs.package`` loads packages from files and bytes.

Each model checks the rules it can check on its own; the whole document,
:class:`device.jobs.document.JobPackage`, checks the rules that span it (languages, competency
references, coverage). Every problem is reported as
``"path: message"`` with the path written the way it appears in the JSON document.
"""

from collections.abc import Iterable, Iterator
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from inference.scoring.metrics import DEMONSTRATION_METRICS as DEMONSTRATION_METRICS
from inference.scoring.metrics import SPOKEN_METRICS as SPOKEN_METRICS
from inference.scoring.models import Metric as Metric

FORMAT = "kiosk-job-package/1"

Language = Literal["zh-CN", "en", "ko"]
LANGUAGES: tuple[str, ...] = get_args(Language)

Text = Annotated[str, StringConstraints(min_length=1, pattern=r"\S")]
"""A non-empty string that is not only whitespace."""

LocalizedText = dict[Language, Text]
"""Text per language; a package must provide every language listed in ``job.languages``."""

Phrases = dict[Language, list[Text]]
"""Word or phrase lists per language."""

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
"""Id of a job, competency, item or checklist point: 1-64 characters (letters, digits, '.', '_',
'-', starting with a letter or digit). Ids stay unchanged across package versions so central HR
can correlate kiosk scores with later on-the-job performance."""

METRICS: tuple[str, ...] = get_args(Metric)
"""Metric names, defined once with the scoring that measures them."""

StarElement = Literal["situation", "task", "action", "result"]
STAR_ELEMENTS: tuple[str, ...] = get_args(StarElement)

_STABLE = (
    " Keep it unchanged across package versions: central HR correlates kiosk scores with later"
    " on-the-job performance by this id."
)


class PackageProblems(ValueError):
    """Rule violations found by a model check; each problem reads ``"path: message"``.

    Paths are relative to the model that raised it (``device.jobs.package`` prefixes the location of
    that model in the document).
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def raise_if_any(problems: list[str]) -> None:
    if problems:
        raise PackageProblems(problems)


def duplicates(values: Iterable[str]) -> Iterator[tuple[int, str, int]]:
    """Yield ``(index, value, first_index)`` for every repeated value."""
    first: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in first:
            yield index, value, first[value]
        else:
            first[value] = index


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Job(Model):
    """The job candidates are interviewed for."""

    id: Identifier = Field(description="Job id." + _STABLE)
    title: LocalizedText = Field(description="Job title shown to the candidate.")
    language: Language = Field(
        description="Default interview language; the kiosk starts in it. Must be in `languages`."
    )
    languages: list[Language] = Field(
        min_length=1,
        description="Languages the candidate may choose from, without repeats; must include"
        " `language`. Every localized text in the package must provide each of them.",
    )
    cost_centre: str = Field(
        min_length=1, max_length=64, description="Cost centre the hiring is booked against."
    )
    site: str | None = Field(
        default=None, min_length=1, max_length=128, description="Plant or site name, if any."
    )

    @model_validator(mode="after")
    def _check_languages(self) -> "Job":
        problems = [
            f"languages[{i}]: duplicate language '{lang}'"
            for i, lang, _ in duplicates(self.languages)
        ]
        if self.language not in self.languages:
            problems.append(
                f"language: default language '{self.language}' is not in languages"
                f" ({', '.join(self.languages)})"
            )
        raise_if_any(problems)
        return self


class Competency(Model):
    """One competency of the rubric and the metrics that measure it."""

    id: Identifier = Field(description="Competency id." + _STABLE)
    name: LocalizedText = Field(description="Competency name shown in reports.")
    description: LocalizedText = Field(description="What the competency means for this job.")
    weight: float = Field(
        gt=0,
        le=100,
        description="Relative weight in the overall score (0 < weight <= 100). Weights are"
        " normalised by their sum; making them add up to 100 keeps them readable.",
    )
    metrics: list[Metric] = Field(
        min_length=1,
        description="Metrics that measure this competency, without repeats. At least one must be"
        " other than 'expression'. 'expression' counts towards the score only when"
        " `scoring.use_expression_in_score` is true; otherwise it is reported as an observation.",
    )

    @model_validator(mode="after")
    def _check_metrics(self) -> "Competency":
        problems = [
            f"metrics[{i}]: duplicate metric '{metric}'"
            for i, metric, _ in duplicates(self.metrics)
        ]
        if set(self.metrics) == {"expression"}:
            problems.append(
                "metrics: 'expression' cannot be the only metric (expression analysis needs a"
                " separate optional consent, so the competency could go unscored)"
            )
        raise_if_any(problems)
        return self


class Rubric(Model):
    """The competency rubric answers and demonstrations are scored against."""

    version: str = Field(min_length=1, max_length=32, description="Rubric version label.")
    competencies: list[Competency] = Field(
        min_length=1, description="Competencies with unique ids, in report order."
    )

    @model_validator(mode="after")
    def _check_ids(self) -> "Rubric":
        ids = (competency.id for competency in self.competencies)
        raise_if_any(
            [
                f"competencies[{i}].id: duplicate competency id '{cid}'"
                f" (first used at index {first})"
                for i, cid, first in duplicates(ids)
            ]
        )
        return self


class StarCues(Model):
    """Phrases that signal each STAR element (situation, task, action, result) in an answer."""

    situation: Phrases = Field(
        default_factory=dict, description="Phrases that open the situation, per language."
    )
    task: Phrases = Field(
        default_factory=dict, description="Phrases that state the candidate's task or role."
    )
    action: Phrases = Field(
        default_factory=dict, description="Phrases that describe what the candidate did."
    )
    result: Phrases = Field(default_factory=dict, description="Phrases that state the outcome.")


class CompetencyEvidence(Model):
    """Vocabulary that shows a competency in a spoken answer."""

    competency: Identifier = Field(description="Id of a rubric competency this answer feeds.")
    keywords: Phrases = Field(
        description="Words or phrases expected in a good answer, per language. Every offered"
        " language needs at least one, so candidates are scored alike in any language.",
    )
    synonyms: Phrases = Field(
        default_factory=dict,
        description="Other words accepted as evidence (colloquial or regional variants). A match"
        " counts as evidence; synonyms are not needed for full coverage.",
    )


class SpokenQuestion(Model):
    """A question the candidate answers aloud; the answer is recorded and transcribed."""

    kind: Literal["question"] = Field(description="Item type: 'question'.")
    id: Identifier = Field(description="Item id, unique in the package." + _STABLE)
    prompt: LocalizedText = Field(description="The question as shown and read to the candidate.")
    think_time_s: int = Field(
        default=30, ge=0, le=600, description="Seconds to think before recording starts."
    )
    answer_time_s: int = Field(
        default=120, ge=10, le=1800, description="Maximum answer length in seconds."
    )
    retakes: int = Field(
        default=1, ge=0, le=3, description="How many times the candidate may redo the answer."
    )
    evidence: list[CompetencyEvidence] = Field(
        default_factory=list,
        description="Competencies this question feeds, each with its vocabulary; a competency"
        " appears at most once per question.",
    )
    star_cues: StarCues = Field(
        default_factory=StarCues,
        description="STAR cue phrases. An element with cues in one offered language needs cues in"
        " every offered language.",
    )
    follow_ups: dict[StarElement, LocalizedText] = Field(
        default_factory=dict,
        description="Follow-up question asked when the answer misses that STAR element (only"
        " when `scoring.follow_up_enabled` is true).",
    )

    @model_validator(mode="after")
    def _check_evidence(self) -> "SpokenQuestion":
        ids = (evidence.competency for evidence in self.evidence)
        raise_if_any(
            [
                f"evidence[{i}].competency: competency '{cid}' already has evidence at"
                f" index {first}"
                for i, cid, first in duplicates(ids)
            ]
        )
        return self


class ChecklistItem(Model):
    """One point on-site staff tick off while watching a demonstration."""

    id: Identifier = Field(description="Checklist item id, unique within the task." + _STABLE)
    label: LocalizedText = Field(description="What staff check, as shown on the staff screen.")
    competency: Identifier = Field(
        description="Competency this point counts towards; must be one of the task's competencies."
    )
    weight: float = Field(
        default=1.0, gt=0, description="Relative weight among the task's points for a competency."
    )


class TimeBand(Model):
    """How long a demonstration is expected to take, and the least time a real attempt takes."""

    expected_min_s: int = Field(
        gt=0,
        description="Fastest expected finish, in seconds. Finishing faster (but not below"
        " `credible_min_s`) still gets full marks for time.",
    )
    expected_max_s: int = Field(
        gt=0,
        description="Slowest expected finish, in seconds. Slower than this, the time marks fall"
        " off towards the time limit.",
    )
    credible_min_s: int = Field(
        gt=0,
        description="Below this many seconds the task cannot have been done properly: the"
        " result is 'too fast to be credible — review the recording', and the time and activity"
        " readings are not scored (never a top score, never 0).",
    )

    @model_validator(mode="after")
    def _check_order(self) -> "TimeBand":
        problems: list[str] = []
        if self.credible_min_s > self.expected_min_s:
            problems.append(
                f"credible_min_s: {self.credible_min_s} s is above expected_min_s"
                f" ({self.expected_min_s} s); a credible finish cannot need more than the"
                " fastest expected one"
            )
        if self.expected_min_s > self.expected_max_s:
            problems.append(
                f"expected_min_s: {self.expected_min_s} s is above expected_max_s"
                f" ({self.expected_max_s} s)"
            )
        raise_if_any(problems)
        return self


class WorkArea(Model):
    """Where in the camera picture the work happens: a rectangle in shares (0-1) of the frame."""

    x: float = Field(ge=0, le=1, description="Left edge, as a share of the frame width.")
    y: float = Field(ge=0, le=1, description="Top edge, as a share of the frame height.")
    width: float = Field(gt=0, le=1, description="Width, as a share of the frame width.")
    height: float = Field(gt=0, le=1, description="Height, as a share of the frame height.")

    @model_validator(mode="after")
    def _check_inside(self) -> "WorkArea":
        problems: list[str] = []
        if self.x + self.width > 1 + 1e-9:
            problems.append(
                f"width: x + width is {self.x + self.width:g}, past the right edge of the frame (1)"
            )
        if self.y + self.height > 1 + 1e-9:
            problems.append(
                f"height: y + height is {self.y + self.height:g}, past the bottom edge of the"
                " frame (1)"
            )
        raise_if_any(problems)
        return self


class DemonstrationTask(Model):
    """A hands-on task the candidate performs at the kiosk, timed and scored by on-site staff."""

    kind: Literal["demonstration"] = Field(description="Item type: 'demonstration'.")
    id: Identifier = Field(description="Item id, unique in the package." + _STABLE)
    title: LocalizedText = Field(description="Short task title.")
    instructions: LocalizedText = Field(description="Task instructions shown to the candidate.")
    preparation_s: int = Field(
        default=60,
        ge=0,
        le=600,
        description="Seconds to read the instructions before the timer starts.",
    )
    time_limit_s: int = Field(ge=30, le=7200, description="Time allowed for the task, in seconds.")
    competencies: list[Identifier] = Field(
        min_length=1, description="Competencies the task feeds, without repeats."
    )
    checklist: list[ChecklistItem] = Field(
        min_length=1, description="Points scored by on-site staff; ids unique within the task."
    )
    time_band: TimeBand | None = Field(
        default=None,
        description="Expected time band and credible minimum; without one, the time marks only"
        " weigh the time taken against `time_limit_s`.",
    )
    work_area: WorkArea | None = Field(
        default=None,
        description="Where in the camera picture the task is done (e.g. the table). Activity is"
        " measured there, the candidate's face left out; without one, over the whole picture.",
    )

    @model_validator(mode="after")
    def _check_lists(self) -> "DemonstrationTask":
        problems = [
            f"competencies[{i}]: duplicate competency '{cid}'"
            for i, cid, _ in duplicates(self.competencies)
        ]
        problems += [
            f"checklist[{i}].id: duplicate checklist id '{item_id}' (first used at index {first})"
            for i, item_id, first in duplicates(check.id for check in self.checklist)
        ]
        problems += [
            f"checklist[{i}].competency: '{check.competency}' is not one of the task's"
            f" competencies ({', '.join(self.competencies)})"
            for i, check in enumerate(self.checklist)
            if check.competency not in self.competencies
        ]
        band = self.time_band
        if band is not None and band.expected_max_s > self.time_limit_s:
            problems.append(
                f"time_band.expected_max_s: {band.expected_max_s} s is above the task's"
                f" time_limit_s ({self.time_limit_s} s)"
            )
        raise_if_any(problems)
        return self


Item = Annotated[SpokenQuestion | DemonstrationTask, Field(discriminator="kind")]
ITEM_KINDS: tuple[str, ...] = ("question", "demonstration")


class Consent(Model):
    """What the candidate is told and agrees to before anything is recorded."""

    version: str = Field(
        min_length=1, max_length=32, description="Consent text version, stored with each consent."
    )
    text: LocalizedText = Field(
        description="What is recorded, why, and what the candidate agrees to. No consent text"
        " states a retention period: it comes from `retention_days` (refused at import)."
    )
    shared_with_central: LocalizedText = Field(
        description="What leaves the kiosk and is sent to central HR."
    )
    expression_analysis: LocalizedText = Field(
        description="The separate, optional consent to facial-expression analysis."
    )
    retention_days: int = Field(
        ge=1, le=3650, description="Days recordings, transcripts and results are kept on the"
        " kiosk; the touchscreen and the receipt state it, and the box purges each session at"
        " this age, sent to central or not."
    )
    deletion_contact: LocalizedText = Field(
        description="How the candidate can ask for access to or deletion of their data."
    )


class Scoring(Model):
    """How answers and demonstrations are scored and reported."""

    use_expression_in_score: bool = Field(
        default=False,
        description="Count the 'expression' metric in scores (only for candidates who gave the"
        " expression-analysis consent). When false it is reported as an observation only.",
    )
    follow_up_enabled: bool = Field(
        default=False,
        description="Ask a question's follow-ups when an answer misses a STAR element.",
    )
    min_score: float = Field(default=0, description="Lowest score on the reporting scale.")
    max_score: float = Field(
        default=10, description="Highest score on the reporting scale; above `min_score`."
    )

    @model_validator(mode="after")
    def _check_range(self) -> "Scoring":
        if not self.min_score < self.max_score:
            raise PackageProblems(
                [f"max_score: must be greater than min_score ({self.min_score:g})"]
            )
        return self
