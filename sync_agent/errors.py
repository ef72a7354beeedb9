"""Errors of the sync agent's links."""

from __future__ import annotations

from device.errors import KioskError


class LinkError(KioskError):
    """The link to central could not be made or was lost; the message says why."""
