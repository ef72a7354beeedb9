"""Admin routes of the HR delivery: the pull API, webhook endpoints, dead letters, replay.

Mounted under ``/v1/admin`` (:mod:`central.admin_api`), so every route needs an admin
token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from central.webhooks import delivery, endpoints, events

if TYPE_CHECKING:
    from central.core import Receiver

PAGE = 1000
ANY_TYPE = Query(default_factory=list, description="Only events of these types.")


class EndpointRequest(BaseModel):
    """A webhook endpoint to add: where, which events (none listed: all), what it is."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000)
    events: list[str] = Field(default_factory=list)
    description: str = Field("", max_length=200)


def router(receiver: Receiver) -> APIRouter:
    from central.app import parse, read_body

    api = APIRouter()
    store = receiver.store

    @api.get("/events")
    def pull(after: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=PAGE),
             type: list[str] = ANY_TYPE) -> dict[str, Any]:
        """Events after the cursor, oldest first; pass the answer's ``cursor`` next time."""
        types = endpoints.check_types(type) if type else ()
        with store.read() as conn:
            found = events.after(conn, after, limit, types)
        return {"events": found, "cursor": found[-1]["sequence"] if found else after}

    @api.post("/webhooks")
    async def add(request: Request) -> dict[str, Any]:
        wanted = parse(EndpointRequest, await read_body(request, 64 << 10), "webhook endpoint")
        endpoint, secret = await run_in_threadpool(
            endpoints.add, store, wanted.url, wanted.events, wanted.description)
        return {**vars(endpoint), "secret": secret}

    @api.get("/webhooks")
    def listed() -> dict[str, Any]:
        return {"webhooks": [vars(e) for e in endpoints.listed(store)]}

    @api.delete("/webhooks/{endpoint_id}")
    def remove(endpoint_id: str) -> dict[str, Any]:
        endpoints.deactivate(store, endpoint_id)
        return {"id": endpoint_id, "active": False}

    @api.get("/webhooks/deliveries")
    def deliveries(state: str | None = Query(None, pattern="^(pending|delivered|dead)$"),
                   limit: int = Query(500, ge=1, le=PAGE)) -> dict[str, Any]:
        return {"deliveries": delivery.deliveries(store, state, limit)}

    @api.post("/webhooks/{endpoint_id}/deliveries/{event_seq}/replay")
    def replay(endpoint_id: str, event_seq: int) -> dict[str, Any]:
        delivery.replay(store, endpoint_id, event_seq, delivery.utc())
        return {"endpoint_id": endpoint_id, "event_seq": event_seq, "state": "pending"}

    return api
