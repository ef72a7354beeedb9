"""The console's pages for candidates: jobs, a job's candidates, side by side, one
candidate. The caller has already checked the role and the job scope."""

from __future__ import annotations

from typing import Any

from central.console.decisions import DECISIONS
from central.console.i18n import Lang, t
from central.console.layout import csrf_field, esc, localized, score_cell, table
from central.console.listing import Listing
from central.console.queries import Candidate, Job

STAFF_ROLES = ("technician", "site_hr", "admin")


def job_title(job: Job | None, job_id: str, lang: Lang) -> str:
    return localized(job.title, lang, job_id) if job else job_id


def jobs_list(jobs: list[tuple[str, Job | None, int]], lang: Lang) -> str:
    if not jobs:
        return f"<p>{esc(t('no_jobs', lang))}</p>"
    rows = [[f'<a href="/jobs/{esc(job_id)}">{esc(job_title(job, job_id, lang))}</a>',
             esc(job_id), f'<span class="num">{n}</span>'] for job_id, job, n in jobs]
    return table([esc(t("job", lang)), "ID", esc(t("candidates", lang))], rows)


def _filters(states: list[str], sites: list[str], chosen: Listing, lang: Lang) -> str:
    def select(name: str, label: str, options: list[str], value: str | None) -> str:
        opts = f'<option value="">{esc(t("any", lang))}</option>' + "".join(
            f'<option value="{esc(o)}"{" selected" if o == value else ""}>{esc(o)}</option>'
            for o in options)
        return (f'<label for="f-{name}">{esc(label)}</label>'
                f'<select id="f-{name}" name="{name}">{opts}</select>')

    def day(name: str, label: str, value: str | None) -> str:
        return (f'<label for="f-{name}">{esc(label)}</label>'
                f'<input type="date" id="f-{name}" name="{name}" value="{esc(value or "")}">')

    return (f'<form method="get" role="search" aria-label="{esc(t("filter", lang))}">'
            f'{select("state", t("state", lang), states, chosen.state)}'
            f'{select("site", t("site", lang), sites, chosen.site)}'
            f'{day("since", t("since", lang), chosen.since)}'
            f'{day("until", t("until", lang), chosen.until)}'
            f'<input type="hidden" name="sort" value="{esc(chosen.sort)}">'
            f'<input type="hidden" name="dir" value="{esc(chosen.direction)}">'
            f'<button type="submit">{esc(t("apply", lang))}</button></form>')


def job_page(job: Job | None, job_id: str, shown: list[Candidate], every: list[Candidate],
             chosen: Listing, lang: Lang) -> str:
    comps = job.competencies if job else ()
    columns = [("name", t("name", lang)), ("candidate_id", t("candidate_id", lang)),
               ("state", t("state", lang)), ("site", t("site", lang)),
               ("date", t("date", lang)), ("overall", t("overall", lang))]
    columns += [(f"comp:{c.id}", localized(c.name, lang, c.id)) for c in comps]
    head = []
    for key, label in columns:
        up = key == chosen.sort and chosen.direction == "asc"
        href = chosen.href(sort=key, direction="desc" if up else "asc")
        head.append(f'<a href="{esc(href)}" title="{esc(t("sort_by", lang))}">{esc(label)}</a>'
                    + (" ▲" if up else " ▼" if key == chosen.sort else ""))
    rows = []
    for c in shown:
        link = f'<a href="/candidates/{esc(c.device_id)}/{esc(c.session_id)}">' \
               f'{esc(c.name or c.candidate_id or c.session_id)}</a>'
        rows.append([link, esc(c.candidate_id), esc(c.state), esc(c.site), esc(c.date),
                     score_cell(c.overall, "scored" if c.revision else None, lang),
                     *(score_cell(c.scores.get(k.id), c.statuses.get(k.id)
                                  if c.revision else None, lang) for k in comps)])
    states = sorted({c.state for c in every if c.state})
    sites = sorted({c.site for c in every})
    out = _filters(states, sites, chosen, lang)
    out += (f'<p><a href="/jobs/{esc(job_id)}/export.csv{esc(chosen.href())}">'
            f'{esc(t("export_csv", lang))}</a> · '
            f'<a href="/jobs/{esc(job_id)}/compare">{esc(t("compare", lang))}</a></p>')
    if not rows:
        return out + f"<p>{esc(t('no_candidates', lang))}</p>"
    return out + table(head, rows)


def compare_page(job: Job | None, found: list[Candidate], lang: Lang) -> str:
    """One row per competency, one column per candidate."""
    if not found:
        return f"<p>{esc(t('no_candidates', lang))}</p>"
    head = [esc(t("competency", lang))] + [
        f'<a href="/candidates/{esc(c.device_id)}/{esc(c.session_id)}">'
        f'{esc(c.name or c.candidate_id or c.session_id)}</a>' for c in found]
    rows = [[esc(localized(k.name, lang, k.id))] + [
        score_cell(c.scores.get(k.id), c.statuses.get(k.id) if c.revision else None, lang)
        for c in found] for k in (job.competencies if job else ())]
    rows.append([esc(t("overall", lang))] + [
        score_cell(c.overall, "scored" if c.revision else None, lang) for c in found])
    return table(head, rows)


def _trail(c: Candidate, lang: Lang) -> str:
    rows = [[esc(s.at), esc(s.from_state), esc(s.to_state), esc(s.action), esc(s.actor_role),
             esc(s.reason)] for s in c.trail]
    head = [esc(t(k, lang)) for k in ("when", "from", "to", "action", "by", "reason")]
    staff = [[esc(s.at), esc(s.action), esc(s.actor_role), esc(s.reason)]
             for s in c.trail if s.actor_role in STAFF_ROLES]
    staff_head = [esc(t(k, lang)) for k in ("when", "action", "by", "reason")]
    return (f'<section aria-labelledby="trail-h"><h2 id="trail-h">{esc(t("trail", lang))}</h2>'
            f"{table(head, rows)}</section>"
            f'<section aria-labelledby="staff-h"><h2 id="staff-h">'
            f'{esc(t("staff_actions", lang))}</h2>'
            + (table(staff_head, staff) if staff else f"<p>{esc(t('none', lang))}</p>")
            + "</section>")


def _recordings(media: list[dict[str, Any]], lang: Lang) -> str:
    body = table([esc(t(k, lang)) for k in ("recordings", "type", "size", "when")],
                 [[f'<a href="/recordings/{esc(m["id"])}">{esc(m["id"])}</a>',
                   esc(m["content_type"]), esc(m["bytes"]), esc(m["completed"])]
                  for m in media]) if media else f"<p>{esc(t('no_recordings', lang))}</p>"
    return (f'<section aria-labelledby="rec-h"><h2 id="rec-h">{esc(t("recordings", lang))}'
            f"</h2>{body}</section>")


def _decisions(c: Candidate, made: list[dict[str, Any]], csrf: str | None, lang: Lang) -> str:
    rows = [[esc(d["decided"]), esc(t(d["decision"], lang)), esc(d["username"]),
             esc(d["reason"])] for d in made]
    out = (table([esc(t(k, lang)) for k in ("when", "decision", "by", "reason")], rows)
           if rows else f"<p>{esc(t('no_decisions', lang))}</p>")
    if csrf is not None:  # only a hiring manager responsible for the job gets the form
        choices = "".join(
            f'<label><input type="radio" name="decision" value="{d}" required> '
            f"{esc(t(d, lang))}</label>" for d in DECISIONS)
        out += (f'<form method="post" action="/candidates/{esc(c.device_id)}/'
                f'{esc(c.session_id)}/decision">{csrf_field(csrf)}'
                f'<fieldset><legend>{esc(t("decision", lang))}</legend>{choices}</fieldset>'
                f'<label for="reason">{esc(t("reason", lang))}</label>'
                f'<textarea id="reason" name="reason" rows="3" cols="60" required '
                f'maxlength="2000"></textarea>'
                f'<p><button type="submit">{esc(t("record_decision", lang))}</button></p>'
                "</form>")
    return (f'<section aria-labelledby="dec-h"><h2 id="dec-h">{esc(t("decisions", lang))}</h2>'
            f"{out}</section>")


def candidate_page(c: Candidate, job: Job | None, media: list[dict[str, Any]],
                   made: list[dict[str, Any]], csrf: str | None, lang: Lang,
                   notice: str | None = None) -> str:
    facts = [("candidate_id", c.candidate_id), ("job", job_title(job, str(c.job_id), lang)),
             ("state", c.state), ("site", c.site), ("date", c.date), ("device", c.device_id)]
    dl = "".join(f"<dt>{esc(t(k, lang))}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    out = f'<p role="status">{esc(notice)}</p>' if notice else ""
    out += f"<dl>{dl}</dl>"
    report = f"/candidates/{esc(c.device_id)}/{esc(c.session_id)}/report"
    if c.report:
        out += (f'<section aria-labelledby="rep-h"><h2 id="rep-h">{esc(t("report", lang))}</h2>'
                f'<p><a href="{report}">{esc(t("open_report", lang))}</a></p>'
                f'<iframe src="{report}" title="{esc(t("report", lang))}"></iframe></section>')
    else:
        out += f"<p>{esc(t('no_report', lang))}</p>"
    return (out + _decisions(c, made, csrf, lang) + _trail(c, lang)
            + _recordings(media, lang))
