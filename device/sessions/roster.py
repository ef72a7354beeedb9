"""The roster: who is invited to which job, with which accommodations.

Central sends it down (or staff import it from a file). Each entry becomes a candidate
and an ``invited`` session with an invite code; codes are stored only as hashes, so
the ones generated here are shown once, to be handed to the candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlite_utils import Database

from device import audit
from device.audit import Actor
from device.clock import Stamp
from device.errors import PackageRejectedError
from device.jobs.installed import find_job
from device.jobs.language_gate import FIX, Installed, names, serves
from device.sessions import candidate_rows, session_rows, usage
from device.sessions.codes import hash_code, new_code, normalise
from device.sessions.engine import Engine, new_session_id

MAX_ROSTER_BYTES = 4 * 1024 * 1024


class Invite(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    candidate_id: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="The HR system's candidate id (stable; results are reported under it).",
    )
    job_id: str = Field(min_length=1, max_length=64, description="Job the candidate applies to.")
    display_name: str | None = Field(None, max_length=120, description="Name shown to staff.")
    language: Literal["zh-CN", "en", "ko"] | None = Field(
        None, description="Preferred interview language (the candidate can change it)."
    )
    invite_code: str | None = Field(
        None, min_length=6, max_length=32,
        description="Code given to the candidate by HR; generated on the box when absent.",
    )
    important: bool = Field(False, description="Only an admin may terminate this session.")
    extra_time_pct: int = Field(
        0, ge=0, le=200, description="Accommodation: extra think/answer/task time in percent."
    )


class Roster(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["kiosk-roster/1"] = Field(description="Roster format identifier.")
    invites: list[Invite] = Field(min_length=1, max_length=5000, description="The invitations.")


@dataclass(frozen=True)
class Invited:
    candidate_id: str
    session_id: str | None
    invite_code: str | None
    status: str  # "invited" | "already_invited"
    #: Why this candidate's interview may not go as invited (a language the box cannot
    #: analyse), for staff; None when there is nothing to say.
    warning: str | None = None


def parse_roster(data: bytes, source: str) -> Roster:
    if len(data) > MAX_ROSTER_BYTES:
        raise PackageRejectedError(f"{source}: roster is larger than {MAX_ROSTER_BYTES} bytes")
    try:
        return Roster.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(document)"
        raise PackageRejectedError(f"{source}: {where}: {first['msg']}") from None


def create_session(
    db: Database, engine: Engine, invite: Invite, now: Stamp, *, drill: bool = False
) -> tuple[str, str]:
    """Insert candidate, session and usage rows; return (session id, invite code)."""
    job = find_job(db, invite.job_id)
    if job is None:
        raise PackageRejectedError(f"job {invite.job_id} is not on this box; import it first")
    code = normalise(invite.invite_code) if invite.invite_code else new_code(
        engine.rules.code_length)
    code_hash = hash_code(engine.code_key, "invite", code)
    if session_rows.by_hash(db, "invite_hash", code_hash) is not None:
        raise PackageRejectedError(f"candidate {invite.candidate_id}: invite code already in use")
    candidate_rows.upsert(db, invite.candidate_id, invite.display_name, invite.language,
                          invite.extra_time_pct, invite.important, now)
    session_id = new_session_id()
    session_rows.insert_invited(
        db, session_id=session_id, candidate_id=invite.candidate_id, job_id=invite.job_id,
        job_version=job.active_version, drill=drill, important=invite.important,
        extra_time_pct=invite.extra_time_pct, language=invite.language, invite_hash=code_hash,
        now=now)
    usage.open_usage(db, session_id, invite.job_id, job.cost_centre, drill, now)
    return session_id, code


def import_roster(engine: Engine, roster: Roster, source: str, actor: Actor) -> list[Invited]:
    """Invite everyone on the roster in one transaction (all or nothing).

    A candidate who already has an open session for the same job is left as is.
    """
    now = engine.store.now()
    with engine.store.transaction() as db:
        return invite_roster(db, engine, roster, source, actor, now)


def invite_roster(
    db: Database, engine: Engine, roster: Roster, source: str, actor: Actor, now: Stamp
) -> list[Invited]:
    """:func:`import_roster` inside the caller's transaction (audited as imported).

    An invitation in a language the box cannot analyse is made all the same, with a
    ``warning`` for staff: at check-in the candidate chooses among the languages it can."""
    out: list[Invited] = []
    installed = engine.languages.read()
    for invite in roster.invites:
        open_session = session_rows.open_of(db, invite.candidate_id, invite.job_id)
        if open_session is not None:
            out.append(Invited(invite.candidate_id, open_session, None, "already_invited"))
            continue
        session_id, code = create_session(db, engine, invite, now)
        out.append(Invited(invite.candidate_id, session_id, code, "invited",
                           language_warning(db, installed, invite)))
    details: dict[str, Any] = {
        "invited": sum(1 for i in out if i.status == "invited"),
        "already_invited": sum(1 for i in out if i.status != "invited"),
    }
    warned = [i.candidate_id for i in out if i.warning]
    if warned:
        details["language_warnings"] = warned[:100]
    audit.append(db, now, actor, "roster.imported", subject=source, details=details)
    return out


def language_warning(db: Database, installed: Installed, invite: Invite) -> str | None:
    """What staff should know when the box cannot analyse the invitation's language (or
    any language of its job); None when it can."""
    job = find_job(db, invite.job_id)
    if job is None:
        return None
    coverage = installed.coverage(job.languages)
    if not coverage.available:
        return (f"candidate {invite.candidate_id}: none of the languages of job"
                f" {invite.job_id} ({names(coverage.offered)}) can be analysed on this box"
                f" (installed speech languages: {names(coverage.installed)}), so check-in"
                f" will be refused; to enable them, {FIX}")
    if coverage.state == "on" and invite.language is not None and not serves(
            coverage.installed, invite.language):
        return (f"candidate {invite.candidate_id}: invited in {invite.language}, which this"
                f" box cannot analyse (installed speech languages:"
                f" {names(coverage.installed)}); at check-in the candidate chooses among"
                f" {names(coverage.available)}; to interview in {invite.language}, {FIX}")
    return None


def start_drill(engine: Engine, job_id: str, actor: Actor, label: str = "drill") -> Invited:
    """A practice session: runs fully, announced flagged as a drill, never as a result."""
    now = engine.store.now()
    with engine.store.transaction() as db:
        number = session_rows.drill_count(db) + 1
        invite = Invite(candidate_id=f"drill-{number}", job_id=job_id,
                        display_name=f"{label} {number}")
        session_id, code = create_session(db, engine, invite, now, drill=True)
        audit.append(db, now, actor, "session.drill_created", subject=session_id,
                     details={"job_id": job_id})
    return Invited(invite.candidate_id, session_id, code, "invited")


def roster_json_schema() -> dict[str, Any]:
    schema = Roster.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://schemas.kiosk.local/roster/1.json", **schema}


__all__ = ["Invite", "Invited", "Roster", "import_roster", "invite_roster", "parse_roster",
           "start_drill"]
