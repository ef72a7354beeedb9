"""The retention purge: a session's personal data goes at the age its consent promised,
sent to central or not; an anonymous tombstone, an audit entry and a receipt stay."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import staff_headers

from conftest import JOB, InviteFn, make_config
from device import audit
from device.api.app import _sweep
from device.audit import SYSTEM
from device.central_link.outbox import mark_acked
from device.clock import ManualClock
from device.composition import Kiosk
from device.config import KioskConfig
from device.jobs.installed import import_package, session_package
from device.jobs.package import example_package_path
from device.ops import retention
from device.sessions.receipt import receipt
from device.sessions.recordings import attach
from device.storage.database import stamp_json

DAY = 86400.0
#: The job's promise in these tests: not the example's 180 days, so nothing can pass by
#: counting on that number.
DAYS = 30
NAME = "Ottilie Vantongeren"


@pytest.fixture
def config(tmp_path: Path) -> KioskConfig:
    """A box keeping recordings central holds for a year: longer than the job promises."""
    return make_config(tmp_path / "data", KIOSK_STORAGE_MEDIA_RETENTION_DAYS="365")


@pytest.fixture
def kiosk(config: KioskConfig, clock: ManualClock, kiosk: Kiosk) -> Kiosk:
    """The example job, as version 2 promising :data:`DAYS` days."""
    package = json.loads(example_package_path().read_text(encoding="utf-8"))
    package["package_version"] = 2
    package["consent"]["retention_days"] = DAYS
    import_package(kiosk.store, json.dumps(package).encode(), "test", SYSTEM)
    return kiosk


def interview(kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent: str,
              *, finish: bool = True, **who: str) -> tuple[str, list[Path]]:
    """A candidate's interview with a recording per answer (never sent: upload_media is
    off), a live transcript and an analysis; completed unless ``finish`` is false, when
    it stops in progress after the first answer."""
    invited = invite(display_name=NAME, **who)
    assert invited.invite_code
    sid = kiosk.engine.check_in(invited.invite_code).session_id
    kiosk.engine.consent(sid, accept=True, consent_version=consent)
    flow, files, answers = kiosk.interview, [], []
    view = flow.present(sid)
    while view.item is not None:
        flow.start_answer(sid)
        clock.advance(20)
        flow.finish_answer(sid)
        answers.append(str(view.answer_id))
        path = kiosk.config.media_dir / sid / f"{view.answer_id}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF" + bytes(200))
        files.append(path)
        with kiosk.store.transaction() as db:
            attach(db, answers[-1], "audio", path, kiosk.store.now())
        if not finish:
            break
        view = flow.advance(sid)
    assert view.state == ("completed" if finish else "in_progress")
    with kiosk.store.transaction() as db:  # what analysis makes of the answers
        for answer_id in answers:
            db.execute("UPDATE answers SET live_transcript = ? WHERE id = ?",
                       (f"my name is {NAME}", answer_id))
            db.execute("INSERT INTO analyses (answer_id, session_id, item_id, kind, status,"
                       " body, updated) SELECT id, session_id, item_id, 'question', 'done', ?,"
                       " ? FROM answers WHERE id = ?",
                       (json.dumps({"transcript": f"my name is {NAME}"}),
                        stamp_json(kiosk.store.now()), answer_id))
    return sid, files


def table_rows(kiosk: Kiosk, table: str, sid: str) -> list[dict[str, Any]]:
    return kiosk.store.all(f"SELECT * FROM {table} WHERE session_id = ?", (sid,))


def receipts(kiosk: Kiosk) -> list[dict[str, Any]]:
    found = kiosk.store.all("SELECT session_id, payload FROM outbox WHERE kind ="
                            " 'retention.receipt' ORDER BY seq")
    assert all(r["session_id"] is None for r in found)
    return [json.loads(r["payload"])["body"] for r in found]


def test_a_purge_runs_at_the_promised_age_and_not_a_day_before(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
) -> None:
    sid, files = interview(kiosk, clock, invite, consent_version)
    assert kiosk.config.sync.upload_media is False  # nothing ever reaches central
    with kiosk.store.transaction() as db:  # central has one message; the rest still waits
        first = db.execute("SELECT message_id FROM outbox WHERE session_id = ? ORDER BY seq"
                           " LIMIT 1", (sid,)).fetchone()[0]
        mark_acked(db, [first], kiosk.store.now())
    waiting = len(table_rows(kiosk, "outbox", sid)) - 1
    assert waiting > 0 and table_rows(kiosk, "results", sid)

    clock.advance((DAYS - 1) * DAY)
    assert retention.purge(kiosk.store, kiosk.identity, kiosk.config.media_dir).purged == []
    clock.advance(DAY - 1)
    report = retention.purge(kiosk.store, kiosk.identity, kiosk.config.media_dir)
    assert report.purged == [] and report.kept_young == 1
    assert all(f.exists() for f in files)

    clock.advance(1)
    report = retention.purge(kiosk.store, kiosk.identity, kiosk.config.media_dir)

    assert report.purged == [sid] and report.files_deleted == len(files)
    assert not any(f.exists() for f in files) and not (kiosk.config.media_dir / sid).exists()
    for table in ("results", "analyses", "outbox"):
        assert table_rows(kiosk, table, sid) == [], f"{table} still holds the session"
    media = table_rows(kiosk, "media", sid)
    assert len(media) == len(files) and all(m["purged"] for m in media)
    answers = table_rows(kiosk, "answers", sid)
    assert answers and all(a["live_transcript"] is None for a in answers)
    everything = json.dumps({t: kiosk.store.all(f"SELECT * FROM {t}")
                             for t in ("candidates", "sessions", "answers", "inbox",
                                       "outbox", "audit")})
    assert NAME not in everything
    # the tombstone: id, job, state and times, stamped purged
    tomb = kiosk.store.one("SELECT * FROM sessions WHERE id = ?", (sid,))
    assert tomb is not None and tomb["state"] == "completed" and tomb["job_version"] == 2
    assert tomb["purged"] is not None and tomb["ended"] is not None
    assert tomb["consent_version"] is None and tomb["language"] is None
    candidate = kiosk.store.one("SELECT c.* FROM candidates c JOIN sessions s ON"
                                " s.candidate_id = c.id WHERE s.id = ?", (sid,))
    assert candidate is not None and candidate["erased"] is not None

    entry = kiosk.store.one("SELECT * FROM audit WHERE action = 'session.retention_purged'")
    assert entry is not None and entry["subject"] == sid
    assert entry["reason"] == f"purged at retention: kept {DAYS} days as the consent promised"
    assert json.loads(entry["details"])["retention_days"] == DAYS
    with kiosk.store.read() as db:
        assert audit.verify(db).ok

    (sent,) = receipts(kiosk)
    assert sent["session_id"] == sid and sent["reason"] == "retention"
    assert sent["retention_days"] == DAYS and sent["age_from"] == "ended"
    assert sent["age_days"] == pytest.approx(DAYS)
    assert sent["counts"]["media"] == len(files) and sent["counts"]["analyses"] == len(files)
    assert sent["counts"]["live_transcripts"] == len(files)
    assert sent["counts"]["messages_withdrawn"] == waiting
    assert sent["counts"]["messages_cleared"] == 1
    assert sent["counts"]["results"] >= 1 and sent["candidate_forgotten"] is True
    assert sent["files_deleted"] == len(files) and sent["files_failed"] == []

    # purged once: the next pass has nothing left to do
    again = retention.purge(kiosk.store, kiosk.identity, kiosk.config.media_dir)
    assert again.purged == [] and len(receipts(kiosk)) == 1


def test_sessions_that_have_not_ended_are_never_purged(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
) -> None:
    running, running_files = interview(kiosk, clock, invite, consent_version, finish=False)
    paused, paused_files = interview(kiosk, clock, invite, consent_version, finish=False)
    assert kiosk.engine.pause_for_device(paused, "camera unplugged") is not None
    clock.advance(10 * DAYS * DAY)

    report = retention.purge(kiosk.store, kiosk.identity, kiosk.config.media_dir)

    assert report.purged == [] and receipts(kiosk) == []
    states = {r["id"]: r["state"] for r in kiosk.store.all("SELECT id, state FROM sessions")}
    assert states[running] == "in_progress" and states[paused] == "paused"
    assert all(f.exists() for f in running_files + paused_files)
    assert table_rows(kiosk, "analyses", running) and table_rows(kiosk, "analyses", paused)


def test_an_unmeasurable_age_purges_nothing_and_says_why(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
    caplog: pytest.LogCaptureFixture, http: httpx.Client,
) -> None:
    sid, files = interview(kiosk, clock, invite, consent_version)
    assert http.get("/healthz").json()["retention"] == {"ran": False}
    clock.advance(2 * DAYS * DAY)
    clock.reboot(synced=False)  # a new boot, clock not synchronised: no age to compare

    with caplog.at_level(logging.WARNING, logger="device.ops.retention"):
        report = kiosk.retention.run()

    assert report.purged == [] and report.kept_unmeasurable == [sid]
    assert all(f.exists() for f in files) and receipts(kiosk) == []
    assert "cannot be measured (the clock was not synchronised across a restart)" in caplog.text
    assert sid in caplog.text
    assert http.get("/healthz").json()["retention"] == {
        "ran": True, "purged": 0, "waiting_for_clock": [sid], "files_failed": []}
    clock.synced = True  # both readings synchronised: the wall clocks compare across boots
    assert retention.purge(kiosk.store, kiosk.identity, kiosk.config.media_dir).purged == [sid]


def test_the_api_sweep_purges_at_most_once_per_interval(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
    http: httpx.Client,
) -> None:
    assert kiosk.retention.sweep() is not None
    sid, files = interview(kiosk, clock, invite, consent_version)
    clock.advance(DAYS * DAY)
    _sweep(kiosk)  # the API's periodic sweep
    assert kiosk.retention.last_purge is not None
    assert kiosk.retention.last_purge.purged == [sid] and not any(f.exists() for f in files)
    assert kiosk.retention.sweep() is None  # within the interval: not again
    # staff see the tombstone: the session, its job and times, and when it was purged
    shown = http.get(f"/api/v1/staff/sessions/{sid}", headers=staff_headers(kiosk)).json()
    assert shown["state"] == "completed" and shown["job_id"] == JOB
    assert shown["purged"] == kiosk.store.now().utc and shown["display_name"] is None


def test_the_receipt_states_the_jobs_retention_days(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
) -> None:
    sid, _ = interview(kiosk, clock, invite, consent_version)
    with kiosk.store.read() as db:
        session = kiosk.engine.session(sid)
        shown = receipt(kiosk.store, db, session)
        consent = session_package(db, session).consent
    assert shown["retention_days"] == consent.retention_days == DAYS
    # the only statement of the period is the one made from retention_days
    for texts in (consent.text, consent.shared_with_central, consent.deletion_contact):
        assert all(str(DAYS) not in t and "180" not in t for t in texts.values())


def test_box_settings_longer_than_the_promise_are_named_and_do_not_extend_it(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert kiosk.config.storage.media_retention_days == 365  # this module's box setting
    sid, files = interview(kiosk, clock, invite, consent_version)
    clock.advance(DAYS * DAY)
    with caplog.at_level(logging.WARNING, logger="device.ops.retention"):
        report = kiosk.retention.run()
        kiosk.retention.run()
    assert report.purged == [sid] and not any(f.exists() for f in files)
    named = [r.getMessage() for r in caplog.records if "media_retention_days" in r.getMessage()]
    assert named == [
        "[storage] media_retention_days = 365 is longer than job assembly-line-operator's"
        f" consent.retention_days = {DAYS}: its sessions are purged at {DAYS} days, as the"
        " consent promises"]


def test_a_purge_cut_short_by_a_crash_is_finished_by_the_next_pass(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
) -> None:
    sid, files = interview(kiosk, clock, invite, consent_version)
    clock.advance(DAYS * DAY)
    session = kiosk.engine.session(sid)
    with kiosk.store.transaction() as db:  # the rows change; the power goes before the files
        retention.purge_session(db, kiosk.store.now(), session, DAYS, DAYS * DAY)
    assert all(f.exists() for f in files) and receipts(kiosk) == []

    report = retention.purge(kiosk.store, kiosk.identity, kiosk.config.media_dir)

    assert report.purged == [] and len(report.receipts) == 1  # nothing left to purge again
    assert not any(f.exists() for f in files)
    (sent,) = receipts(kiosk)
    assert sent["session_id"] == sid and sent["files_deleted"] == len(files)


def test_the_candidate_is_forgotten_with_their_last_kept_session(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
) -> None:
    first, _ = interview(kiosk, clock, invite, consent_version, candidate_id="c-twice")
    clock.advance(DAYS / 2 * DAY)
    second, _ = interview(kiosk, clock, invite, consent_version, candidate_id="c-twice")

    def name() -> str | None:
        found = kiosk.store.one("SELECT display_name FROM candidates WHERE id = 'c-twice'")
        assert found is not None
        return found["display_name"]  # type: ignore[no-any-return]

    clock.advance(DAYS / 2 * DAY)
    assert retention.purge(kiosk.store, kiosk.identity).purged == [first]
    assert name() == NAME  # the second session still holds what staff need to read it
    clock.advance(DAYS / 2 * DAY)
    assert retention.purge(kiosk.store, kiosk.identity).purged == [second]
    assert name() is None
    assert [r["candidate_forgotten"] for r in receipts(kiosk)] == [False, True]


def test_a_package_that_cannot_be_read_back_keeps_its_sessions_and_not_the_others(
    kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sid, files = interview(kiosk, clock, invite, consent_version)
    with kiosk.store.transaction() as db:  # a session of a job whose stored package is damaged
        at = stamp_json(kiosk.store.now())
        db.execute("INSERT INTO job_packages VALUES ('job-x', 1, 'broken', '{}', 't', ?)", (at,))
        db.execute("INSERT INTO candidates (id, created) VALUES ('c-x', ?)", (at,))
        db.execute("INSERT INTO sessions (id, candidate_id, job_id, job_version, state, created,"
                   " state_since, ended) VALUES ('S-x', 'c-x', 'job-x', 1, 'completed', ?, ?, ?)",
                   (at, at, at))
    clock.advance(10 * DAYS * DAY)

    with caplog.at_level(logging.ERROR, logger="device.ops.retention"):
        report = retention.purge(kiosk.store, kiosk.identity, kiosk.config.media_dir)

    assert report.purged == [sid] and not any(f.exists() for f in files)
    assert [e.split(":")[0] for e in report.errors] == ["S-x"]
    assert "job package cannot be read back" in caplog.text
