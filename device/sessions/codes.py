"""Invite and resume codes and session tokens (the limiter for wrong codes is in
``code_limiter``).

Codes are short enough to type on a touchscreen, so they are stored as HMAC-SHA256
under a key that never leaves the box: a copied database does not reveal them, and
the box can still look a code up by its hash.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

#: No 0/O, 1/I/L: nothing a nervous candidate can misread.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_code(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def normalise(code: str) -> str:
    """Upper case without spaces or dashes, as typed or as printed in groups."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_code(key: bytes, purpose: str, code: str) -> str:
    return hmac.new(key, f"{purpose}:{normalise(code)}".encode(), hashlib.sha256).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_or_create_key(path: Path) -> bytes:
    """The box's code key, created on first use with owner-only permissions."""
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return key
