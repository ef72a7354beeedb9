"""The ``sessions`` table: the one module that reads and writes it, handing out typed rows.

The engine decides every state change (see :mod:`device.sessions.engine`); this module
only stores what it decided. Staff listings join ``candidates`` read-only for the
candidate's display name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from sqlite_utils import Database

from device.clock import Stamp
from device.storage.database import load_stamp, row, rows, stamp_json

#: Columns that hold one of the session's codes or tokens, as a hash.
HashColumn = Literal["invite_hash", "resume_hash", "token_hash", "receipt_hash"]

#: States in which a session still has a candidate to come (or come back).
OPEN_STATES = ("invited", "checked_in", "consented", "in_progress", "paused")


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One interview session, as stored."""

    id: str
    candidate_id: str
    job_id: str
    job_version: int
    state: str
    previous_state: str | None
    drill: bool
    important: bool
    extra_time_pct: int
    language: str | None
    position: int
    invite_hash: str | None
    resume_hash: str | None
    token_hash: str | None
    receipt_hash: str | None
    consent_version: str | None
    expression_consent: bool | None
    state_reason: str | None
    state_actor: str | None
    created: Stamp
    state_since: Stamp
    started: Stamp | None
    ended: Stamp | None
    #: When the retention purge removed its personal data (the row stays as a tombstone).
    purged: Stamp | None = None

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> SessionRow:
        created, since = load_stamp(r["created"]), load_stamp(r["state_since"])
        assert created is not None and since is not None  # NOT NULL columns
        consent = r["expression_consent"]
        return cls(
            id=r["id"], candidate_id=r["candidate_id"], job_id=r["job_id"],
            job_version=int(r["job_version"]), state=r["state"],
            previous_state=r["previous_state"], drill=bool(r["drill"]),
            important=bool(r["important"]), extra_time_pct=int(r["extra_time_pct"]),
            language=r["language"], position=int(r["position"]),
            invite_hash=r["invite_hash"], resume_hash=r["resume_hash"],
            token_hash=r["token_hash"], receipt_hash=r["receipt_hash"],
            consent_version=r["consent_version"],
            expression_consent=None if consent is None else bool(consent),
            state_reason=r["state_reason"], state_actor=r["state_actor"],
            created=created, state_since=since, started=load_stamp(r["started"]),
            ended=load_stamp(r["ended"]), purged=load_stamp(r.get("purged")),
        )


@dataclass(frozen=True, slots=True)
class NamedSession:
    """A session with its candidate's display name (for staff who may see it)."""

    session: SessionRow
    display_name: str | None


_COLUMNS = frozenset(f.name for f in fields(SessionRow))


def get(db: Database, session_id: str) -> SessionRow | None:
    found = row(db, "SELECT * FROM sessions WHERE id = ?", (session_id,))
    return None if found is None else SessionRow.from_row(found)


def by_hash(db: Database, column: HashColumn, value: str) -> SessionRow | None:
    """The session holding this code or token hash (each is unique)."""
    if column not in ("invite_hash", "resume_hash", "token_hash", "receipt_hash"):
        raise ValueError(f"not a hash column: {column}")
    found = row(db, f"SELECT * FROM sessions WHERE {column} = ?", (value,))  # noqa: S608 - checked name
    return None if found is None else SessionRow.from_row(found)


def insert_invited(
    db: Database, *, session_id: str, candidate_id: str, job_id: str, job_version: int,
    drill: bool, important: bool, extra_time_pct: int, language: str | None,
    invite_hash: str, now: Stamp,
) -> None:
    """A new session waiting for its candidate to check in."""
    db.execute(
        "INSERT INTO sessions (id, candidate_id, job_id, job_version, state, drill, important,"
        " extra_time_pct, language, invite_hash, created, state_since)"
        " VALUES (?, ?, ?, ?, 'invited', ?, ?, ?, ?, ?, ?, ?)",
        (session_id, candidate_id, job_id, job_version, int(drill), int(important),
         extra_time_pct, language, invite_hash, stamp_json(now), stamp_json(now)),
    )


def update(db: Database, session_id: str, values: Mapping[str, Any]) -> None:
    """Set columns of one session; values are as stored (stamps already as JSON text)."""
    unknown = set(values) - _COLUMNS
    if unknown or "id" in values:
        raise ValueError(f"not settable session columns: {sorted(unknown | {'id'} & set(values))}")
    assignments = ", ".join(f"{k} = :{k}" for k in values)
    db.execute(
        f"UPDATE sessions SET {assignments} WHERE id = :id",  # noqa: S608 - checked names
        {**values, "id": session_id},
    )


def set_position(db: Database, session_id: str, position: int) -> None:
    db.execute("UPDATE sessions SET position = ? WHERE id = ?", (position, session_id))


def open_of(db: Database, candidate_id: str, job_id: str) -> str | None:
    """The id of the candidate's session for this job that has not ended, if any."""
    found = row(
        db, "SELECT id FROM sessions WHERE candidate_id = ? AND job_id = ? AND state"
        " IN ('invited', 'checked_in', 'consented', 'in_progress', 'paused')",
        (candidate_id, job_id),
    )
    return None if found is None else str(found["id"])


def drill_count(db: Database) -> int:
    found = row(db, "SELECT count(*) AS n FROM sessions WHERE drill = 1")
    return int(found["n"]) if found else 0


def in_state(db: Database, state: str) -> list[SessionRow]:
    return [SessionRow.from_row(r)
            for r in rows(db, "SELECT * FROM sessions WHERE state = ?", (state,))]


def ids_in_states(db: Database, states: Sequence[str]) -> list[str]:
    """Ids of the sessions in any of ``states``, in table order."""
    marks = ", ".join("?" for _ in states)
    found = rows(db, f"SELECT id FROM sessions WHERE state IN ({marks})",  # noqa: S608
                 tuple(states))
    return [str(r["id"]) for r in found]


def count_in_states(db: Database, states: Sequence[str]) -> int:
    marks = ", ".join("?" for _ in states)
    found = row(db, f"SELECT count(*) AS n FROM sessions WHERE state IN ({marks})",  # noqa: S608
                tuple(states))
    return int(found["n"]) if found else 0


def count_by_state(db: Database) -> dict[str, int]:
    return {str(r["state"]): int(r["n"]) for r in rows(
        db, "SELECT state, count(*) AS n FROM sessions GROUP BY state")}


def listing(
    db: Database, *, state: str | None = None, job_id: str | None = None,
    drill: bool | None = None, jobs: Sequence[str] | None = None, limit: int = 200,
) -> list[NamedSession]:
    """Sessions, newest first, filtered; ``jobs`` limits them to those jobs."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("s.state", state), ("s.job_id", job_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if drill is not None:
        clauses.append("s.drill = ?")
        params.append(int(drill))
    if jobs is not None:
        clauses.append(f"s.job_id IN ({', '.join('?' for _ in jobs)})")
        params.extend(jobs)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = (
        "SELECT s.*, c.display_name FROM sessions s JOIN candidates c ON c.id = s.candidate_id "  # noqa: S608 - fixed column names
        + where + " ORDER BY s.rowid DESC LIMIT ?"
    )
    return [_named(r) for r in rows(db, sql, (*params, limit))]


_HELD = "COALESCE(json_extract(s.started, '$.utc'), json_extract(s.created, '$.utc'))"


def held_between(db: Database, start_utc: str, end_utc: str,
                 jobs: Sequence[str] | None = None) -> list[NamedSession]:
    """Sessions whose interview started from ``start_utc`` up to (not including)
    ``end_utc`` or, not started yet, that were created then; earliest first. Bounds are ISO
    times in UTC with microseconds, as stamps hold them. ``jobs`` limits them to those
    jobs."""
    params: list[Any] = [start_utc, end_utc]
    scope = ""
    if jobs is not None:
        scope = f" AND s.job_id IN ({', '.join('?' for _ in jobs)})"
        params.extend(jobs)
    sql = ("SELECT s.*, c.display_name FROM sessions s JOIN candidates c"  # noqa: S608 - fixed names
           f" ON c.id = s.candidate_id WHERE {_HELD} >= ? AND {_HELD} < ?"
           + scope + f" ORDER BY {_HELD}, s.rowid")
    return [_named(r) for r in rows(db, sql, tuple(params))]


def named(db: Database, session_id: str) -> NamedSession | None:
    found = row(db, "SELECT s.*, c.display_name FROM sessions s JOIN candidates c ON"
                " c.id = s.candidate_id WHERE s.id = ?", (session_id,))
    return None if found is None else _named(found)


def _named(r: Mapping[str, Any]) -> NamedSession:
    return NamedSession(SessionRow.from_row(r), r["display_name"])


# -- erasure at central's request ---------------------------------------------------------


def ids_of_candidate(db: Database, candidate_id: str) -> list[str]:
    """The candidate's sessions, oldest first."""
    return [str(r["id"]) for r in rows(
        db, "SELECT id FROM sessions WHERE candidate_id = ? ORDER BY created, id",
        (candidate_id,))]


def open_among(db: Database, session_ids: Sequence[str]) -> list[SessionRow]:
    """Those of ``session_ids`` that have not ended."""
    ids = ", ".join("?" for _ in session_ids)
    states = ", ".join("?" for _ in OPEN_STATES)
    found = rows(db, f"SELECT * FROM sessions WHERE id IN ({ids})"  # noqa: S608
                     f" AND state IN ({states})", (*session_ids, *OPEN_STATES))
    return [SessionRow.from_row(r) for r in found]


def revoke_erased(db: Database, session_id: str, now: Stamp, actor: str) -> None:
    """End a session whose candidate central erased (no transition: nothing is announced)."""
    at = stamp_json(now)
    db.execute("UPDATE sessions SET state = 'revoked', previous_state = state,"
               " state_since = ?, ended = ?, state_reason = 'erased at central''s request',"
               " state_actor = ? WHERE id = ?", (at, at, actor, session_id))


def forget_personal(db: Database, session_ids: Sequence[str]) -> None:
    """Clear what identifies the candidate or opens the session; the record stays."""
    marks = ", ".join("?" for _ in session_ids)
    db.execute(
        "UPDATE sessions SET language = NULL, extra_time_pct = 0, invite_hash = NULL,"  # noqa: S608
        " resume_hash = NULL, token_hash = NULL, receipt_hash = NULL, consent_version = NULL,"
        f" expression_consent = NULL WHERE id IN ({marks})", tuple(session_ids))


# -- the retention purge ------------------------------------------------------------------


def ended_unpurged(db: Database, after: int, limit: int, states: Sequence[str]
                   ) -> list[tuple[int, SessionRow]]:
    """Sessions in one of ``states`` (the final ones) whose personal data is still on the
    box, in table order after the position ``after``: (position, row) pairs."""
    marks = ", ".join("?" for _ in states)
    found = rows(db, f"SELECT rowid AS rid, * FROM sessions WHERE purged IS NULL"  # noqa: S608
                     f" AND state IN ({marks}) AND rowid > ? ORDER BY rowid LIMIT ?",
                 (*states, after, limit))
    return [(int(r["rid"]), SessionRow.from_row(r)) for r in found]


def mark_purged(db: Database, session_id: str, now: Stamp) -> None:
    """The session's personal data is gone: keep the row as a tombstone, stamped."""
    db.execute("UPDATE sessions SET purged = ? WHERE id = ? AND purged IS NULL",
               (stamp_json(now), session_id))


def count_unpurged_of_candidate(db: Database, candidate_id: str) -> int:
    """The candidate's sessions still holding personal data (open ones included)."""
    found = row(db, "SELECT count(*) AS n FROM sessions WHERE candidate_id = ?"
                " AND purged IS NULL", (candidate_id,))
    return int(found["n"]) if found else 0
