"""Staff endpoints: provisioning (the box's enrolment with central)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from device.api.deps import KioskDep, StaffDep
from device.policy import require_role

router = APIRouter(prefix="/api/v1/staff", tags=["provisioning"])


class EnrolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=500, description="Central's enrolment address.")
    token: str = Field(min_length=1, max_length=200, description="The one-time token.")
    ca_file: str | None = Field(
        None, max_length=1000,
        description="CA certificate (a path on the box) to check central's TLS with; the"
                    " system's trust store when null.")
    force: bool = Field(False, description="Replace an existing enrolment (audited).")


@router.get("/provision", summary="Enrolment, certificate and secret files of the box")
def provision_status(staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    from provisioning.status import status

    return status(k.config)


@router.post("/provision/enrol", summary="Enrol the box with central (one-time token)")
def provision_enrol(body: EnrolIn, staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    from provisioning.enrol import enrol
    from provisioning.status import status

    require_role(staff, "technician", "admin", doing="enrol the box")
    outcome = enrol(k.config, body.url, body.token,
                    ca_file=Path(body.ca_file) if body.ca_file else None, force=body.force,
                    store=k.store, actor=staff.actor)
    return {**status(k.config), "changed": outcome.changed}
