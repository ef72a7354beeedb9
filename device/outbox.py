"""The transactional outbox: the only queue of messages to central that counts.

A message is written in the same transaction as the change it announces. The sync
agent reads rows in order and marks them done only when central acknowledges them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from device.clock import Stamp, elapsed_s
from device.contract import PRIORITY, Envelope, MessageKind, StampModel
from device.store import dumps, load_stamp, row, rows, stamp_json


@dataclass(frozen=True)
class Identity:
    device_id: str
    tenant: str
    site: str


def next_message_seq(db: Database) -> int:
    found = row(
        db,
        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'message_seq'"
        " RETURNING value",
    )
    assert found is not None, "meta.message_seq is created by the first migration"
    return int(found["value"])


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
    db.execute(
        "INSERT INTO outbox (message_id, kind, session_id, priority, payload, created, hold_until)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            message_id,
            kind,
            session_id,
            PRIORITY[kind],
            dumps(envelope.model_dump(mode="json")),
            stamp_json(at),
            stamp_json(hold_until) if hold_until else None,
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


def pending(db: Database, now: Stamp, limit: int = 100) -> list[dict[str, Any]]:
    """Unacknowledged messages that may be sent now, in delivery order."""
    found = rows(
        db,
        "SELECT seq, message_id, kind, session_id, priority, payload, hold_until, status,"
        " attempts FROM outbox WHERE status != 'acked' ORDER BY priority, seq LIMIT ?",
        (limit * 4,),
    )
    due = [r for r in found if is_due(load_stamp(r["hold_until"]), now)]
    for r in due:
        r["payload"] = json.loads(r["payload"])
    return due[:limit]


def depth(db: Database) -> dict[str, int]:
    """Unacknowledged messages by kind."""
    return {
        r["kind"]: r["n"]
        for r in rows(
            db, "SELECT kind, count(*) AS n FROM outbox WHERE status != 'acked' GROUP BY kind"
        )
    }
