"""The report's "observations, not scored" section: facial expressions per item.

Expressions are an observation, not a reading of the candidate (they count in a score only when
the job package enables it and the candidate consented): they stay out of the headline and the
answers, in one section below the scores, collapsed (``<details>``: no script needed).
"""

from __future__ import annotations

from inference.findings import EXPRESSIONS, Language, SpokenAnswerAnalysis, VisionSummary
from inference.report import charts
from inference.report.html import esc, figure, item_label
from inference.report.i18n import t
from inference.report.models import Report
from inference.scoring.figures import pct
from inference.scoring.metrics import top_expression
from inference.scoring.notes_i18n import name, note_text


def most_frequent(v: VisionSummary) -> tuple[str, float] | None:
    """The expression most often on top in the frames the chart draws, and its share of them:
    the caption describes the chart, not the mean of the class probabilities."""
    seen = [p.expression for p in v.timeline if p.expression is not None]
    if not seen:
        return None
    counts = {c: seen.count(c) / len(seen) for c in dict.fromkeys(seen)}
    return top_expression(counts)


def _chart(v: VisionSummary, chart_id: str, duration: float, lang: Language) -> str:
    top = most_frequent(v) if v.expression_run else None
    if top is None:
        return ""
    label, share = top
    title = t("chart.expression", lang)
    desc = t("chart.expression_desc", lang, label=name(label, lang), pct=pct(share))
    svg = charts.expression_chart(
        v.timeline,
        duration,
        {c: name(c, lang) for c in EXPRESSIONS},
        t("axis.seconds", lang),
        t("axis.share", lang),
        charts.ChartText(chart_id, title, desc),
    )
    return figure(svg, title, desc)


def observations(report: Report, lang: Language) -> str:
    """The collapsed section: what happened to expression analysis, then each item's chart."""
    card = report.scorecard
    parts: list[str] = []
    for item in report.items if report.expression_consent else ():
        a = item.analysis
        if a is None or a.vision is None:
            continue
        if isinstance(a, SpokenAnswerAnalysis):
            duration, cid = a.transcript.duration_s, f"obs-q{item.number}"
        else:
            duration, cid = a.activity.duration_s, f"obs-t{item.number}"
        chart = _chart(a.vision, f"{cid}-expression", duration, lang)
        if chart:
            parts.append(f'<h3 id="{cid}-h">{esc(item_label(item, lang))}</h3>{chart}')
    heading = "observations_scored" if card.expression == "used_in_score" else "observations"
    intro = t("observations_intro", lang, status=note_text(card.expression_note, lang))
    body = "".join(parts) or f"<p>{esc(t('observations_none', lang))}</p>"
    return (
        '<section class="observations" aria-labelledby="observations-h">'
        f'<h2 id="observations-h">{esc(t(heading, lang))}</h2>'
        f"<details><summary>{esc(t('observations_show', lang))}</summary>"
        f"<p>{esc(intro)}</p>{body}</details></section>"
    )
