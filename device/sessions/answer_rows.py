"""The ``answers`` table: the one module that reads and writes it, handing out typed rows.

An answer is one take of one item of a session. The interview decides when a take
starts, ends or is superseded (see :mod:`device.sessions.interview`); this module only
stores it. Some readers join other tables read-only: ``sessions`` (which take is being
recorded in a running session) and ``analyses`` (each answer with its analysis, for staff
and the demo).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from device.clock import Stamp
from device.storage.database import load_stamp, row, rows, stamp_json


@dataclass(frozen=True, slots=True)
class AnswerRow:
    """One take of one item, as stored."""

    id: str
    session_id: str
    item_id: str
    position: int
    attempt: int
    kind: str
    state: str
    retake: bool
    presented: Stamp
    started: Stamp | None
    ended: Stamp | None
    duration_s: float | None
    timed_out: bool
    follow_up: str | None
    """The follow-up question chosen for this answer, as JSON."""
    live_transcript: str | None
    """The transcript recognised while the answer was spoken, as JSON."""

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> AnswerRow:
        presented = load_stamp(r["presented"])
        assert presented is not None  # NOT NULL column
        return cls(
            id=r["id"], session_id=r["session_id"], item_id=r["item_id"],
            position=int(r["position"]), attempt=int(r["attempt"]), kind=r["kind"],
            state=r["state"], retake=bool(r["retake"]), presented=presented,
            started=load_stamp(r["started"]), ended=load_stamp(r["ended"]),
            duration_s=r["duration_s"], timed_out=bool(r["timed_out"]),
            follow_up=r["follow_up"], live_transcript=r["live_transcript"],
        )

    def staff_summary(self) -> dict[str, Any]:
        """The answer as the staff session detail lists it (flags as stored: 0 or 1)."""
        return {"id": self.id, "item_id": self.item_id, "position": self.position,
                "attempt": self.attempt, "state": self.state, "duration_s": self.duration_s,
                "timed_out": int(self.timed_out)}


@dataclass(frozen=True, slots=True)
class AnswerWithAnalysis:
    """An answer with its analysis, if one was scheduled (read-only join of ``analyses``)."""

    answer: AnswerRow
    status: str | None
    """The analysis status; None when nothing was scheduled for the answer."""
    attempts: int | None
    error: str | None
    cpu_s: float | None
    body: str | None


def _answers(db: Database, sql: str, params: tuple[Any, ...] = ()) -> list[AnswerRow]:
    return [AnswerRow.from_row(r) for r in rows(db, sql, params)]


def get(db: Database, answer_id: str) -> AnswerRow | None:
    found = row(db, "SELECT * FROM answers WHERE id = ?", (answer_id,))
    return None if found is None else AnswerRow.from_row(found)


def of_session(db: Database, session_id: str) -> list[AnswerRow]:
    """Every take of a session, in interview order."""
    return _answers(db, "SELECT * FROM answers WHERE session_id = ? ORDER BY position, attempt",
                    (session_id,))


def finished(db: Database, session_id: str) -> list[AnswerRow]:
    """The take of each item that counts: the finished one (retaken takes are superseded)."""
    return _answers(db, "SELECT * FROM answers WHERE session_id = ? AND state = 'finished'"
                        " ORDER BY position", (session_id,))


def current(db: Database, session_id: str, position: int) -> AnswerRow | None:
    """The latest take of the item at ``position`` that is shown, recording or finished."""
    found = row(
        db,
        "SELECT * FROM answers WHERE session_id = ? AND position = ?"
        " AND state IN ('presented', 'recording', 'finished') ORDER BY attempt DESC LIMIT 1",
        (session_id, position),
    )
    return None if found is None else AnswerRow.from_row(found)


def retakes_used(db: Database, session_id: str, position: int) -> int:
    found = row(db, "SELECT count(*) AS n FROM answers WHERE session_id = ? AND position = ?"
                " AND retake = 1", (session_id, position))
    return int(found["n"]) if found else 0


def add_take(db: Database, session_id: str, item_id: str, position: int, kind: str,
             now: Stamp, *, retake: bool) -> str:
    """A new take of the item at ``position``, shown now; returns its id."""
    last = row(db, "SELECT max(attempt) AS n FROM answers WHERE session_id = ? AND"
               " position = ?", (session_id, position))
    attempt = int(last["n"] or 0) + 1 if last else 1
    answer_id = str(uuid.uuid4())
    db.execute(
        "INSERT INTO answers (id, session_id, item_id, position, attempt, kind, state,"
        " retake, presented) VALUES (?, ?, ?, ?, ?, ?, 'presented', ?, ?)",
        (answer_id, session_id, item_id, position, attempt, kind, int(retake),
         stamp_json(now)),
    )
    return answer_id


def start_recording(db: Database, answer_id: str, now: Stamp) -> None:
    db.execute("UPDATE answers SET state = 'recording', started = ? WHERE id = ?",
               (stamp_json(now), answer_id))


def finish(db: Database, answer_id: str, now: Stamp, duration_s: float, timed_out: bool
           ) -> None:
    db.execute(
        "UPDATE answers SET state = 'finished', ended = ?, duration_s = ?, timed_out = ?"
        " WHERE id = ?",
        (stamp_json(now), duration_s, int(timed_out), answer_id),
    )


def supersede(db: Database, answer_id: str) -> None:
    db.execute("UPDATE answers SET state = 'superseded' WHERE id = ?", (answer_id,))


def interrupt(db: Database, answer_id: str, now: Stamp) -> None:
    db.execute("UPDATE answers SET state = 'interrupted', ended = ? WHERE id = ?",
               (stamp_json(now), answer_id))


def interrupt_open(db: Database, session_id: str, now: Stamp) -> None:
    """Mark the session's take being shown or recorded as interrupted."""
    db.execute(
        "UPDATE answers SET state = 'interrupted', ended = ? WHERE session_id = ?"
        " AND state IN ('presented', 'recording')",
        (stamp_json(now), session_id),
    )


def set_follow_up(db: Database, answer_id: str, follow_up_json: str) -> None:
    db.execute("UPDATE answers SET follow_up = ? WHERE id = ?", (follow_up_json, answer_id))


def set_live_transcript(db: Database, answer_id: str, transcript_json: str) -> None:
    db.execute("UPDATE answers SET live_transcript = ? WHERE id = ?",
               (transcript_json, answer_id))


def clear_follow_ups(db: Database, session_ids: list[str]) -> int:
    """Forget the follow-up questions of these sessions' answers; returns how many."""
    marks = ", ".join("?" for _ in session_ids)
    return int(db.execute("UPDATE answers SET follow_up = NULL"  # noqa: S608
                          f" WHERE follow_up IS NOT NULL AND session_id IN ({marks})",
                          tuple(session_ids)).rowcount)


def clear_live_transcripts(db: Database, session_ids: list[str]) -> int:
    """Forget the transcripts recognised live for these sessions' answers; returns how many."""
    marks = ", ".join("?" for _ in session_ids)
    return int(db.execute("UPDATE answers SET live_transcript = NULL"  # noqa: S608
                          f" WHERE live_transcript IS NOT NULL AND session_id IN ({marks})",
                          tuple(session_ids)).rowcount)


# -- takes being recorded (joins ``sessions`` read-only) ----------------------------------


def recording_ids(db: Database) -> list[str]:
    """Every take in ``recording`` state, whatever its session's state."""
    return [str(r["id"]) for r in rows(db, "SELECT id FROM answers WHERE state = 'recording'")]


def recording_in_running(db: Database) -> list[AnswerRow]:
    """Takes being recorded in sessions that are in progress."""
    return _answers(db, "SELECT a.* FROM answers a JOIN sessions s ON s.id = a.session_id"
                        " WHERE a.state = 'recording' AND s.state = 'in_progress'")


def latest_recording(db: Database) -> tuple[AnswerRow, str | None] | None:
    """The take most recently started among those being recorded in a running session,
    with its session's interview language."""
    found = row(db, "SELECT a.*, s.language AS session_language FROM answers a"
                " JOIN sessions s ON s.id = a.session_id WHERE a.state = 'recording'"
                " AND s.state = 'in_progress' ORDER BY a.started DESC LIMIT 1")
    if found is None:
        return None
    return AnswerRow.from_row(found), found["session_language"]


# -- read-only joins for the receipt and staff --------------------------------------------


def with_analysis(db: Database, session_id: str) -> list[AnswerWithAnalysis]:
    """Every take of a session in interview order, with its analysis (joins ``analyses``
    read-only)."""
    found = rows(
        db,
        "SELECT n.*, a.status AS analysis_status,"
        " a.attempts AS analysis_attempts, a.error AS analysis_error,"
        " a.cpu_s AS analysis_cpu_s, a.body AS analysis_body"
        " FROM answers n LEFT JOIN analyses a ON a.answer_id = n.id WHERE n.session_id = ?"
        " ORDER BY n.position, n.attempt", (session_id,))
    return [AnswerWithAnalysis(AnswerRow.from_row(r), r["analysis_status"],
                               r["analysis_attempts"], r["analysis_error"],
                               r["analysis_cpu_s"], r["analysis_body"]) for r in found]
