"""Errors of the sync agent's links."""

from __future__ import annotations

from device.errors import KioskError


class LinkError(KioskError):
    """The link to central could not be made or was lost; the message says why."""


class TlsHandshakeError(LinkError):
    """The TLS handshake with central failed.

    ``verify_code`` is OpenSSL's verification result when the certificate was refused
    (9: not valid yet), None for other handshake failures.
    """

    def __init__(self, message: str, verify_code: int | None = None) -> None:
        super().__init__(message)
        self.verify_code = verify_code
