"""The one way to open ``kiosk.db``: SQLCipher, keyed with the box's database key.

Every page of the database and of its WAL is encrypted (SQLCipher 4: AES-256 with an
HMAC-SHA512 per page) under 32 random bytes kept in ``<data_dir>/secrets/db.key`` (0600,
directory 0700), created on the first start like the media key. The key is given in
SQLCipher's raw form (``PRAGMA key = "x'<64 hex>'"``), so opening costs no key derivation.

The database and its ``-wal`` and ``-shm`` files are 0600 (SQLite gives the journal files
the database file's mode), and its directory 0700.

A database from before encryption (a plain SQLite file) is encrypted once, on the first
open after the upgrade: its WAL is checkpointed into it, it is exported whole into an
encrypted copy beside it (``sqlcipher_export``), the copy is synced and renamed over the
old file. A power cut at any point leaves either the old plain file or the encrypted one.

Everything that opens the database (the device, the sync agent, the CLI's commands, the
benchmarks and the tests) goes through :func:`connect`. The connection is SQLCipher's
build of the standard ``sqlite3`` module, with the same API; its exception classes are
its own, so code that catches them uses the names here (:data:`DatabaseError`...).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import cast
from urllib.parse import quote

import sqlcipher3.dbapi2 as _dbapi

from device.errors import StoreError
from device.storage.key_file import KEY_BYTES, create_key, read_key
from shared.files import fsync_dir

log = logging.getLogger(__name__)

# SQLCipher's module mirrors the standard one, exception hierarchy included; the names are
# typed as the standard module's so that the rest of the code reads as it did.
Error: type[sqlite3.Error] = _dbapi.Error
DatabaseError: type[sqlite3.DatabaseError] = _dbapi.DatabaseError
OperationalError: type[sqlite3.OperationalError] = _dbapi.OperationalError
IntegrityError: type[sqlite3.IntegrityError] = _dbapi.IntegrityError

KEY_FILE = "db.key"
#: Suffix of the encrypted copy while a plain database is being encrypted.
ENCRYPTING = ".encrypting"
PLAIN_HEADER = b"SQLite format 3\x00"
FILE_MODE = 0o600
DIR_MODE = 0o700


class DatabaseKeyError(StoreError):
    """The database cannot be opened with the key on this box (missing or wrong key)."""

    code = "database-key"


class DatabaseKey:
    """The box's database key; never shown in a repr or a log line."""

    __slots__ = ("_key", "path")

    def __init__(self, key: bytes, path: Path) -> None:
        if len(key) != KEY_BYTES:
            raise DatabaseKeyError(f"a database key has {KEY_BYTES} bytes, not {len(key)}")
        self._key = key
        self.path = path

    def __repr__(self) -> str:
        return f"DatabaseKey({self.path})"

    @property
    def pragma_value(self) -> str:
        """SQLCipher's raw-key form: the key itself, no key derivation at open."""
        return f"x'{self._key.hex()}'"

    @classmethod
    def load(cls, path: Path, db_path: Path) -> DatabaseKey:
        return cls(read_key(path, "database key", DatabaseKeyError,
                            f"{db_path} is not a plain SQLite file, so it is encrypted (or"
                            f" damaged) and cannot be opened without it; refusing to start."
                            f" Restore {KEY_FILE} from the box's backup"), path)

    @classmethod
    def load_or_create(cls, path: Path, db_path: Path) -> DatabaseKey:
        if not path.exists():
            create_key(path, "database key", DatabaseKeyError)
        return cls.load(path, db_path)


def key_path(db_path: Path) -> Path:
    """Where the key of the database at ``db_path`` is kept: ``<its dir>/secrets/db.key``."""
    return db_path.parent / "secrets" / KEY_FILE


def connect(path: Path, *, key_file: Path | None = None, timeout: float = 5.0,
            check_same_thread: bool = True, read_only: bool = False) -> sqlite3.Connection:
    """A connection to the database at ``path``, keyed and checked (autocommit mode: the
    caller says ``BEGIN``).

    A missing database is created encrypted (and its key, when there is none yet); a plain
    one is encrypted first (see the module's docstring). ``read_only`` creates and changes
    nothing. :class:`DatabaseKeyError` when the key is missing or is not this database's."""
    key_file = key_file or key_path(path)
    if read_only:
        return _keyed(path, DatabaseKey.load(key_file, path), timeout, check_same_thread,
                      read_only=True)
    private_dir(path.parent)
    if not _size(path):
        key = DatabaseKey.load_or_create(key_file, path)
        _create_private(path)
    elif key_file.exists() or not is_plain(path, timeout):
        key = DatabaseKey.load(key_file, path)
        _tighten(path)
        try:
            return _keyed(path, key, timeout, check_same_thread)
        except DatabaseKeyError:
            if not is_plain(path, timeout):
                raise
        encrypt_plain(path, key, timeout)  # a box upgraded after its key was created
    else:
        key = DatabaseKey.load_or_create(key_file, path)
        encrypt_plain(path, key, timeout)
    _tighten(path)
    return _keyed(path, key, timeout, check_same_thread)


def _keyed(path: Path, key: DatabaseKey, timeout: float, check_same_thread: bool,
           read_only: bool = False) -> sqlite3.Connection:
    target = f"file:{quote(str(path))}?mode=ro" if read_only else str(path)
    try:
        conn = cast(sqlite3.Connection, _dbapi.connect(
            target, uri=read_only, timeout=timeout, check_same_thread=check_same_thread,
            isolation_level=None))
    except _dbapi.Error as exc:
        raise StoreError(f"{path}: cannot open the database: {exc}", cause=str(exc)) from None
    try:
        conn.execute(f'PRAGMA key = "{key.pragma_value}"')
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except _dbapi.DatabaseError as exc:
        conn.close()
        if getattr(exc, "sqlite_errorname", "") != "SQLITE_NOTADB":
            raise
        raise DatabaseKeyError(
            f"{path} cannot be opened with the key in {key.path}: wrong key or not a kiosk"
            " database (or its first page is damaged); refusing to start. Put back the"
            f" {KEY_FILE} that belongs to this database (from the box's backup), or move the"
            " database aside.", cause=str(exc)) from None
    return conn


def is_plain(path: Path, timeout: float = 5.0) -> bool:
    """Whether ``path`` is a plain (unencrypted) SQLite database.

    Asked through SQLite rather than by reading the file's header here: closing a file
    descriptor of our own on the database would drop the locks SQLite holds on it for this
    process's other connections."""
    try:
        with closing(_dbapi.connect(str(path), timeout=timeout)) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except _dbapi.DatabaseError as exc:
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
            return False
        raise StoreError(f"{path}: cannot open the database: {exc}", cause=str(exc)) from None
    return True


def encrypt_plain(path: Path, key: DatabaseKey, timeout: float = 5.0) -> None:
    """Encrypt the plain database at ``path`` in place (once; other processes wait)."""
    with _migration_lock(path.parent):
        if not is_plain(path, timeout):  # another process did it while we waited
            return
        copy = path.with_name(path.name + ENCRYPTING)
        for leftover in (copy, copy.with_name(copy.name + "-journal")):
            leftover.unlink(missing_ok=True)  # from an encryption a power cut stopped
        _create_private(copy)
        try:
            with closing(_dbapi.connect(str(path), timeout=timeout,
                                        isolation_level=None)) as conn:
                # out of WAL: the WAL is checkpointed into the file and removed
                conn.execute("PRAGMA journal_mode = DELETE").fetchone()
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                tables = int(conn.execute("SELECT count(*) FROM sqlite_master"
                                          " WHERE type = 'table'").fetchone()[0])
                conn.execute("ATTACH DATABASE ? AS encrypted KEY ?",
                             (str(copy), key.pragma_value))
                conn.execute("SELECT sqlcipher_export('encrypted')").fetchone()
                conn.execute(f"PRAGMA encrypted.user_version = {version}")
                conn.execute("DETACH DATABASE encrypted")
            _fsync(copy)
            for journal in ("-wal", "-shm"):  # the plain file's, now empty
                path.with_name(path.name + journal).unlink(missing_ok=True)
            os.replace(copy, path)
            fsync_dir(path.parent)
        except _dbapi.Error as exc:
            copy.unlink(missing_ok=True)
            raise StoreError(f"{path}: cannot encrypt the plain database ({exc}); it is left"
                             " as it was", cause=str(exc)) from None
        except OSError as exc:
            copy.unlink(missing_ok=True)
            raise StoreError(f"{path}: cannot encrypt the plain database"
                             f" ({exc.strerror or exc}); it is left as it was") from None
    log.warning("encrypted the plain database %s (%d tables) with the key in %s; the old"
                " file's blocks are freed, not overwritten", path, tables, key.path)


@contextmanager
def _migration_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on the data directory (not on the database file: see is_plain)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _create_private(path: Path) -> None:
    """Create ``path`` empty and owner-only if missing, so SQLite's files take that mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the database ({exc.strerror})") from None


def _tighten(path: Path) -> None:
    """Owner-only database, WAL and shared-memory files (a box from before had 0644)."""
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        try:
            if part.stat().st_mode & 0o077:
                os.chmod(part, FILE_MODE)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StoreError(f"{part}: cannot make it owner-only ({exc.strerror})") from None


def private_dir(path: Path) -> None:
    """Create ``path`` owner-only (0700), or make it so."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        if path.stat().st_mode & 0o077:
            os.chmod(path, DIR_MODE)
    except OSError as exc:
        raise StoreError(f"{path}: cannot make the data directory owner-only"
                         f" ({exc.strerror})") from None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

