"""Signing webhook bodies: HMAC-SHA256 over the timestamp and the body.

The header ``Kiosk-Signature: t=<unix seconds>,v1=<hex>`` carries the time of sending and
``HMAC_SHA256(secret, "<t>." + body)``, the secret being the endpoint's secret as UTF-8.
A receiver recomputes it over the raw body, compares in constant time, and refuses a
timestamp further than its tolerance from its own clock (a replayed old request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Kiosk-Signature"
SCHEME = "v1"
TOLERANCE_S = 300
SECRET_PREFIX = "whsec_"


class SignatureError(ValueError):
    """A request whose signature header is missing, malformed, stale or wrong."""


def new_secret() -> str:
    """A fresh endpoint secret (shown once, when the endpoint is added)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Kiosk-Signature`` header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},{SCHEME}={digest(secret, timestamp, body)}"


def verify(secret: str, header: str | None, body: bytes, now: float,
           tolerance_s: float = TOLERANCE_S) -> int:
    """Check a ``Kiosk-Signature`` header; returns its timestamp, or raises
    :class:`SignatureError` saying what is wrong."""
    if not header:
        raise SignatureError(f"no {HEADER} header")
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError(f"{HEADER} is malformed: {part!r} is not key=value")
        fields.setdefault(key, []).append(value)
    stamp = fields.get("t", [""])[0]
    if not stamp.isdigit():
        raise SignatureError(f"{HEADER} has no timestamp t=<unix seconds>")
    timestamp = int(stamp)
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError(f"{HEADER} timestamp is {now - timestamp:.0f} s from now"
                             f" (more than {tolerance_s:g} s): refused as a replay")
    expected = digest(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, given) for given in fields.get(SCHEME, [])):
        raise SignatureError(f"{HEADER} does not match the body (wrong secret or altered body)")
    return timestamp
