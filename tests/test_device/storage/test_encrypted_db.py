"""kiosk.db encrypted at rest (real SQLCipher): no candidate data in clear on disk, owner-only
files, a wrong or missing key refused in plain words, a plain database from before encrypted
once with its rows kept."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_helpers import staff_headers
from sqlite_utils import Database

from conftest import JOB, InviteFn
from device.composition import Kiosk
from device.storage import encrypted_db, meta, store_mark
from device.storage.database import Store
from device.storage.encrypted_db import PLAIN_HEADER, DatabaseKeyError
from device.storage.migrations import migrations
from device.storage.store_mark import StoreMark

NAMES = ("Quokka Marchetti-Lindqvist", "欧阳娜娜")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def found_in_clear(root: Path, needles: tuple[str, ...]) -> list[str]:
    """Every file under ``root`` whose raw bytes hold one of ``needles`` (UTF-8 or UTF-16)."""
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for needle in needles:
            for encoded in (needle.encode(), needle.encode("utf-16-le"),
                            needle.encode("utf-16-be")):
                if encoded in data:
                    hits.append(f"{path.relative_to(root)}: {needle!r}")
    return hits


def test_a_candidates_name_is_nowhere_in_clear_under_the_data_dir(
        kiosk: Kiosk, invite: InviteFn) -> None:
    data = kiosk.config.data_dir
    for n, name in enumerate(NAMES):
        invite(candidate_id=f"cand-{n}", display_name=name)
    wal = kiosk.config.db_path.with_name("kiosk.db-wal")
    assert wal.stat().st_size > 0  # the new rows are still in the WAL: it is checked too
    got = kiosk.store.all("SELECT display_name FROM candidates ORDER BY id")
    assert [r["display_name"] for r in got] == list(NAMES)  # readable with the key
    assert found_in_clear(data, NAMES) == []
    kiosk.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    kiosk.close()
    assert not kiosk.config.db_path.read_bytes().startswith(PLAIN_HEADER)
    assert found_in_clear(data, NAMES) == []


@pytest.fixture
def wide_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_database_files_and_directories_are_owner_only(
        tmp_path: Path, wide_umask: None) -> None:
    data = tmp_path / "data"
    store = Store(data / "kiosk.db")
    with store.transaction() as db:
        meta.put(db, "k", "v")
    assert mode(data) == 0o700
    for name in ("kiosk.db", "kiosk.db-wal", "kiosk.db-shm"):
        assert mode(data / name) == 0o600, name
    assert mode(data / "secrets") == 0o700 and mode(data / "secrets" / "db.key") == 0o600
    store.close()
    # a box from before: its directory and files were open to others
    os.chmod(data, 0o755)
    os.chmod(data / "kiosk.db", 0o644)
    Store(data / "kiosk.db").close()
    assert mode(data) == 0o700 and mode(data / "kiosk.db") == 0o600


def test_a_wrong_key_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    Store(path).close()
    key = tmp_path / "secrets" / "db.key"
    key.write_bytes(os.urandom(32))
    with pytest.raises(DatabaseKeyError) as refused:
        Store(path)
    assert str(refused.value).startswith(
        f"{path} cannot be opened with the key in {key}: wrong key or not a kiosk database")
    assert refused.value.code == "database-key" and refused.value.status == 503


def test_a_missing_key_is_refused_and_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    Store(path).close()
    key = tmp_path / "secrets" / "db.key"
    key.unlink()
    with pytest.raises(DatabaseKeyError, match=f"no database key at {key}: .* cannot be opened"
                                               " without it; refusing to start. Restore db.key"):
        Store(path)
    assert not key.exists()  # a new key would only hide the lost one


def make_plain_box(data: Path) -> Path:
    """A data directory as a box from before encryption left it: a plain kiosk.db, 0644 in a
    0755 directory, marked, and its last rows still in a hot WAL (the power went)."""
    data.mkdir(parents=True)
    os.chmod(data, 0o755)
    work = data.parent / "before"
    work.mkdir()
    conn = sqlite3.connect(work / "kiosk.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    migrations.apply(Database(conn))
    conn.execute("INSERT INTO meta (key, value) VALUES ('store_id', 'old-box-db')")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    for n, name in enumerate(NAMES):
        conn.execute("INSERT INTO candidates (id, display_name, created) VALUES (?, ?, 'c')",
                     (f"cand-{n}", name))
    for part in ("kiosk.db", "kiosk.db-wal"):  # copied while open: the WAL is hot
        shutil.copyfile(work / part, data / part)
        os.chmod(data / part, 0o644)
    conn.close()
    assert (data / "kiosk.db").read_bytes().startswith(PLAIN_HEADER)
    assert found_in_clear(data, NAMES)  # the names are in the plain WAL
    store_mark.write(data / "store-mark.json", StoreMark("old-box-db", 0))
    return data / "kiosk.db"


def test_a_plain_database_is_encrypted_once_and_keeps_its_rows(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = make_plain_box(tmp_path / "data")
    data = path.parent
    (data / "kiosk.db.encrypting").write_bytes(b"left by an earlier power cut")
    caplog.set_level(logging.WARNING, logger="device.storage.encrypted_db")
    store = Store(path, mark=data / "store-mark.json")
    try:
        names = store.all("SELECT display_name FROM candidates ORDER BY id")
        assert [r["display_name"] for r in names] == list(NAMES)
        assert store_mark.load_store_id(store) == "old-box-db"  # the mark still matches
        assert migrations.pending(store.db) == []
    finally:
        store.close()
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 1 and f"encrypted the plain database {path}" in logged[0]
    assert not path.read_bytes().startswith(PLAIN_HEADER)
    assert not (data / "kiosk.db.encrypting").exists()
    assert found_in_clear(data, NAMES) == []
    assert mode(data) == 0o700 and mode(path) == 0o600
    Store(path, mark=data / "store-mark.json").close()  # once: the next open just opens it
    assert len(caplog.records) == 1


def test_an_emptied_database_is_still_refused_while_marked(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Store(data / "kiosk.db", mark=data / "store-mark.json").close()
    (data / "kiosk.db").write_bytes(b"")
    for part in ("kiosk.db-wal", "kiosk.db-shm"):
        (data / part).unlink(missing_ok=True)
    with pytest.raises(store_mark.DatabaseBehindError, match="is empty"):
        Store(data / "kiosk.db", mark=data / "store-mark.json")


def test_a_read_only_opener_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(DatabaseKeyError, match="no database key"):
        encrypted_db.connect(tmp_path / "kiosk.db", read_only=True)
    assert list(tmp_path.iterdir()) == []


def test_two_processes_starting_together_encrypt_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The device and the sync agent start at the same boot: one encrypts, the other waits
    on the data directory's lock and then opens the encrypted file with the same key."""
    path = make_plain_box(tmp_path / "data")
    caplog.set_level(logging.WARNING, logger="device.storage.encrypted_db")
    barrier = threading.Barrier(4)
    opened: list[list[str]] = []
    failed: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            store = Store(path, mark=path.parent / "store-mark.json")
        except BaseException as exc:  # reported below
            failed.append(exc)
            return
        try:
            opened.append([r["display_name"] for r in
                           store.all("SELECT display_name FROM candidates ORDER BY id")])
        finally:
            store.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failed == [] and opened == [list(NAMES)] * 4
    assert sum("encrypted the plain database" in r.getMessage() for r in caplog.records) == 1
    assert found_in_clear(path.parent, NAMES) == []


def test_a_name_sent_through_the_api_is_not_in_clear(http: httpx.Client, kiosk: Kiosk) -> None:
    roster = {"format": "kiosk-roster/1", "invites": [
        {"candidate_id": f"api-{n}", "job_id": JOB, "display_name": name}
        for n, name in enumerate(NAMES)]}
    admin = staff_headers(kiosk)
    r = http.post("/api/v1/staff/roster", headers=admin, json=roster)
    assert r.status_code == 200, r.text
    listed = http.get("/api/v1/staff/sessions", headers=admin).text
    assert all(name in listed for name in NAMES)  # the API reads them back with the key
    assert found_in_clear(kiosk.config.data_dir, NAMES) == []
