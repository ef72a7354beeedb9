"""Staff endpoints: provisioning (the box's enrolment with central).

Enrolment itself lives in ``provisioning``, which sits above the device layer: the process
that serves the API hands it in as a :class:`Provisioner` (``kiosk serve`` does), so the
API never imports it. An app built without one answers 503 on these routes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from device.api.deps import KioskDep, StaffDep
from device.audit import Actor
from device.config import KioskConfig
from device.errors import KioskError
from device.staff.policy import require_role
from device.storage.database import Store

router = APIRouter(prefix="/api/v1/staff", tags=["provisioning"])


class Provisioner(Protocol):
    """What the API needs of enrolment: the box's status and enrolling it."""

    def status(self, config: KioskConfig) -> dict[str, Any]:
        """The enrolment status object of the API contract, with ``healthy``."""
        ...

    def enrol(self, config: KioskConfig, url: str, token: str, *, ca_file: Path | None,
              force: bool, store: Store, actor: Actor) -> bool:
        """Enrol the box with central; whether anything changed."""
        ...


class ProvisioningUnavailable(KioskError):
    """This process serves the API without enrolment (a test or tool app)."""

    status = 503
    code = "provisioning-unavailable"


def provisioner(request: Request) -> Provisioner:
    found: Provisioner | None = getattr(request.app.state, "provisioner", None)
    if found is None:
        raise ProvisioningUnavailable("enrolment is not available in this process; use"
                                      " `kiosk provision` on the box")
    return found


ProvisionerDep = Annotated[Provisioner, Depends(provisioner)]


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
def provision_status(staff: StaffDep, k: KioskDep, p: ProvisionerDep) -> dict[str, Any]:
    return p.status(k.config)


@router.post("/provision/enrol", summary="Enrol the box with central (one-time token)")
def provision_enrol(body: EnrolIn, staff: StaffDep, k: KioskDep,
                    p: ProvisionerDep) -> dict[str, Any]:
    require_role(staff, "technician", "admin", doing="enrol the box")
    changed = p.enrol(k.config, body.url, body.token,
                      ca_file=Path(body.ca_file) if body.ca_file else None, force=body.force,
                      store=k.store, actor=staff.actor)
    return {**p.status(k.config), "changed": changed}
