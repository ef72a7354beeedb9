"""A sample interview report built from the scoring fixtures, for the report's tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from scoring_fixtures import DEMO, QUESTIONS, rubric, session

from inference.findings import DemonstrationAnalysis, Language, SpokenAnswerAnalysis
from inference.report.build import Report, build_report
from inference.scoring.models import DemonstrationSpec

WHEN = datetime(2026, 1, 12, 10, 5, tzinfo=timezone(timedelta(hours=8)))
LANGS: tuple[Language, ...] = ("zh-CN", "en", "ko")
Analyses = list[SpokenAnswerAnalysis | DemonstrationAnalysis]


def report(
    analyses: Analyses | None = None,
    consent: bool = True,
    use_expression: bool = False,
    demonstration: DemonstrationSpec = DEMO,
) -> Report:
    return build_report(
        session_id="S-0042",
        candidate_id="C-7",
        candidate_name="Li Wei",
        language="en",
        consent_version="2026-01",
        expression_consent=consent,
        generated_at=WHEN,
        interviewed_at=WHEN - timedelta(minutes=30),
        rubric=rubric(use_expression),
        questions=QUESTIONS,
        demonstrations=[demonstration],
        analyses=session() if analyses is None else analyses,
    )
