"""The SQLite store: durability settings, migrations, refusals, one-transaction writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.clock import ManualClock
from device.composition import Kiosk
from device.errors import DatabaseCorruptError, DatabaseLockedError
from device.storage import encrypted_db
from device.storage.database import Store
from device.storage.encrypted_db import DatabaseKeyError


def test_pragmas_for_durability(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.db")
    c = store.conn
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert c.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert c.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_schema_has_every_table_and_migrations_apply_once(tmp_path: Path) -> None:
    Store(tmp_path / "k.db").close()
    store = Store(tmp_path / "k.db")
    tables = {r["name"] for r in store.all("SELECT name FROM sqlite_master WHERE type='table'")}
    for name in ("jobs", "question_sets", "candidates", "sessions", "answers", "results",
                 "media", "audit", "outbox", "inbox", "usage", "tokens", "analyses", "checklists",
                 "session_seqs", "document_versions", "central_settings", "sync_link", "alerts",
                 "sync_control"):
        assert name in tables
    applied = store.all("SELECT name FROM _sqlite_migrations")
    assert [r["name"] for r in applied] == ["m001_initial_schema", "m002_analysis",
                                                   "m003_sync", "m004_capture",
                                                   "m005_sync_control", "m006_live_transcript",
                                                   "m007_retention_purge"]


def test_garbage_file_is_refused_with_its_path(tmp_path: Path) -> None:
    Store(tmp_path / "other.db").close()  # the directory's database key exists
    path = tmp_path / "k.db"
    path.write_bytes(b"this is not sqlite" * 500)
    with pytest.raises(DatabaseKeyError) as err:
        Store(path)
    assert str(path) in str(err.value) and "refusing to start" in str(err.value)
    assert "wrong key or not a kiosk database" in str(err.value)


def test_damaged_pages_fail_the_integrity_check(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    store = Store(path)
    with store.transaction() as db:
        for i in range(400):
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (f"k{i}", "x" * 200))
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    data = bytearray(path.read_bytes())
    for offset in range(4096 * 3, len(data) - 4096, 4096):  # scribble over later pages
        data[offset + 8 : offset + 64] = b"\xff" * 56
    path.write_bytes(bytes(data))
    with pytest.raises(DatabaseCorruptError, match=str(path)):
        Store(path)


def test_locked_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    Store(path).close()
    holder = encrypted_db.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = Store(path, busy_timeout_ms=100, check_integrity=False)  # WAL: reads go on
        locked = pytest.raises(DatabaseLockedError, match=r"by another process \(waited 100")
        with locked, store.transaction() as db:
            db.execute("UPDATE meta SET value = '1' WHERE key = 'message_seq'")
        assert store.one("SELECT value FROM meta WHERE key = 'message_seq'") == {"value": "0"}
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_failed_transition_leaves_no_partial_write(kiosk: Kiosk, invite: object) -> None:
    invited = invite()  # type: ignore[operator]
    before = kiosk.store.one("SELECT count(*) AS n FROM outbox")
    audit_before = kiosk.store.one("SELECT count(*) AS n FROM audit")

    def boom(db: object, session: object, now: object) -> None:
        raise RuntimeError("disk pulled")

    kiosk.engine.on_final.append(boom)
    from device.staff.policy import Staff

    # the hook runs inside the transition's transaction: everything must roll back
    with pytest.raises(RuntimeError), kiosk.store.transaction() as db:
        session = kiosk.engine.get(db, invited.session_id)
        kiosk.engine.transition(db, session, "revoke", Staff("a", "admin").actor,
                                kiosk.store.now(), reason="test")
    assert kiosk.engine.session(invited.session_id).state == "invited"
    assert kiosk.store.one("SELECT count(*) AS n FROM outbox") == before
    assert kiosk.store.one("SELECT count(*) AS n FROM audit") == audit_before


def test_every_stamp_has_wall_mono_boot_and_sync(tmp_path: Path) -> None:
    clock = ManualClock(synced=False)
    store = Store(tmp_path / "k.db", clock=clock)
    stamp = store.now()
    assert set(stamp.to_dict()) == {"utc", "mono", "boot", "synced"}
    assert stamp.synced is False
