"""The record of a finished interview, written in the transaction that finishes it."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from device.clock import Stamp
from device.storage.database import rows, stamp_json
from shared.canonical_json import dumps

RESULT_STATES = ("completed", "terminated")


def interview_summary(db: Database, session: dict[str, Any]) -> dict[str, Any]:
    """Per item: the answer that counts, how many takes, how long, whether it ran out."""
    answers = rows(
        db,
        "SELECT id, item_id, position, attempt, kind, state, retake, duration_s, timed_out"
        " FROM answers WHERE session_id = ? ORDER BY position, attempt",
        (session["id"],),
    )
    items: dict[str, dict[str, Any]] = {}
    for a in answers:
        entry = items.setdefault(a["item_id"], {
            "item_id": a["item_id"], "kind": a["kind"], "position": a["position"],
            "answer_id": None, "takes": 0, "duration_s": None, "timed_out": False,
        })
        if a["state"] in ("finished", "superseded"):
            entry["takes"] += 1
        if a["state"] == "finished":
            entry.update(answer_id=a["id"], duration_s=round(a["duration_s"] or 0.0, 3),
                         timed_out=bool(a["timed_out"]))
    return {
        "session_id": session["id"],
        "candidate_id": session["candidate_id"],
        "job_id": session["job_id"],
        "job_version": session["job_version"],
        "outcome": session["state"],
        "language": session["language"],
        "consent_version": session["consent_version"],
        "expression_consent": bool(session["expression_consent"]),
        "items": sorted(items.values(), key=lambda e: e["position"]),
    }


def record(db: Database, session: dict[str, Any], now: Stamp) -> dict[str, Any]:
    body = interview_summary(db, session)
    db.execute(
        "INSERT INTO results (session_id, kind, body, created) VALUES (?, 'interview', ?, ?)"
        " ON CONFLICT (session_id, kind) DO UPDATE SET body = excluded.body,"
        " created = excluded.created",
        (session["id"], dumps(body), stamp_json(now)),
    )
    return body
