"""Starting again after the database went backwards (``kiosk store recover``).

The refused database (and its WAL files) is moved aside, never deleted. A new database is
created whose message counter continues past the store mark (and past central's last
acknowledged sequence when the technician gives it), so the next message id is above every
id central may hold. The recovery is the first entry of the new audit chain, with the reason
and what it continues from. The new database gets a new store id and the mark names it,
written last: a power cut before that leaves the new database refused, and running the
recovery again moves it aside too and starts once more.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from device import audit
from device.audit import Actor
from device.config import KioskConfig
from device.errors import StoreError
from device.storage import meta, store_mark
from device.storage.database import Store
from device.storage.store_mark import DatabaseBehindError, StoreMark
from shared.files import fsync_dir

#: What the old database held and the new one does not; said before and after recovery.
LOST = ("everything the old database held is not in the new one: sessions and their results,"
        " the audit log, messages not yet delivered to central, imported jobs, staff tokens"
        " and the settings and documents central had sent. Central keeps every message it"
        " received. Recordings stay on disk, but no session refers to them.")


class NothingToRecoverError(StoreError):
    code = "nothing-to-recover"


@dataclass(frozen=True)
class Refusal:
    """Why the database is refused, and the mark it was checked against."""

    problem: str
    mark: StoreMark


@dataclass(frozen=True)
class Recovery:
    """What the recovery did."""

    moved: list[str]
    continues_after: int
    next_message_id: str
    store_id: str


def refusal(config: KioskConfig) -> Refusal:
    """Why the database would be refused at start; NothingToRecoverError when it would not."""
    mark = store_mark.read(config.store_mark_path)
    if mark is None:
        raise NothingToRecoverError(f"{config.store_mark_path} does not exist: the database is"
                                    " not checked against a mark, nothing to recover")
    try:
        Store(config.db_path, busy_timeout_ms=config.store.busy_timeout_ms,
              check_integrity=False, mark=config.store_mark_path).close()
    except DatabaseBehindError as exc:
        return Refusal(str(exc), mark)
    raise NothingToRecoverError(f"{config.db_path} matches {config.store_mark_path}: the box"
                                " starts on it, nothing to recover")


def recover(config: KioskConfig, device_id: str, reason: str, actor: Actor, *,
            central_seq: int | None = None) -> Recovery:
    """Move the refused database aside and start a new one that continues the sequence."""
    if not reason.strip():
        raise StoreError("give the reason for the recovery (it is kept in the audit log)")
    if central_seq is not None and central_seq < 0:
        raise StoreError("central's last acknowledged seq cannot be negative")
    found = refusal(config)
    moved = _move_aside(config.db_path)
    start = max(found.mark.sent_seq, central_seq or 0)
    store_id = uuid.uuid4().hex
    store = Store(config.db_path, busy_timeout_ms=config.store.busy_timeout_ms)
    try:
        with store.transaction() as db:
            meta.put(db, "message_seq", str(start))
            meta.add(db, store_mark.STORE_ID_KEY, store_id)
            audit.append(db, store.now(), actor, "store.recover", subject=device_id,
                         reason=reason.strip(),
                         details={"refused": found.problem, "moved_aside": moved,
                                  "previous_store_id": found.mark.store_id,
                                  "marked_sent_seq": found.mark.sent_seq,
                                  "central_acked_seq": central_seq, "continues_after": start})
    finally:
        store.close()
    store_mark.write(config.store_mark_path, StoreMark(store_id, start))
    return Recovery(moved, start, f"{device_id}:{start + 1:012d}", store_id)


def _move_aside(db_path: Path) -> list[str]:
    """Rename the database and its journal files to ``kiosk.db.refused-<UTC time>``."""
    at = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = db_path.with_name(f"{db_path.name}.refused-{at}")
    moved = []
    for suffix in ("", "-wal", "-shm", "-journal"):
        source = db_path.with_name(db_path.name + suffix)
        if source.exists():
            target = base.with_name(base.name + suffix)
            try:
                os.replace(source, target)
            except OSError as exc:
                raise StoreError(f"{source}: cannot move it aside ({exc.strerror})") from None
            moved.append(target.name)
    fsync_dir(db_path.parent)
    return moved
