"""The box's one SQLite database: opening it safely, transactions, small helpers.

Encrypted at rest (SQLCipher, keyed with ``<data_dir>/secrets/db.key``; the file is opened
only through :mod:`device.storage.encrypted_db`). WAL journal, ``synchronous=FULL`` (the
outbox lives here, so every commit is on disk before the API answers), ``busy_timeout`` for
the second process (the sync agent), foreign keys on, and an integrity check before anything
trusts the file.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from device.clock import Clock, Stamp, SystemClock
from device.errors import DatabaseCorruptError, StoreError
from device.storage import encrypted_db, faults
from device.storage.encrypted_db import DatabaseError
from device.storage.migrations import migrations
from shared.canonical_json import dumps

log = logging.getLogger(__name__)

Params = tuple[Any, ...] | dict[str, Any]


def stamp_json(stamp: Stamp) -> str:
    return dumps(stamp.to_dict())


def load_stamp(text: str | None) -> Stamp | None:
    return None if text is None else Stamp.from_dict(json.loads(text))


class Store:
    """A connection to the kiosk database, shared by the threads of one process.

    Every use goes through :meth:`transaction` (writes) or :meth:`read`; both hold the
    store's lock, so one connection serves the API's worker threads safely.
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock | None = None,
        busy_timeout_ms: int = 5000,
        check_integrity: bool = True,
        mark: Path | None = None,
        key_file: Path | None = None,
    ) -> None:
        """``mark``: the store mark to check the database against (see
        :mod:`device.storage.store_mark`); None opens the file unchecked. ``key_file``: the
        database key, ``<its directory>/secrets/db.key`` when None."""
        from device.storage import store_mark  # it stands on this module

        self.path = path
        self.mark = mark
        self.clock: Clock = clock or SystemClock()
        self.busy_timeout_ms = busy_timeout_ms
        self._lock = threading.RLock()
        self._corrupt: DatabaseCorruptError | None = None  # the last damage seen
        encrypted_db.private_dir(path.parent)
        if mark is not None:
            store_mark.check_file(path, mark)
        try:
            conn = encrypted_db.connect(path, key_file=key_file,
                                        timeout=busy_timeout_ms / 1000, check_same_thread=False)
        except DatabaseError as exc:  # a damaged file fails as soon as its schema is read
            raise self._refusal(exc) from None
        self.conn = conn
        try:
            self._configure(check_integrity)
            self.db = Database(conn, execute_plugins=False)
            with self._locked_writes():
                migrations.apply(self.db)
            if mark is not None:
                store_mark.check_store(self, mark)
        except DatabaseError as exc:
            conn.close()
            raise self._refusal(exc) from None
        except StoreError:
            conn.close()
            raise

    def _refusal(self, exc: sqlite3.Error) -> StoreError:
        error = self._translate(exc)
        if isinstance(error, DatabaseCorruptError):
            error = DatabaseCorruptError(f"{error}; refusing to start", cause=error.cause)
        return error

    def _configure(self, check_integrity: bool) -> None:
        c = self.conn
        c.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        if check_integrity:
            rows = c.execute("PRAGMA integrity_check").fetchall()
            problems = [r[0] for r in rows if r[0] != "ok"]
            if problems:
                raise DatabaseCorruptError(
                    f"{self.path}: database failed its integrity check "
                    f"({'; '.join(problems[:3])}); refusing to start. Move the file aside "
                    "and restore it, or run 'kiosk provision wipe' to start empty."
                )
        mode = c.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            log.warning("journal mode is %s, not WAL (filesystem without shared memory?)", mode)
        c.execute("PRAGMA synchronous = FULL")
        c.execute("PRAGMA foreign_keys = ON")

    def _translate(self, exc: sqlite3.Error) -> StoreError:
        return faults.translate(self.path, exc, self.busy_timeout_ms)

    @contextmanager
    def _locked_writes(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except (DatabaseError, MemoryError) as exc:
                raise self._fault(exc) from None

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """One write transaction (``BEGIN IMMEDIATE``): all of it is on disk, or none."""
        with self._lock:
            if self.conn.in_transaction:
                raise StoreError("nested write transactions are not supported")
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except (DatabaseError, MemoryError) as exc:
                raise self._fault(exc) from None
            try:
                yield self.db
            except (DatabaseError, MemoryError) as exc:  # e.g. the page cache spilling
                self._rollback()
                raise self._fault(exc) from None
            except BaseException:
                self._rollback()
                raise
            try:
                self.conn.execute("COMMIT")
            except (DatabaseError, MemoryError) as exc:
                self._rollback()
                raise self._fault(exc) from None

    def _fault(self, exc: sqlite3.DatabaseError | MemoryError) -> Exception:
        """A storage fault as the box's error; anything else (a broken constraint) as is.

        Once a page has failed its authentication, SQLCipher answers every later read on the
        connection with SQLITE_NOMEM (a MemoryError here): that is the same damage again."""
        if isinstance(exc, MemoryError):
            if self._corrupt is not None:
                return DatabaseCorruptError(str(self._corrupt), cause=self._corrupt.cause)
            return StoreError(f"{self.path}: SQLite ran out of memory reading the database",
                              cause="out of memory")
        if not faults.is_storage_fault(exc):
            return exc
        error = self._translate(exc)
        if isinstance(error, DatabaseCorruptError):
            self._corrupt = error
        return error

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except DatabaseError:  # the fault being reported may stop even this
                log.warning("rollback failed on %s", self.path, exc_info=True)

    @contextmanager
    def read(self) -> Iterator[Database]:
        """Reads under the store's lock (a consistent view for this thread)."""
        with self._lock:
            try:
                yield self.db
            except (DatabaseError, MemoryError) as exc:
                raise self._fault(exc) from None

    def now(self) -> Stamp:
        return self.clock.now()

    def one(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        with self.read() as db:
            return row(db, sql, params)

    def all(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        with self.read() as db:
            return rows(db, sql, params)

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def as_dicts(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def rows(db: Database, sql: str, params: Params = ()) -> list[dict[str, Any]]:
    """Rows of a query, as dicts."""
    return as_dicts(db.execute(sql, params))


def row(db: Database, sql: str, params: Params = ()) -> dict[str, Any] | None:
    found = rows(db, sql, params)
    return found[0] if found else None
