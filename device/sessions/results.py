"""The ``results`` table: the record of a finished interview, and the scored report.

The interview record is written in the transaction that finishes the session; the
report (``kind = 'report'``) is written by the analysis once every answer is analysed.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from sqlite_utils import Database

from device.clock import Stamp
from device.sessions import answer_rows
from device.sessions.session_rows import SessionRow
from device.storage.database import row, stamp_json
from shared.canonical_json import dumps

RESULT_STATES = ("completed", "terminated")

ResultKind = Literal["interview", "report"]


def interview_summary(db: Database, session: SessionRow) -> dict[str, Any]:
    """Per item: the answer that counts, how many takes, how long, whether it ran out."""
    items: dict[str, dict[str, Any]] = {}
    for a in answer_rows.of_session(db, session.id):
        entry = items.setdefault(a.item_id, {
            "item_id": a.item_id, "kind": a.kind, "position": a.position,
            "answer_id": None, "takes": 0, "duration_s": None, "timed_out": False,
        })
        if a.state in ("finished", "superseded"):
            entry["takes"] += 1
        if a.state == "finished":
            entry.update(answer_id=a.id, duration_s=round(a.duration_s or 0.0, 3),
                         timed_out=a.timed_out)
    return {
        "session_id": session.id,
        "candidate_id": session.candidate_id,
        "job_id": session.job_id,
        "job_version": session.job_version,
        "outcome": session.state,
        "language": session.language,
        "consent_version": session.consent_version,
        "expression_consent": bool(session.expression_consent),
        "items": sorted(items.values(), key=lambda e: e["position"]),
    }


def record(db: Database, session: SessionRow, now: Stamp) -> dict[str, Any]:
    body = interview_summary(db, session)
    put(db, session.id, "interview", body, now)
    return body


def put(db: Database, session_id: str, kind: ResultKind, body: dict[str, Any], now: Stamp
        ) -> None:
    """Write (or replace) the session's result of this kind."""
    db.execute(
        "INSERT INTO results (session_id, kind, body, created) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (session_id, kind) DO UPDATE SET body = excluded.body,"
        " created = excluded.created",
        (session_id, kind, dumps(body), stamp_json(now)),
    )


def body(db: Database, session_id: str, kind: ResultKind) -> dict[str, Any] | None:
    """The session's result of this kind, or None when there is none yet."""
    found = row(db, "SELECT body FROM results WHERE session_id = ? AND kind = ?",
                (session_id, kind))
    if found is None:
        return None
    loaded: dict[str, Any] = json.loads(found["body"])
    return loaded


def erase(db: Database, session_ids: list[str]) -> int:
    """Delete every result of these sessions; returns how many."""
    marks = ", ".join("?" for _ in session_ids)
    return int(db.execute(f"DELETE FROM results WHERE session_id IN ({marks})",  # noqa: S608
                          tuple(session_ids)).rowcount)
