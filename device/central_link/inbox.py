"""The ``inbox`` and ``document_versions`` tables: documents central sent, as typed rows.

The only module that reads or writes them. :mod:`device.central_link.inbound` decides what
a document does and records it here; central's settings and erasure (which both run while a
document is applied) look documents up here too. Every function runs in the caller's
transaction or read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from device.clock import Stamp
from device.storage.database import load_stamp, row, rows, stamp_json

_INBOX = ("message_id, kind, payload, received, status, error, applied, doc_kind, scope,"
          " version, digest, via")


@dataclass(frozen=True, slots=True)
class InboxRow:
    """One document as kept: ``message_id`` is its document id, or ``sha256:<digest>`` for
    bytes that could not be trusted as a document; ``payload`` is the stored JSON text."""

    message_id: str
    kind: str
    payload: str
    received: Stamp | None
    status: str
    error: str | None
    applied: Stamp | None
    doc_kind: str | None
    scope: str | None
    version: int | None
    digest: str | None
    via: str | None


def _inbox(r: dict[str, Any]) -> InboxRow:
    return InboxRow(
        message_id=r["message_id"], kind=r["kind"], payload=r["payload"],
        received=load_stamp(r["received"]), status=r["status"], error=r["error"],
        applied=load_stamp(r["applied"]), doc_kind=r["doc_kind"], scope=r["scope"],
        version=r["version"], digest=r["digest"], via=r["via"])


def find(db: Database, message_id: str) -> InboxRow | None:
    found = row(db, f"SELECT {_INBOX} FROM inbox WHERE message_id = ?", (message_id,))  # noqa: S608 - fixed names
    return None if found is None else _inbox(found)


def record(
    db: Database, message_id: str, *, kind: str, payload: str, at: Stamp, status: str,
    scope: str | None, version: int | None, digest: str, via: str,
) -> None:
    """Record a document central signed as ``applied`` or ``unchanged`` (clearing an earlier
    rejection of it)."""
    received = stamp_json(at)
    db.execute(
        "INSERT INTO inbox (message_id, kind, payload, received, status, error, applied,"
        " doc_kind, scope, version, digest, via) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (message_id) DO UPDATE SET kind = excluded.kind,"
        " payload = excluded.payload, received = excluded.received, status = excluded.status,"
        " error = NULL, applied = excluded.applied, doc_kind = excluded.doc_kind,"
        " scope = excluded.scope, version = excluded.version, digest = excluded.digest,"
        " via = excluded.via",
        (message_id, kind, payload, received, status,
         received if status == "applied" else None, kind, scope, version, digest, via))


def record_rejected(
    db: Database, message_id: str, *, kind: str | None, payload: str, at: Stamp, error: str,
    scope: str | None, version: int | None, digest: str, via: str,
) -> None:
    """Record a rejected document; a row already kept under ``message_id`` keeps its kind,
    scope and version and takes the new payload, error, digest and route."""
    db.execute(
        "INSERT INTO inbox (message_id, kind, payload, received, status, error, applied,"
        " doc_kind, scope, version, digest, via) VALUES (?, ?, ?, ?, 'rejected', ?, NULL,"
        " ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO UPDATE SET payload = excluded.payload,"
        " received = excluded.received, status = 'rejected', error = excluded.error,"
        " digest = excluded.digest, via = excluded.via",
        (message_id, kind or "unknown", payload, stamp_json(at), error, kind, scope, version,
         digest, via))


def ids_of(db: Database, doc_kind: str, scope: str) -> list[str]:
    """Ids of the kept documents of one kind and scope (applied, unchanged or rejected)."""
    return [r["message_id"] for r in rows(
        db, "SELECT message_id FROM inbox WHERE doc_kind = ? AND scope = ?", (doc_kind, scope))]


def mentioning(db: Database, text: str) -> list[InboxRow]:
    """Kept documents whose payload contains ``text``, deletion requests left out."""
    return [_inbox(r) for r in rows(
        db, f"SELECT {_INBOX} FROM inbox WHERE instr(payload, ?) > 0"  # noqa: S608 - fixed names
        " AND coalesce(doc_kind, '') != 'deletion'", (text,))]


def replace_payload(db: Database, message_id: str, payload: str) -> None:
    db.execute("UPDATE inbox SET payload = ? WHERE message_id = ?", (payload, message_id))


# -- the active version of each versioned document ------------------------------------------

@dataclass(frozen=True, slots=True)
class DocumentVersionRow:
    """The version of a (kind, scope) in force, and the document that brought it."""

    kind: str
    scope: str
    version: int
    digest: str
    document_id: str
    applied: Stamp | None


def active_version(db: Database, kind: str, scope: str) -> DocumentVersionRow | None:
    found = row(db, "SELECT kind, scope, version, digest, document_id, applied"
                " FROM document_versions WHERE kind = ? AND scope = ?", (kind, scope))
    if found is None:
        return None
    return DocumentVersionRow(
        kind=found["kind"], scope=found["scope"], version=found["version"],
        digest=found["digest"], document_id=found["document_id"],
        applied=load_stamp(found["applied"]))


def set_active_version(db: Database, kind: str, scope: str, version: int, digest: str,
                       document_id: str, at: Stamp) -> None:
    db.execute(
        "INSERT INTO document_versions (kind, scope, version, digest, document_id, applied)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, scope) DO UPDATE SET"
        " version = excluded.version, digest = excluded.digest,"
        " document_id = excluded.document_id, applied = excluded.applied",
        (kind, scope, version, digest, document_id, stamp_json(at)))
