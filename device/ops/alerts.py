"""Alerts for staff: a device the box cannot work without is missing or stopped.

One open alert per kind (raising it again while it is open changes nothing); clearing
closes it. Each raise and clear is in the audit log, so the terminal UI and the audit
trail agree on what happened and when.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sqlite_utils import Database

from device import audit
from device.clock import Stamp
from device.storage.database import load_stamp, row, rows, stamp_json

#: Alert kinds the capture raises.
KINDS = ("microphone-missing", "microphone-lost", "camera-missing", "camera-lost")


def raise_alert(db: Database, kind: str, detail: str, now: Stamp,
                session_id: str | None = None) -> str | None:
    """Open an alert of ``kind``; None when one is already open."""
    if row(db, "SELECT id FROM alerts WHERE kind = ? AND cleared IS NULL", (kind,)):
        return None
    alert_id = uuid.uuid4().hex
    db.execute("INSERT INTO alerts (id, kind, detail, session_id, raised) VALUES (?, ?, ?, ?, ?)",
               (alert_id, kind, detail, session_id, stamp_json(now)))
    audit.append(db, now, audit.SYSTEM, "device.alert", subject=session_id,
                 details={"kind": kind, "detail": detail, "alert_id": alert_id})
    return alert_id


def clear_alerts(db: Database, now: Stamp, *kinds: str, reason: str = "device works again"
                 ) -> int:
    """Close open alerts of these kinds; returns how many were closed."""
    marks = ", ".join("?" * len(kinds))
    sql = f"SELECT id, kind FROM alerts WHERE cleared IS NULL AND kind IN ({marks})"  # noqa: S608
    found = rows(db, sql, kinds)
    for alert in found:
        db.execute("UPDATE alerts SET cleared = ? WHERE id = ?", (stamp_json(now), alert["id"]))
        audit.append(db, now, audit.SYSTEM, "device.alert_cleared", reason=reason,
                     details={"kind": alert["kind"], "alert_id": alert["id"]})
    return len(found)


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An open alert; ``raised`` is when (UTC), as staff see it."""

    id: str
    kind: str
    detail: str
    session_id: str | None
    raised: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def open_alerts(db: Database) -> list[AlertRow]:
    """The alerts not cleared, oldest first."""
    return [_alert(a) for a in rows(
        db, "SELECT * FROM alerts WHERE cleared IS NULL ORDER BY raised, id")]


def _alert(found: dict[str, Any]) -> AlertRow:
    raised = load_stamp(found["raised"])
    return AlertRow(id=found["id"], kind=found["kind"], detail=found["detail"],
                    session_id=found["session_id"], raised=raised.utc if raised else None)
