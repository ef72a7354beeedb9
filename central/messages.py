"""Storing messages from boxes: dedupe by id, then deliver each session in order.

A message is *stored* (durable, acknowledged) as soon as it arrives, and *delivered*
(given the next global ``delivered_order``) once every earlier message of its session
has been delivered: ``session_seq`` 1 goes at once, ``n`` waits for ``n - 1``. Messages
without a session (or without a ``session_seq``) are delivered on arrival. A delivered
message makes its events for the HR system in the same transaction
(:mod:`central.webhooks.events`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from central.store import Connection, ReceiverStore, row, rows, utc_now
from central.webhooks import events
from shared.canonical_json import dumps
from shared.contract import Envelope, Status

log = logging.getLogger(__name__)
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


def lock_key(device_id: str, session_id: str | None) -> int:
    """The advisory lock of one box's session (or of its messages without one)."""
    digest = hashlib.blake2b(f"{device_id}\x00{session_id or ''}".encode(),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def ingest(conn: Connection, envelope: Envelope, transport: str) -> Ingested:
    """Store one message inside the caller's transaction and deliver what became due."""
    return ingest_batch(conn, [envelope], transport)[0]


def ingest_batch(conn: Connection, envelopes: list[Envelope], transport: str) -> list[Ingested]:
    """Store messages inside the caller's transaction; results in the order given.

    Concurrent writers (several ingest workers on PostgreSQL) serialise per session on an
    advisory lock taken before anything of the session is read, so message ``n`` and
    ``n + 1`` stored at the same moment see each other. Locks are taken in one order
    (by key, then ``session_seq``) and the devices' counters are updated last, sorted by
    device, so two batches never wait on each other in a circle.
    """
    order = sorted(range(len(envelopes)), key=lambda i: (
        lock_key(envelopes[i].device_id, envelopes[i].session_id),
        envelopes[i].session_seq or 0, envelopes[i].seq))
    results: dict[int, Ingested] = {}
    heard: dict[str, tuple[str, str, int]] = {}
    locked: set[int] = set()
    now = utc_now()
    for i in order:
        envelope = envelopes[i]
        key = lock_key(envelope.device_id, envelope.session_id)
        if conn.dialect == "postgresql" and key not in locked:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (key,))
            locked.add(key)
        results[i] = _store(conn, envelope, transport, now)
        if results[i].outcome != "conflict":
            _, _, counted = heard.get(envelope.device_id, ("", "", 0))
            heard[envelope.device_id] = (envelope.tenant, envelope.site,
                                         counted + (results[i].outcome == "stored"))
    new = {device for device, (tenant, site, counted) in sorted(heard.items())
           if touch_device(conn, device, tenant, site, now, counted=counted)}
    first: set[str] = set()
    for i in range(len(envelopes)):  # "new device" once, on its first message
        device = envelopes[i].device_id
        if device in new and device not in first and results[i].outcome == "stored":
            first.add(device)
            results[i] = replace(results[i], new_device=True)
    # last, so the events lock is the last one taken (see central.webhooks.events)
    events.record(conn, [m for i in order for m in results[i].delivered], now)
    return [results[i] for i in range(len(envelopes))]


def _store(conn: Connection, envelope: Envelope, transport: str, now: str) -> Ingested:
    text = canonical(envelope)
    if envelope.session_id is not None and envelope.session_seq is not None:
        taken = row(conn, "SELECT message_id FROM messages WHERE device_id = ? AND session_id = ?"
                    " AND session_seq = ? AND message_id <> ?",
                    (envelope.device_id, envelope.session_id, envelope.session_seq,
                     envelope.message_id))
        if taken is not None and _stored_envelope(conn, envelope.message_id) is None:
            return Ingested(envelope.message_id, "conflict",
                            f"session_seq {envelope.session_seq} of session"
                            f" {envelope.session_id} is already taken by message"
                            f" {taken['message_id']}")
    inserted = conn.execute(
        "INSERT INTO messages (message_id, device_id, tenant, site, session_id, session_seq,"
        " seq, kind, envelope, received, transport) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (message_id) DO NOTHING",
        (envelope.message_id, envelope.device_id, envelope.tenant, envelope.site,
         envelope.session_id, envelope.session_seq, envelope.seq, envelope.kind, text, now,
         transport)).rowcount
    if inserted == 1:
        if envelope.kind == "retention.receipt":
            _discard_held(conn, envelope)
        return Ingested(envelope.message_id, "stored", delivered=_deliver(conn, envelope))
    # stored before (by this process or another): the same message again, or a reused id
    if _stored_envelope(conn, envelope.message_id) != text:
        return Ingested(envelope.message_id, "conflict",
                        f"message {envelope.message_id} is already stored with a different"
                        " content; a message id must never be reused")
    conn.execute("UPDATE messages SET copies = copies + 1 WHERE message_id = ?",
                 (envelope.message_id,))
    return Ingested(envelope.message_id, "duplicate")


def _discard_held(conn: Connection, receipt: Envelope) -> None:
    """A session purged on the box sends nothing more: the messages of it still held back
    for an earlier ``session_seq`` will never be completed, and the personal data they carry
    was promised deleted, so they go."""
    session = receipt.body.get("session_id")
    if not isinstance(session, str):
        return
    gone = conn.execute("DELETE FROM messages WHERE device_id = ? AND session_id = ?"
                        " AND delivered_order IS NULL", (receipt.device_id, session)).rowcount
    if gone:
        log.info("retention receipt %s: discarded %d held-back message(s) of session %s",
                 receipt.message_id, gone, session)


def _stored_envelope(conn: Connection, message_id: str) -> str | None:
    found = row(conn, "SELECT envelope FROM messages WHERE message_id = ?", (message_id,))
    return None if found is None else str(found["envelope"])


def _deliver(conn: Connection, envelope: Envelope) -> list[str]:
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


def _assign_order(conn: Connection, message_id: str) -> None:
    if conn.dialect == "postgresql":  # MAX() + 1 would race between workers
        conn.execute("UPDATE messages SET delivered_order = nextval('messages_delivered_order')"
                     " WHERE message_id = ?", (message_id,))
        return
    conn.execute("UPDATE messages SET delivered_order = (SELECT COALESCE(MAX(delivered_order), 0)"
                 " + 1 FROM messages) WHERE message_id = ?", (message_id,))


def touch_device(conn: Connection, device_id: str, tenant: str, site: str, now: str,
                 *, counted: int = 0) -> bool:
    """Record that a box was heard from (``counted`` new messages); True the first time
    it ever is. Safe under concurrent writers: the insert either creates the row or
    finds it, and the counter is added to in the row, never read and written back."""
    created = conn.execute(
        "INSERT INTO devices (device_id, tenant, site, first_seen, last_seen, messages)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO NOTHING",
        (device_id, tenant, site, now, now, counted)).rowcount == 1
    if not created:
        conn.execute("UPDATE devices SET tenant = ?, site = ?, last_seen = ?,"
                     " messages = messages + ? WHERE device_id = ?",
                     (tenant, site, now, counted, device_id))
    return created


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
        " delivered_order, received, message_id LIMIT ?", (*params, limit))
    for r in found:
        r["envelope"] = json.loads(r["envelope"])
    return found


def stats(store: ReceiverStore) -> dict[str, Any]:
    with store.read() as conn:
        totals = row(conn, "SELECT COUNT(*) AS stored, CAST(COALESCE(SUM(copies), 0) AS BIGINT)"
                     " AS copies,"
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
