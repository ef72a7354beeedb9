"""Signed documents from a stand-in central key, delivered to a box as the sync agent does,
and what the box sent back about them."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conftest import JOB
from device.central_link.inbound import Outcome, apply_document
from device.composition import Kiosk
from device.jobs.package import example_package_path
from shared.contract import SignedDocument
from shared.signing import generate_key, sign

#: central's document-signing key, pinned on the boxes of these tests
CENTRAL = generate_key()


def signed(kind: str, scope: str, version: int, body: dict[str, Any], *,
           key: Ed25519PrivateKey = CENTRAL, **fields: Any) -> SignedDocument:
    values: dict[str, Any] = {
        "document_id": f"{kind}-{scope}-{version}", "kind": kind, "scope": scope,
        "version": version, "tenant": "demo-tenant", "site": "demo-site",
        "device_id": "kiosk-dev", "issued_at": "2026-01-05T08:00:00+00:00", "body": body,
        **fields,
    }
    return sign(key, values)


def encode(doc: SignedDocument | dict[str, Any]) -> bytes:
    if isinstance(doc, SignedDocument):
        return doc.model_dump_json().encode()
    return json.dumps(doc).encode()


def deliver(kiosk: Kiosk, data: bytes, *, via: str = "mqtt", with_engine: bool = True,
            max_bytes: int | None = None) -> Outcome:
    return apply_document(
        kiosk.store, kiosk.identity, data, CENTRAL.public_key(), via=via,
        max_bytes=max_bytes or kiosk.config.sync.max_document_bytes,
        engine=kiosk.engine if with_engine else None)


def snapshot(kiosk: Kiosk) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (to show that nothing changed)."""
    with kiosk.store.read() as db:
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted(db.execute(f"SELECT * FROM [{t}]").fetchall(), key=repr)
                for t in tables}


def assert_rejected(kiosk: Kiosk, outcome: Outcome, reason: str) -> None:
    """Rejected, with the reason in the outcome, the inbox, the audit log and to central."""
    assert outcome.status == "rejected", outcome
    assert reason in outcome.reason
    inbox = kiosk.store.one("SELECT status, error FROM inbox WHERE message_id = ?",
                            (outcome.document_id,))
    assert inbox is not None and inbox["status"] == "rejected" and reason in inbox["error"]
    entry = rejections(kiosk)[-1]
    assert entry["subject"] == outcome.document_id and reason in entry["reason"]
    told = messages(kiosk, "package.rejected")[-1]
    assert told["session_id"] is None and reason in told["body"]["reason"]
    assert set(told["body"]) == {"document_id", "kind", "scope", "version", "reason"}


def roster_body(*invites: dict[str, Any]) -> dict[str, Any]:
    return {"format": "kiosk-roster/1", "invites": [
        {"job_id": JOB, "invite_code": f"CODE{n:04d}X", **i} for n, i in enumerate(invites)]}




def messages(kiosk: Kiosk, kind: str) -> list[dict[str, Any]]:
    found = kiosk.store.all("SELECT payload FROM outbox WHERE kind = ? ORDER BY seq", (kind,))
    return [json.loads(r["payload"]) for r in found]


def rejections(kiosk: Kiosk) -> list[dict[str, Any]]:
    return kiosk.store.all("SELECT subject, reason, details FROM audit WHERE action ="
                           " 'central.document_rejected' ORDER BY seq")


def package(version: int, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(example_package_path().read_text())
    body["package_version"] = version
    body.update(changes)
    return body
