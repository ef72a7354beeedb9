"""Documents central sends down: signed with the receiver's Ed25519 key, numbered per scope.

Every published document gets an increasing ``cursor``; a box polls for what came after
the last cursor it saw. Versions rise per (tenant, kind, scope): a new document without
an explicit version gets the last one plus one.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from central.errors import ConflictError, InvalidContentError, ReceiverError
from central.store import Connection, ReceiverStore, row, utc_now
from shared.contract import ConfigBody, DeletionBody, DocumentKind, SignedDocument
from shared.errors import KioskError
from shared.signing import generate_key, load_private_key, public_pem, sign, write_private_key

log = logging.getLogger(__name__)

KEY_FILE = "signing-key.pem"
PAGE = 100


class DocumentRequest(BaseModel):
    """Body of ``POST /v1/admin/documents``: what to sign and for whom."""

    model_config = ConfigDict(extra="forbid")

    kind: DocumentKind = Field(description="job_package, roster, config or deletion.")
    scope: str = Field(description="Job id for packages, 'device' for config, free otherwise.")
    version: int | None = Field(None, ge=1, description="Default: the scope's last + 1.")
    tenant: str | None = Field(None, min_length=1, description="Default: the device's tenant.")
    site: str | None = Field(None, description="Only boxes of this site (default: any).")
    device_id: str | None = Field(None, description="Only this box (default: every box).")
    document_id: str | None = Field(None, description="Default: a new unique id.")
    body: dict[str, Any] = Field(description="Kind-specific content.")


# -- the signing key ----------------------------------------------------------------------

def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def load_or_create_key(data_dir: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The receiver's signing key; created (owner-readable only) when absent."""
    path = key_path(data_dir)
    if path.exists():
        try:
            return load_private_key(path), False
        except (ValueError, TypeError, KioskError) as exc:
            raise ReceiverError(f"{path}: not a usable Ed25519 private key ({exc})") from None
    key = generate_key()
    try:
        write_private_key(key, path)
    except OSError as exc:
        raise ReceiverError(f"{path}: cannot write the signing key: {exc.strerror}") from None
    log.info("created central's signing key %s", path)
    return key, True


def public_key_pem(key: Ed25519PrivateKey) -> str:
    return public_pem(key).decode()


# -- publishing ----------------------------------------------------------------------------

def _check_body(request: DocumentRequest) -> None:
    models: dict[str, type[BaseModel]] = {"config": ConfigBody, "deletion": DeletionBody}
    model = models.get(request.kind)
    if model is None:
        return  # packages and rosters are checked (and refused when bad) by the box
    try:
        model.model_validate(request.body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidContentError(f"{request.kind} body: {where}: {first['msg']}") from None


def _next_version(conn: Connection, tenant: str, request: DocumentRequest) -> int:
    last = row(conn, "SELECT last FROM versions WHERE tenant = ? AND kind = ? AND scope = ?",
               (tenant, request.kind, request.scope))
    version = request.version or (last["last"] + 1 if last else 1)
    conn.execute(
        "INSERT INTO versions (tenant, kind, scope, last) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (tenant, kind, scope) DO UPDATE SET last = CASE WHEN excluded.last >"
        " versions.last THEN excluded.last ELSE versions.last END",
        (tenant, request.kind, request.scope, version))
    return version


def store_document(store: ReceiverStore, key: Ed25519PrivateKey,
                   request: DocumentRequest) -> SignedDocument:
    """Sign a document and keep it for polling, in one transaction."""
    _check_body(request)
    with store.transaction() as conn:
        tenant, site = request.tenant, request.site
        if request.device_id is not None:
            known = row(conn, "SELECT tenant, site FROM registry WHERE device_id = ?",
                        (request.device_id,))
            if tenant is None and known is not None:
                tenant = known["tenant"]
            elif known is not None and tenant != known["tenant"]:
                raise InvalidContentError(
                    f"device {request.device_id} is enrolled for tenant {known['tenant']!r},"
                    f" not {tenant!r}")
        if tenant is None:
            raise InvalidContentError(
                "tenant is required (it can be left out only for an enrolled device_id)")
        document_id = request.document_id or f"{request.kind}-{uuid.uuid4().hex}"
        if row(conn, "SELECT 1 AS x FROM documents WHERE document_id = ?", (document_id,)):
            raise ConflictError(f"document {document_id} is already published")
        version = _next_version(conn, tenant, request)
        try:
            document = sign(key, {
                "document_id": document_id, "kind": request.kind, "scope": request.scope,
                "version": version, "tenant": tenant, "site": site,
                "device_id": request.device_id, "issued_at": utc_now(), "body": request.body,
            })
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidContentError(f"document: {where}: {first['msg']}") from None
        conn.execute(
            "INSERT INTO documents (document_id, kind, scope, version, tenant, site, device_id,"
            " document, published) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (document_id, document.kind, document.scope, version, tenant, site,
             request.device_id, document.model_dump_json(), utc_now()))
    return document


# -- who gets what ----------------------------------------------------------------------

_FOR_DEVICE = ("(device_id = :device OR (device_id IS NULL AND tenant = :tenant"
               " AND (site IS NULL OR site = :site)))")


def documents_after(store: ReceiverStore, device_id: str, after: int, tenant: str | None,
                    site: str | None, limit: int = PAGE) -> tuple[list[SignedDocument], int]:
    """Documents for a box published after ``after``, oldest first, and the new cursor.

    The caller gives the box's enrolled tenant and site (never what a request claims). The
    cursor only moves past documents returned.
    """
    found = store.all(
        f"SELECT cursor, document FROM documents WHERE cursor > :after AND {_FOR_DEVICE}"  # noqa: S608
        " ORDER BY cursor LIMIT :limit",
        {"after": after, "device": device_id, "tenant": tenant, "site": site, "limit": limit})
    documents = [SignedDocument.model_validate_json(r["document"]) for r in found]
    return documents, (found[-1]["cursor"] if found else after)


def catch_up(store: ReceiverStore, device_id: str, tenant: str, site: str) -> list[SignedDocument]:
    """What a box seen for the first time should receive: the last document of every
    versioned scope, and the latest roster and deletion documents meant for it."""
    found = store.all(
        f"SELECT cursor, kind, scope, document FROM documents WHERE {_FOR_DEVICE}"  # noqa: S608
        " ORDER BY cursor", {"device": device_id, "tenant": tenant, "site": site})
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    others: list[dict[str, Any]] = []
    for r in found:
        if r["kind"] in ("job_package", "config"):
            latest[(r["kind"], r["scope"])] = r
        else:
            others.append(r)
    chosen = sorted([*latest.values(), *others[-PAGE:]], key=lambda r: int(r["cursor"]))
    return [SignedDocument.model_validate(json.loads(r["document"])) for r in chosen]


def targets(store: ReceiverStore, document: SignedDocument) -> list[tuple[str, str, str]]:
    """(tenant, site, device) of every box a document goes to over MQTT: the box named, or
    every enrolled box of its tenant (and site), at the place the registry has it."""
    if document.device_id is not None:
        known = store.one("SELECT tenant, site FROM registry WHERE device_id = ?",
                          (document.device_id,))
        if known is None or known["tenant"] != document.tenant:
            return []
        return [(document.tenant, known["site"], document.device_id)]
    found = store.all(
        "SELECT device_id, site FROM registry WHERE tenant = ? AND (? IS NULL OR site = ?)"
        " ORDER BY device_id", (document.tenant, document.site, document.site))
    return [(document.tenant, r["site"], r["device_id"]) for r in found]
