"""Staff endpoints: delivery to central (state, queue, the technician's controls) and logs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from device.api.deps import KioskDep, StaffDep
from device.central_link import outbox
from device.central_link import sync_control as control
from device.central_link.sync_status import status
from device.clock import elapsed_s
from device.errors import KioskError
from device.ops import logs
from device.staff.policy import require_role

router = APIRouter(prefix="/api/v1/staff", tags=["sync"])

OPERATORS = ("technician", "admin")


class ControlIn(BaseModel):
    """Fields left out stay as they are; ``null`` hands metered mode or bandwidth back to
    central's settings and the box's configuration."""

    model_config = ConfigDict(extra="forbid", strict=True)

    paused: bool | None = Field(None, description="Stop sending new messages (true) or go on.")
    metered: bool | None = Field(None, description="Metered link: results go, media waits.")
    bandwidth_kbps: int | None = Field(
        None, ge=0, le=10_000_000, description="Upload cap in kbit/s; 0 for none.")
    reason: str = Field(min_length=1, max_length=500,
                        description="Why: required, kept in the audit log.")


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str | None = Field(None, min_length=1, max_length=500)


class ControlRequestError(KioskError):
    """A control request that names nothing to change, or pauses with ``null``."""

    status = 422
    code = "invalid-request"


@router.get("/sync", summary="Delivery to central: link, queue, last success and error")
def sync_status(staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    return status(k.store, k.config)


@router.get("/sync/queue", summary="Messages not yet acknowledged by central, in delivery order")
def sync_queue(
    staff: StaffDep, k: KioskDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    kind: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> dict[str, Any]:
    now = k.store.now()
    with k.store.read() as db:
        total, found = outbox.queue(db, kind, limit)
    items = []
    for r in found:
        age = elapsed_s(r.created, now) if r.created else None
        items.append({"message_id": r.message_id, "kind": r.kind, "session_id": r.session_id,
                      "status": r.status, "attempts": r.attempts,
                      "created": r.created.utc if r.created else None,
                      "last_error": r.last_error,
                      "hold_until": r.hold_until.utc if r.hold_until else None,
                      "age_s": None if age is None else round(age, 1)})
    return {"total": total, "items": items}


@router.post("/sync/control", summary="Pause or resume delivery, override metered mode or"
             " bandwidth (technician, admin)")
def sync_control(body: ControlIn, staff: StaffDep, k: KioskDep) -> dict[str, Any]:
    require_role(staff, *OPERATORS, doing="change delivery to central")
    named = body.model_fields_set - {"reason"}
    if not named:
        raise ControlRequestError(
            "the body changes nothing: name paused, metered or bandwidth_kbps (with a reason)")
    if "paused" in named and body.paused is None:
        raise ControlRequestError("paused must be true or false, not null")
    fields: dict[str, Any] = {name: getattr(body, name) for name in named}
    control.update(k.store, staff.actor, body.reason, **fields)
    return control.describe(k.store, k.config)


@router.post("/sync/retry", summary="Retry deferred messages and reconnect now"
             " (technician, admin)")
def sync_retry(staff: StaffDep, k: KioskDep, body: RetryIn | None = None) -> dict[str, Any]:
    require_role(staff, *OPERATORS, doing="ask delivery to retry")
    requested = control.request_retry(k.store, staff.actor, body.reason if body else None)
    return {"requested": requested.utc}


@router.get("/logs", summary="Recent log lines of a service, and a cursor to follow them"
            " (technician, admin)")
def service_logs(
    staff: StaffDep, k: KioskDep, service: str,
    after: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 200,
) -> dict[str, Any]:
    require_role(staff, *OPERATORS, doing="read the logs")
    page = logs.read(logs.log_dir(k.config.data_dir), service, after=after, limit=limit)
    return {"service": service, "lines": page.lines, "next": page.next}
