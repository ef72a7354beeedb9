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
    "retention.receipt": 0,
    "package.rejected": 0,
}

MessageKind = Literal[
    "session.state",
    "session.result",
    "usage",
    "session.report",
    "media",
    "deletion.receipt",
    "retention.receipt",
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
    session_seq: int | None = Field(
        None, ge=1, description="Position among this session's messages (1, 2, ...), given when"
        " the message is first sent; central applies a session's messages in this order.")


# -- topics -------------------------------------------------------------------------------

TOPIC_ROOT = "kiosk/v1"


def device_topic(tenant: str, site: str, device_id: str) -> str:
    """``kiosk/v1/{tenant}/{site}/{device}``: the root of one box's topics."""
    return f"{TOPIC_ROOT}/{tenant}/{site}/{device_id}"


def message_topic(tenant: str, site: str, device_id: str, kind: str) -> str:
    """Where the box publishes messages of one kind (``…/msg/session.state``)."""
    return f"{device_topic(tenant, site, device_id)}/msg/{kind}"


def status_topic(tenant: str, site: str, device_id: str) -> str:
    """Retained link status of the box (``online`` / ``offline`` as its last will)."""
    return f"{device_topic(tenant, site, device_id)}/status"


def ack_topic(tenant: str, site: str, device_id: str) -> str:
    """Where central publishes application-level acks for the box."""
    return f"{device_topic(tenant, site, device_id)}/ack"


def down_topic(tenant: str, site: str, device_id: str, kind: str, scope: str) -> str:
    """Where central publishes a signed document for the box (retained for packages)."""
    return f"{device_topic(tenant, site, device_id)}/down/{kind}/{scope}"


# -- from central ---------------------------------------------------------------------

class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(description="The message central could not accept.")
    reason: str = Field(description="Why, for the technician.")


class Ack(BaseModel):
    """Central's application-level ack: these messages are stored durably at central."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["kiosk/v1"] = Field(SCHEMA_VERSION, description="Contract version.")
    device_id: str = Field(description="The box whose messages are acknowledged.")
    acked: list[str] = Field(default_factory=list, description="Message ids stored by central.")
    rejected: list[Rejection] = Field(
        default_factory=list,
        description="Messages central refused; the box keeps them and retries with backoff.",
    )


DocumentKind = Literal["job_package", "roster", "config", "deletion"]

#: Kinds whose ``version`` must rise within a scope (an older one is a replay). Rosters
#: and deletion requests are applied once per ``document_id`` instead, in any order.
VERSIONED_KINDS: tuple[str, ...] = ("job_package", "config")


class SignedDocument(BaseModel):
    """A document from central, signed with central's Ed25519 key pinned on the box."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["kiosk/v1"] = Field(SCHEMA_VERSION, description="Contract version.")
    document_id: str = Field(
        min_length=1, max_length=128, description="Unique id; a document is applied once.")
    kind: DocumentKind = Field(description="What the body holds.")
    scope: str = Field(
        min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="What versions are counted within: the job id for job packages, 'device'"
        " for config; free for rosters and deletion requests.")
    version: int = Field(ge=1, description="Rises with every new document of a scope.")
    tenant: str = Field(description="Tenant it is meant for.")
    site: str | None = Field(None, description="Site it is meant for; any site when null.")
    device_id: str | None = Field(None, description="Box it is meant for; any box when null.")
    issued_at: str = Field(description="When central issued it (UTC, ISO 8601; informative).")
    body: dict[str, Any] = Field(description="Kind-specific content.")
    key_id: str = Field(min_length=1, max_length=64, description="Which central key signed it.")
    signature: str = Field(
        description="Base64 Ed25519 signature over the canonical JSON of every other field.")


class ConfigBody(BaseModel):
    """Body of a ``config`` document: settings central may change on the box."""

    model_config = ConfigDict(extra="forbid")

    settings: dict[str, dict[str, Any]] = Field(
        description="Sections and keys to override, e.g. {\"sync\": {\"metered\": true}};"
        " only the keys listed in docs/contract.md are accepted.")


class DeletionBody(BaseModel):
    """Body of a ``deletion`` document: erase one candidate's data on the box."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=128, description="Central's request id.")
    candidate_id: str = Field(min_length=1, max_length=128, description="Whose data to erase.")
    reason: str = Field("", max_length=500, description="Why (recorded in the audit log).")


class Status(BaseModel):
    """The retained ``…/status`` message (the last will says ``offline``)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["kiosk/v1"] = Field(SCHEMA_VERSION, description="Contract version.")
    device_id: str = Field(description="The box.")
    state: Literal["online", "offline"] = Field(description="Link state.")
    outbox_depth: int | None = Field(None, description="Messages waiting, when online.")
