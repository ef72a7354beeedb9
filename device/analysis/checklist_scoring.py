"""Scoring a demonstration's checklist: the one rule the staff API and the staff page share.

Every point of the task must be given, nothing else; a checklist scored before is changed
only with a reason. The score, its audit entry (with the reason) and the revised report are
written in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from device import audit
from device.analysis import checklists
from device.analysis import worker as analysis
from device.central_link.outbox import Identity
from device.errors import NotFoundError, SessionRuleError
from device.jobs.installed import session_package
from device.jobs.models import DemonstrationTask
from device.sessions import session_rows
from device.staff.policy import Staff
from device.storage.database import Store


class ReasonRequiredError(SessionRuleError):
    """A checklist scored before is re-scored without saying why."""


@dataclass(frozen=True, slots=True)
class Scored:
    """What a scoring did: the points as given, and whether the report was rebuilt."""

    session_id: str
    item_id: str
    points: dict[str, bool]
    rescored: bool


def score_demonstration(store: Store, identity: Identity, staff: Staff, session_id: str,
                        item_id: str, points: Mapping[str, bool], reason: str | None
                        ) -> Scored:
    """Score ``item_id`` of ``session_id`` for ``staff`` (whose access the caller checked).

    Raises NotFoundError when the session has no such demonstration, SessionRuleError when
    points are missing or unknown, ReasonRequiredError when re-scoring without a reason."""
    given = dict(points)
    reason = (reason or "").strip() or None
    now = store.now()
    with store.transaction() as db:
        session = session_rows.get(db, session_id)
        if session is None:
            raise NotFoundError(f"no session {session_id}")
        package = session_package(db, session)
        task = next((i for i in package.items if i.id == item_id), None)
        if not isinstance(task, DemonstrationTask):
            raise NotFoundError(f"session {session_id} has no demonstration '{item_id}'")
        expected = {p.id for p in task.checklist}
        unknown = sorted(set(given) - expected)
        missing = sorted(expected - set(given))
        if unknown or missing:
            parts = ([f"unknown points: {', '.join(unknown)}"] if unknown else []) + \
                    ([f"missing points: {', '.join(missing)}"] if missing else [])
            raise SessionRuleError(f"checklist of '{item_id}': {'; '.join(parts)}"
                                   f" (the task's points: {', '.join(sorted(expected))})")
        had = checklists.scores(db, session_id, item_id)
        if had is not None and reason is None:
            raise ReasonRequiredError(
                "this checklist was already scored; give a reason to change it")
        checklists.score(db, session_id, item_id, given, staff.actor.label(), now)
        audit.append(db, now, staff.actor, "checklist.score", subject=session_id,
                     reason=reason, details={"item_id": item_id, "points": given,
                                             "previous": had})
        report = analysis.finalize(db, session, identity, now)
    return Scored(session_id, item_id, given, report is not None)
