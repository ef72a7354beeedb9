"""The storage budget: refusing new sessions when full, eviction, health and metrics."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import InviteFn, LiveServer, make_config
from device.central_link import outbox
from device.central_link.outbox import Identity
from device.clock import ManualClock, Stamp
from device.composition import Kiosk
from device.config import KioskConfig
from device.errors import StorageFullError
from device.ops.storage_budget import MIB, EvictionReport, StorageBudget, evict, usage
from device.sessions.recordings import attach

DAY = 86400.0


def gauge(text: str, name: str, **labels: str) -> float:
    """One sample of a scrape, parsed the way Prometheus reads it."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"no sample {name} {labels} in the scrape")


@pytest.fixture
def config(tmp_path: Path) -> KioskConfig:
    """A 16 MB quota with 8 MB kept in reserve: a 9 MB recording spends the budget."""
    return make_config(tmp_path / "data", KIOSK_STORAGE_QUOTA_MB="16",
                       KIOSK_STORAGE_RESERVE_MB="8", KIOSK_STORAGE_MEDIA_RETENTION_DAYS="30",
                       KIOSK_STORAGE_ACKED_RETENTION_DAYS="7")


def _answered(kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent: str) -> tuple[str, str]:
    """A session in progress with its first answer recorded: (session id, answer id)."""
    invited = invite()
    assert invited.invite_code
    sid = kiosk.engine.check_in(invited.invite_code).session_id
    kiosk.engine.consent(sid, accept=True, consent_version=consent)
    kiosk.interview.present(sid)
    clock.advance(5)
    kiosk.interview.start_answer(sid)
    clock.advance(20)
    kiosk.interview.finish_answer(sid)
    found = kiosk.store.one("SELECT id FROM answers WHERE session_id = ? AND state = 'finished'",
                            (sid,))
    assert found is not None
    return sid, str(found["id"])


def _record(kiosk: Kiosk, answer_id: str, name: str, size: int,
            where: Path | None = None) -> tuple[str, str, Path]:
    """A recording written to disk and registered with its ``media`` message, in one
    transaction as capture does: (media id, message id, path)."""
    folder = where or kiosk.config.media_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"\x5a" * size)
    now = kiosk.store.now()
    with kiosk.store.transaction() as db:
        media_id = attach(db, answer_id, "video", path, now)
        message_id = outbox.enqueue(db, kiosk.identity, now, "media", {"media_id": media_id},
                                    session_id=None)
    return media_id, message_id, path


def _ack(kiosk: Kiosk, message_ids: list[str], at: Stamp | None = None) -> None:
    with kiosk.store.transaction() as db:
        outbox.mark_acked(db, message_ids, at or kiosk.store.now())


def _media(kiosk: Kiosk, media_id: str) -> dict[str, Any]:
    found = kiosk.store.one("SELECT * FROM media WHERE id = ?", (media_id,))
    assert found is not None
    return found


# -- refusing new sessions -------------------------------------------------------------------


def test_full_quota_refuses_checkin_keeps_the_session_in_progress_and_recovers(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str, live: LiveServer,
) -> None:
    sid, answer_id = _answered(kiosk, clock, invite, consent_version)
    waiting = invite()
    with httpx.Client(base_url=live.url, timeout=10) as http:
        assert http.get("/healthz").json()["storage"]["accepting_sessions"] is True
        media_id, message_id, path = _record(kiosk, answer_id, "a1.webm", 9 * MIB)

        r = http.post("/api/v1/checkin", json={"code": waiting.invite_code})
        assert r.status_code == 507, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["type"].endswith("/storage-full") and body["status"] == 507
        detail = body["detail"]
        assert "Storage is full" in detail and "of the box's 16.0 MB storage quota" in detail
        assert "a new interview needs 8.0 MB kept free" in detail
        assert "Interviews in progress go on and keep their results" in detail
        assert "The box keeps 9.0 MB of results and recordings central has not confirmed" \
               in detail
        assert "connect the box to the network so they can be delivered" in detail
        assert "ask central to raise the box's storage quota (storage.quota_mb)" in detail
        assert body["storage"]["accepting_sessions"] is False
        assert body["storage"]["media_unconfirmed_bytes"] == 9 * MIB
        assert kiosk.engine.session(waiting.session_id or "").state == "invited"

        health = http.get("/healthz").json()["storage"]
        assert health["accepting_sessions"] is False and health["quota_bytes"] == 16 * MIB
        assert health["used_bytes"] >= 9 * MIB and health["reason"].startswith("Storage is full")
        text = http.get("/metrics").text
        assert gauge(text, "kiosk_storage_accepting_sessions") == 0
        assert gauge(text, "kiosk_storage_bytes", kind="media") == 9 * MIB
        assert gauge(text, "kiosk_api_errors_total", code="storage-full") == 1

        # the session in progress is never stopped: it pauses, resumes and completes
        code = kiosk.engine.exit(sid)
        assert kiosk.engine.resume_by_code(code).state == "in_progress"
        for _ in range(10):
            view = kiosk.interview.advance(sid)
            if view.state == "completed":
                break
            kiosk.interview.present(sid)
            clock.advance(5)
            kiosk.interview.start_answer(sid)
            clock.advance(20)
            kiosk.interview.finish_answer(sid)
        assert kiosk.engine.session(sid).state == "completed"
        kinds = [m["kind"] for m in kiosk.store.all(
            "SELECT kind FROM outbox WHERE session_id = ? ORDER BY seq", (sid,))]
        assert "session.result" in kinds
        assert kiosk.store.one("SELECT 1 AS x FROM results WHERE session_id = ?", (sid,))

        # central confirms the recording; 30 days later it is evicted and sessions start again
        _ack(kiosk, [message_id])
        detail = http.post("/api/v1/checkin", json={"code": waiting.invite_code}).json()["detail"]
        assert "9.0 MB of recordings central already has are deleted 30 days after central" \
               " confirmed them" in detail
        clock.advance(31 * DAY)
        report = evict(kiosk.store, kiosk.config)
        assert report.media_purged == 1 and report.media_bytes_freed == 9 * MIB
        assert not path.exists() and _media(kiosk, media_id)["purged"] is not None
        r = http.post("/api/v1/checkin", json={"code": waiting.invite_code})
        assert r.status_code == 200, r.text
        assert gauge(http.get("/metrics").text, "kiosk_storage_accepting_sessions") == 1


def test_full_disk_refuses_checkin_naming_the_disk_but_not_a_resume(
    clock: ManualClock, invite: InviteFn, consent_version: str, kiosk: Kiosk,
) -> None:
    sid, _ = _answered(kiosk, clock, invite, consent_version)
    resume_code = kiosk.engine.exit(sid)
    waiting = invite()
    assert waiting.invite_code
    # a reserve larger than the free space of the disk this test runs on
    free_mb = shutil.disk_usage(kiosk.config.data_dir).free // MIB
    kiosk.config.storage.reserve_mb = free_mb + 1024
    kiosk.config.storage.quota_mb = 4 * (free_mb + 1024)
    with pytest.raises(StorageFullError) as err:
        kiosk.engine.check_in(waiting.invite_code)
    message = str(err.value)
    assert f"the disk holding {kiosk.config.data_dir} has only" in message
    assert f"Free space on the disk holding {kiosk.config.data_dir}." in message
    assert "storage quota" not in message, "the quota is not what is full"
    assert err.value.usage["disk_free_bytes"] < err.value.usage["reserve_bytes"]
    assert kiosk.engine.session(waiting.session_id or "").state == "invited"
    # a refusal is not a wrong code: the client is not locked out by retrying
    for _ in range(kiosk.config.session.checkin_max_failures + 1):
        with pytest.raises(StorageFullError):
            kiosk.engine.check_in(waiting.invite_code)
    assert kiosk.engine.resume_by_code(resume_code).state == "in_progress"


def test_unsent_recordings_are_explained_when_media_upload_is_off(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
) -> None:
    _, answer_id = _answered(kiosk, clock, invite, consent_version)
    _record(kiosk, answer_id, "big.webm", 9 * MIB)
    waiting = invite()
    assert waiting.invite_code and kiosk.config.sync.upload_media is False
    with pytest.raises(StorageFullError, match=r"sync\.upload_media is off"):
        kiosk.engine.check_in(waiting.invite_code)


# -- eviction ----------------------------------------------------------------------------------


def test_eviction_deletes_only_confirmed_recordings_past_retention(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str, tmp_path: Path,
) -> None:
    _, answer_id = _answered(kiosk, clock, invite, consent_version)
    old = _record(kiosk, answer_id, "old.webm", 1000)
    unacked = _record(kiosk, answer_id, "unacked.webm", 2000)
    young = _record(kiosk, answer_id, "young.webm", 3000)
    missing = _record(kiosk, answer_id, "missing.webm", 4000)
    foreign = _record(kiosk, answer_id, "foreign.webm", 5000, where=tmp_path / "elsewhere")
    _ack(kiosk, [old[1], missing[1], foreign[1]])
    missing[2].unlink()
    clock.advance(20 * DAY)
    _ack(kiosk, [young[1]])
    clock.advance(10 * DAY + 1)  # 30 days after the first acks, 10 after the young one's

    before = usage(kiosk.store, kiosk.config)
    report = evict(kiosk.store, kiosk.config)
    assert (report.media_purged, report.media_bytes_freed) == (2, 1000)
    assert (report.media_kept_young, report.media_kept_foreign) == (1, 1)
    assert report.media_kept_unmeasurable == 0 and report.media_errors == []
    assert not old[2].exists() and _media(kiosk, old[0])["purged"] is not None
    assert _media(kiosk, missing[0])["purged"] is not None
    for kept in (unacked, young, foreign):
        assert kept[2].exists() and _media(kiosk, kept[0])["purged"] is None
    after = usage(kiosk.store, kiosk.config)
    assert after.media_bytes == before.media_bytes - 1000 - 4000
    assert after.media_unconfirmed_bytes == 2000
    entry = kiosk.store.one("SELECT details FROM audit WHERE action = 'storage.media_purged'")
    assert entry is not None
    assert set(json.loads(entry["details"])["media_ids"]) == {old[0], missing[0]}
    # a second pass finds nothing more to do
    assert evict(kiosk.store, kiosk.config).media_purged == 0


def test_unmeasurable_age_keeps_the_recording(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
) -> None:
    _, answer_id = _answered(kiosk, clock, invite, consent_version)
    media_id, message_id, path = _record(kiosk, answer_id, "a.webm", 1000)
    _ack(kiosk, [message_id])
    clock.advance(40 * DAY)
    clock.reboot(synced=False)  # a new boot with no synchronised clock: no age to compare
    report = evict(kiosk.store, kiosk.config)
    assert report.media_kept_unmeasurable == 1 and report.media_purged == 0
    assert path.exists() and _media(kiosk, media_id)["purged"] is None
    clock.synced = True  # both readings synchronised: the wall clocks compare across boots
    report = evict(kiosk.store, kiosk.config)
    assert report.media_purged == 1 and not path.exists()


def test_outbox_prunes_old_acknowledged_rows_and_never_pending_ones(
    kiosk: Kiosk, clock: ManualClock,
) -> None:
    ident = Identity(kiosk.config.device.id, "t", "s")

    def enqueue(n: int) -> list[str]:
        now = kiosk.store.now()
        with kiosk.store.transaction() as db:
            return [outbox.enqueue(db, ident, now, "usage", {"n": i}) for i in range(n)]

    old, young, pending, sent = enqueue(3), enqueue(2), enqueue(2), enqueue(1)
    with kiosk.store.transaction() as db:
        outbox.claim(db, sent, kiosk.store.now())
    _ack(kiosk, old)
    old_bytes = sum(int(r["bytes"]) for r in kiosk.store.all(
        "SELECT bytes FROM outbox WHERE status = 'acked'"))
    unmeasurable = Stamp(utc="1970-01-01T00:00:09+00:00", mono=9.0, boot="boot-earlier",
                         synced=False)
    lost = enqueue(1)
    _ack(kiosk, lost, unmeasurable)
    clock.advance(6 * DAY)
    _ack(kiosk, young)
    clock.advance(1 * DAY + 1)

    report = evict(kiosk.store, kiosk.config)
    assert (report.outbox_pruned, report.outbox_bytes_pruned) == (3, old_bytes)
    assert (report.outbox_kept_young, report.outbox_kept_unmeasurable) == (2, 1)
    left = {r["message_id"]: r["status"] for r in kiosk.store.all(
        "SELECT message_id, status FROM outbox")}
    assert not set(old) & set(left)
    assert {m: left[m] for m in pending + sent} == {**dict.fromkeys(pending, "pending"),
                                                     **dict.fromkeys(sent, "sent")}
    assert all(left[m] == "acked" for m in young + lost)
    clock.advance(365 * DAY)  # however old, an unacknowledged message stays
    report = evict(kiosk.store, kiosk.config)
    assert report.outbox_pruned == 2 and report.outbox_kept_unmeasurable == 1
    assert {r["message_id"] for r in kiosk.store.all(
        "SELECT message_id FROM outbox WHERE status != 'acked'")} == set(pending + sent)


def test_the_sweep_evicts_at_most_once_per_interval(kiosk: Kiosk, clock: ManualClock) -> None:
    budget = StorageBudget(kiosk.store, kiosk.config, interval_s=600)
    assert isinstance(budget.sweep(), EvictionReport)
    assert budget.sweep() is None
    clock.advance(599)
    assert budget.sweep() is None
    clock.advance(2)
    assert budget.sweep() is not None and budget.last_eviction is not None
    clock.reboot(synced=False)  # the last run's age cannot be measured: run now
    assert budget.sweep() is not None


# -- health and metrics ------------------------------------------------------------------------


def test_healthz_and_metrics_show_the_storage_budget(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str, http: httpx.Client,
) -> None:
    _, answer_id = _answered(kiosk, clock, invite, consent_version)
    _record(kiosk, answer_id, "a.webm", 3 * MIB)
    now = usage(kiosk.store, kiosk.config)
    health = http.get("/healthz").json()["storage"]
    assert health["accepting_sessions"] is True and health["reason"] is None
    assert health["quota_bytes"] == 16 * MIB and health["reserve_bytes"] == 8 * MIB
    assert health["used_bytes"] == now.used_bytes and health["used_bytes"] > 3 * MIB
    assert health["remaining_bytes"] == 16 * MIB - now.used_bytes
    assert health["unconfirmed_bytes"] == now.unconfirmed_bytes > 3 * MIB
    assert health["disk_free_bytes"] > 0
    text = http.get("/metrics").text
    assert gauge(text, "kiosk_storage_accepting_sessions") == 1
    assert gauge(text, "kiosk_storage_bytes", kind="media") == 3 * MIB
    assert gauge(text, "kiosk_storage_bytes", kind="media_unconfirmed") == 3 * MIB
    assert gauge(text, "kiosk_storage_bytes", kind="quota") == 16 * MIB
    assert gauge(text, "kiosk_storage_bytes", kind="reserve") == 8 * MIB
    assert gauge(text, "kiosk_storage_bytes", kind="used") == now.used_bytes
    assert gauge(text, "kiosk_storage_bytes", kind="database") == now.database_bytes
    assert gauge(text, "kiosk_storage_bytes", kind="outbox_unconfirmed") == now.outbox_bytes > 0
    assert gauge(text, "kiosk_storage_bytes", kind="disk_free") > 0
