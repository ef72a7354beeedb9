"""The ``candidates`` table: the one module that reads and writes it, handing out typed rows.

A candidate is who a roster invites; what identifies them (name, language, extra time)
is forgotten when central asks for erasure, or by the retention purge once none of their
sessions holds personal data, and the row stays as a marker that it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from device.clock import Stamp
from device.storage.database import load_stamp, row, stamp_json


@dataclass(frozen=True, slots=True)
class CandidateRow:
    """One invited candidate, as stored (``erased``: when they were forgotten, at central's
    request or at retention)."""

    id: str
    display_name: str | None
    language: str | None
    extra_time_pct: int
    important: bool
    created: Stamp
    erased: Stamp | None

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> CandidateRow:
        created = load_stamp(r["created"])
        assert created is not None  # NOT NULL column
        return cls(id=r["id"], display_name=r["display_name"], language=r["language"],
                   extra_time_pct=int(r["extra_time_pct"]), important=bool(r["important"]),
                   created=created, erased=load_stamp(r["erased"]))


def get(db: Database, candidate_id: str) -> CandidateRow | None:
    found = row(db, "SELECT * FROM candidates WHERE id = ?", (candidate_id,))
    return None if found is None else CandidateRow.from_row(found)


def upsert(db: Database, candidate_id: str, display_name: str | None, language: str | None,
           extra_time_pct: int, important: bool, now: Stamp) -> None:
    """Add a candidate, or update what a later roster says of one already known (the
    creation time stays)."""
    db.execute(
        "INSERT INTO candidates (id, display_name, language, extra_time_pct, important, created)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
        " display_name = excluded.display_name, language = excluded.language,"
        " extra_time_pct = excluded.extra_time_pct, important = excluded.important",
        (candidate_id, display_name, language, extra_time_pct, int(important),
         stamp_json(now)),
    )


def forget(db: Database, candidate_id: str, now: Stamp) -> None:
    """Erase what identifies the candidate; mark the row as erased now."""
    db.execute("UPDATE candidates SET display_name = NULL, language = NULL,"
               " extra_time_pct = 0, erased = ? WHERE id = ?", (stamp_json(now), candidate_id))
