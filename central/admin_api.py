"""Central's admin routes, every one behind an admin token (:mod:`central.admin`).

Publishing documents, making enrolment tokens, registering boxes, the fault switch, and
reading messages, stats and media are admin acts: a box's certificate, whatever its name,
never reaches them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from central import admin, documents, messages, registry
from central.enrol import DEVICE_ID, TokenRequest, create_token
from central.faults import Faults
from central.identity import NAME_PATTERN, check_device_name

if TYPE_CHECKING:
    from central.core import Receiver

ADMIN_BODY_LIMIT = 4 << 20


class DeviceRequest(BaseModel):
    """Register a box whose certificate was issued by hand (not through enrolment)."""

    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(pattern=DEVICE_ID)
    tenant: str = Field(pattern=NAME_PATTERN)
    site: str = Field(pattern=NAME_PATTERN)
    move: bool = False

    @field_validator("device_id")
    @classmethod
    def _a_device_name(cls, value: str) -> str:
        return check_device_name(value)


def admin_router(receiver: Receiver) -> APIRouter:
    from central.app import parse, read_body

    def guard(request: Request) -> str:
        return admin.require_admin(receiver.store, request)

    api = APIRouter(prefix="/v1/admin", dependencies=[Depends(guard)])

    @api.post("/documents")
    async def publish(request: Request) -> dict[str, Any]:
        raw = await read_body(request, ADMIN_BODY_LIMIT)
        wanted = parse(documents.DocumentRequest, raw, "document request")
        document = await run_in_threadpool(receiver.publish_document, wanted)
        return document.model_dump(mode="json")

    @api.get("/messages")
    def list_messages(device_id: str | None = None, session_id: str | None = None,
                      kind: str | None = None,
                      limit: int = Query(10_000, ge=1, le=100_000)) -> dict[str, Any]:
        return {"messages": messages.list_messages(
            receiver.store, device_id=device_id, session_id=session_id, kind=kind, limit=limit)}

    @api.get("/stats")
    def stats() -> dict[str, Any]:
        return messages.stats(receiver.store)

    @api.get("/media/{media_id}", response_model=None)
    def media_file(media_id: str) -> Response:
        path, content_type = receiver.media.file(media_id)
        return FileResponse(path, media_type=content_type)

    @api.get("/faults")
    def get_faults() -> dict[str, Any]:
        return receiver.faults.current.model_dump()

    @api.post("/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        raw = await read_body(request, 64 << 10)
        return receiver.faults.set(parse(Faults, raw or b"{}", "faults")).model_dump()

    @api.get("/public-key")
    def public_key() -> dict[str, str]:
        return {"key_id": receiver.key_id, "pem": receiver.public_key_pem}

    @api.post("/enrolment-tokens")
    async def new_token(request: Request) -> dict[str, Any]:
        raw = await read_body(request, 64 << 10)
        wanted = parse(TokenRequest, raw, "token request")
        return await run_in_threadpool(create_token, receiver, wanted)

    @api.get("/devices")
    def list_devices() -> dict[str, Any]:
        return {"devices": [vars(d) for d in registry.devices(receiver.store)]}

    @api.post("/devices")
    async def add_device(request: Request) -> dict[str, Any]:
        raw = await read_body(request, 64 << 10)
        wanted = parse(DeviceRequest, raw, "device")
        device = registry.Device(wanted.device_id, wanted.tenant, wanted.site)
        new = await run_in_threadpool(receiver.register_device, device, wanted.move)
        return {**vars(device), "new": new}

    from central.webhooks.routes import router as webhook_routes

    api.include_router(webhook_routes(receiver))
    return api
