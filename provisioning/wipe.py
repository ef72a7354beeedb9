"""Factory reset of a box (``kiosk provision wipe``).

Order matters: a ``.wipe-pending`` marker is written (and synced) first, then the media key
and the database key are destroyed (overwritten, then unlinked, the directory synced) so
recordings and ``kiosk.db`` (encrypted with SQLCipher) are unreadable even where the SD card
keeps old blocks, then the database, media, logs, secrets, the enrolment file and any other
generated state go. Installed models and the configuration file stay. The marker is
removed last: while it exists the kiosk refuses to start, and running the wipe again
finishes an interrupted one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from device.config import KioskConfig
from device.enrolment_file import ENROLMENT_FILE
from device.errors import KioskError
from device.storage.encrypted_db import KEY_FILE as DB_KEY_FILE
from provisioning import files

log = logging.getLogger(__name__)

MARKER = ".wipe-pending"
SERVICES = ("kiosk-device.service", "kiosk-sync.service", "kiosk-ui.service")
#: Present when systemd is the init system (the services can then be asked about).
SYSTEMD_RUN_DIR = Path("/run/systemd/system")


class WipePendingError(KioskError):
    """A wipe was started and did not finish: the box must not run until it has."""

    status = 503
    code = "wipe-pending"


class WipeError(KioskError):
    status = 500
    code = "wipe-failed"


def marker(data_dir: Path) -> Path:
    return data_dir / MARKER


def pending(data_dir: Path) -> dict[str, Any] | None:
    """The pending wipe's marker (device id, when it started), or None."""
    path = marker(data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError:
        return {"device_id": None, "started": None}
    try:
        found = json.loads(text)
    except ValueError:
        found = None
    return found if isinstance(found, dict) else {"device_id": None, "started": None}


def refuse_if_pending(config: KioskConfig) -> None:
    """Raise :class:`WipePendingError` while a factory reset of this box is unfinished."""
    if marker(config.data_dir).exists():
        raise WipePendingError(
            f"a factory reset of this box was interrupted ({marker(config.data_dir)} exists):"
            " finish it with `kiosk provision wipe` before starting the kiosk")


def running_services(run: Callable[..., Any] = subprocess.run) -> list[str]:
    """The kiosk units systemd reports active (none when systemd is not the init system)."""
    if not SYSTEMD_RUN_DIR.is_dir() or shutil.which("systemctl") is None:
        return []
    active = []
    for unit in SERVICES:
        try:
            result = run(["systemctl", "is-active", "--quiet", unit], check=False, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if result.returncode == 0:
            active.append(unit)
    return active


@dataclass
class Wipe:
    """One factory reset of ``data_dir``; ``keep`` lists paths that survive it."""

    data_dir: Path
    keep: list[Path] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def run(self, device_id: str) -> list[str]:
        self._write_marker(device_id)
        steps: list[tuple[str, Callable[[], None]]] = [
            ("the media key", lambda: destroy(self.data_dir / "secrets" / "media.key")),
            ("the database key", lambda: destroy(self.data_dir / "secrets" / DB_KEY_FILE)),
            ("the database", self._database),
            ("recordings", lambda: self._tree(self.data_dir / "media")),
            ("logs", lambda: self._tree(self.data_dir / "logs")),
            ("secrets", self._secrets),
            ("the enrolment", lambda: files.unlink(self.data_dir / ENROLMENT_FILE)),
            ("other state", self._rest),
        ]
        for what, step in steps:
            try:
                step()
            except (OSError, KioskError) as exc:
                raise WipeError(f"the wipe stopped while removing {what} ({exc}); run"
                                " `kiosk provision wipe` again to finish it") from None
        files.unlink(marker(self.data_dir))
        return self.removed

    def _write_marker(self, device_id: str) -> None:
        if marker(self.data_dir).exists():
            return
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        files.write_atomic(marker(self.data_dir), json.dumps(
            {"device_id": device_id, "started": started}).encode(), 0o600)

    def _database(self) -> None:
        for suffix in ("-wal", "-shm", "-journal", ""):
            path = self.data_dir / f"kiosk.db{suffix}"
            if path.exists():
                files.unlink(path)
                self.removed.append(path.name)

    def _tree(self, path: Path) -> None:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
            files.fsync_dir(path.parent)
            self.removed.append(path.name + "/")
        elif path.exists() or path.is_symlink():
            files.unlink(path)
            self.removed.append(path.name)

    def _secrets(self) -> None:
        secrets = self.data_dir / "secrets"
        if not secrets.is_dir():
            return
        for entry in sorted(secrets.iterdir()):
            if entry.is_file() and not entry.is_symlink():
                destroy(entry)
        self._tree(secrets)

    def _rest(self) -> None:
        keep = {p.resolve() for p in self.keep} | {marker(self.data_dir).resolve()}
        for entry in sorted(self.data_dir.iterdir()):
            resolved = entry.resolve()
            if resolved in keep or any(k.is_relative_to(resolved) for k in keep):
                if entry.is_dir() and resolved not in keep:
                    Wipe(entry, list(self.keep), self.removed)._rest()
                continue
            self._tree(entry)


def destroy(path: Path) -> None:
    """Overwrite a file with random bytes (synced), then unlink it."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    with path.open("r+b") as fh:
        fh.write(os.urandom(max(size, 32)))
        fh.flush()
        os.fsync(fh.fileno())
    files.unlink(path)


def wipe(config: KioskConfig, device_id: str, *, keep: Iterable[Path] = ()) -> list[str]:
    """Factory-reset the box: see the module's docstring. Keeps the installed models and
    ``keep`` (the configuration file). Returns what was removed."""
    services = running_services()
    if services:
        raise WipeError(f"{', '.join(services)} still running: stop the kiosk services first"
                        f" (systemctl stop {' '.join(services)})")
    if not config.data_dir.is_dir():
        return []
    return Wipe(config.data_dir, [config.models_dir, *keep]).run(device_id)
