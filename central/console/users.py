"""Console users: a role, the jobs they are responsible for, an Argon2id password hash.

============================  ========================================================
``hr_specialist``             candidates and reports of their jobs; changes nothing
``hiring_manager``            the same, and records decisions (advance, reject, hold)
``general_manager``           aggregate statistics only, never a candidate's data
``admin``                     users, boxes, the audit log, statistics; no candidate's
                              data (least privilege: running central needs none)
============================  ========================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from central.store import ReceiverStore, rows, utc_now

Role = Literal["hr_specialist", "hiring_manager", "general_manager", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
#: Roles that see candidates (of the jobs they hold); the general manager and admin never do.
CANDIDATE_ROLES: tuple[Role, ...] = ("hr_specialist", "hiring_manager")
MIN_PASSWORD = 12
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_HASHER = PasswordHasher()  # argon2-cffi's defaults: Argon2id, RFC 9106's low-memory profile


@cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so that both take the same time."""
    return _HASHER.hash("not a password of anyone's")


class UserError(ValueError):
    """A user that cannot be made or changed as asked."""


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    role: Role
    disabled: bool
    jobs: tuple[str, ...]

    def sees_candidates(self) -> bool:
        return self.role in CANDIDATE_ROLES

    def may_see_job(self, job_id: str) -> bool:
        """HR specialists and hiring managers see the jobs they are responsible for."""
        return self.role in CANDIDATE_ROLES and job_id in self.jobs


def add(store: ReceiverStore, username: str, role: str, password: str,
        display_name: str | None = None, jobs: tuple[str, ...] = ()) -> User:
    if not _USERNAME.match(username):
        raise UserError(f"username {username!r}: lower-case letters, digits, . _ -"
                        " (2 to 64, starting with a letter or digit)")
    if role not in ROLES:
        raise UserError(f"role {role!r}: one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")
    digest = _HASHER.hash(password)
    with store.transaction() as conn:
        if rows(conn, "SELECT 1 FROM console_users WHERE username = ?", (username,)):
            raise UserError(f"user {username!r} exists")
        conn.execute("INSERT INTO console_users (username, display_name, role, password_hash,"
                     " disabled, created) VALUES (?, ?, ?, ?, 0, ?)",
                     (username, display_name or username, role, digest, utc_now()))
        for job in sorted(set(jobs)):
            conn.execute("INSERT INTO console_scopes (username, job_id) VALUES (?, ?)",
                         (username, job))
    found = get(store, username)
    assert found is not None
    return found


def get(store: ReceiverStore, username: str) -> User | None:
    with store.read() as conn:
        found = rows(conn, "SELECT username, display_name, role, disabled FROM console_users"
                     " WHERE username = ?", (username,))
        if not found:
            return None
        jobs = rows(conn, "SELECT job_id FROM console_scopes WHERE username = ? ORDER BY job_id",
                    (username,))
    u = found[0]
    return User(u["username"], u["display_name"], u["role"], bool(u["disabled"]),
                tuple(j["job_id"] for j in jobs))


def listing(store: ReceiverStore) -> list[User]:
    names = store.all("SELECT username FROM console_users ORDER BY username")
    return [u for n in names if (u := get(store, n["username"])) is not None]


def disable(store: ReceiverStore, username: str) -> None:
    """Disable a user and end their sessions; the row stays, for the audit trail."""
    with store.transaction() as conn:
        changed = conn.execute("UPDATE console_users SET disabled = 1 WHERE username = ?",
                               (username,)).rowcount
        if changed != 1:
            raise UserError(f"no user {username!r}")
        conn.execute("DELETE FROM console_sessions WHERE username = ?", (username,))


def authenticate(store: ReceiverStore, username: str, password: str) -> User | None:
    """The user, when the password is theirs and they are not disabled; else None.

    A password is checked even for an unknown or disabled user, so that the answer takes
    as long either way. An outdated hash is replaced by one with today's parameters."""
    found = store.one("SELECT password_hash, disabled FROM console_users WHERE username = ?",
                      (username,))
    digest = found["password_hash"] if found else _dummy_hash()
    try:
        _HASHER.verify(digest, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if found is None or found["disabled"]:
        return None
    if _HASHER.check_needs_rehash(digest):
        with store.transaction() as conn:
            conn.execute("UPDATE console_users SET password_hash = ? WHERE username = ?",
                         (_HASHER.hash(password), username))
    return get(store, username)
