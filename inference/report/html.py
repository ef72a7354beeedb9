"""HTML of the reviewer's report: shared helpers, competency scores and demonstrations.

Every text that reaches the page goes through :func:`esc`; candidate-spoken words are untrusted.
"""

from __future__ import annotations

from html import escape

from inference.findings import Language, Pause
from inference.report import charts
from inference.report.i18n import localized, metric_name, t
from inference.report.models import DemonstrationItemReport, Report, SpokenItemReport
from inference.scoring.metrics import too_fast, work_area_unseen
from inference.scoring.models import MetricSummary, Note
from inference.scoring.notes_i18n import NOTES, clock, marks, note_text, notes_line, pct, pick


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def item_label(item: SpokenItemReport | DemonstrationItemReport, lang: Language) -> str:
    key = "question_n" if isinstance(item, SpokenItemReport) else "task_n"
    return t(key, lang, n=item.number)


def unrecorded(report: Report, item_id: str, lang: Language) -> str:
    """Why an item has no analysis: not analysed (with the reason) or not recorded."""
    reason = next((i.not_analysed for i in report.scorecard.items if i.item_id == item_id), None)
    if reason is None:
        return f"<p>{esc(t('not_recorded', lang))}</p>"
    text = notes_line([Note(code="not_analysed", reason=reason)], lang)
    return f'<p class="warning" role="note">{esc(text)}</p>'


def table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """A table whose first cell in each row is a row header; cells are already escaped."""
    th = "".join(f'<th scope="col">{h}</th>' for h in head)
    body = "".join(
        f'<tr><th scope="row">{r[0]}</th>{"".join(f"<td>{c}</td>" for c in r[1:])}</tr>'
        for r in rows
    )
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def figure(svg: str | None, title: str, desc: str) -> str:
    if svg is None:
        return ""
    return f'<figure class="chart">{svg}<figcaption>{esc(title)}. {esc(desc)}</figcaption></figure>'


# --- competencies ---------------------------------------------------------------------------


def _counted(summary: MetricSummary, lang: Language) -> str:
    """Yes or no; "observation only" is kept for what is one (an expression not counted), not
    for a measured reading left out of a competency that could not be assessed."""
    if summary.counted_in_score:
        return t("yes", lang)
    observed = summary.metric == "expression" and summary.value is not None
    return t("observation", lang) if observed else t("no", lang)


def _detail(
    report: Report, cid: str, summary: MetricSummary, labels: dict[str, str], lang: Language
) -> str:
    """The metric's explanation on each item that measured it, labelled when there are several;
    a value that is the mean of several items says so, naming them."""
    found = [
        (labels[item.item_id], m.note)
        for item in report.scorecard.items
        for ic in item.competencies
        if ic.competency == cid
        for m in ic.metrics
        if m.metric == summary.metric
    ]
    if len(found) == 1:
        return note_text(found[0][1], lang, labels)
    sep = pick(NOTES, "note_sep", lang)
    line = sep.join(
        f"{label}{t('colon', lang)}{note_text(n, lang, labels)}" for label, n in found
    )
    if summary.value is not None and len(summary.items) > 1:
        listed = pick(NOTES, "list_sep", lang).join(labels[i] for i in summary.items)
        line = t("mean_of_items", lang, items=listed) + sep + line
    return line


def _shown(summary: MetricSummary) -> bool:
    """Whether a metric has a row among the scores: an expression that does not count is an
    observation, shown apart (``inference.report.observations``), never beside the scores."""
    return summary.metric != "expression" or summary.counted_in_score


def competencies(report: Report, lang: Language) -> str:
    card, rubric = report.scorecard, report.rubric
    names = {c.id: localized(c.name, lang, c.id) for c in rubric.competencies}
    total = sum(c.weight for c in rubric.competencies)
    labels = {item.spec.id: item_label(item, lang) for item in report.items}
    rows: list[list[str]] = []
    details: list[str] = []
    colon = esc(t("colon", lang))
    for i, comp in enumerate(card.competencies, start=1):
        score = f"{comp.score:.1f}" if comp.score is not None else t(f"status.{comp.status}", lang)
        line = esc(notes_line(comp.notes, lang, labels))
        link = f'<a href="#competency-{i}">{esc(names[comp.id])}</a>'
        rows.append([link, f"{pct(comp.weight / total)}%", esc(score), line])
        metric_rows = [
            [
                esc(metric_name(s.metric, lang)),
                "—" if s.value is None else marks(s.value),
                esc(_counted(s, lang)),
                esc(_detail(report, comp.id, s, labels, lang)),
            ]
            for s in comp.metrics
            if _shown(s)
        ]
        heard = [
            "<li>"
            + esc(
                t(
                    "evidence_item",
                    lang,
                    term=ev.match.heard,
                    item=labels[ev.item_id],
                    at=clock(ev.match.start),
                )
            )
            + "</li>"
            for ev in comp.evidence
        ]
        evidence = ""
        if any(s.metric == "keyword_coverage" for s in comp.metrics):
            if heard:
                listed = f'<ul class="evidence">{"".join(heard)}</ul>'
            elif comp.status == "not_assessed":  # nothing heard is not "no terms were said"
                listed = f"<p>{line}</p>"
            else:
                listed = f"<p>{esc(t('evidence_none', lang))}</p>"
            evidence = f"<h4>{esc(t('evidence', lang))}</h4>{listed}"
        head = [t("metric", lang), t("value", lang), t("counted", lang), t("detail", lang)]
        details.append(
            f'<section class="competency" id="competency-{i}" aria-labelledby="competency-{i}-h">'
            f'<h3 id="competency-{i}-h">{esc(names[comp.id])}{colon}{esc(score)}</h3>'
            f"<p>{line}</p>{table([esc(h) for h in head], metric_rows)}{evidence}</section>"
        )
    head = [t("competency", lang), t("weight", lang), t("score", lang), t("explanation", lang)]
    return (
        '<section aria-labelledby="competencies-h">'
        f'<h2 id="competencies-h">{esc(t("competencies", lang))}</h2>'
        f"{table([esc(h) for h in head], rows, 'scores')}{''.join(details)}</section>"
    )


# --- demonstrations -------------------------------------------------------------------------


def demonstration_item(item: DemonstrationItemReport, report: Report, lang: Language) -> str:
    a = item.analysis
    names = {c.id: localized(c.name, lang, c.id) for c in report.rubric.competencies}
    if a is None:
        return unrecorded(report, item.spec.id, lang)
    act, band, fast = a.activity, item.spec.time_band, too_fast(item.spec, a)
    within = t("within_limit", lang) if act.within_limit else t("over_limit", lang)
    if fast is not None:
        within = t("too_fast", lang)
    rows = [
        [t("time_taken", lang), f"{clock(act.duration_s)} ({within})"],
        [t("time_limit", lang), clock(act.time_limit_s)],
    ]
    if band is not None:
        expected = t(
            "time_band_value",
            lang,
            fastest=clock(band.expected_min_s),
            slowest=clock(band.expected_max_s),
            credible=clock(band.credible_min_s),
        )
        rows.append([t("time_band", lang), expected])
    def periods(spans: tuple[Pause, ...]) -> str:  # timestamps into the recording
        return ", ".join(f"{clock(p.start)}–{clock(p.end)}" for p in spans) or "—"

    area = act.work_area
    unseen = work_area_unseen(act) is not None
    rows += [
        [t("activity_basis", lang), t(f"basis.{act.basis}", lang)],
        [
            t("work_area", lang),
            t("whole_picture", lang) if area is None else t(
                "work_area_value", lang, x=pct(area.x), y=pct(area.y), w=pct(area.width),
                h=pct(area.height),
            ),
        ],
        [t("active", lang), "—" if unseen else f"{pct(act.active_ratio)}%"],
        [
            t("work_seen", lang),
            "—" if act.work_start is None or act.work_end is None
            else f"{clock(act.work_start)}–{clock(act.work_end)}",
        ],
        [t("idle_periods", lang), periods(act.idle_periods)],
    ]
    if act.hands_in_area_ratio is not None:
        rows += [
            [t("hands_in_area", lang), f"{pct(act.hands_in_area_ratio)}%"],
            [t("hands_away", lang), periods(act.hands_away_periods)],
        ]
    head = [esc(t("measure", lang)), esc(t("figure", lang))]
    out = table(head, [[esc(c) for c in r] for r in rows])
    if unseen:
        out = f'<p class="warning" role="note">{esc(t("work_area_unseen", lang))}</p>' + out
    if fast is not None:  # flagged first: the figures below are not credible as they stand
        out = f'<p class="warning" role="note">{esc(note_text(fast, lang))}</p>' + out
    checks = []
    for point in item.spec.checklist:
        if a.checklist is None:
            result = t("pending", lang)
        else:
            result = (
                t("ticked", lang) if a.checklist.get(point.id, False) else t("not_ticked", lang)
            )
        checks.append(
            [
                esc(localized(point.label, lang, point.id)),
                esc(names.get(point.competency, point.competency)),
                esc(result),
            ]
        )
    out += f"<h4>{esc(t('checklist', lang))}</h4>"
    if a.checklist is None:
        out += f"<p>{esc(t('checklist_pending', lang))}</p>"
    head = [esc(t(k, lang)) for k in ("point", "competency", "ticked")]
    out += table(head, checks)
    title = t("chart.activity", lang)
    desc = t("chart.activity_desc", lang, pct=pct(act.active_ratio), n=len(act.idle_periods))
    svg = charts.activity_chart(
        act,
        (t("legend.motion", lang), t("legend.idle", lang), t("legend.limit", lang)),
        t("axis.seconds", lang),
        t("axis.motion", lang),
        charts.ChartText(f"t{item.number}-activity", title, desc),
    )
    return out + figure(svg, title, desc)
