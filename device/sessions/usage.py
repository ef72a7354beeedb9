"""The ``usage`` table: time, answers, pauses, CPU and disk one session used, per cost centre.

One row per session, opened with the session and added to by the engine (time in each
state, pauses), the interview (answer time), recordings (bytes on disk) and the analysis
worker (CPU). Central hears the totals when the session ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlite_utils import Database

from device.clock import Stamp
from device.storage.database import row, stamp_json

#: Which counter the time spent in a state goes to.
TIME_COLUMNS = {"in_progress": "active_s", "paused": "paused_s"}


@dataclass(frozen=True, slots=True)
class UsageRow:
    """What one session used so far (``updated``: when the time was last accounted)."""

    session_id: str
    job_id: str
    cost_centre: str
    drill: bool
    active_s: float
    paused_s: float
    answer_s: float
    answers: int
    pauses: int
    analysis_cpu_s: float
    media_bytes: int
    updated: str

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> UsageRow:
        return cls(
            session_id=r["session_id"], job_id=r["job_id"], cost_centre=r["cost_centre"],
            drill=bool(r["drill"]), active_s=r["active_s"], paused_s=r["paused_s"],
            answer_s=r["answer_s"], answers=r["answers"], pauses=r["pauses"],
            analysis_cpu_s=r["analysis_cpu_s"], media_bytes=r["media_bytes"],
            updated=r["updated"],
        )

    def message_body(self) -> dict[str, Any]:
        """The ``usage`` message's body: every counter, without ``updated``."""
        body = asdict(self)
        body.pop("updated")
        return body


def open_usage(db: Database, session_id: str, job_id: str, cost_centre: str, drill: bool,
               now: Stamp) -> None:
    """Start counting for a new session."""
    db.execute(
        "INSERT INTO usage (session_id, job_id, cost_centre, drill, updated)"
        " VALUES (?, ?, ?, ?, ?)",
        (session_id, job_id, cost_centre, int(drill), stamp_json(now)),
    )


def get(db: Database, session_id: str) -> UsageRow | None:
    found = row(db, "SELECT * FROM usage WHERE session_id = ?", (session_id,))
    return None if found is None else UsageRow.from_row(found)


def account_state(db: Database, session_id: str, state: str, spent_s: float, now: Stamp, *,
                  pausing: bool = False) -> None:
    """Add the time spent in ``state`` (only running and paused time is counted), count a
    pause when the session is ``pausing``, and stamp the row."""
    column = TIME_COLUMNS.get(state)
    sets = [f"{column} = {column} + :spent"] if column else []
    if pausing:
        sets.append("pauses = pauses + 1")
    sets.append("updated = :now")
    db.execute(
        f"UPDATE usage SET {', '.join(sets)} WHERE session_id = :id",  # noqa: S608 - fixed names
        {"spent": spent_s, "now": stamp_json(now), "id": session_id},
    )


def add_answer(db: Database, session_id: str, duration_s: float) -> None:
    db.execute(
        "UPDATE usage SET answer_s = answer_s + ?, answers = answers + 1 WHERE session_id = ?",
        (duration_s, session_id),
    )


def add_media_bytes(db: Database, session_id: str, size: int) -> None:
    db.execute("UPDATE usage SET media_bytes = media_bytes + ? WHERE session_id = ?",
               (size, session_id))


def add_analysis_cpu(db: Database, session_id: str, cpu_s: float) -> None:
    db.execute("UPDATE usage SET analysis_cpu_s = analysis_cpu_s + ? WHERE session_id = ?",
               (cpu_s, session_id))
