"""Pages without any candidate in them: statistics, the fleet of boxes, the audit log."""

from __future__ import annotations

from typing import Any

from central.console.audit import Verification
from central.console.i18n import Lang, t
from central.console.layout import esc, localized, table
from central.console.queries import Job
from central.console.stats import JobStats
from central.console.users import User


def stats_page(found: list[tuple[Job, JobStats]], lang: Lang) -> str:
    if not found:
        return f"<p>{esc(t('no_jobs', lang))}</p>"
    out = ""
    for job, s in found:
        states = ", ".join(f"{k}: {v}" for k, v in sorted(s.states.items()))
        hid = f"stats-{esc(job.job_id)}"
        out += (f'<section aria-labelledby="{hid}"><h2 id="{hid}">'
                f"{esc(localized(job.title, lang, job.job_id))}</h2>"
                f"<p>{esc(t('count', lang))}: {s.candidates}. {esc(states)}</p>")
        if s.withheld:
            out += f"<p>{esc(t('withheld', lang))}</p>"
        low = job.min_score if job.min_score is not None else 0
        high = job.max_score if job.max_score is not None else 10
        width = (float(high) - float(low)) / 5
        bands = [f"{low + i * width:g}–{low + (i + 1) * width:g}" for i in range(5)]
        names = {c.id: localized(c.name, lang, c.id) for c in job.competencies}
        rows = [[esc(names.get(c.competency, c.competency)), str(c.assessed),
                 str(c.not_assessed), "—" if c.mean is None else esc(f"{c.mean:g}"),
                 *(str(b) for b in c.bins)] for c in s.competencies]
        head = [esc(t(k, lang)) for k in ("competency", "assessed", "not_assessed", "mean")]
        out += table(head + [esc(b) for b in bands], rows, t("distribution", lang))
        out += "</section>"
    return out


def fleet_page(boxes: list[dict[str, Any]], lang: Lang) -> str:
    rows = [[esc(b["device_id"]), esc(b["tenant"]), esc(b["site"]), esc(b["last_seen"]),
             esc(b["link"] or "—"),
             "—" if b["outbox_depth"] is None else esc(b["outbox_depth"]),
             esc(b["held_back"]),
             esc(b["version"]) if b["version"] else
             f'<span class="na">{esc(t("not_reported", lang))}</span>'] for b in boxes]
    head = [esc(t(k, lang)) for k in ("device", "tenant", "site", "last_seen", "link", "outbox",
                                       "held_back", "version")]
    return table(head, rows)


def audit_page(entries: list[dict[str, Any]], check: Verification, lang: Lang) -> str:
    state = (t("chain_ok", lang, n=check.entries) if check.ok
             else t("chain_bad", lang, problem=check.problem))
    cls = "" if check.ok else ' class="error"'
    rows = [[esc(e["seq"]), esc(e["at"]), esc(e["username"]), esc(e["role"]), esc(e["action"]),
             esc(e["subject"]), esc(e["reason"])] for e in entries]
    head = ["#", *(esc(t(k, lang)) for k in ("when", "by", "role", "action", "candidate",
                                               "reason"))]
    return f"<p{cls}>{esc(state)}</p>" + table(head, rows)


def users_page(found: list[User], lang: Lang) -> str:
    rows = [[esc(u.username), esc(u.display_name), esc(t(f"role.{u.role}", lang)),
             esc(", ".join(u.jobs) or "—"), esc(t("disabled" if u.disabled else "active", lang))]
            for u in found]
    head = [esc(t(k, lang)) for k in ("username", "name", "role", "jobs_held", "state")]
    return f"<p>{esc(t('users_hint', lang))}</p>" + table(head, rows)
