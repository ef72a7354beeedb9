"""Real SQLite failures and the store error each becomes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from device.errors import DatabaseReadOnlyError, DiskFullError
from device.storage import encrypted_db, faults
from device.storage.database import Store


def failure(path: Path, sql: str) -> sqlite3.Error:
    conn = encrypted_db.connect(path, read_only=True)
    try:
        conn.execute(sql)
    except encrypted_db.Error as exc:
        return exc
    finally:
        conn.close()
    raise AssertionError(f"{sql} did not fail")


def test_a_read_only_database_names_its_cause(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    encrypted_db.connect(path).execute("CREATE TABLE t (x)").connection.close()
    exc = failure(path, "INSERT INTO t VALUES (1)")
    error = faults.translate(path, exc, 100)
    assert isinstance(error, DatabaseReadOnlyError) and error.status == 503
    assert error.cause == "attempt to write a readonly database" and str(path) in str(error)


def test_a_full_database_is_disk_full(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.db")
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(DiskFullError) as err, store.transaction() as db:
        db.execute("CREATE TABLE filler (x)")
        db.execute("INSERT INTO filler VALUES (zeroblob(1000000))")
    assert err.value.cause == "database or disk is full"


def test_a_broken_constraint_is_not_a_storage_fault(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.db")
    with store.transaction() as db:
        db.execute("CREATE TABLE once (x UNIQUE)")
        db.execute("INSERT INTO once VALUES (1)")
    with pytest.raises(encrypted_db.IntegrityError), store.transaction() as db:
        db.execute("INSERT INTO once VALUES (1)")
