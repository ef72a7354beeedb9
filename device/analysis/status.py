"""How analysis is doing, for staff: failed analyses with the last error, each answer's
analysis with its recognition quality and why its content was not assessed, and the languages
the box can analyse (with the jobs that offer others).

A failed analysis is an answer the worker gave up on after its retries; its session is
still reported, with that item not assessed. Staff see them here, on the terminal UI's
dashboard and in ``/metrics`` (``kiosk_analyses{status="failed"}``), instead of only in the
log. Read-only: the ``analyses`` table belongs to :mod:`device.analysis.analysis_rows`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from device.analysis import analysis_rows
from device.errors import ModelStoreUnreadable
from device.jobs.installed import list_jobs
from device.jobs.language_gate import LanguageGate
from device.sessions import answer_rows
from device.storage.database import Store
from inference.findings import ItemAnalysis, SpokenAnswerAnalysis
from inference.scoring.metrics import content_not_assessed

STATUSES = ("pending", "running", "done", "failed")
_ITEM: TypeAdapter[ItemAnalysis] = TypeAdapter(ItemAnalysis)


class AnswerAnalysis(BaseModel):
    """One answer (take) of a session and how its analysis stands."""

    answer_id: str = Field(description="The answer (one take of an item).")
    item_id: str = Field(description="The question or demonstration answered.")
    kind: Literal["question", "demonstration"] = Field(description="Spoken answer or task.")
    attempt: int = Field(description="Take number, from 1.")
    answer_state: Literal["presented", "recording", "finished", "superseded", "interrupted"] = (
        Field(description="The answer's state; a superseded take was retaken."))
    status: Literal["not_scheduled", "pending", "running", "done", "failed"] = Field(
        description="Analysis status; not_scheduled when nothing was queued for the answer.")
    attempts: int | None = Field(description="Analysis attempts so far; null if not scheduled.")
    error: str | None = Field(description="Why the analysis failed (the last attempt's error).")
    cpu_s: float | None = Field(description="CPU seconds spent analysing it.")
    recognition_quality: float | None = Field(
        description="Recognition quality of a spoken answer, 0-1 (see docs/analysis.md); null"
                    " until it is analysed, for a demonstration, or when the recogniser gave"
                    " no figure.")
    not_assessed: str | None = Field(
        description="Why the content of a spoken answer is not assessed (speech not recognised"
                    " reliably, or no speech heard), as the report states it; null when it is"
                    " assessed, until it is analysed, and for a demonstration.")


def analysis(store: Store, enabled: bool) -> dict[str, Any]:
    """``{enabled, pending, running, done, failed, last_failure}``; ``last_failure`` is the
    most recent failed analysis: ``{answer_id, session_id, job_id, language, at, error}``."""
    with store.read() as db:
        counts = analysis_rows.count_by_status(db)
    with store.read() as db:
        last = analysis_rows.last_failure(db)
    failure = None
    if last is not None:
        at = last.analysis.updated
        failure = {"answer_id": last.analysis.answer_id, "session_id": last.analysis.session_id,
                   "job_id": last.job_id, "language": last.language,
                   "at": at.utc if at else None, "error": last.analysis.error}
    return {"enabled": enabled,
            **{status: counts.get(status, 0) for status in STATUSES},
            "last_failure": failure}


def answers(store: Store, session_id: str) -> list[AnswerAnalysis]:
    """Every answer of the session in interview order, with its analysis; the quality and
    the not-assessed reason are read from the stored analysis once it is done."""
    with store.read() as db:
        found = answer_rows.with_analysis(db, session_id)
    out = []
    for r in found:
        quality = reason = None
        if r.status == "done" and r.body is not None:
            item = _ITEM.validate_json(r.body)
            if isinstance(item, SpokenAnswerAnalysis):
                quality = item.transcript.quality
                reason = content_not_assessed(item.transcript)
        a = r.answer
        out.append(AnswerAnalysis.model_validate({
            "answer_id": a.id, "item_id": a.item_id, "kind": a.kind, "attempt": a.attempt,
            "answer_state": a.state, "status": r.status or "not_scheduled",
            "attempts": r.attempts,
            "error": r.error, "cpu_s": r.cpu_s, "recognition_quality": quality,
            "not_assessed": reason}))
    return out


def speech(store: Store, gate: LanguageGate) -> dict[str, Any]:
    """``{gate, languages, jobs, detail}``: whether interview languages are gated (``on``;
    ``off`` when analysis is off; ``unset`` while no model is installed; ``unreadable`` when
    the model index cannot be read), the languages the box can analyse, and the jobs with
    offered languages it cannot (``[{job_id, languages_disabled}]``)."""
    try:
        installed = gate.read()
    except ModelStoreUnreadable as exc:
        return {"gate": "unreadable", "languages": [], "jobs": [], "detail": str(exc)}
    jobs = [{"job_id": j["id"], "languages_disabled": j["languages_disabled"]}
            for j in list_jobs(store, gate) if j["languages_disabled"]]
    languages = list(installed.languages) if installed.state == "on" else None
    return {"gate": installed.state, "languages": languages, "jobs": jobs, "detail": None}
