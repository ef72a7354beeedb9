"""Logging for the box: JSON lines (journald keeps them whole) or plain text on stderr, and
JSON lines in ``<data_dir>/logs/<service>.log`` (rotated) for staff to read through the API.

Each file line is ``{"at", "level", "logger", "msg"}`` (``at`` in ISO 8601 UTC), plus
``exc`` for a traceback. :func:`read` pages through a service's files, oldest first, with
an opaque cursor that survives rotation: it names a file by its inode and first line, so
lines are neither lost nor repeated when ``kiosk.log`` becomes ``kiosk.log.1``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import json
import logging
import logging.handlers
import os
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from device.errors import KioskError

#: The services that write log files, as ``kiosk serve`` and ``kiosk sync`` name them.
SERVICES = ("kiosk-device", "kiosk-sync")
MAX_BYTES = 1_048_576
BACKUPS = 3
FILE_MODE = 0o640


class JsonLines(logging.Formatter):
    """One JSON object per line (stderr, for journald): local time under ``ts``."""

    time_key = "ts"

    def stamp(self, record: logging.LogRecord) -> str:
        return self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            self.time_key: self.stamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class FileLines(JsonLines):
    """One JSON object per line, the time in UTC (the file outlives time zone changes)."""

    time_key = "at"

    def stamp(self, record: logging.LogRecord) -> str:
        at = dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
        return at.isoformat(timespec="milliseconds")


class _RotatingFile(logging.handlers.RotatingFileHandler):
    """Rotating files readable by the owner and the service group only."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        os.fchmod(fd, FILE_MODE)  # the umask may have taken bits away, or the file existed
        return open(fd, "a", encoding=self.encoding or "utf-8", errors=self.errors)


def log_dir(data_dir: Path) -> Path:
    return data_dir / "logs"


def file_handler(service: str, directory: Path, *, max_bytes: int = MAX_BYTES,
                 backups: int = BACKUPS) -> logging.Handler:
    """JSON lines to ``directory/<service>.log``, rotated at ``max_bytes`` (``backups`` kept)."""
    directory.mkdir(mode=0o750, parents=True, exist_ok=True)
    handler = _RotatingFile(directory / f"{service}.log", maxBytes=max_bytes,
                            backupCount=backups, encoding="utf-8")
    handler.setFormatter(FileLines())
    return handler


def setup(level: str = "INFO", fmt: str = "json", service: str | None = None,
          data_dir: Path | None = None, *, max_bytes: int = MAX_BYTES,
          backups: int = BACKUPS) -> None:
    """Log to stderr; with ``service`` and ``data_dir`` also to that service's log file."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonLines() if fmt == "json" else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    handlers: list[logging.Handler] = [handler]
    problem = None
    if service is not None and data_dir is not None:
        try:
            handlers.append(file_handler(service, log_dir(data_dir), max_bytes=max_bytes,
                                         backups=backups))
        except OSError as exc:  # the service still runs; journald keeps its lines
            problem = f"{log_dir(data_dir)}: cannot write log files ({exc.strerror}); logging" \
                      " to stderr only"
    root.handlers[:] = handlers
    root.setLevel(level)
    if problem:
        logging.getLogger(__name__).warning("%s", problem)


# -- reading ------------------------------------------------------------------------------

class LogRequestError(KioskError):
    """An unknown service or a cursor this box did not hand out."""

    code = "invalid-log-request"


@dataclass(frozen=True)
class Page:
    lines: list[dict[str, Any]]
    next: str


@dataclass(frozen=True)
class _Position:
    """A place in the log: a file (its inode and first line's digest) and a byte offset."""

    inode: int
    head: str
    offset: int

    def encode(self) -> str:
        raw = f"{self.inode}:{self.head}:{self.offset}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> _Position:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            inode, head, offset = raw.split(":")
            return cls(int(inode), head, int(offset))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise LogRequestError(
                f"cursor {cursor[:40]!r} is not one this box handed out; omit 'after' to read"
                " the latest lines, then follow 'next'") from None


#: Before any line was written: read from the start of whatever the files hold.
_START = _Position(0, "", 0)


@dataclass
class _File:
    handle: IO[bytes]
    inode: int
    head: str  # digest of the first complete line; "" while the file has none

    def lines(self, offset: int) -> Iterator[tuple[bytes, int]]:
        """Complete lines from ``offset``, each with the offset after it."""
        if not self.head:  # no complete line yet when opened: nothing to name a place by
            return
        self.handle.seek(offset)
        for line in self.handle:
            if not line.endswith(b"\n"):
                return  # being written: read next time
            offset += len(line)
            yield line, offset


def _open_files(directory: Path, service: str) -> list[_File]:
    """The service's files, oldest first, all open at once: a rotation cannot move them
    under the reader any more. Opened again when one rotated while they were opened."""
    base = directory / f"{service}.log"
    paths = [base.with_name(f"{base.name}.{n}") for n in range(9, 0, -1)] + [base]
    for _ in range(5):
        files: list[tuple[Path, _File]] = []
        for path in paths:
            try:
                handle = path.open("rb")
            except FileNotFoundError:
                continue
            except OSError as exc:
                for _, f in files:
                    f.handle.close()
                raise LogRequestError(f"{path}: cannot read the log ({exc.strerror})") from None
            first = handle.readline()
            head = hashlib.sha256(first).hexdigest()[:16] if first.endswith(b"\n") else ""
            files.append((path, _File(handle, os.fstat(handle.fileno()).st_ino, head)))
        if all(_inode(path) == f.inode for path, f in files):
            return [f for _, f in files]
        for _, f in files:
            f.handle.close()
    raise LogRequestError(f"{base}: the log rotates too fast to read; try again")


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def _entry(line: bytes) -> dict[str, Any]:
    text = line.decode("utf-8", "replace").rstrip("\n")
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(text)
    except ValueError:
        return {"at": None, "level": "unknown", "logger": "", "message": text}
    message = str(data.get("msg", ""))
    if data.get("exc"):
        message = f"{message}\n{data['exc']}"
    return {"at": data.get("at"), "level": data.get("level"), "logger": data.get("logger"),
            "message": message}


def read(directory: Path, service: str, *, after: str | None = None,
         limit: int = 200) -> Page:
    """Lines of a service's log: the last ``limit`` ones, or up to ``limit`` after a cursor.

    ``next`` is the cursor to poll with. A service that never logged has no lines; a
    cursor whose file has rotated away continues from the oldest line still kept.
    """
    if service not in SERVICES:
        raise LogRequestError(
            f"unknown service {service!r}: use one of {', '.join(SERVICES)}")
    start = _START if after is None else _Position.decode(after)
    files = _open_files(directory, service)
    try:
        if after is None:
            return _tail(files, limit)
        return _follow(files, start, limit)
    finally:
        for f in files:
            f.handle.close()


def _end(files: list[_File]) -> _Position:
    """Just after the last complete line of the newest file that has one."""
    for f in reversed(files):
        if f.head:
            ends = [end for _, end in f.lines(0)]
            return _Position(f.inode, f.head, ends[-1] if ends else 0)
    return _START


def _tail(files: list[_File], limit: int) -> Page:
    last: deque[bytes] = deque(maxlen=limit)
    for f in files:
        last.extend(line for line, _ in f.lines(0))
    return Page([_entry(line) for line in last], _end(files).encode())


def _follow(files: list[_File], start: _Position, limit: int) -> Page:
    index, offset = 0, 0
    if start != _START:
        found = [i for i, f in enumerate(files) if f.inode == start.inode and f.head == start.head]
        if found:
            index, offset = found[0], start.offset
    position = start
    out: list[dict[str, Any]] = []
    for f in files[index:]:
        for line, end in f.lines(offset):
            if len(out) == limit:
                return Page(out, position.encode())
            out.append(_entry(line))
            position = _Position(f.inode, f.head, end)
        offset = 0
    return Page(out, position.encode())
