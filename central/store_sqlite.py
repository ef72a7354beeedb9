"""The SQLite backend: one file, one connection, one writer at a time.

WAL journal and ``synchronous=FULL``: a message is acknowledged only after the commit
that stores it, so the commit must be on disk when it returns. One connection is shared
by the API's worker threads and the MQTT worker, serialised by a lock; ``BEGIN
IMMEDIATE`` also serialises other processes opening the same file. Enough for the demo
and a small site; a fleet uses :mod:`central.store_pg`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from central.errors import ReceiverError
from central.store_types import Dialect, Params


class SqliteConnection:
    """A ``sqlite3.Connection`` seen through :class:`central.store_types.Connection`."""

    dialect: Dialect = "sqlite"

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        return self.raw.execute(sql, params)


class SqliteBackend:
    dialect: Dialect = "sqlite"

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self.url = str(path)
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.raw = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000,
                                       check_same_thread=False, isolation_level=None)
            self.raw.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self.raw.execute("PRAGMA journal_mode = WAL")
            self.raw.execute("PRAGMA synchronous = FULL")
        except (sqlite3.Error, OSError) as exc:
            raise ReceiverError(f"{path}: cannot open the receiver database: {exc}") from None
        self.conn = SqliteConnection(self.raw)

    @contextmanager
    def transaction(self) -> Iterator[SqliteConnection]:
        """One write transaction (``BEGIN IMMEDIATE``): committed to disk, or rolled back."""
        with self._lock:
            self.raw.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                if self.raw.in_transaction:
                    self.raw.execute("ROLLBACK")
                raise
            self.raw.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[SqliteConnection]:
        """Several reads under the lock: one consistent view."""
        with self._lock:
            yield self.conn

    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        yield  # every migration's BEGIN IMMEDIATE is the lock

    def retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)

    def describe(self) -> dict[str, Any]:
        return {"backend": "sqlite", "path": str(self.path)}

    def close(self) -> None:
        with self._lock:
            self.raw.close()
