"""The whole job package (format ``kiosk-job-package/1``): its parts, and the rules that span
them (:mod:`device.jobs.rules`). The parts and their own rules are in :mod:`device.jobs.models`.
"""

from typing import Literal

from pydantic import Field, model_validator

from device.jobs.models import (
    Competency,
    Consent,
    DemonstrationTask,
    Item,
    Job,
    Model,
    Rubric,
    Scoring,
    SpokenQuestion,
    raise_if_any,
)
from device.jobs.rules import (
    coverage_problems,
    item_id_problems,
    language_problems,
    reference_problems,
)


class JobPackage(Model):
    """A job package: everything a kiosk needs to interview candidates for one job."""

    format: Literal["kiosk-job-package/1"] = Field(description="Format tag and version.")
    package_version: int = Field(
        ge=1, description="Increases with each change central makes to this job's package."
    )
    issued_at: str | None = Field(
        default=None, max_length=64, description="When central issued it (informational)."
    )
    job: Job = Field(description="The job.")
    rubric: Rubric = Field(description="The competency rubric.")
    items: list[Item] = Field(
        min_length=1, description="Interview items in the order they are presented; unique ids."
    )
    consent: Consent = Field(description="Consent texts and data retention.")
    scoring: Scoring = Field(
        default_factory=Scoring, description="Scoring settings; omitted settings take defaults."
    )

    def item(self, item_id: str) -> SpokenQuestion | DemonstrationTask:
        """Return the item with this id; raise KeyError if there is none."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def competency(self, competency_id: str) -> Competency:
        """Return the rubric competency with this id; raise KeyError if there is none."""
        for competency in self.rubric.competencies:
            if competency.id == competency_id:
                return competency
        raise KeyError(competency_id)

    @property
    def competency_ids(self) -> set[str]:
        """Ids of the rubric's competencies."""
        return {competency.id for competency in self.rubric.competencies}

    @model_validator(mode="after")
    def _check_package(self) -> "JobPackage":
        raise_if_any(
            item_id_problems(self)
            + language_problems(self)
            + reference_problems(self)
            + coverage_problems(self)
        )
        return self
