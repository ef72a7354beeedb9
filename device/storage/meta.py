"""The ``meta`` table: the box's named counters and markers (one text value per key).

Kept here: the outbox's message counter, the audit log's head, the sync agent's document
cursor and erasure receipts waiting to be finished. Every function runs inside the caller's
transaction or read, so a value changes together with what it describes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from device.storage.database import Store, row, rows


@dataclass(frozen=True, slots=True)
class MetaRow:
    """One key and its value as stored."""

    key: str
    value: str


def get(db: Database, key: str) -> str | None:
    """The value of ``key``, or None when it is not set."""
    found = row(db, "SELECT value FROM meta WHERE key = ?", (key,))
    return None if found is None else str(found["value"])


def load(store: Store, key: str) -> str | None:
    """:func:`get` in a read of its own."""
    with store.read() as db:
        return get(db, key)


def put(db: Database, key: str, value: str) -> None:
    """Set ``key`` to ``value``, whether or not it was set before."""
    db.execute("INSERT INTO meta (key, value) VALUES (?, ?)"
               " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def add(db: Database, key: str, value: str) -> None:
    """Set a key that must not exist yet (an IntegrityError if it does)."""
    db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))


def replace(db: Database, key: str, value: str) -> None:
    """Change the value of an existing key (nothing happens if it is not set)."""
    db.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))


def take(db: Database, key: str) -> bool:
    """Delete ``key``; whether it was there."""
    return row(db, "DELETE FROM meta WHERE key = ? RETURNING key", (key,)) is not None


def delete(db: Database, key: str) -> None:
    db.execute("DELETE FROM meta WHERE key = ?", (key,))


def increment(db: Database, key: str) -> int | None:
    """Add one to an integer value and return the new value; None when the key is not set."""
    found = row(db, "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = ?"
                " RETURNING value", (key,))
    return None if found is None else int(found["value"])


def with_prefix(db: Database, prefix: str) -> list[MetaRow]:
    """Keys starting with ``prefix`` (``%`` and ``_`` in it are wildcards), in key order."""
    return [MetaRow(r["key"], r["value"])
            for r in rows(db, "SELECT key, value FROM meta WHERE key LIKE ? ORDER BY key",
                          (prefix + "%",))]
