"""The box's symmetric keys on disk: 32 random bytes in an owner-only file.

The media key (``secrets/media.key``) and the database key (``secrets/db.key``) are kept
the same way: the file is 0600 in a 0700 directory, refused when it is open to others or
the wrong size, and created so that two processes starting together end up with one key.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from contextlib import suppress
from pathlib import Path

from shared.errors import KioskError
from shared.files import fsync_dir

KEY_BYTES = 32


def read_key(path: Path, what: str, error: type[KioskError], missing: str) -> bytes:
    """The key in ``path``; ``error`` when it is missing (``missing`` says what that means),
    open to group or others, or the wrong size."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise error(f"no {what} at {path}: {missing}") from None
    except OSError as exc:
        raise error(f"cannot read the {what} {path}: {exc.strerror}") from exc
    try:
        mode = os.fstat(fd).st_mode & 0o777
        if mode & 0o077:
            raise error(f"the {what} {path} is open to group or others (mode {mode:04o});"
                        f" it must be owner-only: chmod 600 {path}")
        data = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) != KEY_BYTES:
        raise error(f"the {what} {path} holds {len(data)} bytes, not {KEY_BYTES}: it is"
                    f" damaged or not a {what}")
    return data


def create_key(path: Path, what: str, error: type[KioskError]) -> None:
    """Create a new key at ``path`` (owner-only, in an owner-only directory) unless one is
    there.

    The key is written to a temporary file, flushed, and linked into place, which fails if
    another process created the key first: then that key stays, so two processes starting
    together never end up holding different keys."""
    parent = path.parent
    try:
        if not parent.is_dir():
            with suppress(FileExistsError):  # another process may be creating it too
                parent.mkdir(parents=True, mode=0o700)
                os.chmod(parent, 0o700)  # whatever the umask
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(KEY_BYTES))
                f.flush()
                os.fsync(f.fileno())
            with suppress(FileExistsError):  # created meanwhile: that key is the one
                os.link(tmp, path)
                fsync_dir(parent)
        finally:
            os.unlink(tmp)
    except OSError as exc:
        raise error(f"cannot create the {what} {path}: {exc.strerror}") from exc
