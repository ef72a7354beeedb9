"""The PostgreSQL backend: any number of central processes on one database.

psycopg 3, the pure-Python package over Debian's ``libpq5``: it installs from PyPI on
every architecture a company may run central on (amd64, arm64, and the 32-bit Raspberry
Pi OS, for which ``psycopg[binary]`` has no wheel), and libpq gets its security fixes
from the distribution. Queries are bound on the client (``ClientCursor``): central's SQL
is written for SQLite, where ``? IS NULL`` needs no type, and PostgreSQL's server-side
binding cannot infer one for it.

Connections come from a small pool, each in autocommit mode; :meth:`transaction`
wraps one ``BEGIN``/``COMMIT``. Transactions run at READ COMMITTED: central's writers
serialise where they must with row locks (``ON CONFLICT``) and advisory locks
(:mod:`central.messages`), and a deadlock, should one happen, is retried.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from central.errors import ReceiverError
from central.sql import to_pyformat
from central.store_types import Dialect, Params

#: Key of the session-level advisory lock held while migrating ("central" in ASCII).
MIGRATION_LOCK = 0x63656E7472616C


class PgConnection:
    """A psycopg connection seen through :class:`central.store_types.Connection`."""

    dialect: Dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Params = ()) -> psycopg.Cursor[Any]:
        return self.raw.execute(to_pyformat(sql), params)


class _Pool:
    """At most ``size`` connections, opened when first needed, dropped when broken."""

    def __init__(self, url: str, size: int) -> None:
        self.url = url
        self._idle: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)

    def _open(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url, autocommit=True, cursor_factory=psycopg.ClientCursor)
        except psycopg.Error as exc:
            raise ReceiverError(f"cannot connect to PostgreSQL at {redact(self.url)}:"
                                f" {str(exc).strip()}") from None

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        with self._slots:
            with self._lock:
                raw = self._idle.pop() if self._idle else None
            if raw is None or raw.closed:
                raw = self._open()
            try:
                yield raw
            finally:
                if raw.closed or raw.broken:
                    raw.close()
                else:
                    with self._lock:
                        self._idle.append(raw)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for raw in idle:
            raw.close()


def redact(url: str) -> str:
    """A connection URL without its password, for messages and logs."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(an unreadable database URL)"
    host = info.get("host") or "local socket"
    return f"postgresql://{info.get('user') or ''}@{host}:{info.get('port') or 5432}/" \
        f"{info.get('dbname') or ''}"


class PgBackend:
    dialect: Dialect = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self.url = url
        self._pool = _Pool(url, pool_size)
        with self._pool.connection():  # fail now, with a clear message, when unreachable
            pass

    @contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        """One transaction: committed (``synchronous_commit``: on disk) or rolled back."""
        with self._pool.connection() as raw, raw.transaction():
            yield PgConnection(raw)

    @contextmanager
    def read(self) -> Iterator[PgConnection]:
        """Several reads in one snapshot."""
        with self._pool.connection() as raw, raw.transaction():
            raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield PgConnection(raw)

    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        """Only one process migrates at a time; the others wait, then find nothing to do."""
        with self._pool.connection() as raw:
            raw.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
            try:
                yield
            finally:
                if not raw.closed:
                    raw.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))

    def retryable(self, exc: BaseException) -> bool:
        """A deadlock, a serialisation failure or a lost connection: try once more."""
        return isinstance(exc, (pg_errors.DeadlockDetected, pg_errors.SerializationFailure,
                                psycopg.OperationalError))

    def describe(self) -> dict[str, Any]:
        return {"backend": "postgresql", "url": redact(self.url)}

    def close(self) -> None:
        self._pool.close()
