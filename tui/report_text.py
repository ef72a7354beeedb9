"""What a report says, read for the Reports screen: who and when, the overall score or why
there is none, each competency's score or status with the box's own explanation, and each
demonstration's time and checklist.

The explanations are the ones the box's scoring wrote (in English) into the score card; the UI
adds only labels around them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.markup import escape

from tui.fmt import clock, moment
from tui.report_models import (
    ChecklistPoint,
    ItemScore,
    Report,
    ReportEnvelope,
    ReportItem,
    ScoreCard,
    TimeBand,
)

#: a competency's status when it has no score
STATUS = {"awaiting_staff": "awaiting staff checklist", "not_measured": "not measured",
          "not_assessed": "not assessed", "scored": "scored"}


def localized(texts: Mapping[str, str] | None, fallback: str) -> str:
    """The English text of a package's localised text, else any, else ``fallback``."""
    if not texts:
        return fallback
    return texts.get("en") or next(iter(texts.values()), fallback) or fallback


def candidate(report: Report) -> str:
    return report.get("candidate_name") or report.get("candidate_id", "?")


def job(report: Report) -> str:
    return localized(report.get("job_title"), report.get("job_id", "?"))


def interviewed(report: Report) -> str | None:
    """When the interview began (UTC stamp), else when the report was built."""
    return report.get("interviewed_at") or report.get("generated_at")


def overall(card: ScoreCard) -> str:
    """The overall score; "provisional" while a checklist is awaited; "not assessed" when
    nothing could be scored."""
    value, pending = card.get("overall"), bool(card.get("pending"))
    if value is None:
        return "provisional" if pending else "not assessed"
    return f"{value:.1f} provisional" if pending else f"{value:.1f}"


@dataclass(frozen=True)
class Demonstration:
    """A demonstration of a report with what the Reports screen shows of it."""

    item_id: str
    number: int
    title: str
    points: tuple[ChecklistPoint, ...]
    #: the staff checklist (point id -> achieved); None while not scored
    checklist: dict[str, bool] | None
    #: whether it was recorded and analysed (only then does its checklist count)
    analysed: bool
    duration_s: float | None
    time_limit_s: float | None
    within_limit: bool
    band: TimeBand | None
    #: the box's "too fast to be credible" sentence, when it was
    too_fast: str | None
    #: why it has no analysis (not recorded, or the analysis failed)
    missing: str | None

    @property
    def pending(self) -> bool:
        return self.analysed and self.checklist is None

    def point_label(self, point: ChecklistPoint) -> str:
        return localized(point.get("label"), point.get("id", "?"))

    def band_verdict(self) -> str:
        """Where the time taken falls: too fast, over the limit, or against the band."""
        if self.too_fast is not None:
            return "too fast to be credible"
        limit, took = self.time_limit_s, self.duration_s or 0.0
        if not self.within_limit or (limit is not None and took > limit):
            return "over the limit"
        if self.band is None:
            return "within the limit"
        if took < self.band["expected_min_s"]:
            return "faster than expected"
        if took <= self.band["expected_max_s"]:
            return "within the expected band"
        return "slower than expected"

    def checklist_state(self) -> str:
        if not self.analysed:
            return "not scored: nothing to score it against"
        if self.checklist is None:
            return "pending"
        ticked = sum(1 for p in self.points if self.checklist.get(p.get("id", ""), False))
        return f"scored: {ticked} of {len(self.points)} points achieved"


def _demonstration(item: ReportItem, scores: dict[str, ItemScore]) -> Demonstration:
    spec = item.get("spec", {})
    item_id = spec.get("id", "?")
    analysis = item.get("analysis")
    activity = analysis.get("activity", {}) if analysis else {}
    score = scores.get(item_id, {})
    missing = None
    if analysis is None:
        reason = score.get("not_analysed")
        missing = f"not analysed: {reason}" if reason else "not recorded"
    return Demonstration(
        item_id=item_id, number=item.get("number", 0),
        title=localized(spec.get("title"), item_id),
        points=tuple(spec.get("checklist", [])),
        checklist=analysis.get("checklist") if analysis else None,
        analysed=analysis is not None,
        duration_s=activity.get("duration_s"),
        time_limit_s=activity.get("time_limit_s") or spec.get("time_limit_s"),
        within_limit=activity.get("within_limit", True),
        band=spec.get("time_band"),
        too_fast=score.get("not_assessed") if score.get("too_fast") else None,
        missing=missing)


def demonstrations(report: Report) -> list[Demonstration]:
    """The report's demonstrations, in interview order."""
    card = report.get("scorecard", {})
    scores = {i.get("item_id", ""): i for i in card.get("items", [])}
    return [_demonstration(item, scores) for item in report.get("items", [])
            if item.get("kind") == "demonstration"]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


#: a line of the summary: its indent level (0-3) and its Rich markup
Line = tuple[int, str]


def _competencies(report: Report) -> list[Line]:
    card = report.get("scorecard", {})
    names = {c.get("id", ""): localized(c.get("name"), c.get("id", "?"))
             for c in report.get("rubric", {}).get("competencies", [])}
    lines: list[Line] = [(0, "[b]Competencies[/]")]
    for comp in card.get("competencies", []):
        cid = comp.get("id", "?")
        score = comp.get("score")
        status = comp.get("status", "scored")
        shown = f"{score:.1f}" if score is not None else f"[yellow]{STATUS.get(status, status)}[/]"
        lines.append((1, f"[b]{escape(names.get(cid, cid))}[/]  {shown}"))
        if comp.get("explanation"):
            lines.append((2, escape(comp["explanation"])))
    return lines


def _demonstration_lines(demo: Demonstration) -> list[Line]:
    lines: list[Line] = [(1, f"[b]Task {demo.number}: {escape(demo.title)}[/]")]
    if demo.missing is not None:
        return [*lines, (2, f"[yellow]{escape(demo.missing)}[/]")]
    verdict = demo.band_verdict()
    style = "red" if demo.too_fast or verdict == "over the limit" else ""
    took = f"[{style}]{verdict}[/]" if style else verdict
    lines.append((2, f"time taken {clock(demo.duration_s)} of {clock(demo.time_limit_s)}: {took}"))
    if demo.band is not None:
        band = demo.band
        lines.append((2, f"time band {clock(band['expected_min_s'])}–"
                         f"{clock(band['expected_max_s'])} expected; under"
                         f" {clock(band['credible_min_s'])} too fast to be credible"))
    if demo.too_fast:
        lines.append((2, f"[red]{escape(_sentence(demo.too_fast))}[/]"))
    state = demo.checklist_state()
    lines.append((2, f"checklist: {'[yellow]pending[/]' if demo.pending else escape(state)}"))
    for point in demo.points:
        if demo.checklist is None:
            mark = "[dim]·[/]"
        else:
            mark = ("[green]✓[/]" if demo.checklist.get(point.get("id", ""), False)
                    else "[red]✗[/]")
        lines.append((3, f"{mark} {escape(demo.point_label(point))}"))
    return lines


def summary(envelope: ReportEnvelope, zone: str, *, name: str | None = None,
            at: object = None) -> list[Line]:
    """The report's summary as the report view shows it, line by line. ``name`` and ``at``:
    the candidate's name and the interview's time when the session list knows them better."""
    report = envelope["report"]
    card = report.get("scorecard", {})
    scale = f" / {card.get('max_score', 10):g}" if card.get("overall") is not None else ""
    who, cid = name or candidate(report), report.get("candidate_id", "?")
    lines: list[Line] = [
        (0, f"[b]{escape(who)}[/]{'' if who == cid else f' ({escape(cid)})'}"
            f"  {escape(job(report))}  {moment(at or interviewed(report), zone)}"),
        (0, f"Overall [b]{overall(card)}[/]{scale}"
            f"  [dim]report revision {envelope['revision']}[/]"),
    ]
    if card.get("pending"):
        lines.append((0, "[yellow]Provisional: a demonstration checklist is still to be"
                         " scored.[/]"))
    lines += [(0, " "), *_competencies(report)]
    demos = demonstrations(report)
    if demos:
        lines += [(0, " "), (0, "[b]Demonstrations[/]")]
        for demo in demos:
            lines += _demonstration_lines(demo)
    return lines
