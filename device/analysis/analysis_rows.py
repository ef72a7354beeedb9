"""The ``analyses`` table: one row per answer queued for analysis, its status and its result.

The one module that reads and writes it. Functions take the caller's open database, so the
worker, the status pages, erasure and the metrics keep their transactions as they are. A few
reads need a session's or an answer's columns with the analysis (the worker's next job, the
last failure): those joins are here, starting from this table's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlite_utils import Database

from device.clock import Stamp
from device.storage.database import load_stamp, row, rows, stamp_json

Status = Literal["pending", "running", "done", "failed"]
STATUSES: tuple[Status, ...] = ("pending", "running", "done", "failed")
UNFINISHED: tuple[Status, ...] = ("pending", "running")


@dataclass(frozen=True, slots=True)
class AnalysisRow:
    """One answer's analysis: ``body`` is the stored result (JSON) once it is ``done``,
    ``error`` the last attempt's error."""

    answer_id: str
    session_id: str
    item_id: str
    kind: str
    status: Status
    attempts: int
    body: str | None
    error: str | None
    cpu_s: float
    updated: Stamp | None


def _analysis(found: dict[str, Any]) -> AnalysisRow:
    return AnalysisRow(answer_id=found["answer_id"], session_id=found["session_id"],
                       item_id=found["item_id"], kind=found["kind"], status=found["status"],
                       attempts=int(found["attempts"]), body=found["body"],
                       error=found["error"], cpu_s=float(found["cpu_s"]),
                       updated=load_stamp(found["updated"]))


# -- writing ------------------------------------------------------------------------------

def queue(db: Database, answer_id: str, session_id: str, item_id: str, kind: str,
          now: Stamp) -> None:
    """Queue an answer for analysis; an answer queued before starts over (attempts reset)."""
    db.execute(
        "INSERT INTO analyses (answer_id, session_id, item_id, kind, status, updated)"
        " VALUES (?, ?, ?, ?, 'pending', ?) ON CONFLICT (answer_id) DO UPDATE SET"
        " status = 'pending', attempts = 0, error = NULL, updated = excluded.updated",
        (answer_id, session_id, item_id, kind, stamp_json(now)),
    )


def requeue_running(db: Database) -> None:
    """Analyses a crash left ``running`` are pending again (analysed anew from the files)."""
    db.execute("UPDATE analyses SET status = 'pending' WHERE status = 'running'")


def mark_running(db: Database, answer_id: str, now: Stamp) -> None:
    """The worker took the answer: one more attempt."""
    db.execute("UPDATE analyses SET status = 'running', attempts = attempts + 1,"
               " updated = ? WHERE answer_id = ?", (stamp_json(now), answer_id))


def record(db: Database, answer_id: str, status: Status, body: str | None, error: str | None,
           cpu_s: float, now: Stamp) -> None:
    """The outcome of an attempt, adding the CPU time it took."""
    db.execute("UPDATE analyses SET status = ?, body = ?, error = ?, cpu_s = cpu_s + ?,"
               " updated = ? WHERE answer_id = ?",
               (status, body, error, cpu_s, stamp_json(now), answer_id))


def delete_for_sessions(db: Database, session_ids: Sequence[str]) -> int:
    """Erase the analyses of these sessions; returns how many rows went."""
    marks = ", ".join("?" * len(session_ids))
    return int(db.execute(
        f"DELETE FROM analyses WHERE session_id IN ({marks})",  # noqa: S608
        tuple(session_ids)).rowcount)


# -- reading ------------------------------------------------------------------------------

def attempts(db: Database, answer_id: str) -> int | None:
    """Attempts so far; None when the answer was never queued."""
    found = row(db, "SELECT attempts FROM analyses WHERE answer_id = ?", (answer_id,))
    return None if found is None else int(found["attempts"])


def for_session(db: Database, session_id: str) -> dict[str, AnalysisRow]:
    """The session's analyses by answer id."""
    found = rows(db, "SELECT * FROM analyses WHERE session_id = ?", (session_id,))
    return {r["answer_id"]: _analysis(r) for r in found}


def count_by_status(db: Database) -> dict[str, int]:
    """How many analyses have each status (statuses with none are left out)."""
    return {r["status"]: int(r["n"]) for r in rows(
        db, "SELECT status, count(*) AS n FROM analyses GROUP BY status")}


def count_unfinished(db: Database, session_id: str | None = None) -> int:
    """Analyses pending or running, of one session or of all."""
    if session_id is None:
        found = row(db, "SELECT count(*) AS n FROM analyses WHERE status IN"
                        " ('pending', 'running')")
    else:
        found = row(db, "SELECT COUNT(*) AS n FROM analyses WHERE session_id = ? AND status IN"
                        " ('pending', 'running')", (session_id,))
    return int(found["n"]) if found else 0


def cpu_seconds(db: Database) -> float:
    """CPU time spent on every analysis so far."""
    found = row(db, "SELECT COALESCE(sum(cpu_s), 0) AS s FROM analyses")
    return float(found["s"]) if found else 0.0


@dataclass(frozen=True, slots=True)
class PendingAnalysis:
    """The oldest pending analysis with what the worker needs of its session and answer."""

    analysis: AnalysisRow
    language: str | None
    expression_consent: bool
    job_id: str
    job_version: int
    timed_out: bool
    duration_s: float | None
    follow_up: str | None
    live_transcript: str | None


def next_pending(db: Database) -> PendingAnalysis | None:
    """The analysis the worker should take next (oldest first), or None."""
    found = row(db, "SELECT a.*, s.language, s.expression_consent, s.job_id,"
                    " s.job_version, n.timed_out, n.duration_s, n.follow_up,"
                    " n.live_transcript"
                    " FROM analyses a"
                    " JOIN sessions s ON s.id = a.session_id"
                    " JOIN answers n ON n.id = a.answer_id"
                    " WHERE a.status = 'pending' ORDER BY a.updated LIMIT 1")
    if found is None:
        return None
    return PendingAnalysis(
        analysis=_analysis(found), language=found["language"],
        expression_consent=bool(found["expression_consent"]), job_id=found["job_id"],
        job_version=int(found["job_version"]), timed_out=bool(found["timed_out"]),
        duration_s=found["duration_s"], follow_up=found["follow_up"],
        live_transcript=found["live_transcript"])


@dataclass(frozen=True, slots=True)
class FailedAnalysis:
    """A failed analysis with its session's job and language."""

    analysis: AnalysisRow
    job_id: str
    language: str | None


def last_failure(db: Database) -> FailedAnalysis | None:
    """The most recent failed analysis, or None."""
    found = row(db, "SELECT a.*, s.job_id, s.language"
                    " FROM analyses a JOIN sessions s ON s.id = a.session_id"
                    " WHERE a.status = 'failed'"
                    " ORDER BY json_extract(a.updated, '$.utc') DESC, a.rowid DESC LIMIT 1")
    if found is None:
        return None
    return FailedAnalysis(_analysis(found), found["job_id"], found["language"])
