"""Disk self-test: write a test file into the data directory, fsync it, time both, remove it.

The write goes through the same filesystem as the database and the recordings, so a slow
or failing SD card shows here. The test never runs the disk into the space the storage
budget keeps free for interviews in progress, and never leaves its file behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from pathlib import Path
from typing import Any

from device.ops.sysinfo import disk

SIZE = 16 * 1024 * 1024
CHUNK = 1024 * 1024
PREFIX = ".selftest-disk-"
MIB = 1024 * 1024


def run(path: Path, size: int = SIZE, reserve_bytes: int = 0) -> dict[str, Any]:
    """Write ``size`` bytes into a new file under ``path``, fsync, remove; the result object.

    Refused up front (nothing written) when less than ``size + reserve_bytes`` is free."""
    out: dict[str, Any] = {"ok": False, "bytes": 0, "write_mb_s": None, "fsync_ms": None,
                           "free_bytes": disk(path)[1], "path": str(path), "detail": None}
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        out["detail"] = f"the data directory {path} {what}; check data_dir in the configuration"
        return out
    free = out["free_bytes"]
    if free < size + reserve_bytes:
        out["detail"] = (f"the disk is (nearly) full: {free / MIB:.1f} MiB free in {path}, the"
                         f" test needs {size / MIB:.0f} MiB above the {reserve_bytes / MIB:.0f}"
                         " MiB kept for interviews; free space first (old media, logs)")
        return out
    target: Path | None = None
    written = 0
    try:
        fd, name = _create(path)
        target = Path(name)
        block = os.urandom(CHUNK)  # incompressible, so the disk really is measured
        started = time.perf_counter()
        try:
            while written < size:
                n = os.write(fd, block[: min(CHUNK, size - written)])
                if n <= 0:
                    raise OSError(errno.EIO, "short write")
                written += n
            synced = time.perf_counter()
            os.fsync(fd)
            ended = time.perf_counter()
        finally:
            os.close(fd)
    except OSError as exc:
        out["detail"] = _failure(exc, path, written)
        return out
    finally:
        if target is not None:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
        out["free_bytes"] = disk(path)[1]
    seconds = max(ended - started, 1e-9)
    out.update(ok=True, bytes=written, write_mb_s=round(written / 1e6 / seconds, 2),
               fsync_ms=round((ended - synced) * 1000, 2))
    return out


def _create(path: Path) -> tuple[int, str]:
    name = str(path / f"{PREFIX}{os.getpid()}-{time.monotonic_ns()}")
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return fd, name


def _failure(exc: OSError, path: Path, written: int) -> str:
    reason = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is spent",
        errno.EROFS: "the filesystem is read-only (an SD card gone read-only is failing)",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EIO: "an I/O error (the storage may be failing)",
        errno.EFBIG: "the file size limit was reached",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return (f"writing a test file in {path} failed after {written / MIB:.1f} MiB: {reason};"
            " the test file was removed")
