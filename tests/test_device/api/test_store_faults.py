"""A database that fails under a running box (a damaged page, a write the disk refuses): the
API answers 503 naming the cause."""

from __future__ import annotations

import logging
import resource
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from api_helpers import assert_problem, check_in

from conftest import InviteFn
from device.composition import Kiosk
from device.storage import encrypted_db


def damage_every_page_but_the_first(path: Path) -> None:
    """Overwrite the database file's pages after the header page, as a failing disk might,
    then have another connection commit so the running box rereads the file."""
    other = encrypted_db.connect(path)
    other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = int(other.execute("PRAGMA page_size").fetchone()[0])  # SQLCipher answers text
    pages = path.stat().st_size // page
    with path.open("r+b") as f:
        for n in range(1, pages):
            f.seek(n * page)
            f.write(b"\xa5" * page)
    other.execute("PRAGMA user_version = 4242")  # a commit: the box's page cache goes stale
    other.close()


def test_a_damaged_database_is_503_with_its_cause_logged_once(
    http: httpx.Client, invite: InviteFn, kiosk: Kiosk, caplog: pytest.LogCaptureFixture
) -> None:
    code = invite().invite_code
    assert code
    headers = check_in(http, code)
    damage_every_page_but_the_first(kiosk.config.db_path)
    caplog.set_level(logging.ERROR)
    for _ in range(3):
        body = assert_problem(http.get("/api/v1/session", headers=headers), 503,
                              "database-corrupt")
        assert body["cause"] == "database disk image is malformed"
        assert str(kiosk.config.db_path) in body["detail"]
    logged = [r for r in caplog.records if "the database failed" in r.getMessage()]
    assert len(logged) == 1, [r.getMessage() for r in caplog.records]
    assert "malformed" in logged[0].getMessage()


@pytest.fixture
def file_size_limit() -> Iterator[Callable[[int], None]]:
    """``limit(n)``: no file of this process may grow past n bytes (a write past it fails
    with EFBIG, as a failing disk's would), until the test ends."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    yield lambda size: resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_write_the_disk_refuses_is_503_with_its_cause(
    http: httpx.Client, invite: InviteFn, kiosk: Kiosk,
    file_size_limit: Callable[[int], None],
) -> None:
    code = invite().invite_code
    assert code
    other = encrypted_db.connect(kiosk.config.db_path)
    other.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the write-ahead log starts empty
    other.close()
    file_size_limit(1024)  # smaller than one page of the write-ahead log
    r = http.post("/api/v1/checkin", json={"code": code, "language": "ko"})
    file_size_limit(resource.RLIM_INFINITY)
    body = assert_problem(r, 503, "database-io-error")
    assert body["cause"] == "disk I/O error"
    check_in(http, code)  # nothing was half written: the same code still opens the session
