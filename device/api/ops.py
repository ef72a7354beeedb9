"""Health and metrics for the box's supervisor and for Prometheus."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from device import audit
from device.analysis import analysis_rows
from device.api.deps import KioskDep
from device.capture.health import cpu_temperature_c, load
from device.central_link.outbox import depth
from device.composition import Kiosk
from device.errors import ModelStoreUnreadable
from device.jobs.installed import list_jobs
from device.jobs.language_gate import serves
from device.jobs.models import LANGUAGES
from device.ops.storage_budget import Usage, refusal
from device.sessions import session_rows
from device.storage.migrations import SESSION_STATES
from inference.errors import ModelError
from inference.models.store import ModelStore

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])


class StoreCollector(Collector):
    """Reads live figures from the store at each scrape."""

    def __init__(self, kiosk: Kiosk) -> None:
        self.kiosk = kiosk

    def collect(self) -> Iterator[Metric]:
        store = self.kiosk.store
        sessions = GaugeMetricFamily("kiosk_sessions", "Sessions by state", labels=["state"])
        with store.read() as db:
            counts = session_rows.count_by_state(db)
        for state in SESSION_STATES:
            sessions.add_metric([state], counts.get(state, 0))
        yield sessions
        outbox = GaugeMetricFamily("kiosk_outbox_depth", "Messages not yet acknowledged by"
                                   " central", labels=["kind"])
        with store.read() as db:
            waiting = depth(db)
        for kind, n in waiting.items():
            outbox.add_metric([kind], n)
        yield outbox
        analyses = GaugeMetricFamily("kiosk_analyses", "Answer analyses by status",
                                     labels=["status"])
        with store.read() as db:
            counts = analysis_rows.count_by_status(db)
        for status in analysis_rows.STATUSES:
            analyses.add_metric([status], counts.get(status, 0))
        yield analyses
        with store.read() as db:
            cpu = analysis_rows.cpu_seconds(db)
        yield GaugeMetricFamily("kiosk_analysis_cpu_seconds", "CPU time spent analysing"
                                " answers", value=cpu)
        with store.read() as db:
            entries = audit.count(db)
        yield GaugeMetricFamily("kiosk_audit_entries", "Entries in the audit log",
                                value=entries)
        yield from storage_metrics(self.kiosk.storage.usage())
        if self.kiosk.media_announcer is not None:
            yield CounterMetricFamily(
                "kiosk_media_announced_late", "Recordings of ended sessions the periodic"
                " sweep found unannounced and queued for central",
                value=self.kiosk.media_announcer.late)
        yield from capture_metrics(self.kiosk)
        yield from language_metrics(self.kiosk)


def language_metrics(kiosk: Kiosk) -> Iterator[Metric]:
    """Interview languages an installed speech model serves, and per job the offered
    languages the box cannot analyse (both read from the model store now)."""
    try:
        installed = tuple(ModelStore(kiosk.config.models_dir).speech_languages())
    except ModelError as exc:
        log.warning("metrics: the model store cannot be read: %s", exc)
        installed = ()  # nothing can be loaded from it either
    speech = GaugeMetricFamily("kiosk_speech_languages", "1 when an installed speech model"
                               " serves the interview language, else 0", labels=["language"])
    for language in LANGUAGES:
        speech.add_metric([language], int(serves(installed, language)))
    yield speech
    try:
        jobs = list_jobs(kiosk.store, kiosk.engine.languages)
    except ModelStoreUnreadable:
        return
    disabled = GaugeMetricFamily("kiosk_job_languages_disabled", "Languages a job offers that"
                                 " this box cannot analyse (0 when analysis is off)",
                                 labels=["job"])
    for job in jobs:
        disabled.add_metric([job["id"]], len(job["languages_disabled"]))
    yield disabled


def capture_metrics(kiosk: Kiosk) -> Iterator[Metric]:
    """Devices present, input level, drops; CPU temperature and load."""
    temp = cpu_temperature_c()
    if temp is not None:
        yield GaugeMetricFamily("kiosk_cpu_temperature_celsius", "CPU temperature", value=temp)
    yield GaugeMetricFamily("kiosk_load1", "1-minute load average", value=load()["load1"])
    if kiosk.capture is None:
        return
    health = kiosk.capture.health()
    up = GaugeMetricFamily("kiosk_capture_device_ok", "1 when the device works (0: missing,"
                           " lost or disabled)", labels=["device"])
    for name in ("microphone", "camera"):
        up.add_metric([name], int(health[name]["ok"]))
    yield up
    mic = health["microphone"]["stats"] or {}
    cam = health["camera"]["stats"] or {}
    if mic.get("level_dbfs") is not None:
        yield GaugeMetricFamily("kiosk_audio_level_dbfs", "Microphone input level (dBFS)",
                                value=mic["level_dbfs"])
    for name, doc, value in (
        ("kiosk_audio_dropped_blocks", "Audio blocks lost because the buffer was full",
         mic.get("dropped_blocks", 0)),
        ("kiosk_audio_overflows", "Input overflows reported by PortAudio",
         mic.get("overflows", 0)),
        ("kiosk_video_dropped_frames", "Video frames the encoder could not take in time",
         cam.get("dropped_frames", 0)),
        ("kiosk_recordings", "Answers recorded since the service started",
         health["recordings"]),
    ):
        yield CounterMetricFamily(name, doc, value=value)


def storage_metrics(u: Usage) -> Iterator[Metric]:
    size = GaugeMetricFamily(
        "kiosk_storage_bytes", "Storage by kind: media and database count against the quota"
        " (the outbox lives in the database); unconfirmed = not yet confirmed by central",
        labels=["kind"])
    for kind, value in (("media", u.media_bytes), ("media_unconfirmed", u.media_unconfirmed_bytes),
                        ("outbox_unconfirmed", u.outbox_bytes), ("database", u.database_bytes),
                        ("used", u.used_bytes), ("quota", u.quota_bytes),
                        ("reserve", u.reserve_bytes), ("disk_free", u.disk_free_bytes)):
        size.add_metric([kind], value)
    yield size
    yield GaugeMetricFamily("kiosk_storage_accepting_sessions", "1 while new sessions may start"
                            " (storage budget not spent), else 0",
                            value=int(u.accepting_sessions))


class Metrics:
    def __init__(self, kiosk: Kiosk) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(StoreCollector(kiosk))
        self.errors = Counter("kiosk_api_errors", "Error responses of the local API",
                              ["code"], registry=self.registry)

    def count_error(self, code: str) -> None:
        self.errors.labels(code=code).inc()


@router.get("/healthz", summary="Liveness and store health")
def healthz(k: KioskDep) -> dict[str, Any]:
    with k.store.read() as db:
        in_progress = session_rows.count_in_states(db, ("in_progress",))
    now = k.store.now()
    with k.store.read() as db:
        pending = analysis_rows.count_unfinished(db)
    return {"status": "ok", "device_id": k.config.device.id,
            "sessions_in_progress": in_progress,
            "analysis": {"enabled": k.config.analysis.enabled,
                         "running": k.analysis.running,
                         "pending": pending,
                         "last_error": k.analysis.last_error},
            "clock": {"utc": now.utc, "synced": now.synced, "boot": now.boot},
            "storage": _storage_health(k),
            "retention": _retention_health(k),
            "capture": k.capture.health() if k.capture is not None else {"enabled": False},
            "system": {"cpu_temperature_c": cpu_temperature_c(), **load()}}


def _storage_health(k: Kiosk) -> dict[str, Any]:
    u = k.storage.usage()
    return {"used_bytes": u.used_bytes, "quota_bytes": u.quota_bytes,
            "remaining_bytes": u.remaining_bytes, "reserve_bytes": u.reserve_bytes,
            "disk_free_bytes": u.disk_free_bytes, "unconfirmed_bytes": u.unconfirmed_bytes,
            "accepting_sessions": u.accepting_sessions, "reason": refusal(u, k.config)}


def _retention_health(k: Kiosk) -> dict[str, Any]:
    """The last retention purge: how many sessions it purged, and which wait for a clock."""
    last = k.retention.last_purge
    if last is None:
        return {"ran": False}
    return {"ran": True, "purged": len(last.purged),
            "waiting_for_clock": list(last.kept_unmeasurable),
            "files_failed": list(last.files_failed)}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(k: KioskDep) -> Response:
    registry = k.metrics.registry if k.metrics else CollectorRegistry()
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")
