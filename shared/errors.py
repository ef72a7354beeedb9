"""The base of every error raised on purpose, on the box and at central.

Each error carries the HTTP status and the short problem code an API answers with; the
box's own errors are in :mod:`device.errors`, central's in :mod:`central.errors`.
"""

from __future__ import annotations


class KioskError(Exception):
    """Base class of every error the box or central raises on purpose."""

    #: HTTP status an API answers with.
    status = 400
    #: Short, stable problem type (the last part of the problem+json ``type`` URI).
    code = "kiosk-error"
