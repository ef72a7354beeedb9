"""Messages the box sends to central: one envelope, versioned, with a stable id.

The JSON Schemas in ``docs/schemas/`` are generated from these models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal["kiosk/v1"] = "kiosk/v1"

#: Delivery priority (lower goes first): events and results before reports, reports
#: before media. Within one session, messages keep their outbox order.
PRIORITY = {
    "session.state": 0,
    "session.result": 1,
    "usage": 1,
    "session.report": 2,
    "media": 3,
    "deletion.receipt": 0,
    "package.rejected": 0,
}

MessageKind = Literal[
    "session.state",
    "session.result",
    "usage",
    "session.report",
    "media",
    "deletion.receipt",
    "package.rejected",
]


class StampModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    utc: str = Field(description="Wall-clock UTC (ISO 8601); wrong when the clock is unsynced.")
    mono: float = Field(description="Monotonic clock reading (seconds since this boot).")
    boot: str = Field(description="Kernel boot id: monotonic readings compare within one boot.")
    synced: bool = Field(description="Whether the system clock was synchronised at the time.")


class Envelope(BaseModel):
    """Every message from the box; consumers dedupe by ``message_id``."""

    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(description="Unique id: device id and a persisted sequence number.")
    schema_version: Literal["kiosk/v1"] = Field(SCHEMA_VERSION, description="Contract version.")
    kind: MessageKind = Field(description="What the body holds.")
    device_id: str = Field(description="The box that sent it.")
    tenant: str = Field(description="Tenant (company) id.")
    site: str = Field(description="Site id.")
    seq: int = Field(description="Per-device sequence number; gaps mean messages still to come.")
    session_id: str | None = Field(None, description="The interview session it concerns.")
    drill: bool = Field(False, description="True for drills: never a candidate's result.")
    recorded_at: StampModel = Field(description="When the box recorded the change.")
    body: dict[str, Any] = Field(description="Kind-specific content.")
