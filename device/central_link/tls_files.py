"""Where the box's TLS material for central is: central's CA, the device certificate and key.

The sync agent builds its TLS context from these paths; the network self-test uses the same
ones, so both look where enrolment wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from device.config import KioskConfig

P = TypeVar("P", bound="TlsPaths")


@dataclass(frozen=True)
class TlsPaths:
    """Central's CA, and the device certificate and key when the box has one."""

    ca: Path
    cert: Path | None
    key: Path | None

    @classmethod
    def from_config(cls: type[P], config: KioskConfig) -> P:
        sync = config.sync
        cert = config.secret(sync.cert_file, "device.pem")
        key = config.secret(sync.key_file, "device.key")
        has_cert = sync.cert_file is not None or cert.exists()
        return cls(ca=config.secret(sync.ca_file, "central-ca.pem"),
                   cert=cert if has_cert else None, key=key if has_cert else None)
