"""Staff bearer tokens: created on the box's console, stored hashed, revocable."""

from __future__ import annotations

import json
from dataclasses import dataclass

from device import audit
from device.audit import ROLES, Actor
from device.errors import AuthenticationError, KioskError, NotFoundError
from device.sessions.codes import hash_token, new_token
from device.staff.policy import Staff
from device.storage.database import Store, row, stamp_json


@dataclass(frozen=True)
class Created:
    name: str
    role: str
    token: str


def create(store: Store, name: str, role: str, jobs: list[str], actor: Actor) -> Created:
    if role not in ROLES:
        raise KioskError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    if role == "site_hr" and not jobs:
        raise KioskError("a site_hr token needs --jobs: the job ids it may manage")
    if not name.strip():
        raise KioskError("a token needs a name (who holds it)")
    token = new_token()
    now = store.now()
    with store.transaction() as db:
        if row(db, "SELECT 1 AS x FROM tokens WHERE name = ?", (name,)):
            raise KioskError(f"a token named {name!r} exists already; revoke it or pick a name")
        db.execute(
            "INSERT INTO tokens (name, role, jobs, token_hash, created) VALUES (?, ?, ?, ?, ?)",
            (name, role, json.dumps(sorted(set(jobs))), hash_token(token), stamp_json(now)),
        )
        audit.append(db, now, actor, "token.created", subject=name,
                     details={"role": role, "jobs": sorted(set(jobs))})
    return Created(name, role, token)


def revoke(store: Store, name: str, actor: Actor) -> None:
    now = store.now()
    with store.transaction() as db:
        found = row(db, "SELECT revoked FROM tokens WHERE name = ?", (name,))
        if found is None:
            raise NotFoundError(f"no token named {name!r}")
        if found["revoked"] is None:
            db.execute("UPDATE tokens SET revoked = ? WHERE name = ?", (stamp_json(now), name))
            audit.append(db, now, actor, "token.revoked", subject=name)


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A staff token as listed (never its hash): ``created``/``revoked`` are UTC times."""

    name: str
    role: str
    jobs: list[str]
    created: str
    revoked: str | None


def list_tokens(store: Store) -> list[TokenRow]:
    """Every token, in the order they were created."""
    found = store.all("SELECT name, role, jobs, created, revoked FROM tokens ORDER BY id")
    return [TokenRow(name=t["name"], role=t["role"], jobs=json.loads(t["jobs"]),
                     created=json.loads(t["created"])["utc"],
                     revoked=json.loads(t["revoked"])["utc"] if t["revoked"] else None)
            for t in found]


def authenticate(store: Store, token: str) -> Staff:
    found = store.one("SELECT name, role, jobs, revoked FROM tokens WHERE token_hash = ?",
                      (hash_token(token),))
    if found is None:
        raise AuthenticationError("unknown staff token")
    if found["revoked"] is not None:
        raise AuthenticationError(f"staff token {found['name']!r} has been revoked")
    return Staff(found["name"], found["role"], frozenset(json.loads(found["jobs"])))


def by_name(store: Store, name: str) -> Staff:
    """The staff member holding the token named ``name`` as it stands now (role and jobs);
    AuthenticationError when the token is gone or revoked. Logins made with a token check
    it again on each request with this."""
    found = store.one("SELECT name, role, jobs, revoked FROM tokens WHERE name = ?", (name,))
    if found is None or found["revoked"] is not None:
        raise AuthenticationError(f"staff token {name!r} is no longer valid")
    return Staff(found["name"], found["role"], frozenset(json.loads(found["jobs"])))
