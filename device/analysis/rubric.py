"""From a job package to what analysis and scoring need (``inference`` never sees the package)."""

from __future__ import annotations

from dataclasses import dataclass

from device.jobs.document import JobPackage
from device.jobs.models import DemonstrationTask, SpokenQuestion
from inference.content.answer import QuestionVocabulary
from inference.findings import WorkArea
from inference.scoring.models import (
    ChecklistPointSpec,
    CompetencySpec,
    DemonstrationSpec,
    QuestionSpec,
    RubricSpec,
    TimeBandSpec,
)


@dataclass(frozen=True)
class ScoringInputs:
    rubric: RubricSpec
    questions: tuple[QuestionSpec, ...]
    demonstrations: tuple[DemonstrationSpec, ...]
    follow_up_enabled: bool


def scoring_inputs(package: JobPackage) -> ScoringInputs:
    rubric = RubricSpec(
        version=package.rubric.version,
        job_id=package.job.id,
        job_title=dict(package.job.title),
        package_version=package.package_version,
        min_score=package.scoring.min_score,
        max_score=package.scoring.max_score,
        use_expression_in_score=package.scoring.use_expression_in_score,
        competencies=tuple(
            CompetencySpec(id=c.id, name=dict(c.name), weight=c.weight, metrics=tuple(c.metrics))
            for c in package.rubric.competencies
        ),
    )
    questions: list[QuestionSpec] = []
    demonstrations: list[DemonstrationSpec] = []
    for position, item in enumerate(package.items):
        if isinstance(item, SpokenQuestion):
            questions.append(question_spec(item, position))
        else:
            demonstrations.append(demonstration_spec(item, position))
    return ScoringInputs(rubric, tuple(questions), tuple(demonstrations),
                         package.scoring.follow_up_enabled)


def question_spec(item: SpokenQuestion, position: int) -> QuestionSpec:
    return QuestionSpec(
        id=item.id, position=position, prompt=dict(item.prompt),
        answer_time_s=float(item.answer_time_s),
        competencies=tuple(e.competency for e in item.evidence),
    )


def demonstration_spec(item: DemonstrationTask, position: int) -> DemonstrationSpec:
    return DemonstrationSpec(
        id=item.id, position=position, title=dict(item.title),
        time_limit_s=float(item.time_limit_s), competencies=tuple(item.competencies),
        checklist=tuple(
            ChecklistPointSpec(id=p.id, label=dict(p.label), competency=p.competency,
                               weight=p.weight)
            for p in item.checklist
        ),
        time_band=None if (band := item.time_band) is None else TimeBandSpec(
            expected_min_s=float(band.expected_min_s),
            expected_max_s=float(band.expected_max_s),
            credible_min_s=float(band.credible_min_s),
        ),
        work_area=None if (area := item.work_area) is None else WorkArea(
            x=area.x, y=area.y, width=area.width, height=area.height
        ),
    )


def vocabulary(item: SpokenQuestion, language: str, follow_up_enabled: bool
               ) -> QuestionVocabulary:
    """The question's words to listen for, in the interview's language."""
    lang = language if language in item.prompt else next(iter(item.prompt))
    cues = item.star_cues
    return QuestionVocabulary(
        item_id=item.id,
        language=lang,
        evidence=tuple(
            (e.competency, tuple(e.keywords.get(lang, [])), tuple(e.synonyms.get(lang, [])))
            for e in item.evidence
        ),
        star_cues={
            "situation": tuple(cues.situation.get(lang, [])),
            "task": tuple(cues.task.get(lang, [])),
            "action": tuple(cues.action.get(lang, [])),
            "result": tuple(cues.result.get(lang, [])),
        },
        follow_ups={
            element: text[lang]
            for element, text in item.follow_ups.items() if lang in text
        } if follow_up_enabled else {},
        answer_time_s=float(item.answer_time_s),
    )
