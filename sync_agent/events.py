"""What the links report to the agent's loop. Links run on their own threads; the loop
alone touches the store, so everything crosses over as one of these events."""

from __future__ import annotations

from dataclasses import dataclass

from shared.contract import Ack


@dataclass(frozen=True)
class Disconnected:
    epoch: int
    reason: str


@dataclass(frozen=True)
class Published:
    """The broker answered a publish: success, or a failure reason code (the row stays)."""

    epoch: int
    mid: int
    failure: str | None


@dataclass(frozen=True)
class AckReceived:
    ack: Ack


@dataclass(frozen=True)
class DocumentReceived:
    data: bytes
    via: str


@dataclass(frozen=True)
class MediaUploaded:
    message_id: str


@dataclass(frozen=True)
class MediaFailed:
    message_id: str
    reason: str


Event = Disconnected | Published | AckReceived | DocumentReceived | MediaUploaded | MediaFailed
