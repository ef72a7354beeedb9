"""Staff endpoints for analysis: demonstration checklists, analysis progress, the report."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from device.analysis.checklist_scoring import score_demonstration
from device.analysis.status import AnswerAnalysis, answers
from device.api.deps import KioskDep, StaffDep
from device.composition import Kiosk
from device.errors import NotFoundError
from device.sessions import results, session_rows
from device.sessions.session_rows import SessionRow
from device.staff.policy import Staff, require_role
from inference.report.build import render_html
from inference.report.models import Report

router = APIRouter(prefix="/api/v1/staff", tags=["analysis"])
ReportLanguage = Literal["zh-CN", "en", "ko"]


class ChecklistIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: dict[Annotated[str, Field(min_length=1, max_length=64)], bool] = Field(
        min_length=1, max_length=200,
        description="Checklist point id -> whether the candidate achieved it. Every point of"
                    " the task must be given.")
    reason: str | None = Field(None, max_length=500,
                               description="Why, when correcting an earlier score.")


def _session(k: Kiosk, staff: Staff, session_id: str) -> SessionRow:
    """Candidate content is for site HR of the job and admins, not technicians."""
    require_role(staff, "site_hr", "admin", doing="see or score a candidate's results")
    with k.store.read() as db:
        s = session_rows.get(db, session_id)
    if s is None or not staff.sees_job(s.job_id):
        raise NotFoundError(f"no session {session_id}")
    return s


@router.put("/sessions/{session_id}/checklist/{item_id}",
            summary="Score a skill demonstration's checklist (site HR, admin)")
def score_checklist(session_id: str, item_id: str, body: ChecklistIn, staff: StaffDep,
                    k: KioskDep) -> dict[str, Any]:
    _session(k, staff, session_id)
    done = score_demonstration(k.store, k.identity, staff, session_id, item_id, body.points,
                               body.reason)
    return {"session_id": session_id, "item_id": item_id, "points": done.points,
            "rescored": done.rescored}


@router.get("/sessions/{session_id}/analysis",
            summary="Analysis progress per answer, with recognition quality and why not assessed")
def analysis_status(session_id: str, staff: StaffDep, k: KioskDep
                    ) -> list[AnswerAnalysis]:
    _session(k, staff, session_id)
    return answers(k.store, session_id)


def stored_report(k: Kiosk, session_id: str) -> tuple[int, Report]:
    """The session's latest report and its revision; NotFoundError before there is one."""
    with k.store.read() as db:
        body = results.body(db, session_id, "report")
    if body is None:
        raise NotFoundError(f"session {session_id} has no report yet (it is written when the"
                            " session has ended and its answers are analysed)")
    return int(body["revision"]), Report.model_validate(body["report"])


@router.get("/sessions/{session_id}/report", summary="The interview report (JSON)")
def report_json(session_id: str, staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    _session(k, staff, session_id)
    revision, report = stored_report(k, session_id)
    return {"revision": revision, "report": report.model_dump(mode="json")}


@router.get("/sessions/{session_id}/report.html", response_class=HTMLResponse,
            summary="The interview report as a self-contained page for the reviewer")
def report_html(session_id: str, staff: StaffDep, k: KioskDep,
                lang: Annotated[ReportLanguage | None, Query()] = None) -> HTMLResponse:
    _session(k, staff, session_id)
    _, report = stored_report(k, session_id)
    language = lang or default_language(k, report)
    return HTMLResponse(render_html(report, language, k.config.site.time_zone),
                        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


def default_language(k: Kiosk, report: Report) -> ReportLanguage:
    """The configured report language, or the candidate's when set to ``session``."""
    configured = k.config.analysis.report_language
    if configured != "session":
        return configured
    return report.language
