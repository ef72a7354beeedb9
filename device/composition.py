"""The composition root: everything one kiosk process needs, built once from the configuration
(the store, the session engine, analysis, capture), handed to the API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from device.analysis.worker import AnalysisService
from device.central_link.outbox import Identity
from device.central_link.settings import effective_config
from device.clock import Clock
from device.config import KioskConfig
from device.jobs.language_gate import LanguageGate
from device.ops.retention import RetentionPurge
from device.ops.storage_budget import StorageBudget
from device.sessions import recordings
from device.sessions.codes import load_or_create_key
from device.sessions.engine import Engine
from device.sessions.interview import Interview
from device.storage.database import Store
from device.storage.media_crypto import MediaKey

if TYPE_CHECKING:
    from device.capture.service import CaptureService
    from inference.pipeline import Analyzer


@dataclass
class Kiosk:
    config: KioskConfig
    store: Store
    engine: Engine
    interview: Interview
    analysis: AnalysisService
    storage: StorageBudget
    #: Purges sessions at their job's retention age, as the consent promises.
    retention: RetentionPurge
    #: Recording on this box (None when ``[capture] enabled`` is off).
    capture: CaptureService | None = None
    #: Announces recordings to central (None when ``[sync] upload_media`` is off).
    media_announcer: recordings.MediaAnnouncer | None = None
    #: Set by the API app: its metrics registry.
    metrics: Any = None

    @property
    def identity(self) -> Identity:
        return self.engine.identity

    def close(self) -> None:
        if self.capture is not None:
            self.capture.stop()
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
        mark=config.store_mark_path,
    )
    config = effective_config(config, store)  # with the settings central has sent
    identity = Identity(config.device.id, config.device.tenant, config.device.site)
    key = load_or_create_key(config.secrets_dir / "codes.key")
    engine = Engine(store, config.session, identity, key,
                    languages=LanguageGate.for_config(config))
    media_key = MediaKey.load_or_create(config.secrets_dir / "media.key")
    service = AnalysisService(store, identity, lambda: load_analyzer(config),
                              media_key=media_key, work_dir=config.media_dir / ".work")
    engine.on_final.append(service.on_final)
    announcer = None
    if config.sync.upload_media:
        announcer = recordings.MediaAnnouncer(store, identity)
        engine.on_final.append(announcer.on_final)
    budget = StorageBudget(store, config)
    engine.admission.append(budget.admit)
    interview = Interview(engine)
    retention = RetentionPurge(store, config, identity)
    kiosk = Kiosk(config, store, engine, interview, service, budget, retention,
                  media_announcer=announcer)
    if config.capture.enabled:
        kiosk.capture = build_capture(config, engine, interview, service,
                                      media_key if config.capture.encrypt else None)
    return kiosk


def build_capture(config: KioskConfig, engine: Engine, interview: Interview,
                  analysis: AnalysisService, key: MediaKey | None) -> CaptureService:
    """The capture service with the real devices (opened only when a session needs them)."""
    from device.capture.audio import Microphone
    from device.capture.camera import open_camera
    from device.capture.framing import FramingService, detector_factory
    from device.capture.service import CaptureService

    def live_stream(language: str, answer_id: str) -> Any:
        return analysis.analyzer().stream(language, hints=analysis.hints(answer_id))

    service = CaptureService(
        config, engine, interview, key=key, microphone=Microphone, camera=open_camera,
        on_registered=lambda _answer: analysis.wake(),
        live_stream=live_stream if config.analysis.enabled else None,
        on_transcript=analysis.follow_up,
    )
    service.framing = FramingService(service.latest_frame, detector_factory(config),
                                     config.capture.framing_rate)
    return service


def load_analyzer(config: KioskConfig) -> Analyzer:
    """Verify and load the installed models (a model that fails verification is refused)."""
    from inference.models.store import ModelFiles, ModelStore
    from inference.pipeline import Analyzer, Settings
    from inference.speech.whisper import WhisperSettings

    files = ModelFiles.open(ModelStore(config.models_dir))
    a = config.analysis
    speech = WhisperSettings(beam_size=a.speech_beam_size, cpu_threads=a.speech_threads,
                             hints=a.speech_hints, min_chunk_s=a.speech_chunk_s)
    return Analyzer(files, Settings(tflite_threads=a.tflite_threads, frame_rate=a.frame_rate,
                                    pause_threshold_s=a.pause_threshold_s, speech=speech))
