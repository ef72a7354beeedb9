"""A disk with a volatile write cache, as an APSW VFS, for power-cut tests.

Writes to a database, its WAL and its rollback journal land in that file's cache (kept
per path, so it outlives the handle that wrote it, as an OS page cache does) and reach
the real file only when SQLite syncs the file. Reads see the cache over the file.
Deleting a file drops its cache and is durable at once.

:meth:`PowerCutVFS.cut` is the power going off:

- ``"drop"``: every unsynced write is lost;
- ``"torn"``: a random subset (seeded) of the unsynced 512-byte sectors and of the
  pending truncations reaches the file, in the order they were issued — a torn write
  that respects powersafe overwrite (bytes outside a write are never touched). How much
  gets through is itself random per cut, from almost nothing to almost everything;
- the WAL index (``-shm``) is shared memory, so it is lost: SQLite rebuilds it from the
  WAL when the database is next opened;
- every later call on the VFS or its files raises an I/O error — the machine is off —
  except letting go of locks and handles, which a dead machine holds none of.

``cut_after=N`` cuts the power during the N-th disk operation (a write, truncate, sync
or delete of a cached file), before that operation has any effect. ``keep`` fixes the
torn chance (1.0: the drive got everything out). ``honest_sync=False`` models a drive
that acknowledges a flush and keeps the data in its cache.

:func:`open_writer` opens a database on it configured as ``device.storage.database.Store`` does,
and :class:`ApswDatabase` lets the product's write paths (which take a
``sqlite_utils.Database``) run over that connection.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import apsw
from typing_extensions import Buffer

CutMode = Literal["drop", "torn"]
SECTOR = 512
#: Files whose contents must survive a power cut; temporary files pass straight through.
CACHED = apsw.SQLITE_OPEN_MAIN_DB | apsw.SQLITE_OPEN_MAIN_JOURNAL | apsw.SQLITE_OPEN_WAL


@dataclass
class _Cache:
    """One file's writes that the drive has accepted but not made durable."""

    size: int  # the size a reader sees
    ops: list[tuple[int, bytes | None]] = field(default_factory=list)  # None: truncate


@dataclass
class CutReport:
    """What the power cut did."""

    mode: CutMode
    at_op: int
    keep: float = 0.0  # torn: the chance each pending sector or truncation had
    pending_sectors: int = 0
    applied_sectors: int = 0
    pending_truncates: int = 0
    applied_truncates: int = 0


def _path(name: str | apsw.URIFilename | None) -> str:
    return name.filename() if isinstance(name, apsw.URIFilename) else str(name)


def _sectors(offset: int, data: bytes) -> list[tuple[int, bytes]]:
    """``data`` written at ``offset``, split on absolute sector boundaries."""
    out = []
    start = offset
    while start < offset + len(data):
        end = min((start // SECTOR + 1) * SECTOR, offset + len(data))
        out.append((start, data[start - offset:end - offset]))
        start = end
    return out


class PowerCutVFS(apsw.VFS):
    """Wraps the default VFS; register by constructing, then open with ``vfs=name``."""

    def __init__(
        self,
        name: str,
        *,
        cut_after: int | None = None,
        mode: CutMode = "drop",
        seed: int = 0,
        keep: float | None = None,
        honest_sync: bool = True,
    ) -> None:
        self.vfs_name = name
        self.cut_after = cut_after
        self.mode: CutMode = mode
        self.keep = keep
        self.honest_sync = honest_sync
        self.rng = random.Random(seed)
        self.caches: dict[str, _Cache] = {}
        self.databases: set[str] = set()
        self.ops = 0
        self.report: CutReport | None = None
        super().__init__(name, "")

    @property
    def dead(self) -> bool:
        return self.report is not None

    def check_power(self) -> None:
        if self.report is not None:
            raise apsw.IOError(f"power is off (cut at disk operation {self.report.at_op})")

    def disk_op(self) -> None:
        """Count one disk operation; the counted one is where a planned cut happens."""
        self.check_power()
        self.ops += 1
        if self.cut_after is not None and self.ops >= self.cut_after:
            self.cut(self.mode)
            self.check_power()

    def cut(self, mode: CutMode) -> CutReport:
        """Power off now. Idempotent: a second cut returns the first one's report."""
        if self.report is not None:
            return self.report
        keep = self.rng.random() if self.keep is None else self.keep
        report = CutReport(mode, self.ops, keep if mode == "torn" else 0.0)
        for path, cache in self.caches.items():
            self._settle(path, cache, report)
        self.caches.clear()
        for db in self.databases:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{db}-shm")
        self.report = report
        return report

    def _settle(self, path: str, cache: _Cache, report: CutReport) -> None:
        """What of one file's cache reaches the platter as the power goes."""
        report.pending_truncates += sum(1 for _, data in cache.ops if data is None)
        report.pending_sectors += sum(len(_sectors(at, d)) for at, d in cache.ops if d)
        if report.mode == "drop" or not cache.ops:
            return
        fd = os.open(path, os.O_WRONLY)
        try:
            for at, data in cache.ops:
                if data is None:
                    if self.rng.random() < report.keep:
                        os.ftruncate(fd, at)
                        report.applied_truncates += 1
                    continue
                for start, chunk in _sectors(at, data):
                    if self.rng.random() < report.keep:
                        os.pwrite(fd, chunk, start)
                        report.applied_sectors += 1
        finally:
            os.close(fd)

    # -- the VFS methods ----------------------------------------------------------------

    def xOpen(self, name: str | apsw.URIFilename | None, flags: list[int]) -> apsw.VFSFile:
        self.check_power()
        if name is None or not flags[0] & CACHED:
            return apsw.VFSFile("", name, flags)
        path = _path(name)
        if flags[0] & apsw.SQLITE_OPEN_MAIN_DB:
            self.databases.add(path)
        return PowerCutFile(self, path, name, flags)

    def xDelete(self, filename: str, syncdir: bool) -> None:
        self.disk_op()
        self.caches.pop(filename, None)
        super().xDelete(filename, syncdir)

    def xAccess(self, pathname: str, flags: int) -> bool:
        self.check_power()
        return super().xAccess(pathname, flags)

    def xFullPathname(self, name: str) -> str:
        self.check_power()
        return super().xFullPathname(name)


class PowerCutFile(apsw.VFSFile):
    """A database, WAL or journal file behind the drive's write cache.

    Inherits from the default VFS's file, so the WAL index (xShm*) is the default one.
    """

    def __init__(
        self, vfs: PowerCutVFS, path: str, name: str | apsw.URIFilename, flags: list[int]
    ) -> None:
        super().__init__("", name, flags)
        self.vfs = vfs
        self.path = path

    def _cache(self) -> _Cache:
        cache = self.vfs.caches.get(self.path)
        if cache is None:
            cache = self.vfs.caches[self.path] = _Cache(super().xFileSize())
        return cache

    def xRead(self, amount: int, offset: int) -> bytes:
        self.vfs.check_power()
        cache = self._cache()
        durable = super().xRead(amount, offset)
        if not cache.ops:
            return durable
        buf = bytearray(durable.ljust(amount, b"\0"))
        for at, data in cache.ops:
            if data is None:
                cut_from = min(max(at - offset, 0), amount)
                buf[cut_from:] = bytes(amount - cut_from)
                continue
            lo, hi = max(at, offset), min(at + len(data), offset + amount)
            if lo < hi:
                buf[lo - offset:hi - offset] = data[lo - at:hi - at]
        return bytes(buf[:max(0, min(amount, cache.size - offset))])

    def xWrite(self, data: Buffer, offset: int) -> None:
        self.vfs.disk_op()
        cache = self._cache()
        chunk = bytes(data)
        cache.ops.append((offset, chunk))
        cache.size = max(cache.size, offset + len(chunk))

    def xTruncate(self, newsize: int) -> None:
        self.vfs.disk_op()
        cache = self._cache()
        cache.ops.append((newsize, None))
        cache.size = newsize

    def xSync(self, flags: int) -> None:
        self.vfs.disk_op()
        if not self.vfs.honest_sync:
            return
        cache = self._cache()
        for at, data in cache.ops:
            if data is None:
                super().xTruncate(at)
            else:
                super().xWrite(data, at)
        cache.ops.clear()
        # The real file stands for the platter: the test machine keeps its power, so
        # pushing it further (fsync) would only cost time.

    def xFileSize(self) -> int:
        self.vfs.check_power()
        return self._cache().size

    def xLock(self, level: int) -> None:
        self.vfs.check_power()
        super().xLock(level)

    def xUnlock(self, level: int) -> None:
        # Letting go always works: a machine without power holds no locks.
        super().xUnlock(level)

    def xCheckReservedLock(self) -> bool:
        self.vfs.check_power()
        return super().xCheckReservedLock()

    def xDeviceCharacteristics(self) -> int:
        # What this drive promises: a power cut leaves bytes outside a write alone, and
        # nothing is atomic or ordered.
        return int(apsw.SQLITE_IOCAP_POWERSAFE_OVERWRITE)

    def xClose(self) -> None:
        # The handle goes (the process lets go of it, power or not); its unsynced writes
        # stay in the drive's cache.
        super().xClose()


# -- a connection for the product's code ----------------------------------------------

class _Cursor:
    """What the product's row helpers read from a cursor: description and rows."""

    def __init__(self, cursor: apsw.Cursor) -> None:
        try:
            self.description: Sequence[tuple[Any, ...]] = cursor.description
        except apsw.ExecutionCompleteError:  # no rows, nothing to describe
            self.description = ()
        self._cursor = cursor

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._cursor)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._cursor)


class ApswDatabase:
    """The one method of ``sqlite_utils.Database`` the product's write paths call."""

    def __init__(self, conn: apsw.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> _Cursor:
        return _Cursor(self.conn.execute(sql, cast(Any, params)))


def open_writer(path: Path, vfs: str, synchronous: str = "FULL") -> apsw.Connection:
    """An APSW connection configured like ``Store._configure`` (WAL, FULL sync, ...)."""
    conn = apsw.Connection(str(path), vfs=vfs)
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchall()
    if mode != [("wal",)]:
        raise RuntimeError(f"{path}: journal mode {mode}, not WAL")
    for pragma in ("busy_timeout = 5000", f"synchronous = {synchronous}", "foreign_keys = ON",
                   "mmap_size = 0"):  # mmap off: every read goes through the VFS
        conn.execute(f"PRAGMA {pragma}").fetchall()
    return conn
