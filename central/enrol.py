"""Enrolling boxes: one-time tokens an admin creates, and the exchange a box makes with one.

An admin creates a token bound to a device id, tenant and site (``POST
/v1/admin/enrolment-tokens``; never for one of central's service names, see
:mod:`central.identity`); the technician types it on the box, which generates its key,
sends a certificate signing request with the token (``POST /v1/enrol``) and gets back its
certificate (CN = the device id bound to the token; the box joins the device registry
with the token's tenant and site), central's CA certificate, where to
deliver (MQTT, HTTPS) and central's document-signing public key.

A token works once. A box that lost the answer (power cut, cut link) may ask again with the
same token and the same key and gets the same certificate back; any other use of a spent
token is refused. Only a token's SHA-256 is stored.

The enrolment route needs no client certificate (the box has none yet): it is served on
the main app and on :func:`create_enrol_app`, which ``kiosk central serve`` puts on its
own TLS listener (``--enrol-port``) when the main one requires client certificates.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from central.errors import ReceiverError
from central.identity import NAME_PATTERN, check_device_name, is_service_name
from central.pki import LEAF_VALID_DAYS, CertificateAuthority, PkiError
from central.registry import Device, register
from central.store import row, utc_now

if TYPE_CHECKING:
    from central.core import Receiver

DEVICE_ID = NAME_PATTERN


class EnrolmentError(ReceiverError):
    code = "enrolment-refused"


class UnknownTokenError(EnrolmentError):
    status = 403
    code = "enrolment-token-unknown"


class UsedTokenError(EnrolmentError):
    status = 409
    code = "enrolment-token-used"


class ExpiredTokenError(EnrolmentError):
    status = 410
    code = "enrolment-token-expired"


class BadRequestError(EnrolmentError):
    status = 400
    code = "bad-csr"


class NotEnrollingError(EnrolmentError):
    status = 503
    code = "enrolment-off"


@dataclass(frozen=True)
class EnrolmentSettings:
    """What central hands a box at enrolment, and the CA it signs device certificates with.

    ``mqtt`` is the broker as boxes reach it (``host:port``), ``https_url`` the HTTPS API
    as boxes reach it (the mutual TLS listener); at least one is needed.
    """

    ca_dir: Path
    mqtt: str | None = None
    https_url: str | None = None
    tenant: str = "demo-tenant"
    site: str = "demo-site"
    cert_valid_days: int = LEAF_VALID_DAYS

    def __post_init__(self) -> None:
        if self.mqtt is None and self.https_url is None:
            raise ValueError("enrolment needs the MQTT address or the HTTPS URL boxes use")
        if self.mqtt is not None:
            mqtt_address(self.mqtt)

    @property
    def ca(self) -> CertificateAuthority:
        return CertificateAuthority.load(self.ca_dir)


def mqtt_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not host:port")
    return host, int(port)


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(pattern=DEVICE_ID)
    tenant: str | None = Field(None, pattern=NAME_PATTERN)
    site: str | None = Field(None, pattern=NAME_PATTERN)
    ttl_h: float = Field(72.0, gt=0, le=24 * 90)

    @field_validator("device_id")
    @classmethod
    def _a_device_name(cls, value: str) -> str:
        return check_device_name(value)


class EnrolRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200)
    csr_pem: str = Field(min_length=1, max_length=16_384)


def _digest(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def create_token(receiver: Receiver, request: TokenRequest) -> dict[str, Any]:
    """A new one-time token; the token itself is returned here and never stored."""
    settings = _settings(receiver)
    token = "enr_" + base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=").lower()
    expires = (_now() + timedelta(hours=request.ttl_h)).isoformat(timespec="seconds")
    record = {"device_id": request.device_id, "tenant": request.tenant or settings.tenant,
              "site": request.site or settings.site, "created": utc_now(), "expires": expires}
    with receiver.store.transaction() as conn:
        conn.execute("INSERT INTO enrolment_tokens (token_sha256, device_id, tenant, site,"
                     " created, expires) VALUES (?, ?, ?, ?, ?, ?)",
                     (_digest(token), record["device_id"], record["tenant"], record["site"],
                      record["created"], expires))
    return {"token": token, **record}


def enrol(receiver: Receiver, request: EnrolRequest) -> dict[str, Any]:
    """Check the token, sign the request's key and answer with everything the box needs."""
    settings = _settings(receiver)
    csr_pem = request.csr_pem.encode()
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError:
        raise BadRequestError("csr_pem is not a PEM certificate signing request") from None
    if not csr.is_signature_valid:
        raise BadRequestError("the certificate signing request's signature does not verify")
    key_sha = hashlib.sha256(csr.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()
    with receiver.store.transaction() as conn:
        found = row(conn, "SELECT * FROM enrolment_tokens WHERE token_sha256 = ?",
                    (_digest(request.token),))
        if found is None:
            raise UnknownTokenError("unknown enrolment token: check it, or ask for a new one")
        if found["used"] is not None:
            if found["public_key_sha256"] == key_sha:  # the same box asking again
                return _answer(receiver, settings, found, found["certificate"])
            raise UsedTokenError(f"this enrolment token was already used (at {found['used']});"
                                 " ask for a new one")
        if datetime.fromisoformat(found["expires"]) <= _now():
            raise ExpiredTokenError(f"this enrolment token expired at {found['expires']};"
                                    " ask for a new one")
        if is_service_name(found["device_id"]):  # a token stored before names were checked
            raise BadRequestError(f"{found['device_id']!r} is one of central's service names;"
                                  " no device is enrolled under it")
        register(conn, Device(found["device_id"], found["tenant"], found["site"]), "enrolment")
        try:
            cert = settings.ca.sign_csr(csr_pem, found["device_id"],
                                        valid_days=settings.cert_valid_days)
        except PkiError as exc:
            raise BadRequestError(str(exc)) from None
        cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        conn.execute("UPDATE enrolment_tokens SET used = ?, public_key_sha256 = ?,"
                     " certificate = ? WHERE token_sha256 = ?",
                     (utc_now(), key_sha, cert_pem, found["token_sha256"]))
    receiver.registry_changed()
    return _answer(receiver, settings, found, cert_pem)


def _answer(receiver: Receiver, settings: EnrolmentSettings, token: dict[str, Any],
            cert_pem: str) -> dict[str, Any]:
    mqtt = None
    if settings.mqtt is not None:
        host, port = mqtt_address(settings.mqtt)
        mqtt = {"host": host, "port": port}
    return {
        "device_id": token["device_id"], "tenant": token["tenant"], "site": token["site"],
        "certificate_pem": cert_pem,
        "ca_pem": settings.ca.cert.read_text(),
        "mqtt": mqtt, "https_url": settings.https_url,
        "transport": "mqtt" if mqtt is not None else "https",
        "signing_public_key_pem": receiver.public_key_pem, "signing_key_id": receiver.key_id,
    }


def _settings(receiver: Receiver) -> EnrolmentSettings:
    if receiver.enrolment is None:
        raise NotEnrollingError("this receiver does not enrol boxes (start it with"
                                " --enrol-ca-dir and --public-mqtt or --public-https-url)")
    return receiver.enrolment


def router(receiver: Receiver) -> APIRouter:
    """``POST /v1/enrol`` (no client certificate needed)."""
    from starlette.concurrency import run_in_threadpool

    from central.app import parse, read_body

    api = APIRouter()

    @api.post("/v1/enrol")
    async def enrol_box(request: Request) -> dict[str, Any]:
        raw = await read_body(request, 64 << 10)
        wanted = parse(EnrolRequest, raw, "enrolment request")
        return await run_in_threadpool(enrol, receiver, wanted)

    return api


def create_enrol_app(receiver: Receiver) -> FastAPI:
    """An app with only ``/v1/enrol`` and ``/healthz``, for a listener without client
    certificates."""
    from fastapi.responses import JSONResponse

    app = FastAPI(title="Interview kiosk: enrolment", version="1")

    @app.exception_handler(ReceiverError)
    async def refused(request: Request, exc: ReceiverError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "code": exc.code}, status_code=exc.status)

    @app.get("/healthz")
    def health() -> dict[str, Any]:
        return {"status": "ok", "enrolment": receiver.enrolment is not None}

    app.include_router(router(receiver))
    return app

