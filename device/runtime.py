"""Everything one kiosk process needs, built once from the configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from device import recordings
from device.analysis import AnalysisService
from device.central_settings import effective_config
from device.clock import Clock, Stamp
from device.codes import load_or_create_key
from device.config import KioskConfig
from device.interview import Interview
from device.outbox import Identity
from device.session import Engine
from device.storage import StorageBudget
from device.store import Store

if TYPE_CHECKING:
    from inference.pipeline import Analyzer


@dataclass
class Kiosk:
    config: KioskConfig
    store: Store
    engine: Engine
    interview: Interview
    analysis: AnalysisService
    storage: StorageBudget
    #: Set by the API app: its metrics registry.
    metrics: Any = None

    @property
    def identity(self) -> Identity:
        return self.engine.identity

    def close(self) -> None:
        self.analysis.stop()
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
    config = effective_config(config, store)  # with the settings central has sent
    identity = Identity(config.device.id, config.device.tenant, config.device.site)
    key = load_or_create_key(config.secrets_dir / "codes.key")
    engine = Engine(store, config.session, identity, key)
    service = AnalysisService(store, identity, lambda: load_analyzer(config))
    engine.on_final.append(service.on_final)
    if config.sync.upload_media:

        def announce(db: Database, session: dict[str, Any], now: Stamp) -> None:
            recordings.announce_session_media(db, identity, now, session)

        engine.on_final.append(announce)
    budget = StorageBudget(store, config)
    engine.admission.append(budget.admit)
    return Kiosk(config, store, engine, Interview(engine), service, budget)


def load_analyzer(config: KioskConfig) -> Analyzer:
    """Verify and load the installed models (a model that fails verification is refused)."""
    from inference.modelstore import ModelFiles, ModelStore
    from inference.pipeline import Analyzer, Settings

    files = ModelFiles.open(ModelStore(config.models_dir))
    a = config.analysis
    return Analyzer(files, Settings(tflite_threads=a.tflite_threads, frame_rate=a.frame_rate,
                                    pause_threshold_s=a.pause_threshold_s))
