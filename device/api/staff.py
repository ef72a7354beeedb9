"""Endpoints for technicians, site HR and admins (the terminal UI is their client)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from device import audit
from device.api.deps import KioskDep, StaffDep
from device.central_link.outbox import depth
from device.errors import NotFoundError, PermissionDeniedError
from device.jobs.installed import import_package, list_jobs
from device.sessions import answer_rows, session_rows
from device.sessions.roster import import_roster, parse_roster, start_drill
from device.sessions.session_rows import NamedSession
from device.sessions.transitions import STAFF_ACTIONS, allowed_actions
from device.staff.policy import Staff, explain_refusal, require_role
from device.storage.migrations import SESSION_STATES

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])

StaffAction = Literal["pause", "resume", "terminate", "revoke", "undo_terminate"]
State = Literal[
    "invited", "checked_in", "consented", "in_progress", "paused", "completed", "terminated",
    "revoked", "expired", "declined",
]
assert set(State.__args__) == set(SESSION_STATES)  # type: ignore[attr-defined]

CONSEQUENCES = {
    "pause": "The candidate is paused and gets a resume code; recorded answers are kept.",
    "resume": "The session continues where it stopped.",
    "terminate": "The candidate cannot continue; recorded answers are kept. Can be undone "
                 "for a short time.",
    "revoke": "The invitation is cancelled before the interview started.",
    "undo_terminate": "The terminated session becomes paused again, with a new resume code.",
}


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: StaffAction
    session_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=500)
    reason: str = Field(min_length=1, max_length=500,
                        description="Why: required, kept in the audit log.")


class DrillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(min_length=1, max_length=64)


def _session_out(named: NamedSession, staff: Staff) -> dict[str, Any]:
    s = named.session
    out = {
        "id": s.id, "candidate_id": s.candidate_id, "job_id": s.job_id,
        "job_version": s.job_version, "state": s.state, "drill": s.drill,
        "important": s.important, "position": s.position,
        "state_since": s.state_since.to_dict(), "state_reason": s.state_reason,
        "state_actor": s.state_actor,
        "created": s.created.utc,
        "purged": s.purged.utc if s.purged is not None else None,
    }
    if staff.role != "technician":
        out["display_name"] = named.display_name
    return out


@router.get("/whoami", summary="The token's name, role and job scope, and the site's time zone")
def whoami(staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    return {"name": staff.name, "role": staff.role, "jobs": sorted(staff.jobs),
            "time_zone": k.config.site.time_zone}


@router.get("/sessions", summary="Sessions, newest first, filtered")
def sessions(
    staff: StaffDep, k: KioskDep,
    state: State | None = None,
    job_id: Annotated[str | None, Query(max_length=64)] = None,
    drill: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    jobs = sorted(staff.jobs) if staff.role == "site_hr" else None
    with k.store.read() as db:
        found = session_rows.listing(db, state=state, job_id=job_id, drill=drill, jobs=jobs,
                                     limit=limit)
    return [_session_out(s, staff) for s in found]


@router.get("/sessions/{session_id}", summary="One session with its actions")
def session_detail(session_id: str, staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    with k.store.read() as db:
        named = session_rows.named(db, session_id)
    if named is None or (staff.role == "site_hr" and not staff.sees_job(named.session.job_id)):
        raise NotFoundError(f"no session {session_id}")
    s = named.session
    allowed = allowed_actions(s.state)
    actions = {}
    for action in STAFF_ACTIONS:
        refusal = explain_refusal(staff, action, s)
        if action not in allowed:
            refusal = refusal or f"not possible while the session is {s.state}"
        actions[action] = {"available": refusal is None, "why_not": refusal,
                           "consequence": CONSEQUENCES[action]}
    with k.store.read() as db:
        answers = [a.staff_summary() for a in answer_rows.of_session(db, session_id)]
    return {**_session_out(named, staff), "actions": actions, "answers": answers}


@router.post("/sessions/actions", summary="Pause, resume, terminate, revoke or undo, in batch")
def session_actions(body: ActionIn, staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    result = k.engine.staff_action(staff, body.action, body.session_ids, body.reason)
    return {"action": body.action, "consequence": CONSEQUENCES[body.action],
            "ok": result.ok, "failed": result.failed}


_REASON_ACTIONS = ("session.pause", "session.exit", "session.terminate", "session.revoke",
                   "session.decline", "session.expire", "session.undo_terminate")


@router.get("/sessions-summary/reasons", summary="Why sessions were paused or ended")
def reasons(
    staff: StaffDep, k: KioskDep, days: Annotated[int, Query(ge=1, le=366)] = 7
) -> list[dict[str, Any]]:
    require_role(staff, "site_hr", "admin", "technician", doing="read the summary")
    now = k.store.now()
    with k.store.read() as db:
        counted = audit.reason_counts(db, _REASON_ACTIONS, now.utc, days)
    return [{"action": r.action.removeprefix("session."), "reason": r.reason,
             "count": r.count} for r in counted]


@router.get("/jobs", summary="Job packages on this box")
def jobs(staff: StaffDep, k: KioskDep) -> list[dict[str, Any]]:
    return [j for j in list_jobs(k.store, k.engine.languages)
            if staff.role != "site_hr" or staff.sees_job(j["id"])]


def _json_body(description: str, ref: str) -> dict[str, Any]:
    """Document a body the handler parses itself (so a bad one is rejected whole, clearly)."""
    return {"requestBody": {"required": True, "description": description, "content": {
        "application/json": {"schema": {"type": "object", "description": ref}}}}}


@router.post("/jobs", summary="Import a job package (admin)", openapi_extra=_json_body(
    "A job package", "docs/schemas/job-package.schema.json"))
async def post_job(request: Request, staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    require_role(staff, "admin", doing="import job packages")
    data = await request.body()
    outcome = import_package(k.store, data, f"api:{staff.name}", staff.actor,
                             k.engine.languages)
    return {"job_id": outcome.job_id, "version": outcome.version, "status": outcome.status,
            "languages_disabled": list(outcome.languages_disabled), "notice": outcome.notice}


@router.post("/roster", summary="Invite candidates from a roster (admin, site HR)",
             openapi_extra=_json_body("A roster", "docs/schemas/roster.schema.json"))
async def post_roster(request: Request, staff: StaffDep, k: KioskDep) -> list[dict[str, Any]]:
    require_role(staff, "admin", "site_hr", doing="import rosters")
    roster = parse_roster(await request.body(), f"api:{staff.name}")
    for invite in roster.invites:
        if not staff.sees_job(invite.job_id):
            raise PermissionDeniedError(f"token {staff.name} is not scoped to job {invite.job_id}")
    invited = import_roster(k.engine, roster, f"api:{staff.name}", staff.actor)
    return [i.__dict__ for i in invited]


@router.post("/drills", summary="Start a drill session (installation test, training)")
def post_drill(body: DrillIn, staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    if staff.role != "technician" and not staff.sees_job(body.job_id):
        raise PermissionDeniedError(f"token {staff.name} is not scoped to job {body.job_id}")
    return start_drill(k.engine, body.job_id, staff.actor).__dict__


@router.get("/audit", summary="Audit log, newest first")
def audit_log(
    staff: StaffDep, k: KioskDep,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    before_seq: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> list[dict[str, Any]]:
    with k.store.read() as db:
        return audit.entries(db, subject=subject, action=action, limit=limit,
                             before_seq=before_seq)


@router.get("/audit/verify", summary="Verify the audit log's hash chain")
def audit_verify(staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    with k.store.read() as db:
        result = audit.verify(db)
    return {"ok": result.ok, "entries": result.entries, "problem": result.problem}


@router.get("/outbox", summary="Messages waiting for central, by kind")
def outbox_depth(staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    with k.store.read() as db:
        return {"pending": depth(db)}
