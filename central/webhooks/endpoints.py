"""Webhook endpoints: where events are sent, which ones, and the secret that signs them.

An endpoint added now receives the events made from now on; earlier ones are read with
the pull API (``GET /v1/admin/events?after=0``). The secret is returned once, when the
endpoint is added, and never listed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from central.errors import InvalidContentError, NotFoundError
from central.store import ReceiverStore, utc_now
from central.webhooks import events, signing


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    events: tuple[str, ...]
    description: str
    active: bool
    created: str


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidContentError(f"webhook url {url!r} must be an http(s) URL with a host")
    return url


def check_types(types: list[str]) -> tuple[str, ...]:
    unknown = sorted(set(types) - set(events.TYPES))
    if unknown:
        raise InvalidContentError(f"unknown event type(s) {', '.join(unknown)}; known:"
                                  f" {', '.join(events.TYPES)}")
    return tuple(t for t in events.TYPES if t in types) if types else events.TYPES


def add(store: ReceiverStore, url: str, types: list[str], description: str = ""
        ) -> tuple[Endpoint, str]:
    """A new active endpoint and its secret (shown this once)."""
    endpoint = Endpoint(id=f"wh_{secrets.token_hex(6)}", url=check_url(url),
                        events=check_types(types), description=description, active=True,
                        created=utc_now())
    secret = signing.new_secret()
    with store.transaction() as conn:
        conn.execute("INSERT INTO webhook_endpoints (id, url, secret, events, description,"
                     " active, created) VALUES (?, ?, ?, ?, ?, 1, ?)",
                     (endpoint.id, endpoint.url, secret, ",".join(endpoint.events),
                      description, endpoint.created))
    return endpoint, secret


def listed(store: ReceiverStore) -> list[Endpoint]:
    return [Endpoint(id=r["id"], url=r["url"], events=tuple(r["events"].split(",")),
                     description=r["description"], active=bool(r["active"]),
                     created=r["created"])
            for r in store.all("SELECT id, url, events, description, active, created"
                               " FROM webhook_endpoints ORDER BY created, id")]


def deactivate(store: ReceiverStore, endpoint_id: str) -> None:
    """Stop sending to an endpoint; its undelivered events stay listed, not sent."""
    with store.transaction() as conn:
        if conn.execute("UPDATE webhook_endpoints SET active = 0 WHERE id = ?",
                        (endpoint_id,)).rowcount != 1:
            raise NotFoundError(f"no webhook endpoint {endpoint_id!r}")
