"""The console's routes: pages (``router``) and the same data as JSON (``api``).

Who may use what:

==========================  ==============  ==============  ===============  =====
route                       hr_specialist   hiring_manager  general_manager  admin
==========================  ==============  ==============  ===============  =====
jobs, candidates, reports,  their jobs      their jobs      403              403
recordings, CSV export
decision (POST)             403             their jobs      403              403
statistics (aggregates)     403             403             yes              yes
fleet, users, audit log     403             403             403              yes
==========================  ==============  ==============  ===============  =====

Every response that holds a candidate's personal data is audited first, in its own
transaction: who, when, what, and the job scope that let them see it.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from central.console import admin_pages, audit, pages, queries, stats, users
from central.console.app import Ctx, Refused, check_csrf, form, html, require
from central.console.decisions import DecisionError
from central.console.decisions import record as record_decision
from central.console.i18n import t
from central.console.layout import esc, page
from central.console.listing import Listing
from central.console.queries import Candidate
from central.console.users import Role

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api")
READERS: tuple[Role, ...] = ("hr_specialist", "hiring_manager")
AGGREGATES: tuple[Role, ...] = ("general_manager", "admin")


def _viewed(ctx: Ctx, action: str, subject: str, job_id: str | None,
            details: dict[str, Any] | None = None) -> None:
    with ctx.store.transaction() as conn:
        audit.append(conn, ctx.user, action, subject=subject,
                     reason=f"{ctx.user.role} responsible for job {job_id}", details=details)


def _job(ctx: Ctx, job_id: str) -> None:
    if not ctx.user.may_see_job(job_id):
        raise Refused(403, f"job {job_id} is not one of yours")


def _candidate(ctx: Ctx, device_id: str, session_id: str) -> Candidate:
    found = queries.candidate(ctx.store, device_id, session_id)
    if found is None or found.job_id is None:
        raise Refused(404, "no such candidate")
    _job(ctx, found.job_id)
    return found


def _my_jobs(ctx: Ctx) -> list[tuple[str, queries.Job | None, int]]:
    known = queries.jobs(ctx.store)
    mine = set(ctx.user.jobs)
    counts: dict[str, int] = {}
    for c in queries.candidates(ctx.store, mine):
        counts[str(c.job_id)] = counts.get(str(c.job_id), 0) + 1
    return [(j, known.get(j), counts.get(j, 0)) for j in sorted(mine)]


def _listed(ctx: Ctx, job_id: str, request: Request
            ) -> tuple[list[Candidate], list[Candidate], Listing]:
    every = queries.candidates(ctx.store, {job_id})
    chosen = Listing.parse(request.query_params)
    return chosen.apply(every), every, chosen


# -- pages -----------------------------------------------------------------------------------

@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request) -> HTMLResponse:
    ctx = require(request, *READERS)
    return html(page(ctx.lang, t("jobs", ctx.lang), pages.jobs_list(_my_jobs(ctx), ctx.lang),
                     ctx.user, ctx.login.csrf))


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: str, request: Request) -> HTMLResponse:
    ctx = require(request, *READERS)
    _job(ctx, job_id)
    shown, every, f = _listed(ctx, job_id, request)
    _viewed(ctx, "job.candidates.viewed", f"job:{job_id}", job_id, {"candidates": len(shown)})
    job = queries.jobs(ctx.store).get(job_id)
    body = pages.job_page(job, job_id, shown, every, f, ctx.lang)
    return html(page(ctx.lang, pages.job_title(job, job_id, ctx.lang), body, ctx.user,
                     ctx.login.csrf))


@router.get("/jobs/{job_id}/compare", response_class=HTMLResponse)
def compare_page(job_id: str, request: Request) -> HTMLResponse:
    ctx = require(request, *READERS)
    _job(ctx, job_id)
    found = queries.candidates(ctx.store, {job_id})
    _viewed(ctx, "job.compare.viewed", f"job:{job_id}", job_id, {"candidates": len(found)})
    job = queries.jobs(ctx.store).get(job_id)
    title = f"{pages.job_title(job, job_id, ctx.lang)}: {t('compare', ctx.lang)}"
    return html(page(ctx.lang, title, pages.compare_page(job, found, ctx.lang), ctx.user,
                     ctx.login.csrf))


@router.get("/jobs/{job_id}/export.csv")
def export_csv(job_id: str, request: Request) -> Response:
    ctx = require(request, *READERS)
    _job(ctx, job_id)
    shown, _, _ = _listed(ctx, job_id, request)
    job = queries.jobs(ctx.store).get(job_id) or queries.Job(job_id, {}, ())
    _viewed(ctx, "job.exported", f"job:{job_id}", job_id, {"candidates": len(shown)})
    disposition = f'attachment; filename="{_filename(job_id)}.csv"'
    return Response("\ufeff" + stats.csv_export(job, shown), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": disposition})


def _filename(job_id: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_"
                   for ch in job_id) or "job"


@router.get("/candidates/{device_id}/{session_id}", response_class=HTMLResponse)
def candidate_page(device_id: str, session_id: str, request: Request) -> HTMLResponse:
    ctx = require(request, *READERS)
    cand = _candidate(ctx, device_id, session_id)
    _viewed(ctx, "candidate.viewed", cand.key, cand.job_id,
            {"candidate_id": cand.candidate_id})
    job = queries.jobs(ctx.store).get(str(cand.job_id))
    csrf = ctx.login.csrf if ctx.user.role == "hiring_manager" else None
    notice = t("decision_saved", ctx.lang) if request.query_params.get("saved") else None
    body = pages.candidate_page(cand, job, queries.recordings(ctx.store, device_id, session_id),
                                queries.decisions(ctx.store, device_id, session_id), csrf,
                                ctx.lang, notice)
    title = f"{t('candidate', ctx.lang)}: {cand.name or cand.candidate_id}"
    return html(page(ctx.lang, title, body, ctx.user, ctx.login.csrf))


@router.get("/candidates/{device_id}/{session_id}/report", response_class=HTMLResponse)
def report_page(device_id: str, session_id: str, request: Request) -> HTMLResponse:
    from central.console.report import render

    ctx = require(request, *READERS)
    cand = _candidate(ctx, device_id, session_id)
    if not cand.report:
        raise Refused(404, "no report yet")
    _viewed(ctx, "report.viewed", cand.key, cand.job_id,
            {"candidate_id": cand.candidate_id, "revision": cand.revision})
    response = html(render(cand.report, cand.name, ctx.lang))
    # the report's own policy: its styles are inline; it may be framed by the console only
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:;"
        " frame-ancestors 'self'")
    return response


@router.get("/recordings/{media_id}")
def recording(media_id: str, request: Request) -> Response:
    ctx = require(request, *READERS)
    found = queries.recording(ctx.store, media_id)
    if found is None or not found["device_id"]:
        raise Refused(404, "no such recording")
    cand = _candidate(ctx, found["device_id"], found["session_id"])
    path = Path(found["path"])
    if not path.is_file():
        raise Refused(404, "the recording's file is not on this central")
    _viewed(ctx, "recording.viewed", cand.key, cand.job_id,
            {"candidate_id": cand.candidate_id, "media_id": media_id})
    return FileResponse(path, media_type=found["content_type"],
                        headers={"Cache-Control": "no-store"})


@router.post("/candidates/{device_id}/{session_id}/decision")
async def decide(device_id: str, session_id: str, request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    ctx = await run_in_threadpool(require, request, "hiring_manager")
    fields = await form(request)
    check_csrf(ctx, fields)
    cand = await run_in_threadpool(_candidate, ctx, device_id, session_id)
    try:
        await run_in_threadpool(record_decision, ctx.store, ctx.user, cand,
                                fields.get("decision", ""), fields.get("reason", ""))
    except DecisionError as exc:
        back = f"/candidates/{esc(cand.device_id)}/{esc(cand.session_id)}"
        return html(page(ctx.lang, t("decision", ctx.lang),
                         f'<p role="alert">{esc(exc)}</p><p><a href="{back}">'
                         f"{esc(t('candidate', ctx.lang))}</a></p>", ctx.user, ctx.login.csrf),
                    400)
    return RedirectResponse(f"/candidates/{device_id}/{session_id}?saved=1", status_code=303)


@router.get("/stats", response_class=HTMLResponse)
def stats_page(request: Request) -> HTMLResponse:
    ctx = require(request, *AGGREGATES)
    return html(page(ctx.lang, t("stats", ctx.lang),
                     admin_pages.stats_page(_all_stats(ctx), ctx.lang), ctx.user,
                     ctx.login.csrf))


@router.get("/fleet", response_class=HTMLResponse)
def fleet_page(request: Request) -> HTMLResponse:
    ctx = require(request, "admin")
    return html(page(ctx.lang, t("fleet", ctx.lang),
                     admin_pages.fleet_page(stats.fleet(ctx.store), ctx.lang), ctx.user,
                     ctx.login.csrf))


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request) -> HTMLResponse:
    ctx = require(request, "admin")
    return html(page(ctx.lang, t("users", ctx.lang),
                     admin_pages.users_page(users.listing(ctx.store), ctx.lang), ctx.user,
                     ctx.login.csrf))


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request) -> HTMLResponse:
    ctx = require(request, "admin")
    body = admin_pages.audit_page(audit.recent(ctx.store), audit.verify(ctx.store), ctx.lang)
    return html(page(ctx.lang, t("audit", ctx.lang), body, ctx.user, ctx.login.csrf))


def _all_stats(ctx: Ctx) -> list[tuple[queries.Job, stats.JobStats]]:
    known = queries.jobs(ctx.store)
    found = queries.candidates(ctx.store, set(known))
    return [(job, stats.job_stats(job, [c for c in found if c.job_id == job_id]))
            for job_id, job in sorted(known.items())]


# -- the JSON API (the same session cookie; reads only) ----------------------------------------

def _json(c: Candidate, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "device_id": c.device_id, "session_id": c.session_id, "job_id": c.job_id,
        "candidate_id": c.candidate_id, "name": c.name, "state": c.state, "site": c.site,
        "date": c.date, "overall": c.overall, "complete": c.complete, "revision": c.revision,
        "competencies": [{"id": k, "score": v, "status": c.statuses.get(k)}
                         for k, v in c.scores.items()]}
    if full:
        out["trail"] = [asdict(s) for s in c.trail]
    return out


@api.get("/jobs")
def api_jobs(request: Request) -> list[dict[str, Any]]:
    ctx = require(request, *READERS)
    return [{"job_id": j, "title": job.title if job else {}, "candidates": n}
            for j, job, n in _my_jobs(ctx)]


@api.get("/jobs/{job_id}/candidates")
def api_candidates(job_id: str, request: Request) -> list[dict[str, Any]]:
    ctx = require(request, *READERS)
    _job(ctx, job_id)
    shown, _, _ = _listed(ctx, job_id, request)
    _viewed(ctx, "job.candidates.viewed", f"job:{job_id}", job_id, {"candidates": len(shown)})
    return [_json(c) for c in shown]


@api.get("/candidates/{device_id}/{session_id}")
def api_candidate(device_id: str, session_id: str, request: Request) -> dict[str, Any]:
    ctx = require(request, *READERS)
    cand = _candidate(ctx, device_id, session_id)
    _viewed(ctx, "candidate.viewed", cand.key, cand.job_id, {"candidate_id": cand.candidate_id})
    return {**_json(cand, full=True),
            "decisions": queries.decisions(ctx.store, device_id, session_id)}


@api.get("/stats")
def api_stats(request: Request) -> list[dict[str, Any]]:
    ctx = require(request, *AGGREGATES)
    return [asdict(s) for _, s in _all_stats(ctx)]


@api.get("/fleet")
def api_fleet(request: Request) -> list[dict[str, Any]]:
    require(request, "admin")
    return stats.fleet(request.app.state.console.store)
