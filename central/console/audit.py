"""The console's append-only, hash-chained audit log, as on the box (``device/audit.py``).

Every view of a candidate's personal data and every decision is appended here, in the
same transaction as what it records. Each entry's hash covers its content and the
previous entry's hash; the head (last seq and hash) is kept in ``console_audit_head`` and
moved in the same transaction, so an edited entry, a deleted one or a cut-off tail is
found by :func:`verify`. On PostgreSQL writers take an advisory lock first, so that two
consoles never link two entries to the same predecessor.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from central.console.users import User
from central.store import Connection, ReceiverStore, row, rows, utc_now
from shared.canonical_json import dumps

GENESIS = "0" * 64
_AUDIT_LOCK = 0x6b696f736b617564  # "kioskaud"
_FIELDS = ("seq", "at", "username", "role", "action", "subject", "reason", "details")


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + dumps(fields)).encode()).hexdigest()


def append(conn: Connection, user: User, action: str, *, subject: str | None = None,
           reason: str | None = None, details: dict[str, Any] | None = None) -> int:
    """Append one entry inside the caller's transaction; returns its sequence number."""
    if conn.dialect == "postgresql":
        conn.execute("SELECT pg_advisory_xact_lock(?)", (_AUDIT_LOCK,))
    head = row(conn, "SELECT seq, hash FROM console_audit_head WHERE one = 1")
    seq, prev = (1, GENESIS) if head is None else (int(head["seq"]) + 1, str(head["hash"]))
    fields: dict[str, Any] = {
        "seq": seq, "at": utc_now(), "username": user.username, "role": user.role,
        "action": action, "subject": subject, "reason": reason, "details": dumps(details or {}),
    }
    digest = _digest(prev, fields)
    conn.execute("INSERT INTO console_audit (seq, at, username, role, action, subject, reason,"
                 " details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (*(fields[k] for k in _FIELDS), prev, digest))
    if head is None:
        conn.execute("INSERT INTO console_audit_head (one, seq, hash) VALUES (1, ?, ?)",
                     (seq, digest))
    else:
        conn.execute("UPDATE console_audit_head SET seq = ?, hash = ? WHERE one = 1",
                     (seq, digest))
    return seq


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    problem: str | None = None


def verify(store: ReceiverStore) -> Verification:
    """Walk the whole chain; report the first entry that does not fit."""
    with store.read() as conn:
        entries = rows(conn, "SELECT seq, at, username, role, action, subject, reason, details,"
                       " prev_hash, hash FROM console_audit ORDER BY seq")
        head = row(conn, "SELECT seq, hash FROM console_audit_head WHERE one = 1")
    prev, count = GENESIS, 0
    for entry in entries:
        seq = int(entry["seq"])
        if seq != count + 1:
            return Verification(False, count, f"entry {count + 1} is missing (next is {seq})")
        if entry["prev_hash"] != prev:
            return Verification(False, count, f"entry {seq} does not link to entry {seq - 1}")
        fields = {k: (seq if k == "seq" else entry[k]) for k in _FIELDS}
        if _digest(prev, fields) != entry["hash"]:
            return Verification(False, count, f"entry {seq} was altered after it was written")
        prev, count = entry["hash"], count + 1
    head_seq, head_hash = (0, GENESIS) if head is None else (int(head["seq"]), head["hash"])
    if head_seq != count or head_hash != prev:
        return Verification(False, count,
                            f"the log ends at entry {count} but its head is entry {head_seq}")
    return Verification(True, count)


def recent(store: ReceiverStore, limit: int = 200) -> list[dict[str, Any]]:
    return store.all("SELECT seq, at, username, role, action, subject, reason FROM console_audit"
                     " ORDER BY seq DESC LIMIT ?", (limit,))
