"""Everything one kiosk process needs, built once from the configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from device.clock import Clock
from device.codes import load_or_create_key
from device.config import KioskConfig
from device.interview import Interview
from device.outbox import Identity
from device.session import Engine
from device.store import Store


@dataclass
class Kiosk:
    config: KioskConfig
    store: Store
    engine: Engine
    interview: Interview
    #: Set by the API app: its metrics registry.
    metrics: Any = None

    @property
    def identity(self) -> Identity:
        return self.engine.identity

    def close(self) -> None:
        self.store.close()


def open_kiosk(config: KioskConfig, clock: Clock | None = None) -> Kiosk:
    """Open the store (migrating and checking it) and build the engine."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(
        config.db_path,
        clock=clock,
        busy_timeout_ms=config.store.busy_timeout_ms,
        check_integrity=config.store.check_integrity,
    )
    identity = Identity(config.device.id, config.device.tenant, config.device.site)
    key = load_or_create_key(config.secrets_dir / "codes.key")
    engine = Engine(store, config.session, identity, key)
    return Kiosk(config, store, engine, Interview(engine))
