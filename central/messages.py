"""Storing messages from boxes: dedupe by id, then deliver each session in order.

A message is *stored* (durable, acknowledged) as soon as it arrives, and *delivered*
(given the next global ``delivered_order``) once every earlier message of its session
has been delivered: ``session_seq`` 1 goes at once, ``n`` waits for ``n - 1``. Messages
without a session (or without a ``session_seq``) are delivered on arrival.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Literal

from central.store import ReceiverStore, row, rows, utc_now
from device.contract import Envelope, Status
from device.store import dumps

Outcome = Literal["stored", "duplicate", "conflict"]


@dataclass(frozen=True)
class Ingested:
    """What happened to one message: newly ``stored``, a ``duplicate``, or a ``conflict``."""

    message_id: str
    outcome: Outcome
    reason: str = ""
    delivered: list[str] = field(default_factory=list)
    new_device: bool = False

    @property
    def acked(self) -> bool:
        """Whether central holds this message (stored now or before)."""
        return self.outcome != "conflict"


def canonical(envelope: Envelope) -> str:
    return dumps(envelope.model_dump(mode="json"))


def ingest(conn: sqlite3.Connection, envelope: Envelope, transport: str) -> Ingested:
    """Store one message inside the caller's transaction and deliver what became due."""
    text = canonical(envelope)
    now = utc_now()
    existing = row(conn, "SELECT envelope FROM messages WHERE message_id = ?",
                   (envelope.message_id,))
    if existing is not None:
        if existing["envelope"] != text:
            return Ingested(envelope.message_id, "conflict",
                            f"message {envelope.message_id} is already stored with a different"
                            " content; a message id must never be reused")
        conn.execute("UPDATE messages SET copies = copies + 1 WHERE message_id = ?",
                     (envelope.message_id,))
        touch_device(conn, envelope.device_id, envelope.tenant, envelope.site, now)
        return Ingested(envelope.message_id, "duplicate")
    if envelope.session_id is not None and envelope.session_seq is not None:
        taken = row(conn, "SELECT message_id FROM messages WHERE device_id = ? AND session_id = ?"
                    " AND session_seq = ?",
                    (envelope.device_id, envelope.session_id, envelope.session_seq))
        if taken is not None:
            return Ingested(envelope.message_id, "conflict",
                            f"session_seq {envelope.session_seq} of session"
                            f" {envelope.session_id} is already taken by message"
                            f" {taken['message_id']}")
    conn.execute(
        "INSERT INTO messages (message_id, device_id, tenant, site, session_id, session_seq,"
        " seq, kind, envelope, received, transport) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (envelope.message_id, envelope.device_id, envelope.tenant, envelope.site,
         envelope.session_id, envelope.session_seq, envelope.seq, envelope.kind, text, now,
         transport))
    new_device = touch_device(conn, envelope.device_id, envelope.tenant, envelope.site, now,
                              counted=True)
    return Ingested(envelope.message_id, "stored", delivered=_deliver(conn, envelope),
                    new_device=new_device)


def _deliver(conn: sqlite3.Connection, envelope: Envelope) -> list[str]:
    # A session belongs to the box that ran it: its order is kept per (device, session).
    device, session, n = envelope.device_id, envelope.session_id, envelope.session_seq
    if session is None or n is None:
        _assign_order(conn, envelope.message_id)
        return [envelope.message_id]
    if n > 1:
        before = row(conn, "SELECT delivered_order FROM messages WHERE device_id = ?"
                     " AND session_id = ? AND session_seq = ?", (device, session, n - 1))
        if before is None or before["delivered_order"] is None:
            return []  # held back until its predecessor arrives
    delivered: list[str] = []
    while True:
        nxt = row(conn, "SELECT message_id FROM messages WHERE device_id = ? AND session_id = ?"
                  " AND session_seq = ? AND delivered_order IS NULL", (device, session, n))
        if nxt is None:
            return delivered
        _assign_order(conn, nxt["message_id"])
        delivered.append(nxt["message_id"])
        n += 1


def _assign_order(conn: sqlite3.Connection, message_id: str) -> None:
    conn.execute("UPDATE messages SET delivered_order = (SELECT COALESCE(MAX(delivered_order), 0)"
                 " + 1 FROM messages) WHERE message_id = ?", (message_id,))


def touch_device(conn: sqlite3.Connection, device_id: str, tenant: str, site: str, now: str,
                 *, counted: bool = False) -> bool:
    """Record that a box was heard from; True the first time it ever is."""
    known = row(conn, "SELECT 1 AS k FROM devices WHERE device_id = ?", (device_id,))
    conn.execute(
        "INSERT INTO devices (device_id, tenant, site, first_seen, last_seen, messages)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET tenant ="
        " excluded.tenant, site = excluded.site, last_seen = excluded.last_seen,"
        " messages = messages + excluded.messages",
        (device_id, tenant, site, now, now, 1 if counted else 0))
    return known is None


def record_status(store: ReceiverStore, tenant: str, site: str, status: Status) -> bool:
    """Keep a box's last link status; True when the box was never seen before."""
    now = utc_now()
    with store.transaction() as conn:
        new = touch_device(conn, status.device_id, tenant, site, now)
        conn.execute("UPDATE devices SET status = ?, status_at = ? WHERE device_id = ?",
                     (dumps(status.model_dump(mode="json")), now, status.device_id))
    return new


# -- reading -------------------------------------------------------------------------------

def list_messages(store: ReceiverStore, *, device_id: str | None = None,
                  session_id: str | None = None, kind: str | None = None,
                  limit: int = 10_000) -> list[dict[str, Any]]:
    """Stored messages in delivery order; held-back (undelivered) ones last."""
    where, params = [], []
    for column, value in (("device_id", device_id), ("session_id", session_id), ("kind", kind)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    columns = ("message_id, device_id, tenant, site, session_id, session_seq, seq, kind,"
               " received, transport, delivered_order, copies, envelope")
    found = store.all(
        f"SELECT {columns} FROM messages {clause} ORDER BY delivered_order IS NULL,"  # noqa: S608
        " delivered_order, rowid LIMIT ?", (*params, limit))
    for r in found:
        r["envelope"] = json.loads(r["envelope"])
    return found


def stats(store: ReceiverStore) -> dict[str, Any]:
    with store.read() as conn:
        totals = row(conn, "SELECT COUNT(*) AS stored, COALESCE(SUM(copies), 0) AS copies,"
                     " COUNT(delivered_order) AS delivered FROM messages")
        media = row(conn, "SELECT COUNT(*) AS n FROM media WHERE complete = 1")
        devices = rows(conn, "SELECT device_id, tenant, site, first_seen, last_seen, messages,"
                       " status, status_at FROM devices ORDER BY device_id")
    assert totals is not None and media is not None
    return {
        "stored": totals["stored"],
        "copies": totals["copies"],
        "duplicates": totals["copies"] - totals["stored"],
        "delivered": totals["delivered"],
        "held_back": totals["stored"] - totals["delivered"],
        "devices": {d.pop("device_id"): {**d, "status": json.loads(d["status"])
                                         if d["status"] else None} for d in devices},
        "media_complete": media["n"],
    }


def device_location(store: ReceiverStore, device_id: str) -> tuple[str, str] | None:
    """The tenant and site a box last reported, when it has been heard from."""
    found = store.one("SELECT tenant, site FROM devices WHERE device_id = ?", (device_id,))
    return None if found is None else (found["tenant"], found["site"])
