"""Staff endpoints: the box's health, device and system self-tests, model installs.

Reading (health, microphone, camera, models list) is open to every staff role; tests that
load the box or change it (models, network, disk, install) need a technician or an admin
and are audited with their outcome.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from device import audit
from device.api.deps import KioskDep, StaffDep
from device.composition import Kiosk
from device.errors import ModelStoreUnreadable
from device.selftest import devices as selftest_devices
from device.selftest import disk as selftest_disk
from device.selftest import health as selftest
from device.selftest import models as selftest_models
from device.selftest import network as selftest_net
from device.selftest.install import installed, job_for
from device.staff.policy import Staff, require_role
from inference.errors import ModelError
from inference.models.store import ModelStore

router = APIRouter(prefix="/api/v1/staff", tags=["self-test"])

OPERATORS = ("technician", "admin")


def _audit(k: Kiosk, staff: Staff, action: str, details: dict[str, Any]) -> None:
    now = k.store.now()
    with k.store.transaction() as db:
        audit.append(db, now, staff.actor, action, details=details)


@router.get("/health", summary="Devices, system figures, models, clock, alerts at a glance")
def health(staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    return selftest.health(k)


@router.get("/selftest/microphone", summary="The microphone's level now (opened briefly if"
            " no interview has it)")
def microphone(staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    return selftest_devices.microphone(k)


@router.get("/selftest/camera", summary="One small picture from the camera and its framing"
            " verdict")
def camera(staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    return selftest_devices.camera(k)


@router.post("/selftest/models", summary="Run each installed model once on a made-up sample")
def models_selftest(staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    require_role(staff, *OPERATORS, doing="run the model self-test")
    results = selftest_models.run_all(ModelStore(k.config.models_dir))
    _audit(k, staff, "selftest.models", {"failed": [r["name"] for r in results if not r["ok"]],
                                         "models": len(results)})
    return {"results": results}


@router.post("/selftest/network", summary="Connect to central over each configured transport"
             " (TCP and TLS)")
def network_selftest(staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    require_role(staff, *OPERATORS, doing="run the network self-test")
    found = selftest_net.run_all(k.config)
    _audit(k, staff, "selftest.network",
           {"targets": [{"name": t["name"], "ok": t["ok"], "detail": t["detail"]}
                        for t in found]})
    return {"targets": found}


@router.post("/selftest/disk", summary="Write, fsync and remove a 16 MiB file in the data"
             " directory")
def disk_selftest(staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    require_role(staff, *OPERATORS, doing="run the disk self-test")
    found = selftest_disk.run(k.config.data_dir,
                              reserve_bytes=k.config.storage.reserve_mb * selftest_disk.MIB)
    _audit(k, staff, "selftest.disk", {"ok": found["ok"], "write_mb_s": found["write_mb_s"],
                                       "detail": found["detail"]})
    return found


@router.get("/models", summary="Installed models and the progress of an install")
def models(staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    root = k.config.models_dir
    try:
        listed = installed(root)
    except ModelError as exc:
        raise ModelStoreUnreadable(f"{exc}; move it aside and run `kiosk models install` to"
                                   " install the models afresh") from None
    return {"installed": listed, "install": job_for(root).status()}


@router.post("/models/install", summary="Install the default models in the background"
             " (409 while one runs)")
def models_install(staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    require_role(staff, *OPERATORS, doing="install models")
    from inference.models.manifest import load_manifest

    specs = [spec for spec in load_manifest().models if not spec.optional]
    state = job_for(k.config.models_dir).start(specs)
    _audit(k, staff, "models.install", {"models": [s.name for s in specs]})
    return state
