"""The store mark: what the box knows about its database from outside it.

``<data_dir>/store-mark.json`` names the database this box runs on (a random id kept in the
database's ``meta`` as ``store_id``) and the highest message sequence number that may have
left the box for central. It is written whole or not at all (``write_atomic``):

- when a database is first opened with a mark path and there is no mark yet (a new box, or a
  box from before the mark existed);
- by the sync agent, inside the write transaction that picks messages to send and before any
  of them goes out, whenever the highest sequence number it is about to send is above the
  mark. The rows it names are already committed, so after a power cut at any point the
  mark is never above the database's own counter, and never below an id central may hold.

At open, a database that is missing or empty while a mark exists, that is not the database
the mark names, or whose message counter is below the mark, is refused: using it would
restart the audit chain and hand out message ids central already has.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from device.errors import StoreError
from device.storage import meta
from shared.files import write_atomic

if TYPE_CHECKING:
    from device.storage.database import Store

#: The ``meta`` key naming the database (a random id, set when the database is first marked).
STORE_ID_KEY = "store_id"
RECOVER = "kiosk store recover"


class DatabaseBehindError(StoreError):
    """The database is not the one this box ran on, or is older than what central may hold."""

    code = "database-behind"


@dataclass(frozen=True)
class StoreMark:
    """The database the box runs on and the highest message seq that may have been sent."""

    store_id: str
    sent_seq: int

    def to_bytes(self) -> bytes:
        return json.dumps({"store_id": self.store_id, "sent_seq": self.sent_seq},
                          sort_keys=True).encode() + b"\n"


def read(path: Path) -> StoreMark | None:
    """The mark at ``path``, or None when there is none; StoreError when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path}: cannot read the store mark ({exc})") from None
    try:
        found = json.loads(text)
        return StoreMark(str(found["store_id"]), int(found["sent_seq"]))
    except (ValueError, KeyError, TypeError):
        raise StoreError(f"{path}: the store mark is not valid; if the database is this box's"
                         " own, move the mark aside and start again") from None


def write(path: Path, mark: StoreMark) -> None:
    write_atomic(path, mark.to_bytes(), error=StoreError)


def _refusal(db_path: Path, mark_path: Path, what: str, mark: StoreMark) -> DatabaseBehindError:
    return DatabaseBehindError(
        f"{db_path}: {what}; {mark_path} says this box ran on database {mark.store_id} and"
        f" may have sent central messages up to seq {mark.sent_seq}. Starting on it would"
        f" reuse message ids central already has: refusing to start. Restore the right"
        f" database, or run `{RECOVER}` to start a new one that continues the sequence.")


def check_file(db_path: Path, mark_path: Path) -> None:
    """Before the database is opened (and created): refuse a missing or empty one while a
    mark says there was a database."""
    mark = read(mark_path)
    if mark is None:
        return
    try:
        size = db_path.stat().st_size
    except FileNotFoundError:
        raise _refusal(db_path, mark_path, "the database is missing", mark) from None
    if size == 0:
        raise _refusal(db_path, mark_path, "the database is empty (0 bytes)", mark)


def check_store(store: Store, mark_path: Path) -> None:
    """After migrating: the database must be the one the mark names and not behind it. A
    database opened without a mark gets one (and its id, when it has none)."""
    with store.transaction() as db:
        if meta.get(db, STORE_ID_KEY) is None and read(mark_path) is None:
            meta.add(db, STORE_ID_KEY, uuid.uuid4().hex)
    # The mark is read and written under the database's write lock, as the sync agent
    # raises it, so the two processes never write it at once; a mark written here names a
    # database id already committed.
    with store.transaction() as db:
        mark = read(mark_path)
        store_id = meta.get(db, STORE_ID_KEY)
        seq = int(meta.get(db, "message_seq") or 0)
        if mark is None and store_id is not None:
            write(mark_path, StoreMark(store_id, seq))
            return
    if mark is None:  # the mark went away between the two: look again next start
        return
    if store_id != mark.store_id:
        what = ("the database has no store id (a new or foreign database)" if store_id is None
                else f"the database is {store_id}, another database (another box's, or a"
                " new one)")
        raise _refusal(store.path, mark_path, what, mark)
    if seq < mark.sent_seq:
        raise _refusal(store.path, mark_path, f"the database's message counter is at {seq},"
                       " behind the mark (an older copy)", mark)


def note_sent(store: Store, seq: int) -> None:
    """Raise the mark to ``seq`` before messages up to it leave the box. Call it inside the
    write transaction that picks them, so two processes never write the mark at once."""
    path = store.mark
    if path is None:
        return
    mark = read(path)
    if mark is None or seq <= mark.sent_seq:
        return
    write(path, StoreMark(mark.store_id, seq))


def load_store_id(store: Store) -> str | None:
    """The id of the database ``store`` has open (None before it was first marked)."""
    return meta.load(store, STORE_ID_KEY)
