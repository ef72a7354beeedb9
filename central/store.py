"""The receiver's own SQLite database: messages, media uploads, documents, devices.

WAL journal and ``synchronous=FULL``: a message is acknowledged only after the commit
that stores it, so the commit must be on disk when it returns. One connection is shared
by the API's worker threads and the MQTT worker, serialised by a lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from central.errors import ReceiverError

Params = tuple[Any, ...] | dict[str, Any]

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    site TEXT NOT NULL,
    session_id TEXT,
    session_seq INTEGER,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    envelope TEXT NOT NULL,
    received TEXT NOT NULL,
    transport TEXT NOT NULL,
    copies INTEGER NOT NULL DEFAULT 1,
    delivered_order INTEGER UNIQUE
);
CREATE INDEX IF NOT EXISTS messages_session ON messages (device_id, session_id, session_seq);
CREATE INDEX IF NOT EXISTS messages_device ON messages (device_id, delivered_order);

CREATE TABLE IF NOT EXISTS media (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    "offset" INTEGER NOT NULL DEFAULT 0,
    complete INTEGER NOT NULL DEFAULT 0,
    path TEXT NOT NULL,
    restarts INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    completed TEXT
);

CREATE TABLE IF NOT EXISTS documents (
    cursor INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    version INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    site TEXT,
    device_id TEXT,
    document TEXT NOT NULL,
    published TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_device ON documents (device_id, cursor);

CREATE TABLE IF NOT EXISTS versions (
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (tenant, kind, scope)
);

CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    site TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    messages INTEGER NOT NULL DEFAULT 0,
    status TEXT,
    status_at TEXT
);

-- enrolled boxes: a box's tenant and site come from here (central.registry)
CREATE TABLE IF NOT EXISTS registry (
    device_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    site TEXT NOT NULL,
    registered TEXT NOT NULL,
    how TEXT NOT NULL
);

-- admin tokens (central.admin); only their SHA-256 is kept
CREATE TABLE IF NOT EXISTS admin_tokens (
    token_sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created TEXT NOT NULL
);

-- one-time enrolment tokens (central.enrol); only their SHA-256 is kept
CREATE TABLE IF NOT EXISTS enrolment_tokens (
    token_sha256 TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    site TEXT NOT NULL,
    created TEXT NOT NULL,
    expires TEXT NOT NULL,
    used TEXT,
    public_key_sha256 TEXT,
    certificate TEXT
);
"""


def utc_now() -> str:
    """Central's wall clock (UTC, ISO 8601): central has a synchronised clock."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class ReceiverStore:
    """One connection to ``receiver.db``; writes go through :meth:`transaction`."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self.conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000,
                                        check_same_thread=False, isolation_level=None)
            self.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = FULL")
            self.conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise ReceiverError(f"{path}: cannot open the receiver database: {exc}") from None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): committed to disk, or rolled back."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Several reads under the lock: one consistent view."""
        with self._lock:
            yield self.conn

    def all(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        with self.read() as conn:
            return rows(conn, sql, params)

    def one(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        found = self.all(sql, params)
        return found[0] if found else None

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def rows(conn: sqlite3.Connection, sql: str, params: Params = ()) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def row(conn: sqlite3.Connection, sql: str, params: Params = ()) -> dict[str, Any] | None:
    found = rows(conn, sql, params)
    return found[0] if found else None
