"""Signed documents from central, applied on the box: job packages, rosters, config, deletions.

The sync agent hands over every document it receives (MQTT ``down`` topics or HTTPS
polling) as the bytes it got. The checks run in this order, and the first that fails
names what was wrong: size (too large: rejected unread), JSON, the ``SignedDocument``
schema, the signature (central's pinned key), the target (tenant; site and device when
set), the version rules, then the body's own schema.

Version rules. Job packages and config carry a version that must rise per (kind, scope):
the same version with the same content is ``unchanged``; an older version, or the same
version with other content, is a replay and is rejected. Rosters and deletion requests
are applied once per ``document_id``; a repeat is ``unchanged``. A document applied
before, received again (a retained message, a poll from an old cursor), is ``unchanged``.
A job package's version is checked against the installed packages by the jobs owner
(:func:`device.jobs.installed.check_version`), whether it came from central or the console.

A document is applied in one transaction together with its inbox row and, for versioned
kinds, its ``document_versions`` row. A rejection writes, in one transaction, the inbox
row (keyed by the SHA-256 of the bytes when the document cannot be trusted to name
itself), an audit entry and a ``package.rejected`` message, so central learns of it; the
same rejection received again is not reported twice. The last good version stays active.
Invite codes in rosters are not kept in the inbox (the box keeps codes only as hashes).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ValidationError
from sqlite_utils import Database

from device import audit
from device.audit import Actor
from device.central_link import erasure, inbox, outbox, strict_json
from device.central_link import settings as central_settings
from device.central_link.erasure import Receipt
from device.central_link.outbox import Identity
from device.central_link.settings import CentralSettingsError
from device.clock import Stamp
from device.errors import PackageRejectedError
from device.jobs.installed import VersionRejectedError, activate_package, check_version
from device.jobs.package import PackageError, package_digest, parse_package
from device.sessions.engine import Engine
from device.sessions.roster import invite_roster, parse_roster
from device.storage.database import Store
from shared.canonical_json import dumps
from shared.contract import VERSIONED_KINDS, ConfigBody, DeletionBody, SignedDocument
from shared.signing import SignatureError, verify

log = logging.getLogger(__name__)

Status = Literal["applied", "unchanged", "rejected"]


@dataclass(frozen=True)
class Outcome:
    """What became of one document. ``document_id`` is the inbox key."""

    status: Status
    reason: str
    document_id: str
    kind: str | None = None
    scope: str | None = None
    version: int | None = None
    #: For a deletion request: what was erased, and the receipt message queued.
    receipt: Receipt | None = None


class DocumentRejected(Exception):
    """Why a document is refused (internal: turned into a rejection record)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Context:
    db: Database
    doc: SignedDocument
    now: Stamp
    actor: Actor
    engine: Engine | None

    @property
    def source(self) -> str:
        return f"central:{self.doc.document_id}"


def apply_document(
    store: Store, identity: Identity, data: bytes, public_key: Ed25519PublicKey, *,
    via: str, max_bytes: int, engine: Engine | None = None,
) -> Outcome:
    """Check and apply one document from central; never leaves anything half done.

    ``via`` says how it came ("mqtt", "https"); ``max_bytes`` is ``sync.max_document_bytes``;
    ``engine`` is needed for rosters (invitations are sessions). Store errors propagate
    with nothing written, so the caller can try the document again later.
    """
    erasure.finish_pending(store, identity)
    raw_digest = hashlib.sha256(data).hexdigest()
    doc: SignedDocument | None = None
    trusted = False
    try:
        doc = _read(data, max_bytes)
        verify(doc, public_key)
        trusted = True  # signed by central: its document_id can key the inbox row
        _check_target(doc, identity)
        with store.transaction() as db:
            ctx = _Context(db, doc, store.now(), Actor("central", doc.key_id), engine)
            outcome = _apply(ctx, via)
    except (SignatureError, DocumentRejected) as exc:
        unread = len(data) > max_bytes
        text = "" if unread else data.decode("utf-8", errors="replace")
        return _reject(store, identity, _Received(text, raw_digest, via), doc, trusted,
                       str(exc))
    if outcome.receipt is not None:
        outcome = replace(outcome, receipt=erasure.finish_erasure(store, identity,
                                                                  outcome.receipt))
    log.info("document %s (%s %s v%s) via %s: %s", outcome.document_id, outcome.kind,
             outcome.scope, outcome.version, via, outcome.status)
    return outcome


# -- reading ------------------------------------------------------------------------------

def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(document)"
    more = len(exc.errors()) - 1
    return f"{where}: {first['msg']}" + (f" (and {more} more)" if more else "")


def _read(data: bytes, max_bytes: int) -> SignedDocument:
    if len(data) > max_bytes:
        raise DocumentRejected(
            f"document is {len(data)} bytes, over the limit of {max_bytes} bytes"
            " (sync.max_document_bytes); rejected unread")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            raise DocumentRejected("not valid JSON (truncated or corrupt): it ends inside a"
                                   " UTF-8 character") from None
        raise DocumentRejected(f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    try:
        value = strict_json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentRejected(f"not valid JSON (truncated or corrupt) at line {exc.lineno},"
                               f" column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise DocumentRejected(f"not valid JSON: {exc or 'nested too deeply'}") from None
    if not isinstance(value, dict):
        raise DocumentRejected(
            f"not a signed document: expected a JSON object, got {type(value).__name__}")
    try:
        return SignedDocument.model_validate(value, strict=True)
    except ValidationError as exc:
        raise DocumentRejected(f"not a signed document: {_first_error(exc)}") from None


def _check_target(doc: SignedDocument, identity: Identity) -> None:
    if doc.tenant != identity.tenant:
        raise DocumentRejected(f"meant for tenant {doc.tenant!r}; this box belongs to tenant"
                               f" {identity.tenant!r}")
    if doc.site is not None and doc.site != identity.site:
        raise DocumentRejected(f"meant for site {doc.site!r}; this box is at site"
                               f" {identity.site!r}")
    if doc.device_id is not None and doc.device_id != identity.device_id:
        raise DocumentRejected(f"meant for device {doc.device_id!r}; this box is"
                               f" {identity.device_id!r}")


def body_digest(body: dict[str, Any]) -> str:
    """SHA-256 of a body's canonical JSON: what "the same content" means for versions."""
    return hashlib.sha256(dumps(body).encode()).hexdigest()


def _stored_payload(doc: SignedDocument) -> str:
    """The document as kept in the inbox, without roster invite codes."""
    fields = doc.model_dump(mode="json")
    if doc.kind == "roster" and isinstance(fields["body"].get("invites"), list):
        for entry in fields["body"]["invites"]:
            if isinstance(entry, dict) and entry.get("invite_code") is not None:
                entry["invite_code"] = "(kept as a hash)"
    return dumps(fields)


# -- applying -----------------------------------------------------------------------------

def _apply(ctx: _Context, via: str) -> Outcome:
    db, doc = ctx.db, ctx.doc
    digest = body_digest(doc.body)

    def outcome(status: Status, reason: str, receipt: Receipt | None = None) -> Outcome:
        return Outcome(status, reason, doc.document_id, doc.kind, doc.scope, doc.version,
                       receipt)

    seen = inbox.find(db, doc.document_id)
    if seen is not None and seen.status != "rejected":
        if seen.digest != digest:
            raise DocumentRejected(f"document {doc.document_id} was already applied with"
                                   " different content")
        return outcome("unchanged", f"document {doc.document_id} was already applied")
    if doc.kind == "job_package":
        if _job_package_version(ctx, digest) == "unchanged":
            _record(ctx, via, digest, "unchanged")
            return outcome("unchanged", f"{doc.kind} {doc.scope} version {doc.version} is"
                                        " already active")
    elif doc.kind in VERSIONED_KINDS:
        active = inbox.active_version(db, doc.kind, doc.scope)
        if active is not None and doc.version < active.version:
            raise DocumentRejected(
                f"replay of an old version: {doc.kind} {doc.scope} version {doc.version} is"
                f" older than the active version {active.version}")
        if active is not None and doc.version == active.version:
            if active.digest != digest:
                raise DocumentRejected(
                    f"{doc.kind} {doc.scope} version {doc.version} is already active with"
                    " different content; central must issue a new version")
            _record(ctx, via, digest, "unchanged")
            return outcome("unchanged", f"{doc.kind} {doc.scope} version {doc.version} is"
                                        " already active")
    reason, receipt = _APPLY[doc.kind](ctx)
    _record(ctx, via, digest, "applied")
    if doc.kind in VERSIONED_KINDS:
        inbox.set_active_version(db, doc.kind, doc.scope, doc.version, digest, doc.document_id,
                                 ctx.now)
    return outcome("applied", reason, receipt)


def _record(ctx: _Context, via: str, digest: str, status: str) -> None:
    doc = ctx.doc
    inbox.record(ctx.db, doc.document_id, kind=doc.kind, payload=_stored_payload(doc),
                 at=ctx.now, status=status, scope=doc.scope, version=doc.version,
                 digest=digest, via=via)


Applied = tuple[str, Receipt | None]


def _body(model: type[BaseModel], ctx: _Context) -> Any:
    try:
        return model.model_validate(ctx.doc.body, strict=True)
    except ValidationError as exc:
        raise DocumentRejected(f"{ctx.doc.kind} body: {_first_error(exc)}") from None


def _job_package_version(ctx: _Context, digest: str) -> Literal["new", "unchanged"]:
    """The jobs owner's version check, worded as a document's: whether the package may be
    installed (``new``) or is already active (``unchanged``)."""
    doc = ctx.doc
    try:
        return check_version(ctx.db, doc.scope, doc.version, digest, ctx.source)
    except VersionRejectedError as exc:
        if exc.older:
            raise DocumentRejected(
                f"replay of an old version: {doc.kind} {doc.scope} version {doc.version} is"
                f" older than the active version {exc.active_version}") from None
        raise DocumentRejected(
            f"{doc.kind} {doc.scope} version {doc.version} is already active with"
            " different content; central must issue a new version") from None


def _job_package(ctx: _Context) -> Applied:
    doc = ctx.doc
    data = json.dumps(doc.body, ensure_ascii=False).encode()
    try:
        package = parse_package(data, ctx.source)
    except PackageError as exc:
        raise DocumentRejected(f"job package body: {exc}") from None
    if package.job.id != doc.scope:
        raise DocumentRejected(f"job package for job {package.job.id!r} sent under scope"
                               f" {doc.scope!r}; the scope of a job package is its job id")
    if package.package_version != doc.version:
        raise DocumentRejected(f"job package body has package_version"
                               f" {package.package_version}, the document says version"
                               f" {doc.version}")
    gate = ctx.engine.languages if ctx.engine is not None else None
    try:
        result = activate_package(ctx.db, package, package_digest(data), ctx.source, ctx.now,
                                  ctx.actor, gate)  # its version was checked by _apply
    except PackageRejectedError as exc:
        raise DocumentRejected(str(exc)) from None
    said = f"; {result.notice}" if result.notice else ""
    return f"job {result.job_id} version {result.version} is now active{said}", None


def _roster(ctx: _Context) -> Applied:
    if ctx.engine is None:
        raise ValueError("apply_document needs engine= to apply a roster")
    data = json.dumps(ctx.doc.body, ensure_ascii=False).encode()
    try:
        roster = parse_roster(data, ctx.source)
    except PackageRejectedError as exc:
        raise DocumentRejected(f"roster body: {exc}") from None
    for n, entry in enumerate(roster.invites):
        if entry.invite_code is None:
            raise DocumentRejected(
                f"roster body: invites.{n} (candidate {entry.candidate_id}) has no invite_code;"
                " a roster from central must carry the codes HR gives the candidates")
    try:
        invited = invite_roster(ctx.db, ctx.engine, roster, ctx.source, ctx.actor, ctx.now)
    except PackageRejectedError as exc:
        raise DocumentRejected(f"roster: {exc}") from None
    new = sum(1 for i in invited if i.status == "invited")
    warned = [i.candidate_id for i in invited if i.warning]
    said = (f"; {len(warned)} in a language this box cannot analyse"
            f" ({', '.join(warned[:5])}{', ...' if len(warned) > 5 else ''})" if warned else "")
    return f"{new} invited, {len(invited) - new} already invited{said}", None


def _config(ctx: _Context) -> Applied:
    body: ConfigBody = _body(ConfigBody, ctx)
    try:
        settings = central_settings.validate(body.settings)
    except CentralSettingsError as exc:
        raise DocumentRejected(f"config body: {exc}") from None
    count = central_settings.replace(ctx.db, settings, ctx.doc.document_id, ctx.doc.scope)
    audit.append(ctx.db, ctx.now, ctx.actor, "central.config_applied", subject=ctx.doc.scope,
                 details={"document_id": ctx.doc.document_id, "version": ctx.doc.version,
                          "settings": {s: sorted(v) for s, v in settings.items()}})
    return f"{count} central settings in force", None


def _deletion(ctx: _Context) -> Applied:
    body: DeletionBody = _body(DeletionBody, ctx)
    receipt = erasure.erase_candidate(ctx.db, ctx.now, body.candidate_id, body.request_id,
                                      body.reason, document_id=ctx.doc.document_id)
    found = "erased" if receipt.found else "not found on this box"
    return f"candidate {body.candidate_id} {found} (request {body.request_id})", receipt


_APPLY: dict[str, Callable[[_Context], Applied]] = {
    "job_package": _job_package,
    "roster": _roster,
    "config": _config,
    "deletion": _deletion,
}


# -- rejecting ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Received:
    text: str  # the bytes as text; empty when too large to read
    digest: str  # SHA-256 of the bytes
    via: str


def _reject(store: Store, identity: Identity, received: _Received,
            doc: SignedDocument | None, trusted: bool, reason: str) -> Outcome:
    reason = reason.splitlines()[0][:500] if reason else "rejected"
    raw_digest, via = received.digest, received.via
    digest = body_digest(doc.body) if doc is not None else raw_digest
    now = store.now()
    with store.transaction() as db:
        key = f"sha256:{raw_digest}"
        if doc is not None and trusted:
            seen = inbox.find(db, doc.document_id)
            if seen is None or seen.status == "rejected":
                key = doc.document_id
        found = Outcome("rejected", reason, key, doc.kind if doc else None,
                        doc.scope if doc else None, doc.version if doc else None)
        before = inbox.find(db, key)
        if before is not None and (before.status, before.error, before.digest) == (
                "rejected", reason, digest):
            return found  # reported already
        payload = _stored_payload(doc) if doc is not None else received.text
        inbox.record_rejected(db, key, kind=found.kind, payload=payload, at=now, error=reason,
                              scope=found.scope, version=found.version, digest=digest, via=via)
        details = {"document_id": doc.document_id if doc else None, "kind": found.kind,
                   "scope": found.scope, "version": found.version, "via": via,
                   "digest": raw_digest}
        audit.append(db, now, audit.SYSTEM, "central.document_rejected", subject=key,
                     reason=reason, details=details)
        outbox.enqueue(db, identity, now, "package.rejected", {
            "document_id": doc.document_id if doc else key, "kind": found.kind,
            "scope": found.scope, "version": found.version, "reason": reason})
    log.warning("document %s via %s rejected: %s", key, via, reason)
    return found
