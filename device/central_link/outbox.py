"""The transactional outbox: the only queue of messages to central that counts.

A message is written in the same transaction as the change it announces. The sync
agent reads rows in order and marks them done only when central acknowledges them.

The only module that reads or writes ``outbox`` and ``session_seqs``: the engine enqueues,
the sync agent claims and settles, staff see the queue, and the storage budget prunes
delivered rows, all through it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from device.clock import Stamp, elapsed_s
from device.storage import media, meta
from device.storage.database import load_stamp, row, rows, stamp_json
from shared.canonical_json import dumps
from shared.contract import PRIORITY, Envelope, MessageKind, StampModel


@dataclass(frozen=True)
class Identity:
    """Who the box is to central: its device id, tenant and site (topics and envelopes)."""

    device_id: str
    tenant: str
    site: str


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A message as delivery order sees it: its order keys, hold and status, not its bytes."""

    seq: int
    message_id: str
    kind: str
    session_id: str | None
    priority: int
    hold_until: Stamp | None
    status: str


_ROW = "seq, message_id, kind, session_id, priority, hold_until, status"


def _outbox_row(r: dict[str, Any]) -> OutboxRow:
    return OutboxRow(seq=r["seq"], message_id=r["message_id"], kind=r["kind"],
                     session_id=r["session_id"], priority=r["priority"],
                     hold_until=load_stamp(r["hold_until"]), status=r["status"])


def next_message_seq(db: Database) -> int:
    found = meta.increment(db, "message_seq")
    assert found is not None, "meta.message_seq is created by the first migration"
    return found


def enqueue(
    db: Database,
    identity: Identity,
    at: Stamp,
    kind: MessageKind,
    body: dict[str, Any],
    *,
    session_id: str | None = None,
    drill: bool = False,
    hold_until: Stamp | None = None,
) -> str:
    """Write one message inside the caller's transaction; return its message id.

    ``hold_until`` keeps the message back until then (a terminate that may still be
    undone); it is measured like every duration on the box, see :func:`is_due`.
    """
    seq = next_message_seq(db)
    message_id = f"{identity.device_id}:{seq:012d}"
    envelope = Envelope(
        message_id=message_id,
        kind=kind,
        device_id=identity.device_id,
        tenant=identity.tenant,
        site=identity.site,
        seq=seq,
        session_id=session_id,
        drill=drill,
        recorded_at=StampModel(**at.to_dict()),
        body=body,
    )
    payload = dumps(envelope.model_dump(mode="json", exclude={"session_seq"}))
    db.execute(
        "INSERT INTO outbox (message_id, kind, session_id, priority, payload, created, hold_until,"
        " bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            message_id,
            kind,
            session_id,
            PRIORITY[kind],
            payload,
            stamp_json(at),
            stamp_json(hold_until) if hold_until else None,
            len(payload.encode()),
        ),
    )
    return message_id


def is_due(hold_until: Stamp | None, now: Stamp) -> bool:
    """Whether a held message may go: its hold has passed, or cannot be measured."""
    if hold_until is None:
        return True
    waited = elapsed_s(hold_until, now)
    # Across a reboot with an unsynchronised clock the hold cannot be measured; the
    # session it protects can no longer be undone either, so the message goes.
    return waited is None or waited >= 0


def pending(db: Database, now: Stamp, limit: int = 100) -> list[OutboxRow]:
    """Unacknowledged messages that may be sent now, in delivery order."""
    found = [_outbox_row(r) for r in rows(
        db, f"SELECT {_ROW} FROM outbox WHERE status != 'acked' ORDER BY priority, seq"  # noqa: S608 - fixed names
        " LIMIT ?", (limit * 4,))]
    return [r for r in found if is_due(r.hold_until, now)][:limit]


def depth(db: Database) -> dict[str, int]:
    """Unacknowledged messages by kind."""
    return {
        r["kind"]: r["n"]
        for r in rows(
            db, "SELECT kind, count(*) AS n FROM outbox WHERE status IN ('pending', 'sent')"
            " GROUP BY kind"
        )
    }


# -- delivery (used by the sync agent) ----------------------------------------------------

@dataclass(frozen=True)
class Outgoing:
    """One message on its way: the row's order keys and the exact bytes to send."""

    seq: int
    message_id: str
    kind: str
    session_id: str | None
    session_seq: int | None
    payload: bytes


def next_batch(
    db: Database, now: Stamp, limit: int, in_flight: Collection[str] = (),
    *, metered: bool = False, held: Collection[str] = (),
) -> list[OutboxRow]:
    """Rows that may be sent now, in delivery order (priority, then outbox order).

    Only ``pending`` rows are candidates: a ``sent`` row is in flight on the current
    connection (the agent puts rows back to ``pending`` with :func:`release` when their
    connection or their ack timeout is gone). A session's messages go strictly in outbox
    order: a message waits while an earlier one of its session is neither acknowledged,
    nor in flight, nor chosen before it in this batch (a held terminate holds back the
    report that follows it). ``held`` names messages not to send now (waiting out a retry
    delay); they hold back their session's later messages too. In metered mode media
    stays queued.
    """
    if limit <= 0:
        return []
    busy = set(in_flight)
    scan = [_outbox_row(r) for r in rows(
        db, f"SELECT {_ROW} FROM outbox WHERE status = 'pending' ORDER BY priority, seq"  # noqa: S608 - fixed names
        " LIMIT ?", (limit + len(busy) + len(held) + 64,))]
    sessions = sorted({r.session_id for r in scan if r.session_id})
    earlier: dict[str, list[OutboxRow]] = {}
    for chunk in _chunks(sessions, 500):
        marks = ",".join("?" * len(chunk))
        for found in rows(db, f"SELECT {_ROW} FROM outbox WHERE status = 'pending'"  # noqa: S608
                      f" AND session_id IN ({marks}) ORDER BY seq", tuple(chunk)):
            message = _outbox_row(found)
            earlier.setdefault(str(message.session_id), []).append(message)
    # A session whose next message lies beyond the scan (a report, behind which its later
    # state changes wait) would block those rows for ever: its head is a candidate too.
    seen = {r.message_id for r in scan}
    heads = [e[0] for e in earlier.values() if e and e[0].message_id not in seen]
    if heads:
        scan = sorted([*scan, *heads], key=lambda r: (r.priority, r.seq))
    chosen: list[OutboxRow] = []
    waiting = [r for r in scan if r.message_id not in busy and r.message_id not in held
               and not (metered and r.kind == "media")
               and is_due(r.hold_until, now)]

    def free(r: OutboxRow) -> bool:
        sid = r.session_id
        return not (sid and any(e.seq < r.seq and e.message_id not in busy
                                for e in earlier.get(sid, ())))

    while waiting and len(chosen) < limit:
        # Take the first free message in priority order; choosing it can free the next one
        # of its session, so look again from the top.
        first = next((i for i, r in enumerate(waiting) if free(r)), None)
        if first is None:
            break
        r = waiting.pop(first)
        chosen.append(r)
        busy.add(r.message_id)
    return chosen


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def number(db: Database, message_ids: Sequence[str]) -> dict[str, int]:
    """Give each of these messages its place in its session (``session_seq``), in the order
    named, unless it has one already; returns the places of the messages of a session.

    The agent numbers a batch as :func:`next_batch` chose it (a session's messages in outbox
    order), before it sends any of it or uploads a recording's file: so the places follow the
    order the box wrote the messages in, even for a ``media`` message that goes only after
    its upload, while the session's later messages are already on their way.
    """
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(list(message_ids), 500):
        marks = ",".join("?" * len(chunk))
        for r in rows(db, "SELECT message_id, session_id, session_seq FROM outbox"  # noqa: S608
                      f" WHERE status != 'acked' AND message_id IN ({marks})", tuple(chunk)):
            found[r["message_id"]] = r
    places: dict[str, int] = {}
    for message_id in message_ids:  # in the caller's order: a session's numbers follow it
        item = found.get(message_id)
        if item is None or not item["session_id"]:
            continue
        if item["session_seq"] is not None:
            places[message_id] = int(item["session_seq"])
            continue
        counter = row(db, "INSERT INTO session_seqs (session_id, last) VALUES (?, 1)"
                      " ON CONFLICT (session_id) DO UPDATE SET last = last + 1"
                      " RETURNING last", (item["session_id"],))
        assert counter is not None
        places[message_id] = int(counter["last"])
        db.execute("UPDATE outbox SET session_seq = ? WHERE message_id = ?",
                   (places[message_id], message_id))
    return places


def claim(db: Database, message_ids: Sequence[str], now: Stamp) -> list[Outgoing]:
    """Mark rows as sent (inside the caller's transaction) and return what to send.

    A message keeps the place in its session (``session_seq``) it was given by
    :func:`number` (numbered here if it has none yet) for every resend, so central can put a
    session's messages back in order whatever the network did to them.
    """
    if not message_ids:
        return []
    places = number(db, message_ids)
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(list(message_ids), 500):
        marks = ",".join("?" * len(chunk))
        for r in rows(db, "SELECT seq, message_id, kind, session_id, payload"  # noqa: S608
                      f" FROM outbox WHERE status != 'acked' AND message_id IN ({marks})",
                      tuple(chunk)):
            found[r["message_id"]] = r
    out: list[Outgoing] = []
    at = stamp_json(now)
    for message_id in message_ids:
        item = found.get(message_id)
        if item is None:
            continue
        session_seq = places.get(message_id)
        payload: str = item["payload"]
        if session_seq is not None:  # the stored envelope, with its place in the session
            payload = f'{payload[:-1]},"session_seq":{session_seq}}}'
        out.append(Outgoing(item["seq"], message_id, item["kind"], item["session_id"], session_seq,
                            payload.encode()))
    db.conn.executemany("UPDATE outbox SET status = 'sent', attempts = attempts + 1,"
                        " last_attempt = ? WHERE message_id = ?",
                        [(at, o.message_id) for o in out])
    return out


def release(db: Database, message_ids: Iterable[str] | None = None) -> None:
    """Sent but not acknowledged: back to ``pending``, to be sent again.

    For every row when the connection they went out on is gone (``None``), or for the
    named rows when their ack is overdue or they wait out a retry delay.
    """
    if message_ids is None:
        db.execute("UPDATE outbox SET status = 'pending' WHERE status = 'sent'")
        return
    db.conn.executemany("UPDATE outbox SET status = 'pending' WHERE message_id = ?"
                        " AND status = 'sent'", [(m,) for m in message_ids])


def mark_acked(db: Database, message_ids: Iterable[str], now: Stamp) -> int:
    """Central has these messages: finish their rows. Returns how many were newly done.

    Unknown and already acknowledged ids are ignored (acks can be late or duplicated).
    A ``media`` message's ack also marks its recording as held by central.
    """
    done = 0
    at = stamp_json(now)
    for message_id in message_ids:
        r = row(db, "UPDATE outbox SET status = 'acked', acked = ?, last_error = NULL"
                " WHERE message_id = ? AND status != 'acked' RETURNING kind, payload",
                (at, message_id))
        if r is None:
            continue
        done += 1
        if r["kind"] == "media":
            media_id = json.loads(r["payload"])["body"].get("media_id")
            media.mark_acked(db, media_id, now)
    return done


def record_error(db: Database, message_id: str, error: str) -> None:
    """Keep the row and say why it has not gone (central refused it, the link failed)."""
    db.execute("UPDATE outbox SET last_error = ? WHERE message_id = ? AND status != 'acked'",
               (error[:500], message_id))


def message_body(db: Database, message_id: str) -> dict[str, Any]:
    """The ``body`` of a stored message (the agent reads a ``media`` message's before its
    upload)."""
    found = row(db, "SELECT payload FROM outbox WHERE message_id = ?", (message_id,))
    if found is None:
        raise LookupError(f"no message {message_id} in the outbox")
    body: dict[str, Any] = json.loads(found["payload"])["body"]
    return body


def has_undelivered(db: Database) -> bool:
    """Whether any message still waits for central's ack."""
    return row(db, "SELECT 1 AS x FROM outbox WHERE status IN ('pending', 'sent') LIMIT 1"
               ) is not None


def announced_media(db: Database, session_id: str) -> set[str]:
    """Media ids a ``media`` message of the session names already, delivered or not."""
    return {r["media_id"] for r in rows(
        db, "SELECT json_extract(payload, '$.body.media_id') AS media_id FROM outbox"
        " WHERE kind = 'media' AND session_id = ?", (session_id,))}


# -- for staff: the queue as it stands ------------------------------------------------------

@dataclass(frozen=True, slots=True)
class QueuedRow:
    """A message not yet acknowledged by central, as staff see it."""

    message_id: str
    kind: str
    session_id: str | None
    status: str
    attempts: int
    created: Stamp | None
    last_error: str | None
    hold_until: Stamp | None


_QUEUED = "message_id, kind, session_id, status, attempts, created, last_error, hold_until"


def _queued(r: dict[str, Any]) -> QueuedRow:
    return QueuedRow(
        message_id=r["message_id"], kind=r["kind"], session_id=r["session_id"],
        status=r["status"], attempts=r["attempts"], created=load_stamp(r["created"]),
        last_error=r["last_error"], hold_until=load_stamp(r["hold_until"]))


def queue(db: Database, kind: str | None, limit: int) -> tuple[int, list[QueuedRow]]:
    """How many messages (of ``kind``, or all) wait for central's ack, and the first
    ``limit`` of them in delivery order."""
    where = "status != 'acked' AND (? IS NULL OR kind = ?)"
    total = row(db, f"SELECT count(*) AS n FROM outbox WHERE {where}", (kind, kind))  # noqa: S608 - fixed text
    found = rows(db, f"SELECT {_QUEUED} FROM outbox WHERE {where}"  # noqa: S608 - fixed text
                 " ORDER BY priority, seq LIMIT ?", (kind, kind, limit))
    return (total["n"] if total else 0), [_queued(r) for r in found]


def oldest_unsent(db: Database) -> QueuedRow | None:
    """The oldest message central has not acknowledged, by outbox order."""
    found = row(db, f"SELECT {_QUEUED} FROM outbox WHERE status != 'acked'"  # noqa: S608 - fixed names
                " ORDER BY seq LIMIT 1")
    return None if found is None else _queued(found)


def last_acked_utc(db: Database) -> str | None:
    """UTC time (ISO 8601) of central's latest acknowledgement still kept in the outbox."""
    found = row(db, "SELECT max(json_extract(acked, '$.utc')) AS at FROM outbox"
                " WHERE status = 'acked'")
    return found["at"] if found else None


# -- withdrawing messages -------------------------------------------------------------------

def held(db: Database, session_id: str) -> list[OutboxRow]:
    """A session's messages kept back by a hold (a terminate that may still be undone)."""
    return [_outbox_row(r) for r in rows(
        db, f"SELECT {_ROW} FROM outbox WHERE session_id = ? AND hold_until IS NOT NULL",  # noqa: S608 - fixed names
        (session_id,))]


def withdraw_held(db: Database, session_id: str) -> None:
    """Delete a session's held messages (the terminate they announce was undone)."""
    db.execute("DELETE FROM outbox WHERE session_id = ? AND hold_until IS NOT NULL",
               (session_id,))


def delete_of_sessions(db: Database, session_ids: Sequence[str], *, acked: bool) -> int:
    """Delete the messages of these sessions central acknowledged (``acked``), or those it
    has not; returns how many."""
    marks = ",".join("?" * len(session_ids))
    status = "status = 'acked'" if acked else "status != 'acked'"
    return int(db.execute(f"DELETE FROM outbox WHERE {status} AND session_id IN ({marks})",  # noqa: S608
                          tuple(session_ids)).rowcount)


# --- retention (the storage budget) ---------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AckedRow:
    """A delivered message, as retention sees it: its place, when central acked it, its size."""

    seq: int
    acked: Stamp | None
    bytes: int


def unacked_bytes(db: Database) -> int:
    """Bytes of the messages central has not acknowledged yet."""
    found = row(db, "SELECT COALESCE(SUM(bytes), 0) AS total FROM outbox WHERE status != 'acked'")
    return int(found["total"]) if found else 0


def acked_after(db: Database, after_seq: int, limit: int) -> list[AckedRow]:
    """Up to ``limit`` acknowledged messages after ``after_seq``, in outbox order."""
    return [AckedRow(r["seq"], load_stamp(r["acked"]), int(r["bytes"])) for r in rows(
        db, "SELECT seq, acked, bytes FROM outbox WHERE status = 'acked' AND seq > ?"
        " ORDER BY seq LIMIT ?", (after_seq, limit))]


def delete_acked(db: Database, seqs: Sequence[int]) -> int:
    """Delete these messages if they are acknowledged; how many went."""
    marks = ",".join("?" * len(seqs))
    return len(rows(db, f"DELETE FROM outbox WHERE status = 'acked'"  # noqa: S608
                    f" AND seq IN ({marks}) RETURNING seq", tuple(seqs)))
