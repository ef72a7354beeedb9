"""Endpoints for technicians, site HR and admins (the terminal UI is their client)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from device import audit
from device.api.deps import KioskDep, StaffDep
from device.central_link.outbox import depth
from device.errors import NotFoundError, PermissionDeniedError
from device.jobs.installed import import_package, list_jobs
from device.sessions.roster import import_roster, parse_roster, start_drill
from device.sessions.transitions import STAFF_ACTIONS, allowed_actions
from device.staff.policy import Staff, explain_refusal, require_role
from device.storage.database import load_stamp
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


def _session_out(s: dict[str, Any], staff: Staff) -> dict[str, Any]:
    since = load_stamp(s["state_since"])
    out = {
        "id": s["id"], "candidate_id": s["candidate_id"], "job_id": s["job_id"],
        "job_version": s["job_version"], "state": s["state"], "drill": bool(s["drill"]),
        "important": bool(s["important"]), "position": s["position"],
        "state_since": since.to_dict() if since else None, "state_reason": s["state_reason"],
        "state_actor": s["state_actor"],
        "created": json.loads(s["created"])["utc"],
    }
    if staff.role != "technician":
        out["display_name"] = s.get("display_name")
    return out


@router.get("/whoami", summary="The token's name, role and job scope")
def whoami(staff: StaffDep) -> dict[str, Any]:
    return {"name": staff.name, "role": staff.role, "jobs": sorted(staff.jobs)}


@router.get("/sessions", summary="Sessions, newest first, filtered")
def sessions(
    staff: StaffDep, k: KioskDep,
    state: State | None = None,
    job_id: Annotated[str | None, Query(max_length=64)] = None,
    drill: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("s.state", state), ("s.job_id", job_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if drill is not None:
        clauses.append("s.drill = ?")
        params.append(int(drill))
    if staff.role == "site_hr":
        clauses.append(f"s.job_id IN ({', '.join('?' for _ in staff.jobs)})")
        params.extend(sorted(staff.jobs))
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = (
        "SELECT s.*, c.display_name FROM sessions s JOIN candidates c ON c.id = s.candidate_id "  # noqa: S608 - fixed column names
        + where + " ORDER BY s.rowid DESC LIMIT ?"
    )
    found = k.store.all(sql, (*params, limit))
    return [_session_out(s, staff) for s in found]


@router.get("/sessions/{session_id}", summary="One session with its actions")
def session_detail(session_id: str, staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    s = k.store.one("SELECT s.*, c.display_name FROM sessions s JOIN candidates c ON"
                    " c.id = s.candidate_id WHERE s.id = ?", (session_id,))
    if s is None or (staff.role == "site_hr" and not staff.sees_job(s["job_id"])):
        raise NotFoundError(f"no session {session_id}")
    allowed = allowed_actions(s["state"])
    actions = {}
    for action in STAFF_ACTIONS:
        refusal = explain_refusal(staff, action, s)
        if action not in allowed:
            refusal = refusal or f"not possible while the session is {s['state']}"
        actions[action] = {"available": refusal is None, "why_not": refusal,
                           "consequence": CONSEQUENCES[action]}
    answers = k.store.all("SELECT id, item_id, position, attempt, state, duration_s, timed_out"
                          " FROM answers WHERE session_id = ? ORDER BY position, attempt",
                          (session_id,))
    return {**_session_out(s, staff), "actions": actions, "answers": answers}


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
