"""The box's health at a glance, for staff: devices, system figures, models, clock, alerts,
failed analyses and the languages the box can analyse.

Only cheap readings: the capture service's own view of its devices (nothing is opened
here), ``/proc`` and ``statvfs``, and the model store's index compared with the files'
sizes (no digests: ``POST /selftest/models`` and ``kiosk models verify`` do those).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from device.analysis import status as analysis_status
from device.composition import Kiosk
from device.config import CaptureConfig
from device.ops import alerts, sysinfo
from inference.errors import ModelError
from inference.models.store import InstalledModel, ModelStore, walk_files


def health(k: Kiosk) -> dict[str, Any]:
    """The staff health view (``GET /api/v1/staff/health``)."""
    with k.store.read() as db:
        open_alerts = len(alerts.open_alerts(db))
    return {"devices": devices(k), "system": sysinfo.system(k.config.data_dir),
            "models": models_summary(k.config.models_dir),
            "clock": sysinfo.clock_sync().to_dict(), "alerts": open_alerts,
            "analysis": analysis_status.analysis(k.store, k.config.analysis.enabled),
            "speech": analysis_status.speech(k.store, k.engine.languages),
            "uptime_s": sysinfo.uptime_s(), "version": sysinfo.package_version()}


# --- devices ----------------------------------------------------------------------------------

def devices(k: Kiosk) -> dict[str, Any]:
    """Microphone and camera as the capture service sees them (None: capture is off)."""
    c = k.config.capture
    capture = k.capture
    if capture is None:
        off = "capture is off on this box ([capture] enabled = false)"
        return {"microphone": {**_view(None, "off", off, None), "level_dbfs": None},
                "camera": _view(None, "off", off, None)}
    found = capture.health()
    mic_stats = found["microphone"]["stats"]
    cam_stats = found["camera"]["stats"]
    mic = _slot(found["microphone"], mic_stats, found["running"], microphone_name(c, mic_stats))
    cam = _slot(found["camera"], cam_stats, found["running"], camera_name(c, cam_stats))
    level = mic_stats.get("level_dbfs") if mic_stats and mic["state"] == "open" else None
    return {"microphone": {**mic, "level_dbfs": level}, "camera": cam}


def _view(ok: bool | None, state: str, detail: str | None, name: str | None
          ) -> dict[str, Any]:
    return {"ok": ok, "state": state, "detail": detail, "name": name}


def _slot(slot: dict[str, Any], stats: dict[str, Any] | None, running: bool,
          name: str | None) -> dict[str, Any]:
    problem = slot["problem"]
    if problem == "disabled":
        return _view(None, "disabled", "configured away ([capture] says none)", name)
    if problem is not None:  # missing or lost: the service's own words
        return _view(False, problem, slot["detail"], name)
    if stats is not None and stats.get("open"):
        return _view(True, "open", None, name)
    if not running:
        return _view(None, "stopped", "the capture service is not running; the self-test"
                                      " opens the device to check it", name)
    return _view(None, "closed", "opens when a candidate consents; the self-test opens it"
                                 " now to check it", name)


def microphone_name(c: CaptureConfig, stats: dict[str, Any] | None) -> str | None:
    if stats and stats.get("device"):
        return str(stats["device"])
    return None if c.microphone.strip().lower() == "none" else c.microphone


def camera_name(c: CaptureConfig, stats: dict[str, Any] | None) -> str | None:
    if stats and stats.get("source"):
        return f"{stats['backend']}: {stats['source']}"
    if c.camera == "none":
        return None
    source = c.camera_source.strip()
    return f"{c.camera}: {source}" if source else c.camera


# --- models -----------------------------------------------------------------------------------

def models_summary(root: Path) -> list[dict[str, Any]]:
    """Installed models with a cheap check: every indexed file present, sizes adding up."""
    store = ModelStore(root)
    try:
        installed = store.installed()
    except ModelError as exc:
        return [{"name": "index", "kind": "index", "language": None, "version": "",
                 "ok": False, "detail": str(exc)}]
    out = []
    for m in installed:
        detail = quick_problem(store, m)
        out.append({"name": m.name, "kind": m.spec.kind, "language": m.spec.language,
                    "version": m.spec.version, "ok": detail is None, "detail": detail})
    return out


def quick_problem(store: ModelStore, model: InstalledModel) -> str | None:
    """What is visibly wrong with an installed model's files (None: nothing), from names and
    sizes only; a changed file of the same size is found by the digest check."""
    base = store.model_dir(model.name)
    if not base.is_dir():
        return f"{base} is missing; `kiosk models install` reinstalls it"
    try:
        on_disk = {p.relative_to(base).as_posix(): p.stat().st_size for p in walk_files(base)}
    except OSError as exc:
        return f"{base} cannot be read: {exc.strerror or exc}"
    missing = sorted(set(model.files) - set(on_disk))
    if missing:
        return f"{base / missing[0]} is missing; `kiosk models install` reinstalls it"
    extra = sorted(set(on_disk) - set(model.files))
    if extra:
        return f"{base / extra[0]} was not installed with the model; remove it or reinstall"
    size = sum(on_disk.values())
    if size != model.size:
        return (f"its files hold {size} bytes, {model.size} were installed: a file has"
                " changed; `kiosk models install` reinstalls it")
    return None
