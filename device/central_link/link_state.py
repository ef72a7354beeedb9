"""The link's state, written to the store for staff (TUI, ``/metrics``, ``kiosk sync status``).

Written when the state changes and at most once a second otherwise, so a busy link does
not turn into a stream of writes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from device.clock import Stamp
from device.storage.database import Store, load_stamp, stamp_json

STATES = ("starting", "connecting", "online", "offline", "stopped")


@dataclass
class LinkState:
    transport: str
    state: str = "starting"
    detail: str | None = None
    reconnects: int = 0
    sent: int = 0
    acked: int = 0
    #: When central last acked a message, and the last failure (lost link, refused
    #: message) with its time; kept in the store across restarts of the agent.
    last_ack: Stamp | None = None
    last_error: str | None = None
    last_error_at: Stamp | None = None
    _written: float = field(default=0.0, repr=False)
    _dirty: bool = field(default=True, repr=False)

    def set(self, state: str, detail: str | None = None) -> None:
        if state != self.state or detail != self.detail:
            self.state, self.detail, self._dirty = state, detail, True
            self._written = 0.0  # a change is written at once

    def count(self, *, sent: int = 0, acked: int = 0) -> None:
        if sent or acked:
            self.sent += sent
            self.acked += acked
            self._dirty = True

    def note_ack(self, at: Stamp) -> None:
        self.last_ack, self._dirty = at, True

    def note_error(self, message: str, at: Stamp) -> None:
        self.last_error, self.last_error_at, self._dirty = message[:500], at, True
        self._written = 0.0  # a failure is shown at once

    def flush(self, store: Store, force: bool = False) -> None:
        now = time.monotonic()
        if not self._dirty or (not force and now - self._written < 1.0):
            return
        at = stamp_json(store.now())
        with store.transaction() as db:
            previous = db.execute("SELECT state FROM sync_link WHERE transport = ?",
                                  (self.transport,)).fetchone()
            since = at if previous is None or previous[0] != self.state else None
            db.execute(
                "INSERT INTO sync_link (transport, state, since, detail, reconnects, sent, acked,"
                " updated, last_ack, last_error, last_error_at) VALUES (:t, :state, :since,"
                " :detail, :reconnects, :sent, :acked, :at, :last_ack, :last_error,"
                " :last_error_at)"
                " ON CONFLICT (transport) DO UPDATE SET state = :state,"
                " since = coalesce(:since_change, since), detail = :detail,"
                " reconnects = :reconnects, sent = :sent, acked = :acked, updated = :at,"
                " last_ack = coalesce(:last_ack, last_ack),"
                " last_error = coalesce(:last_error, last_error),"
                " last_error_at = coalesce(:last_error_at, last_error_at)",
                {"t": self.transport, "state": self.state, "since": since or at,
                 "since_change": since, "detail": self.detail, "reconnects": self.reconnects,
                 "sent": self.sent, "acked": self.acked, "at": at,
                 "last_ack": _json(self.last_ack), "last_error": self.last_error,
                 "last_error_at": _json(self.last_error_at)})
        self._written, self._dirty = now, False


def _json(stamp: Stamp | None) -> str | None:
    return None if stamp is None else stamp_json(stamp)


@dataclass(frozen=True, slots=True)
class LinkRow:
    """One transport's state as last written by the agent."""

    transport: str
    state: str
    since: Stamp | None
    detail: str | None
    reconnects: int
    sent: int
    acked: int
    updated: Stamp | None
    last_ack: Stamp | None
    last_error: str | None
    last_error_at: Stamp | None

    def to_dict(self) -> dict[str, Any]:
        """What staff see: every field, times as ISO 8601 UTC."""
        return {"transport": self.transport, "state": self.state, "since": _utc(self.since),
                "detail": self.detail, "reconnects": self.reconnects, "sent": self.sent,
                "acked": self.acked, "updated": _utc(self.updated),
                "last_ack": _utc(self.last_ack), "last_error": self.last_error,
                "last_error_at": _utc(self.last_error_at)}


def _utc(stamp: Stamp | None) -> str | None:
    return None if stamp is None else stamp.utc


def read(store: Store) -> list[LinkRow]:
    """Every transport's last written state, by transport name."""
    return [LinkRow(transport=r["transport"], state=r["state"], since=load_stamp(r["since"]),
                    detail=r["detail"], reconnects=r["reconnects"], sent=r["sent"],
                    acked=r["acked"], updated=load_stamp(r["updated"]),
                    last_ack=load_stamp(r["last_ack"]), last_error=r["last_error"],
                    last_error_at=load_stamp(r["last_error_at"]))
            for r in store.all("SELECT transport, state, since, detail, reconnects, sent, acked,"
                               " updated, last_ack, last_error, last_error_at FROM sync_link"
                               " ORDER BY transport")]
