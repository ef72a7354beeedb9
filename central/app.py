"""The receiver's HTTP API: the central side of the HTTPS transport (admin routes are in
:mod:`central.admin_api`).

Every box route speaks for the enrolled box whose client certificate the connection
presented: a message, poll or upload for another device, tenant or site is refused (403)
and logged, and nothing is stored.

Errors are JSON ``{"detail": "..."}`` (with ``offset`` for upload conflicts), except a
refused message, which is answered with an Ack naming it in ``rejected``.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from central import documents, enrol, messages, registry
from central.admin_api import admin_router
from central.errors import InvalidContentError, ReceiverError
from central.identity import device_of
from central.media import MediaDeclaration
from central.mqtt_ingest import describe
from shared.contract import Ack, Envelope, Rejection
from shared.errors import KioskError

if TYPE_CHECKING:
    from central.core import Receiver

M = TypeVar("M", bound=BaseModel)
OCTETS = "application/offset+octet-stream"


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise HTTPException(413, f"body of {declared} bytes exceeds the limit of {limit}")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise HTTPException(413, f"body exceeds the limit of {limit} bytes")
    return bytes(body)


def parse(model: type[M], raw: bytes, what: str) -> M:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidContentError(f"{what}: {describe(exc)}") from None


def _error(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def _rejected(device_id: str, message_id: str, reason: str) -> JSONResponse:
    ack = Ack(device_id=device_id, rejected=[Rejection(message_id=message_id, reason=reason)])
    return JSONResponse(ack.model_dump(mode="json"), status_code=422)


def create_app(receiver: Receiver) -> FastAPI:
    app = FastAPI(title="Interview kiosk: reference central receiver", version="1",
                  description="The central side of the box-to-central contract (kiosk/v1).")

    @app.exception_handler(ReceiverError)
    async def receiver_error(request: Request, exc: ReceiverError) -> JSONResponse:
        return _error(exc.status, str(exc), **exc.extra())

    @app.exception_handler(KioskError)
    async def kiosk_error(request: Request, exc: KioskError) -> JSONResponse:
        return _error(exc.status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(422, f"{where}: {first.get('msg', '')}")

    @app.get("/healthz")
    def health() -> dict[str, Any]:
        return {"status": "ok", "mqtt_connected": receiver.mqtt_connected,
                "key_id": receiver.key_id}

    # -- messages ------------------------------------------------------------------------

    @app.post("/v1/messages", response_model=None)
    async def post_message(
        request: Request, idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
    ) -> JSONResponse:
        box = await run_in_threadpool(_box, receiver, request)
        if not idempotency_key:
            raise HTTPException(400, "the Idempotency-Key header (the message_id) is required")
        raw = await read_body(request, receiver.max_message_bytes)
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _rejected("", idempotency_key, f"body is not JSON: {exc}")
        fields = data if isinstance(data, dict) else {}
        if "message_id" in fields and fields["message_id"] != idempotency_key:
            raise HTTPException(400, f"Idempotency-Key {idempotency_key!r} does not match the"
                                     f" body's message_id {fields['message_id']!r}")
        try:
            envelope = Envelope.model_validate(data)
        except ValidationError as exc:
            device = fields.get("device_id")
            return _rejected(device if isinstance(device, str) else "", idempotency_key,
                             f"not a valid envelope: {describe(exc)}")
        registry.check_claim(box, envelope.device_id, envelope.tenant, envelope.site,
                             f"message {envelope.message_id}")
        result = await run_in_threadpool(_store_message, receiver, envelope)
        if result.outcome == "conflict":
            return _error(409, result.reason)
        faults = receiver.faults.current
        if faults.delay_acks_s > 0:
            await asyncio.sleep(faults.delay_acks_s)
        if receiver.faults.drop():
            return _error(503, "central's ack was dropped by the fault switch (drop_acks);"
                               " the message is stored")
        headers = {"Idempotent-Replay": "true"} if result.outcome == "duplicate" else {}
        ack = Ack(device_id=envelope.device_id, acked=[envelope.message_id])
        return JSONResponse(ack.model_dump(mode="json"), headers=headers)

    # -- media ---------------------------------------------------------------------------

    @app.put("/v1/media/{media_id}")
    async def declare_media(media_id: str, request: Request) -> dict[str, Any]:
        box = await run_in_threadpool(_box, receiver, request)
        raw = await read_body(request, 64 << 10)
        declared = parse(MediaDeclaration, raw, "media declaration")
        state = await run_in_threadpool(receiver.media.declare, media_id, declared,
                                        box.device_id)
        return state.to_json()

    @app.get("/v1/media/{media_id}")
    def media_state(media_id: str, request: Request) -> dict[str, Any]:
        return receiver.media.state(media_id, _box(receiver, request).device_id).to_json()

    @app.patch("/v1/media/{media_id}")
    async def append_media(
        media_id: str, request: Request,
        upload_offset: str | None = Header(None, alias="Upload-Offset"),
        chunk_sha256: str | None = Header(None, alias="Chunk-Sha256"),
        content_type: str | None = Header(None, alias="Content-Type"),
    ) -> dict[str, Any]:
        box = await run_in_threadpool(_box, receiver, request)
        if (content_type or "").split(";")[0].strip() != OCTETS:
            raise HTTPException(415, f"Content-Type must be {OCTETS}, not {content_type!r}")
        if upload_offset is None or not upload_offset.isdigit():
            raise HTTPException(400, "the Upload-Offset header (a byte offset) is required")
        if not chunk_sha256:
            raise HTTPException(400, "the Chunk-Sha256 header (hex sha256 of the chunk) is"
                                     " required")
        chunk = await read_body(request, receiver.max_chunk_bytes)
        state = await run_in_threadpool(receiver.media.append, media_id, int(upload_offset),
                                        chunk, chunk_sha256, box.device_id)
        return state.to_json()

    # -- documents -----------------------------------------------------------------------

    @app.get("/v1/devices/{device_id}/documents")
    def poll_documents(device_id: str, request: Request, after: int = Query(0, ge=0),
                       limit: int = Query(documents.PAGE, ge=1, le=documents.PAGE),
                       ) -> dict[str, Any]:
        box = _box(receiver, request)
        if device_id != box.device_id:
            registry.check_claim(box, device_id, box.tenant, box.site,
                                 f"a document poll for {device_id}")
        # the box's tenant and site are the enrolled ones, whatever the query says
        found, cursor = documents.documents_after(receiver.store, box.device_id, after,
                                                  box.tenant, box.site, limit)
        return {"documents": [d.model_dump(mode="json") for d in found], "cursor": cursor}

    app.include_router(enrol.router(receiver))
    app.include_router(admin_router(receiver))
    return app


def _box(receiver: Receiver, request: Request) -> registry.Device:
    """The enrolled box behind a request (its client certificate), or refused."""
    return registry.enrolled(receiver.store, device_of(request.scope))


def _store_message(receiver: Receiver, envelope: Envelope) -> messages.Ingested:
    with receiver.store.transaction() as conn:
        result = messages.ingest(conn, envelope, "https")
    if result.new_device:
        receiver.device_seen(envelope.tenant, envelope.site, envelope.device_id)
    return result
