"""Central's database: SQLite for the demo and a small site, PostgreSQL for a fleet.

:class:`ReceiverStore` is chosen by a database URL (:func:`open_store`): a path or
``sqlite:///path`` opens SQLite, ``postgresql://…`` PostgreSQL. Either way code writes
SQL once, with ``?`` placeholders, inside ``with store.transaction() as conn:``, and
reads with :func:`row`/:func:`rows` or :meth:`ReceiverStore.all`. The schema is brought
up to date when the store opens (:mod:`central.migrations`).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, TypeVar

from central import migrations
from central.store_types import Connection, Dialect, Params

__all__ = ["Connection", "Params", "ReceiverStore", "open_store", "row", "rows", "utc_now"]

log = logging.getLogger(__name__)
T = TypeVar("T")


def utc_now() -> str:
    """Central's wall clock (UTC, ISO 8601): central has a synchronised clock."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Backend(Protocol):
    dialect: Dialect
    url: str

    def transaction(self) -> AbstractContextManager[Connection]: ...

    def read(self) -> AbstractContextManager[Connection]: ...

    def migration_lock(self) -> AbstractContextManager[None]: ...

    def retryable(self, exc: BaseException) -> bool: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


def is_postgresql(database: str | Path) -> bool:
    return str(database).startswith(("postgresql://", "postgres://"))


def _backend(database: str | Path) -> Backend:
    if is_postgresql(database):
        from central.store_pg import PgBackend  # psycopg only where PostgreSQL is used

        return PgBackend(str(database))
    from central.store_sqlite import SqliteBackend

    text = str(database)
    return SqliteBackend(Path(text.removeprefix("sqlite://")) if text.startswith("sqlite://")
                         else Path(text))


class ReceiverStore:
    """Central's database over one backend; writes go through :meth:`transaction`.

    ``database`` is a path to a SQLite file, ``sqlite:///abs/path``, or a PostgreSQL URL
    (``postgresql://user:password@host:5432/central``).
    """

    def __init__(self, database: str | Path) -> None:
        self.backend = _backend(database)
        self.dialect: Dialect = self.backend.dialect
        try:
            with self.backend.migration_lock():
                migrations.migrate(self.backend.transaction, utc_now)
        except BaseException:
            self.backend.close()
            raise

    @property
    def path(self) -> Path | None:
        """The SQLite file (None on PostgreSQL)."""
        return getattr(self.backend, "path", None)

    def transaction(self) -> AbstractContextManager[Connection]:
        """One write transaction: committed (on disk) when the block ends, else rolled back."""
        return self.backend.transaction()

    def read(self) -> AbstractContextManager[Connection]:
        """Several reads seeing one consistent state."""
        return self.backend.read()

    def retrying(self, work: Callable[[Connection], T], attempts: int = 5) -> T:
        """Run ``work`` in a transaction, again (up to ``attempts`` times, after a short
        random pause) when the database aborts it for a deadlock or a serialisation
        failure; ``work`` must have no effect outside the database before it returns."""
        for attempt in range(1, attempts + 1):
            try:
                with self.transaction() as conn:
                    return work(conn)
            except Exception as exc:
                if attempt == attempts or not self.backend.retryable(exc):
                    raise
                log.warning("transaction aborted (%s); retrying (%d/%d)",
                            str(exc).strip().splitlines()[0], attempt, attempts - 1)
                time.sleep(random.uniform(0.005, 0.05) * attempt)
        raise AssertionError("unreachable")

    def all(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        with self.read() as conn:
            return rows(conn, sql, params)

    def one(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        found = self.all(sql, params)
        return found[0] if found else None

    def schema_versions(self) -> list[int]:
        return migrations.versions(self.backend.transaction)

    def describe(self) -> dict[str, Any]:
        """Which database this is (never a password), for logs and health."""
        return self.backend.describe()

    def close(self) -> None:
        self.backend.close()


def open_store(database: str | Path) -> ReceiverStore:
    """The store for a database URL or SQLite path (see :class:`ReceiverStore`)."""
    return ReceiverStore(database)


def rows(conn: Connection, sql: str, params: Params = ()) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def row(conn: Connection, sql: str, params: Params = ()) -> dict[str, Any] | None:
    found = rows(conn, sql, params)
    return found[0] if found else None
