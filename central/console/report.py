"""The candidate's report at central, rendered by the box's own report renderer, so that
the box and central show the same page. The one difference is the candidate's name: at
central it comes from central's roster (the box's message carries only the candidate id)."""

from __future__ import annotations

from typing import Any

from central.console.i18n import Lang


def render(report_json: dict[str, Any], name: str | None, lang: Lang) -> str:
    """The report page in ``lang``; ``name`` (the roster's) replaces the box's, if any."""
    from inference.report.build import render_html  # matplotlib: only when a report is shown
    from inference.report.models import Report

    report = Report.model_validate(report_json)
    if name:
        report = report.model_copy(update={"candidate_name": name})
    return render_html(report, lang)
