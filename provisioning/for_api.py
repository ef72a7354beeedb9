"""Enrolment as the local API takes it: handed to ``create_app`` by the serving process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from device.audit import Actor
from device.config import KioskConfig
from device.storage.database import Store
from provisioning import enrol, status


class BoxProvisioner:
    """:class:`device.api.provision.Provisioner` backed by :mod:`provisioning.enrol`."""

    def status(self, config: KioskConfig) -> dict[str, Any]:
        return status.status(config)

    def enrol(self, config: KioskConfig, url: str, token: str, *, ca_file: Path | None,
              force: bool, store: Store, actor: Actor) -> bool:
        outcome = enrol.enrol(config, url, token, ca_file=ca_file, force=force, store=store,
                              actor=actor)
        return outcome.changed
