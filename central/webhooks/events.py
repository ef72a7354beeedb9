"""Events for the HR system, derived from delivered messages in the same transaction.

=====================  ==========================================================
``interview.completed``  a session reached ``completed`` (``session.state``)
``report.ready``         a session's report was received, or a new revision of it
                         (``session.report``: after staff scored a checklist, …)
``decision.recorded``    a hiring manager recorded a decision on central's console
                         (:func:`record_decision`, in the decision's transaction)
=====================  ==========================================================

A drill's messages never make events. ``event_id`` is derived from the message id and
the event type, so the same message can never make two different events. ``sequence``
is global and increasing: on PostgreSQL, writers of events take one advisory lock so
that events commit in sequence order, and a poller's cursor never skips one that was
still being written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from central.store_types import Connection

TYPES: tuple[str, ...] = ("interview.completed", "report.ready", "decision.recorded")
_NAMESPACE = uuid.UUID("5f0c1d52-8a53-4c43-9a57-2f1b5a0c6e11")
_EVENTS_LOCK = 0x6b696f736b657674  # "kioskevt": serialises event writers on PostgreSQL


def derive(envelope: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The events one delivered message makes: ``[(type, data)]``."""
    if envelope.get("drill"):
        return []
    kind, body = envelope.get("kind"), envelope.get("body") or {}
    if kind == "session.state" and body.get("to") == "completed":
        return [("interview.completed", {
            "job_id": body.get("job_id"), "job_version": body.get("job_version"),
            "candidate_id": body.get("candidate_id")})]
    if kind == "session.report":
        card = body.get("scorecard") or {}
        return [("report.ready", {
            "revision": body.get("revision"),
            "job_id": card.get("job_id"), "package_version": card.get("package_version"),
            "complete": card.get("complete"), "pending": card.get("pending", []),
            "overall": card.get("overall"),
            "scale": {"min": card.get("min_score"), "max": card.get("max_score")},
            "competencies": [{"id": c.get("id"), "score": c.get("score"),
                              "status": c.get("status")}
                             for c in card.get("competencies", [])]})]
    return []


def event_id(message_id: str, kind: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{message_id}\x00{kind}"))


def record(conn: Connection, message_ids: Iterable[str], now: str) -> list[int]:
    """Make the events of newly delivered messages, each with a pending delivery to every
    active endpoint subscribed to its type; returns the new events' sequence numbers."""
    made: list[int] = []
    for message_id in message_ids:
        cur = conn.execute("SELECT envelope FROM messages WHERE message_id = ?", (message_id,))
        found = cur.fetchone()
        if found is None:
            continue
        envelope = json.loads(found[0])
        for kind, data in derive(envelope):
            if not made and conn.dialect == "postgresql":
                conn.execute("SELECT pg_advisory_xact_lock(?)", (_EVENTS_LOCK,))
            made += _insert(conn, envelope, kind, data, now)
    return made


def record_decision(conn: Connection, decision_id: str, *, tenant: str, site: str,
                    device_id: str, session_id: str, data: dict[str, Any], now: str
                    ) -> list[int]:
    """The ``decision.recorded`` event of a decision made on central (no box message is
    behind it: its ``message_id`` is the decision's id), with its pending deliveries."""
    if conn.dialect == "postgresql":
        conn.execute("SELECT pg_advisory_xact_lock(?)", (_EVENTS_LOCK,))
    envelope = {"message_id": decision_id, "tenant": tenant, "site": site,
                "device_id": device_id, "session_id": session_id,
                "recorded_at": {"utc": now}}
    return _insert(conn, envelope, "decision.recorded", data, now)


def _insert(conn: Connection, envelope: dict[str, Any], kind: str, data: dict[str, Any],
            now: str) -> list[int]:
    eid = event_id(envelope["message_id"], kind)
    subject = f"{envelope['device_id']}/{envelope.get('session_id') or ''}"
    inserted = conn.execute(
        "INSERT INTO events (event_id, type, tenant, site, device_id, session_id, subject,"
        " message_id, occurred_at, created, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (event_id) DO NOTHING",
        (eid, kind, envelope["tenant"], envelope["site"], envelope["device_id"],
         envelope.get("session_id"), subject, envelope["message_id"],
         (envelope.get("recorded_at") or {}).get("utc"), now,
         json.dumps(data, ensure_ascii=False, sort_keys=True))).rowcount
    if inserted != 1:
        return []
    seq = int(conn.execute("SELECT seq FROM events WHERE event_id = ?", (eid,)).fetchone()[0])
    endpoints = conn.execute("SELECT id, events FROM webhook_endpoints WHERE active = 1")
    for endpoint_id, types in endpoints.fetchall():
        if kind in str(types).split(","):
            conn.execute(
                "INSERT INTO webhook_deliveries (endpoint_id, event_seq, subject, state,"
                " attempts, next_attempt) VALUES (?, ?, ?, 'pending', 0, ?)",
                (endpoint_id, seq, subject, now))
    return [seq]


def to_json(row: dict[str, Any]) -> dict[str, Any]:
    """An event as consumers receive it (webhook body and pull API alike)."""
    return {
        "event_id": row["event_id"], "type": row["type"], "sequence": int(row["seq"]),
        "occurred_at": row["occurred_at"], "created_at": row["created"],
        "tenant": row["tenant"], "site": row["site"], "device_id": row["device_id"],
        "session_id": row["session_id"], "message_id": row["message_id"],
        "data": json.loads(row["data"]),
    }


COLUMNS = ("seq, event_id, type, tenant, site, device_id, session_id, message_id,"
           " occurred_at, created, data")


def after(conn: Connection, cursor: int, limit: int, types: tuple[str, ...] = ()
          ) -> list[dict[str, Any]]:
    """Events with a sequence above ``cursor``, oldest first (the pull API)."""
    where, params = "seq > ?", list[Any]([cursor])
    if types:
        where += f" AND type IN ({', '.join('?' for _ in types)})"
        params += list(types)
    cur = conn.execute(f"SELECT {COLUMNS} FROM events WHERE {where}"  # noqa: S608
                       " ORDER BY seq LIMIT ?", (*params, limit))
    names = [d[0] for d in cur.description]
    return [to_json(dict(zip(names, r, strict=True))) for r in cur.fetchall()]
