"""Files written whole or not at all, with their mode from the first byte."""

from __future__ import annotations

import os
from pathlib import Path

from shared.errors import KioskError

SECRET_MODE = 0o600


def write_atomic(path: Path, data: bytes, mode: int = SECRET_MODE,
                 error: type[KioskError] = KioskError) -> None:
    """Write ``path`` whole or not at all, with ``mode`` from the first byte: temporary file,
    fsync, rename, fsync directory. A failure raises ``error`` naming the path."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.fchmod(fd, mode)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        raise error(f"{path}: cannot write ({exc.strerror or exc})") from None


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a file created, renamed or removed) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
