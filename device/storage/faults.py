"""What a failing SQLite call means for the box: one :class:`StoreError` per cause.

The database can fail under a running box: the disk returns read errors, a page is
damaged, the disk fills up, the file or its mount turns read-only. Each is turned into
an error that names its cause in SQLite's own words, so the API answers 503 (507 for a
full disk) saying what is wrong rather than an unexplained internal error.

Errors that mean the code is wrong (a broken constraint, misuse of the API) are not
storage faults and are left to propagate as they are.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from device.errors import (
    DatabaseCorruptError,
    DatabaseIOError,
    DatabaseLockedError,
    DatabaseReadOnlyError,
    DiskFullError,
    StoreError,
)
from device.storage import encrypted_db

#: Where to go next for a damaged file.
RESTORE = ("Move the file aside and restore it, or run 'kiosk provision wipe' to start "
           "empty.")


def is_storage_fault(exc: BaseException) -> bool:
    """A failure of the database file or the disk under it (not of the SQL or its data)."""
    return type(exc) in (encrypted_db.DatabaseError, encrypted_db.OperationalError)


def _name(exc: sqlite3.Error) -> str:
    """SQLite's result code name (``SQLITE_IOERR_READ``...), or a guess from the text."""
    name = getattr(exc, "sqlite_errorname", None)
    if isinstance(name, str) and name:
        return name
    text = str(exc)
    for needle, guess in (("disk is full", "SQLITE_FULL"), ("disk I/O", "SQLITE_IOERR"),
                          ("readonly", "SQLITE_READONLY"), ("malformed", "SQLITE_CORRUPT"),
                          ("not a database", "SQLITE_NOTADB"), ("locked", "SQLITE_BUSY"),
                          ("busy", "SQLITE_BUSY"), ("unable to open", "SQLITE_CANTOPEN")):
        if needle in text:
            return guess
    return "SQLITE_ERROR"


def translate(path: Path, exc: sqlite3.Error, busy_timeout_ms: int) -> StoreError:
    """The box's error for a failed SQLite call on the database at ``path``."""
    text = str(exc)
    name = _name(exc)
    if name.startswith("SQLITE_FULL"):
        return DiskFullError(
            f"{path}: the disk is full ({text}); the change was not saved. Free space"
            " on the disk and try again.", cause=text)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return DatabaseLockedError(
            f"{path}: database is locked by another process (waited {busy_timeout_ms} ms)",
            cause=text)
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return DatabaseCorruptError(f"{path}: database is corrupt ({text}). {RESTORE}",
                                    cause=text)
    if name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")):
        return DatabaseIOError(
            f"{path}: the disk failed to read or write the database ({text}); the change"
            " was not saved. Check the storage device (the TUI's disk self-test).", cause=text)
    if name.startswith("SQLITE_READONLY"):
        return DatabaseReadOnlyError(
            f"{path}: the database cannot be written ({text}); check the file's owner and"
            " permissions and that its disk is mounted read-write.", cause=text)
    return StoreError(f"{path}: database error: {text}", cause=text)
