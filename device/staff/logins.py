"""Staff page logins: server-side sessions behind a cookie, with idle and absolute expiry.

A login is made once from a staff token (checked against the ``tokens`` table); the browser
then holds only a random login id in a cookie. The box keeps the hash of that id, who logged
in, a per-login CSRF token, and when the login was made and last used. A login ends at
logout, after ``idle`` seconds without a request, ``lifetime`` seconds after it began, or
when its token is revoked. Logins live in memory: restarting ``kiosk serve`` ends them all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field

from device.staff.policy import Staff


def _digest(login_id: str) -> str:
    return hashlib.sha256(login_id.encode()).hexdigest()


@dataclass
class Login:
    """One login: who, its CSRF token, its language choice and the recordings it opened."""

    staff: Staff
    csrf: str
    began: float
    used: float
    language: str | None = None
    recordings_seen: set[str] = field(default_factory=set)

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


class Logins:
    """The logins of one ``kiosk serve``; times are monotonic seconds of the box's clock."""

    def __init__(self, idle_s: float, lifetime_s: float) -> None:
        self.idle_s = idle_s
        self.lifetime_s = lifetime_s
        self._by_digest: dict[str, Login] = {}
        self._lock = threading.Lock()

    def begin(self, staff: Staff, now: float) -> tuple[str, Login]:
        """A new login for ``staff``: returns the id for the cookie (kept only as a hash)."""
        login_id = secrets.token_urlsafe(32)
        login = Login(staff, secrets.token_urlsafe(32), began=now, used=now)
        with self._lock:
            self._forget_expired(now)
            self._by_digest[_digest(login_id)] = login
        return login_id, login

    def find(self, login_id: str | None, now: float) -> Login | None:
        """The live login for this cookie value, marked as used now; None when there is
        none (unknown, forged, ended or expired)."""
        if not login_id:
            return None
        key = _digest(login_id)
        with self._lock:
            login = self._by_digest.get(key)
            if login is None:
                return None
            if self._expired(login, now):
                del self._by_digest[key]
                return None
            login.used = now
            return login

    def first_sight(self, login: Login, media_id: str) -> bool:
        """Whether this is the login's first request for the recording (then marked as
        seen). A player asks for ranges of one recording at once; only one of them is
        first."""
        with self._lock:
            if media_id in login.recordings_seen:
                return False
            login.recordings_seen.add(media_id)
            return True

    def forget_sight(self, login: Login, media_id: str) -> None:
        """Undo :meth:`first_sight` (its audit entry could not be written)."""
        with self._lock:
            login.recordings_seen.discard(media_id)

    def end(self, login_id: str | None) -> None:
        """End this login (logout); an unknown id is ignored."""
        if login_id:
            with self._lock:
                self._by_digest.pop(_digest(login_id), None)

    def end_of(self, name: str) -> None:
        """End every login made with the token named ``name`` (it was revoked)."""
        with self._lock:
            for key in [k for k, v in self._by_digest.items() if v.staff.name == name]:
                del self._by_digest[key]

    def _expired(self, login: Login, now: float) -> bool:
        return now - login.used > self.idle_s or now - login.began > self.lifetime_s \
            or now < login.began  # the clock went back: a new boot, trust nothing

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, v in self._by_digest.items() if self._expired(v, now)]:
            del self._by_digest[key]
