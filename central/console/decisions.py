"""A hiring manager's decision on a candidate: advance, reject or hold, with a reason.

The decision, its audit entry and the ``decision.recorded`` event for the HR system are
written in one transaction: all three are there, or none is.
"""

from __future__ import annotations

import uuid
from typing import Literal, get_args

from central.console import audit
from central.console.queries import Candidate
from central.console.users import User
from central.store import Connection, ReceiverStore, row, utc_now
from central.webhooks import events

Decision = Literal["advance", "reject", "hold"]
DECISIONS: tuple[Decision, ...] = get_args(Decision)
MAX_REASON = 2000


class DecisionError(ValueError):
    """A decision that cannot be recorded as given."""


def record(store: ReceiverStore, user: User, cand: Candidate, decision: str,
           reason: str) -> str:
    """Record ``user``'s decision on ``cand``; returns the decision's id. The caller has
    checked that ``user`` is a hiring manager responsible for the candidate's job."""
    reason = reason.strip()
    if decision not in DECISIONS:
        raise DecisionError(f"decision {decision!r}: one of {', '.join(DECISIONS)}")
    if not reason:
        raise DecisionError("a decision needs a reason")
    if len(reason) > MAX_REASON:
        raise DecisionError(f"the reason is longer than {MAX_REASON} characters")
    if cand.job_id is None or cand.candidate_id is None:
        raise DecisionError("this session has no job or candidate yet")
    decision_id, now = str(uuid.uuid4()), utc_now()

    def work(conn: Connection) -> None:
        found = row(conn, "SELECT tenant FROM messages WHERE device_id = ? AND session_id = ?"
                    " LIMIT 1", (cand.device_id, cand.session_id))
        tenant = str(found["tenant"]) if found else ""
        conn.execute("INSERT INTO console_decisions (decision_id, device_id, session_id, job_id,"
                     " candidate_id, decision, reason, username, decided) VALUES"
                     " (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (decision_id, cand.device_id, cand.session_id, cand.job_id,
                      cand.candidate_id, decision, reason, user.username, now))
        audit.append(conn, user, "decision.recorded", subject=cand.key, reason=reason,
                     details={"decision": decision, "decision_id": decision_id,
                              "job_id": cand.job_id, "candidate_id": cand.candidate_id})
        events.record_decision(conn, decision_id, tenant=tenant, site=cand.site,
                               device_id=cand.device_id, session_id=cand.session_id, now=now,
                               data={"decision_id": decision_id, "job_id": cand.job_id,
                                     "candidate_id": cand.candidate_id, "decision": decision,
                                     "reason": reason, "decided_by": user.username,
                                     "decided_at": now})

    store.retrying(work)
    return decision_id
