"""The ``checklists`` table: staff's pass or fail per point of a demonstration's checklist.

Site HR or an admin scores a demonstration by watching its recording; the analysis reads
the score into the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlite_utils import Database

from device.clock import Stamp
from device.storage.database import rows, stamp_json


@dataclass(frozen=True, slots=True)
class ChecklistRow:
    """One scored point (``actor``: who scored it, ``at``: when, as stored)."""

    session_id: str
    item_id: str
    point_id: str
    passed: bool
    actor: str
    at: str


def points(db: Database, session_id: str, item_id: str) -> list[ChecklistRow]:
    return [ChecklistRow(r["session_id"], r["item_id"], r["point_id"], bool(r["passed"]),
                         r["actor"], r["at"])
            for r in rows(db, "SELECT * FROM checklists WHERE session_id = ? AND item_id = ?",
                          (session_id, item_id))]


def scores(db: Database, session_id: str, item_id: str) -> dict[str, bool] | None:
    """``{point_id: passed}`` for a demonstration, or None when it is not scored yet."""
    return {p.point_id: p.passed for p in points(db, session_id, item_id)} or None


def score(db: Database, session_id: str, item_id: str, passed: Mapping[str, bool],
          actor: str, now: Stamp) -> None:
    """Set the points in ``passed`` (in point order); other points keep their score."""
    for point, ok in sorted(passed.items()):
        db.execute(
            "INSERT INTO checklists (session_id, item_id, point_id, passed, actor, at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, item_id, point_id) DO UPDATE"
            " SET passed = excluded.passed, actor = excluded.actor, at = excluded.at",
            (session_id, item_id, point, int(ok), actor, stamp_json(now)),
        )


def erase(db: Database, session_ids: list[str]) -> int:
    """Delete the scores of these sessions; returns how many points."""
    marks = ", ".join("?" for _ in session_ids)
    return int(db.execute(f"DELETE FROM checklists WHERE session_id IN ({marks})",  # noqa: S608
                          tuple(session_ids)).rowcount)
