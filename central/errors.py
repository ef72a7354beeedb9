"""Errors of the reference central receiver, translated to HTTP statuses at the API."""

from __future__ import annotations

from typing import Any

from shared.errors import KioskError


class ReceiverError(KioskError):
    """Base class of the receiver's own errors."""

    status = 400
    code = "receiver-error"

    def extra(self) -> dict[str, Any]:
        """Fields added to the JSON error body beside ``detail``."""
        return {}


class NotFoundError(ReceiverError):
    status = 404
    code = "not-found"


class ConflictError(ReceiverError):
    """The request contradicts what central already holds (same id, different content)."""

    status = 409
    code = "conflict"


class OffsetMismatchError(ConflictError):
    """A chunk was sent for an offset other than where the upload stands."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset

    def extra(self) -> dict[str, Any]:
        return {"offset": self.offset}


class InvalidContentError(ReceiverError):
    """A body or chunk failed validation (schema, checksum, size)."""

    status = 422
    code = "invalid"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self._extra = extra

    def extra(self) -> dict[str, Any]:
        return dict(self._extra)


class MqttConnectError(ReceiverError):
    """The broker refused central's connection, or did not answer in time."""

    status = 503
    code = "mqtt-unavailable"


class MqttRefusedError(MqttConnectError):
    """The broker answered and refused (bad certificate, not authorised)."""
