"""Admin tokens: the credential of central's admin routes, which no device can be or obtain.

Admin routes (documents, enrolment tokens, devices, faults, stats, message and media reads)
need ``Authorization: Bearer <token>``, whatever certificate the connection presented. A
token is 160 random bits shown once when made (``kiosk central admin-token``); only its
SHA-256 is kept (a random token needs no slow password hash: it cannot be guessed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets

from fastapi import Request

from central.errors import ReceiverError
from central.store import ReceiverStore, utc_now

log = logging.getLogger(__name__)

PREFIX = "adm_"


class AdminRequiredError(ReceiverError):
    status = 401
    code = "admin-token-required"


def _digest(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def create_token(store: ReceiverStore, name: str) -> str:
    """A new admin token named ``name`` (who holds it); returned once, never stored."""
    if not name.strip():
        raise ValueError("an admin token needs a name (who holds it)")
    token = PREFIX + base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=").lower()
    with store.transaction() as conn:
        conn.execute("INSERT INTO admin_tokens (token_sha256, name, created) VALUES (?, ?, ?)",
                     (_digest(token), name.strip(), utc_now()))
    return token


def revoke_token(store: ReceiverStore, name: str) -> int:
    with store.transaction() as conn:
        return int(conn.execute("DELETE FROM admin_tokens WHERE name = ?",
                                (name.strip(),)).rowcount)


def admin_name(store: ReceiverStore, token: str) -> str | None:
    """Who holds ``token``, or None when it is no admin token."""
    digest = _digest(token)
    found = store.one("SELECT token_sha256, name FROM admin_tokens WHERE token_sha256 = ?",
                      (digest,))
    if found is None or not hmac.compare_digest(found["token_sha256"], digest):
        return None
    return str(found["name"])


def require_admin(store: ReceiverStore, request: Request) -> str:
    """The admin behind a request; refused (and logged) without a valid admin token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        log.warning("refused %s %s: no admin token", request.method, request.url.path)
        raise AdminRequiredError("admin routes need an admin token (Authorization: Bearer"
                                 " …, made with 'kiosk central admin-token')")
    name = admin_name(store, token)
    if name is None:
        log.warning("refused %s %s: unknown admin token", request.method, request.url.path)
        raise AdminRequiredError("this admin token is not valid (unknown or revoked)")
    return name
