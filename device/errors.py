"""Domain errors of the kiosk runtime.

Raised by the store, the session engine and the local API's services; translated at
the edges: the API into ``application/problem+json``, the CLI into one clear line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.errors import KioskError as KioskError  # the base of the box's own errors


class ConfigError(KioskError):
    """The configuration file or an environment variable holds a bad value."""

    code = "config-error"


class StoreError(KioskError):
    """The database cannot be used (corrupt, locked, unwritable).

    ``cause`` is SQLite's own words for what went wrong (``disk I/O error``,
    ``database disk image is malformed``...), when SQLite gave them.
    """

    status = 503
    code = "store-unavailable"

    def __init__(self, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class ModelStoreUnreadable(StoreError):
    """The model store's index cannot be read."""

    code = "model-store-unreadable"


class DatabaseCorruptError(StoreError):
    code = "database-corrupt"


class DatabaseLockedError(StoreError):
    code = "database-locked"


class DatabaseIOError(StoreError):
    """The disk could not read or write the database file."""

    code = "database-io-error"


class DatabaseReadOnlyError(StoreError):
    """The database file cannot be written (permissions, a read-only mount)."""

    code = "database-read-only"


class NotFoundError(KioskError):
    status = 404
    code = "not-found"


class AuthenticationError(KioskError):
    """No credentials, or credentials that match nothing."""

    status = 401
    code = "unauthenticated"


class PermissionDeniedError(KioskError):
    """Valid credentials whose role or scope does not allow the action."""

    status = 403
    code = "forbidden"


class RateLimitedError(KioskError):
    status = 429
    code = "rate-limited"

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class InvalidCodeError(KioskError):
    """An invite or resume code that matches no session the engine may open."""

    status = 404
    code = "invalid-code"


class ExpiredCodeError(KioskError):
    status = 410
    code = "code-expired"


class SessionStateError(KioskError):
    """An action the session's current state does not allow."""

    status = 409
    code = "illegal-transition"

    def __init__(self, message: str, state: str, allowed: Sequence[str]) -> None:
        super().__init__(message)
        self.state = state
        self.allowed = list(allowed)


class SessionRuleError(KioskError):
    """An action the state allows but the interview's rules refuse (e.g. no retakes left)."""

    status = 409
    code = "rule-violation"


class PackageRejectedError(KioskError):
    """A job package or roster that cannot be imported; the previous version stays active."""

    status = 422
    code = "package-rejected"


class DiskFullError(StoreError):
    """A write failed because the disk is full; the transaction was rolled back whole."""

    status = 507
    code = "disk-full"


class StorageFullError(KioskError):
    """The storage budget is spent: no new session starts (those in progress go on)."""

    status = 507
    code = "storage-full"

    def __init__(self, message: str, usage: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        #: The figures behind the refusal (bytes used, quota, free disk...), for staff tools.
        self.usage = dict(usage or {})
