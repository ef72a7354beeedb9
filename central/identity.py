"""Who is asking: device names apart from central's own, and the client certificate behind
an HTTPS request.

Boxes and central's services share one CA, so a name decides what a certificate may do.
Central's service names (its MQTT client ``central`` and the ingest workers
``central-ingest-1`` …) form their own namespace: no enrolment token is ever issued for
one, and the CA never signs a device request under one. A request that presents a
service certificate is never taken for a box, and no certificate at all makes an admin
(admin routes need an admin token, :mod:`central.admin`).

Uvicorn does not hand the peer's certificate to the app, so :class:`PeerCertificateH11`
(its HTTP/1.1 protocol, one instance per connection) adds the ASGI TLS extension to each
request's scope: ``scope["extensions"]["tls"]["client_cert_name"]`` (RFC 4514) and
``client_cert_chain`` (PEM), as the ASGI specification names them.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from uvicorn.protocols.http.h11_impl import H11Protocol

from central.errors import ReceiverError

#: Device ids, tenants and sites: safe in a topic level and an ACL line (no ``+ # /``).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

#: Central's own service names (case-insensitive), and the prefixes of its service families.
SERVICE_NAMES = frozenset({"central", "admin", "broker", "root", "localhost"})
SERVICE_PREFIXES = ("central-", "central.", "central_", "svc-")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


class NotADeviceError(ReceiverError):
    """The request carries no device identity, or one that is not an enrolled box's."""

    status = 403
    code = "not-a-device"


class NoClientCertificateError(NotADeviceError):
    status = 401
    code = "client-certificate-required"


def is_service_name(name: str) -> bool:
    """Whether ``name`` belongs to central's namespace (never a device id)."""
    low = name.strip().lower()
    return low in SERVICE_NAMES or low.startswith(SERVICE_PREFIXES)


def check_device_name(name: str) -> str:
    """``name`` if a box may carry it; raises ValueError naming the reserved namespace."""
    if is_service_name(name):
        raise ValueError(f"{name!r} is reserved for central's own services (names"
                         f" {', '.join(sorted(SERVICE_NAMES))} and those starting with"
                         f" {', '.join(SERVICE_PREFIXES)}); choose another device id")
    return name


def check_path_name(name: str, what: str) -> str:
    """``name`` if it is safe as a topic level (letters, digits, ``. _ -``); else ValueError."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise ValueError(f"{what} {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
    return name


def peer_common_name(scope: Scope) -> str | None:
    """The CN of the client certificate the connection presented, or None."""
    chain = (scope.get("extensions") or {}).get("tls", {}).get("client_cert_chain") or []
    if not chain:
        return None
    cert = x509.load_pem_x509_certificate(chain[0].encode())
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def device_of(scope: Scope) -> str:
    """The device id an HTTPS request speaks for: its client certificate's CN, which must
    not be one of central's service names."""
    name = peer_common_name(scope)
    if name is None:
        raise NoClientCertificateError("a box's client certificate is required (mutual TLS);"
                                       " this request presented none")
    if is_service_name(name):
        raise NotADeviceError(f"certificate {name!r} belongs to central's services, not to a"
                              " box; it cannot send or fetch a box's data")
    return name


def _tls_extension(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    ssl_object: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return {"client_cert_chain": [], "client_cert_name": None}
    cert = x509.load_der_x509_certificate(der)
    return {"client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)],
            "client_cert_name": cert.subject.rfc4514_string()}


class PeerCertificateH11(H11Protocol):
    """Uvicorn's HTTP/1.1 protocol, adding the ASGI TLS extension (the peer's certificate)
    to the scope of every request on its connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        tls = _tls_extension(transport)
        if tls is None:
            return
        inner: Asgi = self.app

        async def with_peer(scope: Scope, receive: Receive, send: Send) -> None:
            scope.setdefault("extensions", {})["tls"] = tls
            await inner(scope, receive, send)

        self.app = with_peer
