"""The interview report (format ``kiosk-report/1``): what central HR receives for one session.

A :class:`Report` holds the score card, every item's spec and analysis (transcript, speech
metrics, STAR, follow-up, vision and activity summaries), which transcript words support which
evidence, and the rubric and model versions. ``inference.report.build.render_html`` turns it
into the reviewer's page in any of the three languages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from inference.findings import (
    DemonstrationAnalysis,
    Language,
    ModelRef,
    Record,
    SpokenAnswerAnalysis,
    StarElement,
)
from inference.scoring.models import (
    DemonstrationSpec,
    LocalizedText,
    QuestionSpec,
    RubricSpec,
    ScoreCard,
)

REPORT_FORMAT: Literal["kiosk-report/1"] = "kiosk-report/1"


class WordTag(Record):
    """One piece of evidence a transcript word is part of."""

    kind: Literal["keyword", "synonym", "star", "filler"] = Field(
        description="Expected keyword or synonym of a competency, STAR cue, or filler word."
    )
    phrase: str = Field(description="The keyword, synonym, cue or filler looked for.")
    competency: str | None = Field(description="Competency id for keywords and synonyms.")
    element: StarElement | None = Field(description="STAR element for cues.")
    start: float = Field(description="Start of the whole match, seconds from the answer start.")
    end: float = Field(description="End of the whole match, seconds.")


class WordEvidence(Record):
    """The evidence one transcript word is part of."""

    index: int = Field(ge=0, description="Index of the word in the answer's transcript words.")
    tags: tuple[WordTag, ...] = Field(description="Evidence the word supports.")


class SpokenItemReport(Record):
    """A spoken question, what was heard, and which words are evidence."""

    kind: Literal["question"] = Field(default="question", description="Item type.")
    number: int = Field(ge=1, description="Question number as shown in the report.")
    spec: QuestionSpec = Field(description="The question as asked.")
    analysis: SpokenAnswerAnalysis | None = Field(
        description="None when nothing was recorded, or when its analysis failed (the score"
        " card's item then says why, in `not_analysed`)."
    )
    word_evidence: tuple[WordEvidence, ...] = Field(
        description="Words that support evidence, by index, in transcript order; none when the"
        " answer's content was not assessed (the score card's item says why)."
    )


class DemonstrationItemReport(Record):
    """A skill demonstration: the task, its activity, vision summary and staff checklist."""

    kind: Literal["demonstration"] = Field(default="demonstration", description="Item type.")
    number: int = Field(ge=1, description="Task number as shown in the report.")
    spec: DemonstrationSpec = Field(description="The task and its staff checklist.")
    analysis: DemonstrationAnalysis | None = Field(
        description="None when nothing was recorded, or when its analysis failed (the score"
        " card's item then says why, in `not_analysed`)."
    )


ReportItem = Annotated[SpokenItemReport | DemonstrationItemReport, Field(discriminator="kind")]


class Report(Record):
    """The interview report of one session, as sent to central HR."""

    format: Literal["kiosk-report/1"] = Field(
        default=REPORT_FORMAT, description="Format tag and version."
    )
    session_id: str = Field(description="Interview session id.")
    candidate_id: str = Field(description="Candidate id.")
    candidate_name: str | None = Field(default=None, description="Display name, if HR gave one.")
    job_id: str = Field(description="Stable job id.")
    job_title: LocalizedText = Field(description="Job title per language.")
    language: Language = Field(description="Language the candidate chose for the interview.")
    consent_version: str = Field(description="Version of the consent text the candidate agreed to.")
    expression_consent: bool = Field(
        description="Whether the candidate gave the separate expression-analysis consent."
    )
    interviewed_at: datetime | None = Field(default=None, description="When the interview began.")
    generated_at: datetime = Field(description="When the report was built (given by the caller).")
    rubric_version: str = Field(description="Rubric version the scores are against.")
    package_version: int = Field(description="Job package version.")
    rubric: RubricSpec = Field(description="The rubric and scoring settings used.")
    scorecard: ScoreCard = Field(description="Scores with their evidence and explanations.")
    items: tuple[ReportItem, ...] = Field(description="Items in interview order.")
    models: tuple[ModelRef, ...] = Field(description="Models whose output the report contains.")
