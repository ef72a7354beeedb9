"""Files a box's provisioning writes: atomically, with their mode from the first byte.

``<data_dir>/secrets/`` (0700) holds the device key, its certificate, central's CA
certificate and central's document-signing public key (each 0600); ``<data_dir>/
enrolment.toml`` says who the box is and where central is (see :mod:`provisioning.enrol`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device.config import KioskConfig
from device.enrolment_file import ENROLMENT_FILE
from device.errors import KioskError
from shared import files
from shared.files import SECRET_MODE as SECRET_MODE
from shared.files import fsync_dir as fsync_dir

SECRETS_DIR_MODE = 0o700
KEY, CERT, CA, SIGNING = "device.key", "device.pem", "central-ca.pem", "central-signing.pub"
#: A key generated for an enrolment that has not finished yet (kept so a re-run reuses it).
PENDING_KEY = "device.key.pending"


class ProvisioningError(KioskError):
    """A provisioning file cannot be read or written."""

    code = "provisioning-error"


@dataclass(frozen=True)
class BoxFiles:
    """Where enrolment keeps its files for one data directory."""

    data_dir: Path

    @property
    def secrets(self) -> Path:
        return self.data_dir / "secrets"

    @property
    def enrolment(self) -> Path:
        return self.data_dir / ENROLMENT_FILE

    @property
    def key(self) -> Path:
        return self.secrets / KEY

    @property
    def pending_key(self) -> Path:
        return self.secrets / PENDING_KEY

    @property
    def cert(self) -> Path:
        return self.secrets / CERT

    @property
    def ca(self) -> Path:
        return self.secrets / CA

    @property
    def signing(self) -> Path:
        return self.secrets / SIGNING

    def secret_files(self) -> list[Path]:
        return [self.key, self.cert, self.ca, self.signing]

    @classmethod
    def of(cls, config: KioskConfig) -> BoxFiles:
        return cls(config.data_dir)


def secure_dir(path: Path) -> None:
    """Create ``path`` (0700) if missing, and tighten it to 0700 if it is looser."""
    try:
        path.mkdir(mode=SECRETS_DIR_MODE, parents=True, exist_ok=True)
        if path.stat().st_mode & 0o777 != SECRETS_DIR_MODE:
            path.chmod(SECRETS_DIR_MODE)
    except OSError as exc:
        raise ProvisioningError(f"{path}: cannot create the directory"
                                f" ({exc.strerror or exc})") from None


def write_atomic(path: Path, data: bytes, mode: int = SECRET_MODE,
                 error: type[KioskError] = ProvisioningError) -> None:
    """:func:`shared.files.write_atomic`, failing with a provisioning error by default."""
    files.write_atomic(path, data, mode, error)


def unlink(path: Path) -> None:
    """Remove a file if present, and make the removal durable."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ProvisioningError(f"{path}: cannot remove ({exc.strerror or exc})") from None
    fsync_dir(path.parent)


def toml_text(sections: dict[str, dict[str, Any]], header: str = "") -> str:
    """A small TOML document of flat tables holding strings and integers."""
    lines = [f"# {line}" for line in header.splitlines()]
    for name, values in sections.items():
        lines += ["", f"[{name}]"]
        for key, value in values.items():
            if value is None:
                continue
            shown = str(value) if isinstance(value, int) else json.dumps(str(value))
            lines.append(f"{key} = {shown}")
    return "\n".join(lines).lstrip("\n") + "\n"
