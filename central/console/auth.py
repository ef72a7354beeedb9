"""Login sessions, CSRF tokens and the login rate limit.

A session is a random token in a cookie (HttpOnly, SameSite=Strict, Secure over TLS);
central keeps only its SHA-256, with the user, a CSRF token and an expiry. Every form
POST carries the session's CSRF token in a hidden field and is refused without it.
Logging out or disabling the user deletes the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from central.console import users
from central.console.users import User
from central.store import ReceiverStore, rows

COOKIE = "kiosk_console"
SESSION_HOURS = 8


@dataclass(frozen=True)
class Login:
    user: User
    csrf: str


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds")


def start(store: ReceiverStore, user: User) -> str:
    """A new session for ``user``; returns the cookie's value."""
    token, now = secrets.token_urlsafe(32), datetime.now(timezone.utc)
    with store.transaction() as conn:
        conn.execute("DELETE FROM console_sessions WHERE expires < ?", (_iso(now),))
        conn.execute("INSERT INTO console_sessions (token_sha256, username, csrf, created,"
                     " expires) VALUES (?, ?, ?, ?, ?)",
                     (_sha(token), user.username, secrets.token_urlsafe(32), _iso(now),
                      _iso(now + timedelta(hours=SESSION_HOURS))))
    return token


def current(store: ReceiverStore, token: str | None) -> Login | None:
    """The session's user and CSRF token, if the cookie names a live session of an
    enabled user."""
    if not token:
        return None
    with store.read() as conn:
        found = rows(conn, "SELECT username, csrf, expires FROM console_sessions"
                     " WHERE token_sha256 = ?", (_sha(token),))
    if not found or found[0]["expires"] < _iso(datetime.now(timezone.utc)):
        return None
    user = users.get(store, found[0]["username"])
    if user is None or user.disabled:
        return None
    return Login(user, found[0]["csrf"])


def end(store: ReceiverStore, token: str | None) -> None:
    if token:
        with store.transaction() as conn:
            conn.execute("DELETE FROM console_sessions WHERE token_sha256 = ?", (_sha(token),))


def csrf_ok(login: Login, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(login.csrf, given)


class LoginLimiter:
    """At most ``per_user`` failed logins per username and ``per_address`` per client
    address in a sliding ``window_s``; past that, logins are refused without checking the
    password until the window has moved on. Kept in memory: one console process."""

    def __init__(self, per_user: int = 5, per_address: int = 20, window_s: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_user, self.per_address, self.window_s = per_user, per_address, window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str) -> deque[float]:
        found = self._failures.setdefault(key, deque())
        while found and found[0] <= self.clock() - self.window_s:
            found.popleft()
        return found

    def allowed(self, username: str, address: str) -> bool:
        with self._lock:
            return (len(self._recent(f"u:{username}")) < self.per_user
                    and len(self._recent(f"a:{address}")) < self.per_address)

    def failed(self, username: str, address: str) -> None:
        with self._lock:
            for key in (f"u:{username}", f"a:{address}"):
                self._recent(key).append(self.clock())

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(f"u:{username}", None)
