"""Build the interview report and render it as one self-contained HTML page for the reviewer.

:func:`build_report` scores the analyses (``inference.scoring.scorer.score``) and gathers everything
central HR receives into a :class:`~inference.report.models.Report`; :func:`render_html` turns
it into a page in zh-CN, en or ko: inline CSS and SVG charts, no scripts, no external requests,
every text escaped. Both are deterministic: the caller passes the generation time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inference.findings import (
    STAR_ELEMENTS,
    DemonstrationAnalysis,
    Language,
    Match,
    SpokenAnswerAnalysis,
)
from inference.report.answers import rate_figure, spoken_item
from inference.report.html import competencies, demonstration_item, esc, item_label
from inference.report.i18n import LANGUAGE_NAMES, localized, t
from inference.report.models import (
    REPORT_FORMAT,
    DemonstrationItemReport,
    Report,
    ReportItem,
    SpokenItemReport,
    WordEvidence,
    WordTag,
)
from inference.report.observations import observations
from inference.scoring.metrics import content_not_assessed
from inference.scoring.models import (
    DemonstrationSpec,
    Note,
    QuestionSpec,
    RubricSpec,
    ScoreCard,
)
from inference.scoring.notes_i18n import LANGUAGES
from inference.scoring.scorer import index_analyses, ordered_items, score

__all__ = ["REPORT_FORMAT", "Report", "build_report", "render_html", "word_evidence"]

Analysis = SpokenAnswerAnalysis | DemonstrationAnalysis


def word_evidence(analysis: SpokenAnswerAnalysis) -> tuple[WordEvidence, ...]:
    """Which evidence each transcript word supports: keywords, synonyms, STAR cues, fillers."""
    tagged: list[tuple[Match, WordTag]] = []
    for ev in analysis.evidence:
        for kind, matches in (("keyword", ev.keywords_found), ("synonym", ev.synonyms_found)):
            tagged += [(m, _tag(m, kind, ev.competency, None)) for m in matches]
    for element in STAR_ELEMENTS:
        tagged += [
            (m, _tag(m, "star", None, element)) for m in analysis.star.found.get(element, ())
        ]
    tagged += [(m, _tag(m, "filler", None, None)) for m in analysis.metrics.fillers]
    count = len(analysis.transcript.words)
    by_word: dict[int, list[WordTag]] = {}
    for match, tag in tagged:
        for index in match.words:
            if 0 <= index < count and tag not in by_word.get(index, []):
                by_word.setdefault(index, []).append(tag)
    return tuple(WordEvidence(index=i, tags=tuple(by_word[i])) for i in sorted(by_word))


def _tag(m: Match, kind: str, competency: str | None, element: str | None) -> WordTag:
    return WordTag.model_validate(
        {
            "kind": kind,
            "phrase": m.phrase,
            "competency": competency,
            "element": element,
            "start": m.start,
            "end": m.end,
        }
    )


def _without_expression(analysis: Analysis) -> Analysis:
    """Drop any expression data: without the candidate's consent none may reach the report."""
    v = analysis.vision
    if v is None:
        return analysis
    timeline = tuple(p.model_copy(update={"expression": None}) for p in v.timeline)
    clean = v.model_copy(
        update={"expression_run": False, "expression_distribution": None, "timeline": timeline}
    )
    return analysis.model_copy(update={"vision": clean})


def build_report(
    *,
    session_id: str,
    candidate_id: str,
    language: Language,
    consent_version: str,
    expression_consent: bool,
    generated_at: datetime | str,
    rubric: RubricSpec,
    questions: Sequence[QuestionSpec],
    demonstrations: Sequence[DemonstrationSpec],
    analyses: Sequence[Analysis],
    scorecard: ScoreCard | None = None,
    candidate_name: str | None = None,
    interviewed_at: datetime | str | None = None,
    not_analysed: Mapping[str, str] | None = None,
) -> Report:
    """Score the session and gather the report; deterministic for the same inputs.

    ``generated_at`` and ``interviewed_at`` are datetimes or ISO 8601 strings. ``scorecard``:
    the card already computed by :func:`inference.scoring.scorer.score` from the same inputs (it is
    computed here when omitted). Without expression consent any expression data is dropped.
    ``not_analysed``: item id -> why the analysis of that recorded item failed (as for
    ``score``). The words of an answer whose content was not assessed mark no evidence.
    """
    failed = dict(not_analysed or {})
    if not expression_consent:
        analyses = [_without_expression(a) for a in analyses]
    specs = ordered_items(questions, demonstrations)
    card = (
        scorecard
        if scorecard is not None
        else score(
            rubric, questions, demonstrations, analyses, expression_consent, not_analysed=failed
        )
    )
    if (
        (card.job_id, card.rubric_version, card.package_version)
        != (rubric.job_id, rubric.version, rubric.package_version)
        or [i.item_id for i in card.items] != [s.id for s in specs]
        or {i.item_id: i.not_analysed for i in card.items if i.not_analysed is not None} != failed
    ):
        raise ValueError("the score card was not computed from this rubric and these items")
    by_id = index_analyses(specs, analyses)
    items: list[ReportItem] = []
    for spec in specs:
        found = by_id.get(spec.id)
        if isinstance(spec, QuestionSpec):
            spoken = found if isinstance(found, SpokenAnswerAnalysis) else None
            number = 1 + sum(isinstance(i, SpokenItemReport) for i in items)
            assessed = spoken is not None and content_not_assessed(spoken.transcript) is None
            evidence = word_evidence(spoken) if spoken is not None and assessed else ()
            items.append(
                SpokenItemReport(number=number, spec=spec, analysis=spoken, word_evidence=evidence)
            )
        else:
            demo = found if isinstance(found, DemonstrationAnalysis) else None
            number = 1 + sum(isinstance(i, DemonstrationItemReport) for i in items)
            items.append(DemonstrationItemReport(number=number, spec=spec, analysis=demo))
    return Report.model_validate(
        {
            "session_id": session_id,
            "candidate_id": candidate_id,
            "candidate_name": candidate_name,
            "job_id": rubric.job_id,
            "job_title": rubric.job_title,
            "language": language,
            "consent_version": consent_version,
            "expression_consent": expression_consent,
            "interviewed_at": interviewed_at,
            "generated_at": generated_at,
            "rubric_version": rubric.version,
            "package_version": rubric.package_version,
            "rubric": rubric,
            "scorecard": card,
            "items": tuple(items),
            "models": card.models,
        }
    )


CSS = """
:root{color-scheme:light;--ink:#1b1f24;--muted:#5b6470;--line:#d0d5db;--accent:#0b5cad}
*{box-sizing:border-box}
body{margin:0 auto;max-width:62rem;padding:1.5rem;font:15px/1.55 system-ui,-apple-system,
"Segoe UI","Noto Sans CJK SC","Noto Sans SC","Microsoft YaHei","PingFang SC",
"Noto Sans KR","Malgun Gothic","Apple SD Gothic Neo",sans-serif;color:var(--ink)}
h1{font-size:1.6rem;margin:.2rem 0 .6rem}h2{font-size:1.3rem;border-bottom:2px solid var(--line);
padding-bottom:.2rem;margin-top:2rem}h3{font-size:1.1rem;margin-top:1.5rem}h4{margin:1rem 0 .3rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
.overall{font-size:1.25rem;margin:.8rem 0}.overall strong{font-size:2rem;color:var(--accent)}
.notice{border-left:4px solid var(--accent);background:#eef4fb;padding:.6rem .9rem}
.warning{border-left:4px solid #b35c00;background:#fff4e5;padding:.6rem .9rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0 .8rem}
th,td{border:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
thead th{background:#f3f5f7}tbody th{font-weight:600}
.item{border-top:1px solid var(--line);margin-top:1.5rem}
.prompt{font-weight:600}.meta,.key,figcaption{color:var(--muted);font-size:.9em}
.transcript{background:#fafbfc;border:1px solid var(--line);padding:.6rem .8rem}
mark.evidence{background:#ffe48a;padding:0 .1em}
mark.cue{background:none;outline:1px solid #0b5cad;padding:0 .1em}
.filler{text-decoration:underline dotted #b35c00}
figure.chart{margin:.6rem 0}svg.chart{max-width:100%;height:auto;display:block}
svg.chart text{font-family:system-ui,sans-serif}
details{border:1px solid var(--line);padding:.4rem .8rem;margin:.4rem 0}
summary{cursor:pointer;font-weight:600}
footer{margin-top:2.5rem;color:var(--muted);font-size:.9em}
@media print{body{max-width:none}.item,.competency{break-inside:avoid-page}}
"""


def _when(value: datetime, zone: ZoneInfo) -> str:
    """A time as the site's clock shows it, the zone named: ``2026-03-05 16:20 (Asia/Shanghai)``.

    A time without an offset is UTC, as the box stores every time."""
    at = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    return f"{at.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}") from None


def _too_fast(notes: Sequence[Note]) -> bool:
    """Whether a competency's notes say it was not assessed for a too-fast demonstration."""
    return any(n.code == "too_fast_item" for n in notes)


def _header(report: Report, lang: Language, zone: ZoneInfo) -> str:
    card = report.scorecard
    colon = esc(t("colon", lang))
    job = localized(report.job_title, lang, report.job_id)
    candidate = report.candidate_name or report.candidate_id
    when = _when(report.interviewed_at or report.generated_at, zone)
    facts = [
        (
            "candidate",
            candidate
            if not report.candidate_name
            else f"{report.candidate_name} ({report.candidate_id})",
        ),
        ("job", job),
        ("date", when),
        ("session", report.session_id),
        ("language", LANGUAGE_NAMES.get(report.language, report.language)),
    ]
    dl = "".join(f"<dt>{esc(t(k, lang))}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    overall = "—" if card.overall is None else f"{card.overall:.1f}"
    scale = t("scale", lang, min=f"{card.min_score:g}", max=f"{card.max_score:g}")
    out = (
        f"<header><h1>{esc(t('title', lang))}{colon}{esc(candidate)}</h1>"
        f'<dl class="facts">{dl}</dl>'
        f'<p class="overall">{esc(t("overall", lang))}{colon}<strong>{esc(overall)}</strong> '
        f'/ {card.max_score:g} <span class="meta">({esc(scale)})</span></p>'
        f'<p class="notice" role="note">{esc(t("judgement", lang))}</p>'
    )
    names = {c.id: localized(c.name, lang, c.id) for c in report.rubric.competencies}
    if card.pending:
        listed = ", ".join(names.get(c, c) for c in card.pending)
        out += f'<p class="warning" role="note">{esc(t("provisional", lang, names=listed))}</p>'
    for key, fast in (("not_assessed_overall", False), ("not_assessed_too_fast", True)):
        unassessed = [
            names.get(c.id, c.id)
            for c in card.competencies
            if c.status == "not_assessed" and _too_fast(c.notes) == fast
        ]
        if unassessed:
            text = t(key, lang, names=", ".join(unassessed))
            out += f'<p class="warning" role="note">{esc(text)}</p>'
    return out + "</header>"


def _items(report: Report, lang: Language) -> str:
    parts: list[str] = []
    for item in report.items:
        hid = f"{item.kind}-{item.number}-h"
        if isinstance(item, SpokenItemReport):
            heading = item_label(item, lang)
            body = spoken_item(item, report, lang)
        else:
            title = localized(item.spec.title, lang, item.spec.id)
            heading = f"{item_label(item, lang)}{t('colon', lang)}{title}"
            body = demonstration_item(item, report, lang)
        parts.append(
            f'<article class="item" aria-labelledby="{hid}"><h3 id="{hid}">{esc(heading)}</h3>'
            f"{body}</article>"
        )
    return (
        f'<section aria-labelledby="items-h"><h2 id="items-h">{esc(t("items", lang))}</h2>'
        f"{''.join(parts)}{rate_figure(report, lang)}</section>"
    )


def _footer(report: Report, lang: Language, zone: ZoneInfo) -> str:
    card = report.scorecard
    models = ", ".join(f"{m.name} {m.version} (sha256 {m.sha256[:12]})" for m in report.models)
    facts = [
        ("rubric_version", report.rubric_version),
        ("package_version", str(report.package_version)),
        ("scoring_version", card.scoring_version),
        ("consent_version", report.consent_version),
        ("expression_consent", t("yes" if report.expression_consent else "no", lang)),
        ("models", models or t("none", lang)),
        ("report_format", report.format),
        ("generated_at", _when(report.generated_at, zone)),
    ]
    dl = "".join(f"<dt>{esc(t(k, lang))}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    return (
        f'<footer aria-labelledby="about-h"><h2 id="about-h">{esc(t("about", lang))}</h2>'
        f'<dl class="facts">{dl}</dl><p role="note">{esc(t("judgement", lang))}</p></footer>'
    )


def render_html(report: Report, language: Language, time_zone: str = "UTC") -> str:
    """The reviewer's page in ``language``: self-contained HTML, deterministic.

    Times are shown in ``time_zone`` (the site's IANA zone name), the zone named beside
    them; the report itself keeps them as given (UTC on the box)."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported report language {language!r}")
    zone = _zone(time_zone)
    who = report.candidate_name or report.candidate_id
    title = f"{t('title', language)}{t('colon', language)}{who}"
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return (
        f'<!DOCTYPE html>\n<html lang="{esc(language)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"{_header(report, language, zone)}\n<main>\n{competencies(report, language)}\n"
        f"{_items(report, language)}\n{observations(report, language)}\n</main>\n"
        f"{_footer(report, language, zone)}\n"
        "</body>\n</html>\n"
    )
