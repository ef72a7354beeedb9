"""The technician's controls over delivery: pause, metered mode, bandwidth, retry now.

One row in the store (``sync_control``), written by the local API and ``kiosk sync
pause|resume|retry`` and read by the running sync agent (at most every half second), so
the two processes need nothing but the database between them. A metered or bandwidth
value set here overrides central's ``config`` documents, which override ``kiosk.toml``;
``null`` hands the setting back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from device import audit
from device.audit import Actor
from device.central_link.settings import current as central_settings
from device.central_link.settings import env_name
from device.clock import Stamp
from device.config import KioskConfig, SyncConfig
from device.storage.database import Store, load_stamp, row, stamp_json

#: How often the running agent reads the row.
READ_INTERVAL_S = 0.5
PAUSED_DETAIL = "paused by technician"


class Unset:
    """Marks a control the caller leaves as it is (``None`` clears an override)."""


UNSET = Unset()


@dataclass(frozen=True)
class Control:
    """The row as stored: the technician's overrides (``None``: no override)."""

    paused: bool = False
    metered: bool | None = None
    bandwidth_kbps: int | None = None
    retry_requested: Stamp | None = None
    #: Counts retry requests: the agent acts on a change, whatever the clocks say.
    retries: int = 0
    updated: Stamp | None = None
    updated_by: str | None = None

    def metered_for(self, sync: SyncConfig) -> bool:
        """Metered mode in force for an agent whose settings (central's merged in) are ``sync``."""
        return sync.metered if self.metered is None else self.metered

    def bandwidth_for(self, sync: SyncConfig) -> int:
        return sync.bandwidth_kbps if self.bandwidth_kbps is None else self.bandwidth_kbps


def read(db: Database) -> Control:
    found = row(db, "SELECT * FROM sync_control WHERE id = 1")
    if found is None:  # the migration writes it; a hand-edited database may lack it
        return Control()
    return Control(
        paused=bool(found["paused"]),
        metered=None if found["metered"] is None else bool(found["metered"]),
        bandwidth_kbps=found["bandwidth_kbps"],
        retry_requested=load_stamp(found["retry_requested"]),
        retries=int(found["retries"]),
        updated=load_stamp(found["updated"]),
        updated_by=found["updated_by"],
    )


def load(store: Store) -> Control:
    with store.read() as db:
        return read(db)


def update(
    store: Store, actor: Actor, reason: str, *,
    paused: bool | Unset = UNSET,
    metered: bool | Unset | None = UNSET,
    bandwidth_kbps: int | Unset | None = UNSET,
) -> Control:
    """Change the named controls, audited as ``sync.control`` in the same transaction."""
    changes: dict[str, Any] = {}
    if not isinstance(paused, Unset):
        changes["paused"] = paused
    if not isinstance(metered, Unset):
        changes["metered"] = metered
    if not isinstance(bandwidth_kbps, Unset):
        changes["bandwidth_kbps"] = bandwidth_kbps
    if not changes:
        raise ValueError("name at least one control to change")
    now = store.now()
    with store.transaction() as db:
        _ensure_row(db)
        before = read(db)
        sets = ", ".join(f"{name} = :{name}" for name in changes)
        db.execute(f"UPDATE sync_control SET {sets}, updated = :at, updated_by = :by"  # noqa: S608 - fixed names
                   " WHERE id = 1",
                   {**{k: _column(v) for k, v in changes.items()},
                    "at": stamp_json(now), "by": actor.label()})
        audit.append(db, now, actor, "sync.control", subject="sync", reason=reason, details={
            "changes": changes,
            "before": {name: getattr(before, name) for name in changes}})
        return read(db)


def request_retry(store: Store, actor: Actor, reason: str | None = None) -> Stamp:
    """Ask the running agent to retry deferred messages and reconnect now (``sync.retry``)."""
    now = store.now()
    with store.transaction() as db:
        _ensure_row(db)
        db.execute("UPDATE sync_control SET retry_requested = ?, retries = retries + 1,"
                   " updated = ?, updated_by = ? WHERE id = 1",
                   (stamp_json(now), stamp_json(now), actor.label()))
        audit.append(db, now, actor, "sync.retry", subject="sync", reason=reason)
    return now


def _ensure_row(db: Database) -> None:
    db.execute("INSERT INTO sync_control (id) VALUES (1) ON CONFLICT (id) DO NOTHING")


def _column(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


# -- what is in force, and why ---------------------------------------------------------

def _central(db: Database, key: str, environ: Mapping[str, str]) -> Any:
    """Central's value of ``[sync] key`` when it is in force (a ``KIOSK_*`` variable wins)."""
    if env_name("sync", key) in environ:
        return None
    return central_settings(db).get("sync", {}).get(key)


def describe(store: Store, config: KioskConfig,
             environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The controls in force with where each value comes from (the API's ``control``).

    ``config`` is the box's configuration; ``technician`` beats ``central`` (a ``config``
    document) beats ``config`` (``kiosk.toml`` and ``KIOSK_*`` variables).
    """
    env = os.environ if environ is None else environ
    with store.read() as db:
        control = read(db)
        central = {key: _central(db, key, env) for key in ("metered", "bandwidth_kbps")}
    out: dict[str, Any] = {"paused": control.paused}
    for key, name in (("metered", "metered"), ("bandwidth_kbps", "bandwidth")):
        override = getattr(control, key)
        if override is not None:
            value, source = override, "technician"
        elif isinstance(central[key], bool | int):
            value, source = central[key], "central"
        else:
            value, source = getattr(config.sync, key), "config"
        out[key] = bool(value) if key == "metered" else int(value)
        out[f"{name}_source"] = source
    out.update({
        "retry_requested": _utc(control.retry_requested),
        "updated": _utc(control.updated),
        "updated_by": control.updated_by,
    })
    return out


def _utc(stamp: Stamp | None) -> str | None:
    return None if stamp is None else stamp.utc


# -- for the agent ------------------------------------------------------------------------

class Watcher:
    """Reads the row for the agent at most every :data:`READ_INTERVAL_S`.

    :meth:`poll` returns the row when it was read, and whether a retry was requested since
    the last read (a request made before the agent started counts as seen).
    """

    def __init__(self, store: Store, *, interval_s: float = READ_INTERVAL_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.interval_s = interval_s
        self.monotonic = monotonic
        self.current = Control()
        self._seen_retries: int | None = None
        self._next = 0.0

    def poll(self) -> tuple[Control, bool] | None:
        now = self.monotonic()
        if now < self._next:
            return None
        self._next = now + self.interval_s
        control = load(self.store)
        retry = self._seen_retries is not None and control.retries != self._seen_retries
        self._seen_retries = control.retries
        self.current = control
        return control, retry
