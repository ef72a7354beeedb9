"""What the console shows, read from central's tables: jobs from the published job
packages, names from the published rosters, candidates from the boxes' delivered messages.

A candidate here is one interview session (a box and its session id). Only messages that
were delivered in order (``delivered_order`` set) are shown, never a drill's, and nothing
of a candidate central sent a deletion request for. Scores are
the latest report revision's; a competency a box could not assess has no score (None),
never 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from central.store import ReceiverStore

Texts = dict[str, str]


@dataclass(frozen=True)
class Competency:
    id: str
    name: Texts


@dataclass(frozen=True)
class Job:
    job_id: str
    title: Texts
    competencies: tuple[Competency, ...]
    min_score: float | None = None
    max_score: float | None = None


@dataclass(frozen=True)
class Step:
    """One state change of a session: who did what, why, and when (the box's clock)."""

    at: str | None
    from_state: str | None
    to_state: str
    action: str | None
    reason: str | None
    actor_role: str | None


@dataclass
class Candidate:
    device_id: str
    session_id: str
    site: str
    job_id: str | None = None
    candidate_id: str | None = None
    name: str | None = None
    state: str | None = None
    date: str | None = None
    scores: dict[str, float | None] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    overall: float | None = None
    complete: bool | None = None
    revision: int | None = None
    report: dict[str, Any] | None = None
    trail: list[Step] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.device_id}/{self.session_id}"


def _latest_documents(store: ReceiverStore, kind: str) -> list[dict[str, Any]]:
    found = store.all("SELECT document FROM documents WHERE kind = ? ORDER BY cursor", (kind,))
    return [json.loads(r["document"]) for r in found]


def jobs(store: ReceiverStore) -> dict[str, Job]:
    """Every job with a published package (its latest version), by job id."""
    out: dict[str, Job] = {}
    for doc in _latest_documents(store, "job_package"):
        body = doc.get("body") or {}
        job = body.get("job") or {}
        job_id = job.get("id") or doc.get("scope")
        if not isinstance(job_id, str):
            continue
        comps = tuple(Competency(str(c.get("id")), dict(c.get("name") or {}))
                      for c in (body.get("rubric") or {}).get("competencies", []))
        scoring = body.get("scoring") or {}
        out[job_id] = Job(job_id, dict(job.get("title") or {}), comps,
                          scoring.get("min_score"), scoring.get("max_score"))
    return out


def roster_names(store: ReceiverStore) -> dict[tuple[str, str], str]:
    """The name HR gave each candidate, by (job id, candidate id); the latest roster wins."""
    names: dict[tuple[str, str], str] = {}
    for doc in _latest_documents(store, "roster"):
        for invite in (doc.get("body") or {}).get("invites", []):
            if invite.get("display_name"):
                names[(str(invite.get("job_id")), str(invite.get("candidate_id")))] = \
                    str(invite["display_name"])
    return names


def erased(store: ReceiverStore) -> set[str]:
    """Candidates central has asked the boxes to erase (a ``deletion`` document): the
    console shows nothing of them any more, whatever central still stores."""
    return {str(body["candidate_id"]) for doc in _latest_documents(store, "deletion")
            if (body := doc.get("body") or {}).get("candidate_id")}


def _when(envelope: dict[str, Any], received: str) -> str:
    stamp = envelope.get("recorded_at") or {}
    return str(stamp["utc"]) if stamp.get("synced") and stamp.get("utc") else received


def _fold(found: Candidate, env: dict[str, Any], received: str) -> None:
    body = env.get("body") or {}
    if env["kind"] == "session.state":
        found.job_id = body.get("job_id") or found.job_id
        found.candidate_id = body.get("candidate_id") or found.candidate_id
        found.state = body.get("to")
        when = _when(env, received)
        found.date = found.date or when
        found.trail.append(Step(when, body.get("from"), str(body.get("to")),
                                body.get("action"), body.get("reason"), body.get("actor_role")))
        return
    revision = int(body.get("revision") or 0)
    if found.revision is not None and revision < found.revision:
        return
    card = body.get("scorecard") or {}
    found.revision, found.report = revision, body.get("report") or None
    found.job_id = found.job_id or card.get("job_id")
    found.overall, found.complete = card.get("overall"), card.get("complete")
    found.scores = {str(c.get("id")): c.get("score") for c in card.get("competencies", [])}
    found.statuses = {str(c.get("id")): str(c.get("status"))
                      for c in card.get("competencies", [])}


def candidates(store: ReceiverStore, job_ids: set[str] | None = None,
               session: tuple[str, str] | None = None) -> list[Candidate]:
    """The sessions of ``job_ids`` (every job when None), or the one ``session``."""
    sql = ("SELECT device_id, site, session_id, kind, envelope, received FROM messages"
           " WHERE kind IN ('session.state', 'session.report') AND session_id IS NOT NULL"
           " AND delivered_order IS NOT NULL")
    params: tuple[str, ...] = ()
    if session is not None:
        sql, params = sql + " AND device_id = ? AND session_id = ?", session
    found: dict[tuple[str, str], Candidate] = {}
    for r in store.all(sql + " ORDER BY device_id, session_id, session_seq", params):
        env = json.loads(r["envelope"])
        if env.get("drill"):
            continue
        key = (r["device_id"], r["session_id"])
        cand = found.setdefault(key, Candidate(r["device_id"], r["session_id"], r["site"]))
        _fold(cand, env, r["received"])
    names, gone = roster_names(store), erased(store)
    out = []
    for cand in found.values():
        if (job_ids is not None and cand.job_id not in job_ids) or cand.candidate_id in gone:
            continue
        cand.name = names.get((str(cand.job_id), str(cand.candidate_id)))
        out.append(cand)
    return out


def candidate(store: ReceiverStore, device_id: str, session_id: str) -> Candidate | None:
    found = candidates(store, session=(device_id, session_id))
    return found[0] if found else None


def recordings(store: ReceiverStore, device_id: str, session_id: str) -> list[dict[str, Any]]:
    """The session's uploads that central holds whole."""
    return store.all("SELECT id, content_type, bytes, completed FROM media WHERE device_id = ?"
                     " AND session_id = ? AND complete = 1 ORDER BY created, id",
                     (device_id, session_id))


def recording(store: ReceiverStore, media_id: str) -> dict[str, Any] | None:
    """One upload central holds whole: its box, session, file and type."""
    return store.one("SELECT id, device_id, session_id, path, content_type FROM media"
                     " WHERE id = ? AND complete = 1", (media_id,))


def decisions(store: ReceiverStore, device_id: str, session_id: str) -> list[dict[str, Any]]:
    return store.all("SELECT decision, reason, username, decided FROM console_decisions"
                     " WHERE device_id = ? AND session_id = ? ORDER BY decided",
                     (device_id, session_id))
