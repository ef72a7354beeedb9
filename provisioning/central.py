"""The box's side of ``POST /v1/enrol``: one request to central, every failure named.

Central's TLS certificate is checked against ``ca_file`` when given, else against the
system's trust store. The box has no client certificate yet, so none is offered.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from device.errors import KioskError

ENROL_PATH = "/v1/enrol"
ANSWER_KEYS = ("device_id", "tenant", "site", "certificate_pem", "ca_pem",
               "signing_public_key_pem", "transport")


class TokenRefusedError(KioskError):
    """Central refused the enrolment token: unknown, already used or expired."""

    status = 400
    code = "enrolment-token-refused"


class EnrolmentRefusedError(KioskError):
    """Central refused the enrolment for another reason (bad request, not enrolling)."""

    status = 400
    code = "enrolment-refused"


class CentralUnreachableError(KioskError):
    """Central cannot be reached: connection refused, name not found, timeout."""

    status = 502
    code = "central-unreachable"


class CentralTlsError(KioskError):
    """Central's TLS certificate failed verification, or the TLS handshake failed."""

    status = 502
    code = "central-tls-failure"


class NotAReceiverError(KioskError):
    """The URL answers, but not as central's enrolment endpoint."""

    status = 502
    code = "not-central"


def normalise_url(url: str) -> str:
    """``https://host:port[/prefix]`` without a trailing slash; refuses anything else."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise EnrolmentRefusedError(f"{url!r} is not central's address: give an https:// URL,"
                                    " e.g. https://central.example:8444")
    return url


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    try:
        ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise EnrolmentRefusedError(f"{ca_file}: cannot load it as a CA certificate ({exc});"
                                    " give central's CA certificate (PEM) with --ca") from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def request_certificate(url: str, token: str, csr_pem: str, *, ca_file: Path | None = None,
                        timeout_s: float = 30.0) -> dict[str, Any]:
    """Send the token and the CSR; central's answer, checked for shape, or a clear error."""
    url = normalise_url(url)
    host = urlsplit(url).hostname or url
    target = url + ENROL_PATH
    try:
        with httpx.Client(verify=tls_context(ca_file), timeout=timeout_s,
                          follow_redirects=False, trust_env=False) as client:
            response = client.post(target, json={"token": token.strip(), "csr_pem": csr_pem})
    except httpx.TimeoutException:
        raise CentralUnreachableError(f"central at {host} did not answer within {timeout_s:g} s"
                                      f" ({target}); check the network and the URL") from None
    except httpx.HTTPError as exc:
        raise _connection_error(exc, host, target) from None
    return _answer(response, target)


def _connection_error(exc: httpx.HTTPError, host: str, target: str) -> KioskError:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return CentralTlsError(
                f"central's TLS certificate at {host} failed verification:"
                f" {cause.verify_message or cause.reason}; give central's CA certificate"
                " with --ca (or check the URL)")
        if isinstance(cause, ssl.SSLError):
            return CentralTlsError(f"the TLS handshake with {host} failed: {cause.reason or cause}"
                                   "; check the URL and that it is central's enrolment port")
        if isinstance(cause, socket.gaierror):
            return CentralUnreachableError(f"the name {host} cannot be resolved"
                                           f" ({cause.strerror}); check the URL and DNS")
        if isinstance(cause, ConnectionRefusedError):
            return CentralUnreachableError(f"central at {host} refused the connection"
                                           f" ({target}); check the URL and that central runs")
        cause = cause.__cause__ or cause.__context__
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return CentralTlsError(f"central's TLS certificate at {host} failed verification:"
                               f" {text}; give central's CA certificate with --ca")
    if "SSL" in text:
        return CentralTlsError(f"the TLS handshake with {host} failed: {text}")
    if "Name or service not known" in text or "name resolution" in text:
        return CentralUnreachableError(f"the name {host} cannot be resolved ({text});"
                                       " check the URL and DNS")
    why = text or type(exc).__name__
    return CentralUnreachableError(f"central at {host} cannot be reached ({why});"
                                   " check the URL and the network")


def _answer(response: httpx.Response, target: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    status = response.status_code
    if status in (403, 409, 410) and detail:
        which = {403: "unknown", 409: "already used", 410: "expired"}[status]
        raise TokenRefusedError(f"central refused the enrolment token ({which}): {detail}")
    if status in (404, 405) or (status < 400 and not isinstance(body, dict)):
        raise NotAReceiverError(f"{target} is not central's enrolment endpoint (HTTP {status});"
                                " check the URL (central's enrolment address, e.g."
                                " https://central.example:8444)")
    if status >= 400:
        raise EnrolmentRefusedError(f"central refused the enrolment (HTTP {status}):"
                                    f" {detail or response.text[:200]}")
    assert isinstance(body, dict)
    missing = [k for k in ANSWER_KEYS if not isinstance(body.get(k), str)]
    if missing:
        raise NotAReceiverError(f"{target} answered, but not as central's enrolment endpoint"
                                f" (missing {', '.join(missing)}); check the URL")
    return body
