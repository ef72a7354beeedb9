"""How analysis is doing, for staff: failed analyses with the last error, and the languages
the box can analyse (with the jobs that offer others).

A failed analysis is an answer the worker gave up on after its retries; its session is
still reported, with that item not assessed. Staff see them here, on the terminal UI's
dashboard and in ``/metrics`` (``kiosk_analyses{status="failed"}``), instead of only in the
log. Read-only: the ``analyses`` table belongs to :mod:`device.analysis`.
"""

from __future__ import annotations

from typing import Any

from device.errors import ModelStoreUnreadable
from device.jobs import list_jobs
from device.language_gate import LanguageGate
from device.runtime import Kiosk
from device.store import load_stamp

STATUSES = ("pending", "running", "done", "failed")


def analysis(k: Kiosk) -> dict[str, Any]:
    """``{enabled, pending, running, done, failed, last_failure}``; ``last_failure`` is the
    most recent failed analysis: ``{answer_id, session_id, job_id, language, at, error}``."""
    counts = {r["status"]: r["n"] for r in k.store.all(
        "SELECT status, count(*) AS n FROM analyses GROUP BY status")}
    last = k.store.one(
        "SELECT a.answer_id, a.session_id, a.error, a.updated, s.job_id, s.language"
        " FROM analyses a JOIN sessions s ON s.id = a.session_id WHERE a.status = 'failed'"
        " ORDER BY json_extract(a.updated, '$.utc') DESC, a.rowid DESC LIMIT 1")
    failure = None
    if last is not None:
        at = load_stamp(last["updated"])
        failure = {"answer_id": last["answer_id"], "session_id": last["session_id"],
                   "job_id": last["job_id"], "language": last["language"],
                   "at": at.utc if at else None, "error": last["error"]}
    return {"enabled": k.config.analysis.enabled,
            **{status: counts.get(status, 0) for status in STATUSES},
            "last_failure": failure}


def speech(k: Kiosk, gate: LanguageGate) -> dict[str, Any]:
    """``{gate, languages, jobs, detail}``: whether interview languages are gated (``on``;
    ``off`` when analysis is off; ``unset`` while no model is installed; ``unreadable`` when
    the model index cannot be read), the languages the box can analyse, and the jobs with
    offered languages it cannot (``[{job_id, languages_disabled}]``)."""
    try:
        installed = gate.read()
    except ModelStoreUnreadable as exc:
        return {"gate": "unreadable", "languages": [], "jobs": [], "detail": str(exc)}
    jobs = [{"job_id": j["id"], "languages_disabled": j["languages_disabled"]}
            for j in list_jobs(k.store, gate) if j["languages_disabled"]]
    languages = list(installed.languages) if installed.state == "on" else None
    return {"gate": installed.state, "languages": languages, "jobs": jobs, "detail": None}
