"""The shapes of the local API's answers, as the terminal UI reads them (JSON, typed)."""

from __future__ import annotations

from typing import Any, TypedDict

#: Session states, in the order the interview goes through them.
STATES = ("invited", "checked_in", "consented", "in_progress", "paused", "completed",
          "terminated", "revoked", "expired", "declined")

#: Staff actions on sessions and what each does (the API's own wording).
CONSEQUENCES = {
    "pause": "The candidate is paused and gets a resume code; recorded answers are kept.",
    "resume": "The session continues where it stopped.",
    "terminate": "The candidate cannot continue; recorded answers are kept. Can be undone "
                 "for a short time.",
    "revoke": "The invitation is cancelled before the interview started.",
    "undo_terminate": "The terminated session becomes paused again, with a new resume code.",
}


class _SiteZone(TypedDict, total=False):
    time_zone: str  # the site's IANA zone; a box from before it was sent has none


class Whoami(_SiteZone):
    name: str
    role: str
    jobs: list[str]


class SessionRow(TypedDict, total=False):
    id: str
    candidate_id: str
    display_name: str | None
    job_id: str
    job_version: int
    state: str
    drill: bool
    important: bool
    position: int
    state_since: dict[str, Any] | None
    state_reason: str | None
    state_actor: str | None
    created: str
    #: when the retention purge removed its personal data (absent from an older kiosk-device)
    purged: str | None


class ActionState(TypedDict):
    available: bool
    why_not: str | None
    consequence: str


class SessionDetail(SessionRow, total=False):
    actions: dict[str, ActionState]
    answers: list[dict[str, Any]]


class AnswerAnalysis(TypedDict, total=False):
    """One answer of a session and its analysis (``GET .../sessions/{id}/analysis``)."""

    answer_id: str
    item_id: str
    #: ``question`` or ``demonstration`` (absent from an older kiosk-device)
    kind: str
    attempt: int
    answer_state: str
    #: ``not_scheduled``, ``pending``, ``running``, ``done`` or ``failed``
    status: str
    attempts: int | None
    error: str | None
    cpu_s: float | None
    #: 0-1, a spoken answer's once analysed; None when not known
    recognition_quality: float | None
    #: why a spoken answer's content is not assessed, as the report says it; None if it is
    not_assessed: str | None


class ActionOutcome(TypedDict):
    action: str
    consequence: str
    ok: list[dict[str, Any]]
    failed: list[dict[str, Any]]


class ReasonCount(TypedDict):
    action: str
    reason: str
    count: int


class AuditEntry(TypedDict):
    seq: int
    at: dict[str, Any]
    actor_role: str
    actor_name: str
    action: str
    subject: str | None
    reason: str | None
    details: Any


class AuditVerify(TypedDict):
    ok: bool
    entries: int
    problem: str | None


class Healthz(TypedDict, total=False):
    status: str
    device_id: str
    sessions_in_progress: int
    clock: dict[str, Any]
    storage: dict[str, Any]
    capture: dict[str, Any]
    system: dict[str, Any]
    analysis: dict[str, Any]


class Health(TypedDict, total=False):
    devices: dict[str, dict[str, Any]]
    system: dict[str, Any]
    models: list[dict[str, Any]]
    clock: dict[str, Any]
    alerts: int
    #: ``{enabled, pending, running, done, failed, last_failure}``
    analysis: dict[str, Any]
    #: ``{gate, languages, jobs, detail}``: the languages the box can analyse
    speech: dict[str, Any]
    uptime_s: float
    version: str


class SyncControl(TypedDict, total=False):
    paused: bool
    metered: bool
    metered_source: str
    bandwidth_kbps: int
    bandwidth_source: str
    retry_requested: str | None
    updated: str | None
    updated_by: str | None


class SyncStatus(TypedDict, total=False):
    links: list[dict[str, Any]]
    outbox_depth: dict[str, int]
    waiting: int
    oldest_unsent: dict[str, Any] | None
    last_success: str | None
    last_error: dict[str, Any] | None
    control: SyncControl


class SyncQueue(TypedDict):
    total: int
    items: list[dict[str, Any]]


class LogPage(TypedDict):
    service: str
    lines: list[dict[str, Any]]
    next: str


class Models(TypedDict):
    installed: list[dict[str, Any]]
    install: dict[str, Any]


class Provision(TypedDict, total=False):
    enrolled: bool
    device_id: str
    tenant: str
    site: str
    central_url: str | None
    certificate: dict[str, Any] | None
    missing: list[str]
    changed: bool
