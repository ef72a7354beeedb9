"""The append-only, hash-chained audit log.

Each row's hash covers its content and the previous row's hash; SQLite triggers refuse
UPDATE and DELETE; the chain's head (last seq and hash) is kept in ``meta`` and moved in
the same transaction, so an edited row, a deleted row or a cut-off tail is detected.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from device.clock import Stamp
from device.storage import meta
from device.storage.database import as_dicts, row, rows, stamp_json
from shared.canonical_json import dumps

GENESIS = "0" * 64
#: The ``meta`` key holding the chain's last entry, as ``seq:hash``.
HEAD_KEY = "audit_head"
ROLES = ("technician", "site_hr", "admin")


@dataclass(frozen=True)
class Actor:
    """Who did something: a staff role and token name, the candidate, or the system."""

    role: str
    name: str

    def label(self) -> str:
        return f"{self.role}:{self.name}"


SYSTEM = Actor("system", "kiosk")


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + dumps(fields)).encode()).hexdigest()


def append(
    db: Database,
    at: Stamp,
    actor: Actor,
    action: str,
    *,
    subject: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Append one entry inside the caller's transaction; return its sequence number."""
    head = meta.get(db, HEAD_KEY)
    if head is None:
        seq, prev = 1, GENESIS
    else:
        last_seq, prev = head.split(":", 1)
        seq = int(last_seq) + 1
    fields = {
        "seq": seq,
        "at": stamp_json(at),
        "actor_role": actor.role,
        "actor_name": actor.name,
        "action": action,
        "subject": subject,
        "reason": reason,
        "details": dumps(details or {}),
    }
    digest = _digest(prev, fields)
    db.execute(
        "INSERT INTO audit (seq, at, actor_role, actor_name, action, subject, reason, details,"
        " prev_hash, hash) VALUES (:seq, :at, :actor_role, :actor_name, :action, :subject,"
        " :reason, :details, :prev_hash, :hash)",
        {**fields, "prev_hash": prev, "hash": digest},
    )
    meta.put(db, HEAD_KEY, f"{seq}:{digest}")
    return seq


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    problem: str | None = None


def verify(db: Database) -> Verification:
    """Walk the whole chain; report the first row that does not fit."""
    prev = GENESIS
    expected_seq = 1
    cur = db.execute(
        "SELECT seq, at, actor_role, actor_name, action, subject, reason, details, prev_hash,"
        " hash FROM audit ORDER BY seq"
    )
    cols = [d[0] for d in cur.description]
    count = 0
    for values in cur:
        entry = dict(zip(cols, values, strict=True))
        seq = entry["seq"]
        if seq != expected_seq:
            return Verification(False, count, f"entry {expected_seq} is missing (next is {seq})")
        if entry["prev_hash"] != prev:
            return Verification(False, count, f"entry {seq} does not link to entry {seq - 1}")
        fields = {k: entry[k] for k in cols if k not in ("prev_hash", "hash")}
        if _digest(prev, fields) != entry["hash"]:
            return Verification(False, count, f"entry {seq} was altered after it was written")
        prev = entry["hash"]
        expected_seq += 1
        count += 1
    head = meta.get(db, HEAD_KEY)
    if head is not None:
        head_seq, head_hash = head.split(":", 1)
        if int(head_seq) != count or head_hash != prev:
            return Verification(
                False, count, f"the log ends at entry {count} but its head is entry {head_seq}"
            )
    elif count:
        return Verification(False, count, "the log has entries but no recorded head")
    return Verification(True, count)


def entries(
    db: Database,
    *,
    subject: str | None = None,
    action: str | None = None,
    limit: int = 200,
    before_seq: int | None = None,
) -> list[dict[str, Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if subject:
        clauses.append("subject = ?")
        params.append(subject)
    if action:
        clauses.append("action = ?")
        params.append(action)
    if before_seq:
        clauses.append("seq < ?")
        params.append(before_seq)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    cur = db.execute(
        f"SELECT seq, at, actor_role, actor_name, action, subject, reason, details"  # noqa: S608
        f" FROM audit {where} ORDER BY seq DESC LIMIT ?",
        (*params, limit),
    )
    out = []
    for entry in as_dicts(cur):
        entry["at"] = json.loads(entry["at"])
        entry["details"] = json.loads(entry["details"])
        out.append(entry)
    return out


def count(db: Database) -> int:
    """How many entries the log holds."""
    found = row(db, "SELECT count(*) AS n FROM audit")
    return int(found["n"]) if found else 0


@dataclass(frozen=True, slots=True)
class ReasonCount:
    """How often an action was taken for one reason (``reason`` is "" when none was given)."""

    action: str
    reason: str
    count: int


def reason_counts(db: Database, actions: Sequence[str], until_utc: str, days: int
                  ) -> list[ReasonCount]:
    """Entries of these actions in the ``days`` before ``until_utc``, counted by action and
    reason, most frequent first."""
    marks = ", ".join("?" * len(actions))
    found = rows(
        db,
        "SELECT action, coalesce(reason, '') AS reason, count(*) AS n FROM audit"  # noqa: S608
        f" WHERE action IN ({marks})"
        " AND julianday(?) - julianday(json_extract(at, '$.utc')) <= ?"
        " GROUP BY action, reason ORDER BY n DESC", (*actions, until_utc, days))
    return [ReasonCount(r["action"], r["reason"], int(r["n"])) for r in found]
