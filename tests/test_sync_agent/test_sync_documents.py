"""Signed documents from central reaching the box through the sync agent, end to end.

Central (the reference receiver) signs and publishes job packages, rosters and deletion
requests; they arrive over MQTT (packages retained) or by HTTPS polling and are applied
on the box. Anything forged, damaged, replayed or oversized is refused whole: the last
good version stays active and central hears why in a ``package.rejected`` message. A
session purged on the box at its retention age is reported like an erasure, with a receipt.
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sync_fixtures import SITE, TENANT, MqttProbe, Pki, ProbeFactory
from sync_harness import (
    Central,
    box_config,
    central_bodies,
    link_state,
    outbox_rows,
    running_agent,
    wait_until,
)

from central import DocumentRequest
from central.broker import Mosquitto
from device.audit import SYSTEM
from device.central_link import outbox
from device.central_link.outbox import Identity
from device.clock import ManualClock, Stamp
from device.config import KioskConfig
from device.jobs.installed import import_package
from device.jobs.package import example_package_path, load_package
from device.ops import retention
from device.storage.database import Store, stamp_json
from shared.contract import SignedDocument, down_topic
from shared.signing import canonical_bytes, generate_key, sign

pytestmark = pytest.mark.integration

JOB = "assembly-line-operator"
BOX = Identity("dev-1", TENANT, SITE)


@pytest.fixture
def central(tmp_path: Path, pki: Pki, broker: Mosquitto) -> Iterator[Central]:
    c = Central(tmp_path / "central", pki, broker.port)
    yield c
    c.close()


def package_body(version: int) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(example_package_path().read_text(encoding="utf-8"))
    body["package_version"] = version
    return body


def publish_package(central: Central, version: int) -> SignedDocument:
    return central.receiver.publish_document(DocumentRequest(
        kind="job_package", scope=JOB, version=version, tenant=TENANT, site=SITE,
        device_id="dev-1", body=package_body(version)))


def query(config: KioskConfig, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    store = Store(config.db_path)
    try:
        return store.all(sql, params)
    finally:
        store.close()


def active_version(config: KioskConfig) -> int | None:
    found = query(config, "SELECT active_version FROM jobs WHERE id = ?", (JOB,))
    return int(found[0]["active_version"]) if found else None


def inbox(config: KioskConfig) -> list[dict[str, Any]]:
    return query(config, "SELECT message_id, doc_kind, version, status, error, via FROM inbox"
                         " ORDER BY received, message_id")


def mqtt_box(tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central,
             **sync: Any) -> KioskConfig:
    return box_config(tmp_path / "box", pki, "dev-1", broker_port=broker.port,
                      key_file=central.key_file, **sync)


def test_a_job_package_arrives_retained_over_mqtt_and_becomes_active(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central) -> None:
    config = mqtt_box(tmp_path, pki, broker, central)
    # Published while the box is away: the broker keeps it (retained) for the box.
    first = publish_package(central, 1)
    with running_agent(config):
        wait_until(lambda: active_version(config) == 1, 15, "version 1 to be active")
        second = publish_package(central, 2)
        wait_until(lambda: active_version(config) == 2, 15, "version 2 to be active")
    rows = {r["message_id"]: r for r in inbox(config)}
    assert rows[first.document_id]["status"] == "applied"
    assert rows[second.document_id]["status"] == "applied"
    assert {r["via"] for r in rows.values()} == {"mqtt"}
    versions = query(config, "SELECT kind, scope, version, document_id FROM document_versions")
    assert versions == [{"kind": "job_package", "scope": JOB, "version": 2,
                         "document_id": second.document_id}]
    assert outbox_rows(config.db_path, "package.rejected") == []


def admin_client(central: Central, pki: Pki) -> httpx.Client:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca.cert))
    ctx.load_cert_chain(str(pki.central.cert), str(pki.central.key))
    return httpx.Client(base_url=central.url, verify=ctx, timeout=10,
                        headers={"Authorization": f"Bearer {central.admin_token}"})


def test_a_job_package_arrives_by_https_polling_and_becomes_active(
        tmp_path: Path, pki: Pki, central: Central) -> None:
    config = box_config(tmp_path / "box", pki, "dev-1", https_url=central.url,
                        key_file=central.key_file, transport="https", poll_interval_s=1)
    with admin_client(central, pki) as admin, running_agent(config):
        for version in (1, 2):
            answer = admin.post("/v1/admin/documents", json={
                "kind": "job_package", "scope": JOB, "version": version, "tenant": TENANT,
                "site": SITE, "device_id": "dev-1", "body": package_body(version)})
            assert answer.status_code == 200, answer.text
            wait_until(lambda: active_version(config) == version, 15,  # noqa: B023
                       f"version {version} to be active after a poll")
    rows = inbox(config)
    assert [(r["version"], r["status"], r["via"]) for r in rows] == [
        (1, "applied", "https"), (2, "applied", "https")]
    cursor = query(config, "SELECT value FROM meta WHERE key = 'documents_cursor'")
    assert cursor == [{"value": "2"}]


# -- refusals -------------------------------------------------------------------------------

def fields(version: int, *, pad: int = 0) -> dict[str, Any]:
    body = package_body(version)
    if pad:
        body["padding"] = "x" * pad
    return {"document_id": f"job_package-test-{version}", "kind": "job_package", "scope": JOB,
            "version": version, "tenant": TENANT, "site": SITE, "device_id": "dev-1",
            "issued_at": "2026-01-01T00:00:00+00:00", "body": body}


def forged_claiming_centrals_key(central: Central, version: int) -> bytes:
    """Signed with another key, but naming central's key id: only the signature can tell."""
    other = generate_key()
    document = sign(other, fields(version)).model_copy(update={"key_id": central.receiver.key_id})
    signature = other.sign(canonical_bytes(document.model_dump(mode="json")))
    forged = document.model_copy(update={"signature": base64.b64encode(signature).decode()})
    return forged.model_dump_json().encode()


def central_probe(mqtt_probe: ProbeFactory, pki: Pki, broker: Mosquitto) -> MqttProbe:
    probe = mqtt_probe("central-tool", pki.service("central-observer"))
    probe.connect(broker.port)
    return probe


def test_forged_truncated_replayed_and_oversized_packages_are_refused_and_reported(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central,
        mqtt_probe: ProbeFactory) -> None:
    config = mqtt_box(tmp_path, pki, broker, central, max_document_bytes=65536)
    old = publish_package(central, 1)
    publish_package(central, 2)
    key = central.receiver.signing_key
    bad = {
        "forged": sign(generate_key(), fields(3)).model_dump_json().encode(),
        "forged-key-id": forged_claiming_centrals_key(central, 4),
        "truncated": sign(key, fields(5)).model_dump_json().encode()[:1500],
        "replayed": old.model_dump_json().encode(),
        "oversized": sign(key, fields(6, pad=70_000)).model_dump_json().encode(),
    }
    expected = {
        "forged": "not by central's pinned key",
        "forged-key-id": "the signature does not match its content",
        "truncated": "not valid JSON (truncated or corrupt)",
        "replayed": "replay of an old version: job_package assembly-line-operator version 1"
                    " is older than the active version 2",
        "oversized": "over the limit of 65536 bytes",
    }
    topic = down_topic(TENANT, SITE, "dev-1", "job_package", JOB)
    with running_agent(config) as service:
        wait_until(lambda: active_version(config) == 2, 15, "version 2 to be active")
        probe = central_probe(mqtt_probe, pki, broker)
        for data in bad.values():
            assert not probe.publish(topic, data).is_failure
        wait_until(lambda: len(central_bodies(central, "dev-1", "package.rejected")) == len(bad),
                   20, "a package.rejected message at central for every bad document")
        wait_until(service.agent.drained, 10, "central's acks of the rejections")
        assert active_version(config) == 2, "a refused document changed the active package"
    reasons = [b["reason"] for b in central_bodies(central, "dev-1", "package.rejected")]
    for name, words in expected.items():
        assert sum(words in r for r in reasons) == 1, f"{name}: {words!r} not in {reasons}"
    rejected = [r for r in inbox(config) if r["status"] == "rejected"]
    assert len(rejected) == len(bad)
    audited = query(config, "SELECT reason FROM audit WHERE action = 'central.document_rejected'")
    assert sorted(a["reason"] for a in audited) == sorted(reasons)
    # The last good version is still the one in force, body and all.
    versions = query(config, "SELECT version FROM document_versions WHERE scope = ?", (JOB,))
    assert versions == [{"version": 2}]


# -- rosters and deletion requests ----------------------------------------------------------

def test_a_roster_from_central_creates_the_invitations(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central) -> None:
    config = mqtt_box(tmp_path, pki, broker, central)
    publish_package(central, 1)
    invites = [{"candidate_id": f"cand-{n}", "job_id": JOB, "display_name": f"Candidate {n}",
                "invite_code": f"ROSTER{n}7"} for n in (1, 2)]
    with running_agent(config):
        wait_until(lambda: active_version(config) == 1, 15, "the job to be active")
        central.receiver.publish_document(DocumentRequest(
            kind="roster", scope="week-1", tenant=TENANT, site=SITE, device_id="dev-1",
            body={"format": "kiosk-roster/1", "invites": invites}))

        def invited() -> bool:
            state = link_state(config.db_path, "mqtt")
            assert state is not None and state["state"] != "stopped", \
                "the sync agent stopped while applying the roster (see its thread's exception)"
            return len(query(config, "SELECT id FROM sessions")) == 2

        wait_until(invited, 15, "two invitations from the roster")
    sessions = query(config, "SELECT s.candidate_id, s.job_id, s.invite_hash, c.display_name"
                             " FROM sessions s JOIN candidates c ON c.id = s.candidate_id"
                             " ORDER BY s.candidate_id")
    assert [(s["candidate_id"], s["job_id"], s["display_name"]) for s in sessions] == [
        ("cand-1", JOB, "Candidate 1"), ("cand-2", JOB, "Candidate 2")]
    assert all(s["invite_hash"] for s in sessions)
    [roster] = [r for r in inbox(config) if r["doc_kind"] == "roster"]
    assert roster["status"] == "applied"
    stored = query(config, "SELECT payload FROM inbox WHERE message_id = ?",
                   (roster["message_id"],))[0]["payload"]
    assert "ROSTER17" not in stored, "an invite code was kept in clear"


def seed_candidate(config: KioskConfig, candidate_id: str) -> tuple[Path, str]:
    """A candidate who took an interview: a session, a recording, a queued report."""
    recording = config.media_dir / f"{candidate_id}.wav"
    recording.parent.mkdir(parents=True, exist_ok=True)
    recording.write_bytes(b"RIFF" + bytes(4096))
    session_id = f"S-{candidate_id}"
    store = Store(config.db_path)
    try:
        with store.transaction() as db:
            at = stamp_json(store.now())
            db.execute("INSERT OR IGNORE INTO job_packages VALUES ('job-x', 1, 'd', '{}', 't', ?)",
                       (at,))
            db.execute("INSERT INTO candidates (id, display_name, created) VALUES (?, ?, ?)",
                       (candidate_id, f"Name of {candidate_id}", at))
            db.execute("INSERT INTO sessions (id, candidate_id, job_id, job_version, state,"
                       " created, state_since) VALUES (?, ?, 'job-x', 1, 'completed', ?, ?)",
                       (session_id, candidate_id, at, at))
            db.execute("INSERT INTO media (id, session_id, kind, path, bytes, created)"
                       " VALUES (?, ?, 'audio', ?, 4100, ?)",
                       (f"m-{candidate_id}", session_id, str(recording), at))
            now = store.now()
            # Held back (like a report inside an undo window), so it is still queued when
            # the deletion request comes.
            later = Stamp(utc=now.utc, mono=now.mono + 3600, boot=now.boot, synced=now.synced)
            outbox.enqueue(db, BOX, now, "session.report", {"score": 3},
                           session_id=session_id, hold_until=later)
    finally:
        store.close()
    return recording, session_id


def test_a_deletion_request_erases_the_candidate_and_central_gets_a_receipt(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central) -> None:
    config = mqtt_box(tmp_path, pki, broker, central)
    gone, gone_session = seed_candidate(config, "cand-gone")
    kept, kept_session = seed_candidate(config, "cand-kept")
    with running_agent(config):
        wait_until(lambda: central.receiver.mqtt_connected, 10, "central's MQTT client")
        wait_until(lambda: (link_state(config.db_path, "mqtt") or {}).get("state") == "online",
                   10, "the box to be online")
        central.receiver.publish_document(DocumentRequest(
            kind="deletion", scope="erasure", tenant=TENANT, site=SITE, device_id="dev-1",
            body={"request_id": "req-42", "candidate_id": "cand-gone",
                  "reason": "candidate asked"}))
        wait_until(lambda: len(central_bodies(central, "dev-1", "deletion.receipt")) == 1, 15,
                   "the deletion receipt at central")
    [receipt] = central_bodies(central, "dev-1", "deletion.receipt")
    assert receipt["request_id"] == "req-42" and receipt["candidate_id"] == "cand-gone"
    assert receipt["found"] is True and receipt["sessions"] == [gone_session]
    assert receipt["files_deleted"] == 1 and receipt["files_failed"] == []
    people = {r["id"]: r for r in query(config, "SELECT id, display_name, erased FROM candidates")}
    assert people["cand-gone"]["display_name"] is None and people["cand-gone"]["erased"]
    assert people["cand-kept"] == {"id": "cand-kept", "display_name": "Name of cand-kept",
                                   "erased": None}
    assert not gone.exists() and kept.exists()
    purged = {r["id"]: r["purged"] for r in query(config, "SELECT id, purged FROM media")}
    assert purged["m-cand-gone"] is not None and purged["m-cand-kept"] is None
    queued = {r["session_id"] for r in query(config, "SELECT session_id FROM outbox"
                                                     " WHERE kind = 'session.report'")}
    assert queued == {kept_session}, "the erased candidate's report is still queued"


def test_a_session_past_its_retention_is_purged_and_central_gets_a_receipt(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central) -> None:
    """Recordings never uploaded and a report never sent go at the promised age; central
    hears of it, and never gets the report the candidate was promised would be deleted."""
    config = mqtt_box(tmp_path, pki, broker, central)
    clock = ManualClock()
    store = Store(config.db_path, clock=clock)
    try:
        import_package(store, example_package_path().read_bytes(), "test", SYSTEM)
        recording = config.media_dir / "S-old" / "answer.wav"
        recording.parent.mkdir(parents=True)
        recording.write_bytes(b"RIFF" + bytes(4096))
        with store.transaction() as db:
            at = stamp_json(store.now())
            db.execute("INSERT INTO candidates (id, display_name, created) VALUES"
                       " ('cand-old', 'Name of cand-old', ?)", (at,))
            db.execute("INSERT INTO sessions (id, candidate_id, job_id, job_version, state,"
                       " created, state_since, ended) VALUES ('S-old', 'cand-old', ?, 1,"
                       " 'completed', ?, ?, ?)", (JOB, at, at, at))
            db.execute("INSERT INTO media (id, session_id, kind, path, bytes, created)"
                       " VALUES ('m-old', 'S-old', 'audio', ?, 4100, ?)", (str(recording), at))
            outbox.enqueue(db, BOX, store.now(), "session.report", {"score": 3},
                           session_id="S-old")
        days = load_package(example_package_path()).consent.retention_days
        clock.advance(days * 86400.0)
        report = retention.purge(store, BOX, config.media_dir)
    finally:
        store.close()
    assert report.purged == ["S-old"] and not recording.exists()
    with running_agent(config):
        wait_until(lambda: len(central_bodies(central, "dev-1", "retention.receipt")) == 1, 15,
                   "the retention receipt at central")
    [receipt] = central_bodies(central, "dev-1", "retention.receipt")
    assert receipt["session_id"] == "S-old" and receipt["retention_days"] == days
    assert receipt["counts"]["messages_withdrawn"] == 1 and receipt["files_deleted"] == 1
    assert receipt["candidate_forgotten"] is True
    assert central_bodies(central, "dev-1", "session.report") == []
