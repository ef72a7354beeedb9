"""Deletion requests from central: everything personal goes, one receipt comes back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from document_helpers import deliver, encode, roster_body, signed, snapshot

from conftest import JOB
from device import audit
from device.central_link import erasure
from device.central_link.outbox import mark_acked
from device.clock import ManualClock
from device.composition import Kiosk
from device.sessions.recordings import attach

NAME = "Zelda Quixote-Marsh"
OTHER_NAME = "Bob Bystander"


def invite(kiosk: Kiosk, document_id: str, candidate_id: str, code: str, name: str) -> None:
    body = roster_body({"candidate_id": candidate_id, "display_name": name, "language": "ko",
                        "extra_time_pct": 25, "invite_code": code})
    doc = signed("roster", "week-1", 1, body, document_id=document_id)
    assert deliver(kiosk, encode(doc)).status == "applied"


def completed_interview(kiosk: Kiosk, clock: ManualClock, consent: str) -> tuple[str, list[Path]]:
    """A finished interview with recordings, an analysis, a checklist and a follow-up."""
    invite(kiosk, "roster-1", "c-erase", "ZELDA0001", NAME)
    sid = kiosk.engine.check_in("ZELDA0001").session_id
    kiosk.engine.consent(sid, accept=True, consent_version=consent)
    flow, files = kiosk.interview, []
    view = flow.present(sid)
    while view.item is not None:
        flow.start_answer(sid)
        clock.advance(20)
        flow.finish_answer(sid)
        answer_id = str(view.answer_id)
        path = kiosk.config.media_dir / sid / f"{answer_id}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF" + bytes(200))
        files.append(path)
        with kiosk.store.transaction() as db:
            attach(db, answer_id, "audio", path, kiosk.store.now())
        view = flow.advance(sid)
    answer = kiosk.store.one("SELECT id, item_id FROM answers WHERE session_id = ?"
                             " ORDER BY position LIMIT 1", (sid,))
    assert answer is not None and view.state == "completed"
    with kiosk.store.transaction() as db:
        db.execute("INSERT INTO analyses (answer_id, session_id, item_id, kind, status, body,"
                   " updated) VALUES (?, ?, ?, 'question', 'done', ?, '{}')",
                   (answer["id"], sid, answer["item_id"],
                    json.dumps({"transcript": f"my name is {NAME}"})))
        db.execute("INSERT INTO checklists (session_id, item_id, point_id, passed, actor, at)"
                   " VALUES (?, 'fan-motor-bracket-assembly', 'p1', 1, 'site_hr:anna', '{}')",
                   (sid,))
        db.execute("UPDATE answers SET follow_up = ? WHERE id = ?",
                   (json.dumps({"prompt": f"{NAME}, what happened next?"}), answer["id"]))
        db.execute("UPDATE answers SET live_transcript = ? WHERE id = ?",
                   (f"I am {NAME}", answer["id"]))
        sent = [r[0] for r in db.execute(
            "SELECT message_id FROM outbox WHERE session_id = ? ORDER BY seq LIMIT 2",
            (sid,)).fetchall()]
        mark_acked(db, sent, kiosk.store.now())
    return sid, files


def deletion(candidate_id: str, document_id: str = "del-1") -> bytes:
    return encode(signed("deletion", "candidates", 1, {
        "request_id": f"req-{document_id}", "candidate_id": candidate_id,
        "reason": "candidate asked to be forgotten"}, document_id=document_id))


def receipts(kiosk: Kiosk) -> list[dict[str, Any]]:
    found = kiosk.store.all("SELECT session_id, payload FROM outbox WHERE kind ="
                            " 'deletion.receipt' ORDER BY seq")
    assert all(r["session_id"] is None for r in found)
    return [json.loads(r["payload"])["body"] for r in found]


def holding(kiosk: Kiosk, text: str) -> list[str]:
    """Every table holding ``text`` anywhere in a row."""
    return sorted({table for table, found in snapshot(kiosk).items()
                   for r in found if text in repr(r)})


def test_a_deletion_erases_everything_personal_and_sends_one_receipt(
    kiosk: Kiosk, clock: ManualClock, consent_version: str,
) -> None:
    first, files = completed_interview(kiosk, clock, consent_version)
    invite(kiosk, "roster-2", "c-erase", "ZELDA0002", NAME)
    second = kiosk.engine.check_in("ZELDA0002").session_id
    kiosk.engine.consent(second, accept=True, consent_version=consent_version)
    kiosk.interview.present(second)
    invite(kiosk, "roster-3", "c-keep", "BOB000001", OTHER_NAME)
    kept_results = kiosk.store.all("SELECT * FROM results WHERE session_id NOT IN (?, ?)",
                                   (first, second))
    assert holding(kiosk, NAME) == ["analyses", "answers", "candidates", "inbox"]
    acked = kiosk.store.one("SELECT count(*) AS n FROM outbox WHERE status = 'acked'")

    outcome = deliver(kiosk, deletion("c-erase"))

    assert outcome.status == "applied" and "candidate c-erase erased" in outcome.reason
    assert holding(kiosk, NAME) == [] and holding(kiosk, "Quixote") == []
    assert holding(kiosk, "ZELDA000") == []
    sessions = (first, second)
    for table in ("results", "analyses", "checklists", "outbox"):
        left = kiosk.store.all(f"SELECT * FROM {table} WHERE session_id IN (?, ?)", sessions)
        assert left == [], f"{table} still holds rows of the erased sessions"
    media = kiosk.store.all("SELECT purged FROM media WHERE session_id IN (?, ?)", sessions)
    assert len(media) == 3 and all(m["purged"] for m in media)
    assert not any(f.exists() for f in files)
    assert kiosk.store.all("SELECT follow_up FROM answers WHERE follow_up IS NOT NULL") == []
    rows = kiosk.store.all("SELECT id, state, language, extra_time_pct, invite_hash,"
                           " resume_hash, token_hash, consent_version FROM sessions WHERE"
                           " candidate_id = 'c-erase' ORDER BY created")
    assert [(r["id"], r["state"]) for r in rows] == [(first, "completed"), (second, "revoked")]
    for r in rows:
        assert r["language"] is r["invite_hash"] is r["token_hash"] is r["resume_hash"] is None
        assert r["consent_version"] is None and r["extra_time_pct"] == 0
    candidate = kiosk.store.one("SELECT * FROM candidates WHERE id = 'c-erase'")
    assert candidate is not None and candidate["erased"] is not None
    usage = kiosk.store.one("SELECT answers, media_bytes FROM usage WHERE session_id = ?",
                            (first,))
    assert usage == {"answers": 3, "media_bytes": 3 * 204}  # accounting kept

    (receipt,) = receipts(kiosk)
    assert receipt["request_id"] == "req-del-1" and receipt["candidate_id"] == "c-erase"
    assert receipt["found"] is True and receipt["sessions"] == [first, second]
    assert receipt["files_deleted"] == 3 and receipt["files_failed"] == []
    counts = receipt["counts"]
    assert counts["sessions_closed"] == 1 and counts["media"] == 3
    assert counts["results"] == 2 and counts["analyses"] == 1 and counts["checklists"] == 1
    assert counts["follow_ups"] == 1 and counts["documents_redacted"] == 2
    assert counts["live_transcripts"] == 1
    assert counts["messages_cleared"] == 2 and counts["messages_withdrawn"] > 0
    assert acked is not None and outcome.receipt is not None
    assert outcome.receipt.message_id is not None

    entry = kiosk.store.one("SELECT subject, reason, details FROM audit WHERE action ="
                            " 'candidate.erased'")
    assert entry is not None and entry["subject"] == "c-erase"
    assert json.loads(entry["details"])["request_id"] == "req-del-1"
    assert audit.verify(kiosk.store.db).ok
    # the bystander is untouched
    assert holding(kiosk, OTHER_NAME) == ["candidates", "inbox"]
    assert kiosk.store.all("SELECT * FROM results WHERE session_id NOT IN (?, ?)",
                           sessions) == kept_results
    assert kiosk.engine.check_in("BOB000001").state == "checked_in"

    again = deliver(kiosk, deletion("c-erase"))
    assert again.status == "unchanged" and len(receipts(kiosk)) == 1


def test_an_unknown_candidate_still_gets_a_receipt_once(kiosk: Kiosk) -> None:
    outcome = deliver(kiosk, deletion("nobody"))
    assert outcome.status == "applied" and "not found on this box" in outcome.reason
    (receipt,) = receipts(kiosk)
    assert receipt["found"] is False and receipt["sessions"] == []
    assert receipt["files_deleted"] == 0 and set(receipt["counts"].values()) == {0}
    assert set(receipt["counts"]) == set(erasure.COUNTED)
    assert deliver(kiosk, deletion("nobody")).status == "unchanged"
    assert len(receipts(kiosk)) == 1
    assert deliver(kiosk, deletion("nobody", "del-2")).status == "applied"
    assert len(receipts(kiosk)) == 2


def test_a_bad_deletion_body_is_rejected(kiosk: Kiosk) -> None:
    doc = signed("deletion", "candidates", 1, {"candidate_id": "c-1"})
    outcome = deliver(kiosk, encode(doc))
    assert outcome.status == "rejected"
    assert outcome.reason == "deletion body: request_id: Field required"
    assert receipts(kiosk) == []


def test_a_failure_mid_erasure_leaves_everything_as_it_was(
    kiosk: Kiosk, clock: ManualClock, consent_version: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, files = completed_interview(kiosk, clock, consent_version)
    real = audit.append

    def failing(*args: Any, **kwargs: Any) -> int:
        if args[3] == "candidate.erased":  # after every table was changed
            raise RuntimeError("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(audit, "append", failing)
    before = snapshot(kiosk)
    with pytest.raises(RuntimeError, match="power cut"):
        deliver(kiosk, deletion("c-erase"))
    assert snapshot(kiosk) == before
    assert all(f.exists() for f in files)
    monkeypatch.setattr(audit, "append", real)
    assert deliver(kiosk, deletion("c-erase")).status == "applied"
    assert not any(f.exists() for f in files) and len(receipts(kiosk)) == 1


def test_a_crash_after_the_commit_is_finished_later_with_one_receipt(
    kiosk: Kiosk, clock: ManualClock, consent_version: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, files = completed_interview(kiosk, clock, consent_version)

    def crash(*args: Any) -> erasure.Receipt:
        raise RuntimeError("killed")

    monkeypatch.setattr(erasure, "finish_erasure", crash)
    with pytest.raises(RuntimeError, match="killed"):
        deliver(kiosk, deletion("c-erase"))
    monkeypatch.undo()
    assert holding(kiosk, NAME) == [] and all(f.exists() for f in files)
    assert receipts(kiosk) == []
    # the next document (here the same request again) finishes it first
    assert deliver(kiosk, deletion("c-erase")).status == "unchanged"
    assert not any(f.exists() for f in files)
    (receipt,) = receipts(kiosk)
    assert receipt["files_deleted"] == 3
    assert erasure.finish_pending(kiosk.store, kiosk.identity) == []
    assert len(receipts(kiosk)) == 1


def test_a_file_that_cannot_be_deleted_is_named_and_retried(
    kiosk: Kiosk, clock: ManualClock, consent_version: str,
) -> None:
    _, files = completed_interview(kiosk, clock, consent_version)
    stuck = files[0]
    stuck.unlink()
    stuck.mkdir()  # a directory in its place: unlink() fails
    (stuck / "x").write_bytes(b"")
    deliver(kiosk, deletion("c-erase"))
    (receipt,) = receipts(kiosk)
    assert receipt["files_failed"] == [str(stuck)] and receipt["files_deleted"] == 2
    left = kiosk.store.one("SELECT action FROM audit WHERE action ="
                           " 'candidate.erasure_files_left'")
    assert left is not None
    erasure.finish_pending(kiosk.store, kiosk.identity)  # still stuck: kept for later
    assert stuck.exists()
    (stuck / "x").unlink()
    stuck.rmdir()
    stuck.write_bytes(b"left over")
    erasure.finish_pending(kiosk.store, kiosk.identity)
    assert not stuck.exists()
    assert kiosk.store.one("SELECT count(*) AS n FROM meta WHERE key LIKE 'erasure%'") == {
        "n": 0}
    assert len(receipts(kiosk)) == 1


def test_staff_tools_can_erase_in_one_call(kiosk: Kiosk) -> None:
    invite(kiosk, "roster-1", "c-erase", "ZELDA0001", NAME)
    receipt = erasure.erase(kiosk.store, kiosk.identity, "c-erase", "req-local", "on request")
    assert receipt.found and receipt.message_id is not None and len(receipt.sessions) == 1
    assert holding(kiosk, NAME) == []
    assert JOB in {r["job_id"] for r in kiosk.store.all("SELECT job_id FROM sessions")}
