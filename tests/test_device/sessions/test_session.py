"""The session engine's rules, each on a real store with a manual clock."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from conftest import ADMIN, JOB, InviteFn
from device.audit import verify
from device.central_link.outbox import is_due, pending
from device.clock import ManualClock
from device.composition import Kiosk
from device.errors import (
    ExpiredCodeError,
    InvalidCodeError,
    SessionRuleError,
    SessionStateError,
)
from device.sessions.code_limiter import CodeLockedError
from device.staff.policy import Staff
from device.storage.database import load_stamp

HR = Staff("hr-anna", "site_hr", frozenset({JOB}))


def start(kiosk: Kiosk, invite: InviteFn, consent: str, **fields: Any) -> str:
    invited = invite(**fields)
    assert invited.invite_code
    sid = kiosk.engine.check_in(invited.invite_code).session_id
    kiosk.engine.consent(sid, accept=True, consent_version=consent)
    return sid


def outbox(kiosk: Kiosk, session_id: str) -> list[dict[str, Any]]:
    found = kiosk.store.all("SELECT * FROM outbox WHERE session_id = ? ORDER BY seq",
                            (session_id,))
    for m in found:
        m["payload"] = json.loads(m["payload"])
    return found


# -- check-in ------------------------------------------------------------------------------


def test_invite_codes_are_stored_hashed(kiosk: Kiosk, invite: InviteFn) -> None:
    invited = invite()
    assert invited.invite_code
    conn = kiosk.store.conn
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    dump = "\n".join(repr(row) for t in tables
                     for row in conn.execute(f'SELECT * FROM "{t}"'))
    assert invited.invite_code not in dump
    assert kiosk.engine.check_in(invited.invite_code.lower()).state == "checked_in"


def test_invite_code_works_once(kiosk: Kiosk, invite: InviteFn) -> None:
    code = invite().invite_code
    assert code
    kiosk.engine.check_in(code)
    with pytest.raises(InvalidCodeError):
        kiosk.engine.check_in(code)


def test_wrong_codes_lock_their_prefix_then_release(
    kiosk: Kiosk, invite: InviteFn, clock: ManualClock
) -> None:
    code = invite().invite_code
    other = invite().invite_code
    assert code and other and code[:4] != other[:4]
    typo = code[:4] + ("2222" if code[4:] != "2222" else "3333")
    for _ in range(kiosk.config.session.checkin_max_failures):
        with pytest.raises(InvalidCodeError):
            kiosk.engine.check_in(typo)
    with pytest.raises(CodeLockedError) as err:
        kiosk.engine.check_in(code)  # even the right code waits: it shares the prefix
    assert err.value.limit == "code" and err.value.retry_after_s > 0
    assert kiosk.engine.check_in(other).state == "checked_in"  # another code is not held
    clock.advance(kiosk.config.session.checkin_lockout_s + 1)
    assert kiosk.engine.check_in(code).state == "checked_in"


# -- consent -------------------------------------------------------------------------------


def test_nothing_is_recorded_before_consent(kiosk: Kiosk, invite: InviteFn) -> None:
    code = invite().invite_code
    assert code
    sid = kiosk.engine.check_in(code).session_id
    with pytest.raises(SessionStateError):
        kiosk.interview.present(sid)
    with pytest.raises(SessionStateError):
        kiosk.interview.start_answer(sid)
    assert kiosk.store.all("SELECT * FROM answers WHERE session_id = ?", (sid,)) == []


def test_declining_consent_ends_cleanly(kiosk: Kiosk, invite: InviteFn, consent_version: str
                                        ) -> None:
    code = invite().invite_code
    assert code
    sid = kiosk.engine.check_in(code).session_id
    assert kiosk.engine.consent(sid, accept=False, consent_version=consent_version) == "declined"
    session = kiosk.engine.session(sid)
    assert session.token_hash is None and session.ended is not None
    kinds = [(m["kind"], m["payload"]["body"].get("to")) for m in outbox(kiosk, sid)]
    assert ("session.state", "declined") in kinds and ("usage", None) in kinds
    assert not any(k == "session.result" for k, _ in kinds)


def test_consent_to_an_outdated_text_is_refused(kiosk: Kiosk, invite: InviteFn) -> None:
    code = invite().invite_code
    assert code
    sid = kiosk.engine.check_in(code).session_id
    with pytest.raises(SessionRuleError, match="not the current one"):
        kiosk.engine.consent(sid, accept=True, consent_version="1999-01")
    assert kiosk.engine.session(sid).state == "checked_in"


# -- timing --------------------------------------------------------------------------------


def test_think_and_answer_time_are_enforced(
    kiosk: Kiosk, invite: InviteFn, consent_version: str, clock: ManualClock
) -> None:
    sid = start(kiosk, invite, consent_version)
    view = kiosk.interview.present(sid)
    assert view.phase == "thinking" and view.think_left_s == 30
    clock.advance(40)  # 10 s late: the late start eats into the answer time
    view = kiosk.interview.start_answer(sid)
    assert view.answer_left_s == pytest.approx(110)
    clock.advance(200)
    view = kiosk.interview.finish_answer(sid)
    answer = kiosk.store.one("SELECT * FROM answers WHERE id = ?", (view.answer_id,))
    assert answer is not None
    assert answer["timed_out"] == 1
    assert answer["duration_s"] == pytest.approx(110)


def test_reload_does_not_restart_the_clock(
    kiosk: Kiosk, invite: InviteFn, consent_version: str, clock: ManualClock
) -> None:
    sid = start(kiosk, invite, consent_version)
    kiosk.interview.present(sid)
    clock.advance(12)
    again = kiosk.interview.present(sid)
    assert again.think_left_s == pytest.approx(18) and again.attempt == 1


def test_extra_time_accommodation_applies(
    kiosk: Kiosk, invite: InviteFn, consent_version: str
) -> None:
    sid = start(kiosk, invite, consent_version, extra_time_pct=50)
    assert kiosk.interview.present(sid).think_left_s == 45
    assert kiosk.interview.start_answer(sid).answer_left_s == 180


def test_overdue_recording_is_closed_by_the_engine(
    kiosk: Kiosk, invite: InviteFn, consent_version: str, clock: ManualClock
) -> None:
    sid = start(kiosk, invite, consent_version)
    kiosk.interview.present(sid)
    kiosk.interview.start_answer(sid)
    clock.advance(119)
    assert kiosk.interview.finish_overdue() == 0
    clock.advance(2)
    assert kiosk.interview.finish_overdue() == 1
    assert kiosk.interview.view(sid).phase == "finished"


def test_retakes_are_limited(kiosk: Kiosk, invite: InviteFn, consent_version: str,
                             clock: ManualClock) -> None:
    sid = start(kiosk, invite, consent_version)
    flow = kiosk.interview
    flow.present(sid)
    flow.start_answer(sid)
    clock.advance(30)
    first = flow.finish_answer(sid)
    assert first.retakes_left == 1
    flow.retake(sid)
    flow.start_answer(sid)
    clock.advance(30)
    assert flow.finish_answer(sid).retakes_left == 0
    with pytest.raises(SessionRuleError, match="no retakes left"):
        flow.retake(sid)
    # the first take is superseded, not lost
    states = [a["state"] for a in kiosk.store.all(
        "SELECT state FROM answers WHERE session_id = ? ORDER BY attempt", (sid,))]
    assert states == ["superseded", "finished"]


def test_questions_advance_in_order_and_must_be_answered(
    kiosk: Kiosk, invite: InviteFn, consent_version: str, clock: ManualClock
) -> None:
    sid = start(kiosk, invite, consent_version)
    flow = kiosk.interview
    first = flow.present(sid)
    with pytest.raises(SessionRuleError, match="answer the current question first"):
        flow.advance(sid)
    seen = []
    view = first
    while view.item is not None:
        seen.append(view.item["id"])
        flow.start_answer(sid)
        clock.advance(20)
        flow.finish_answer(sid)
        view = flow.advance(sid)
    assert seen == ["quality-issue-found", "shift-teamwork-handover", "fan-motor-bracket-assembly"]
    assert view.state == "completed" and view.phase == "done"


# -- leaving and coming back ---------------------------------------------------------------


def test_exit_keeps_finished_answers_and_resume_continues(
    kiosk: Kiosk, invite: InviteFn, consent_version: str, clock: ManualClock
) -> None:
    sid = start(kiosk, invite, consent_version)
    flow = kiosk.interview
    flow.present(sid)
    flow.start_answer(sid)
    clock.advance(30)
    flow.finish_answer(sid)
    flow.advance(sid)
    flow.start_answer(sid)  # second question, mid-answer
    code = kiosk.engine.exit(sid)
    session = kiosk.engine.session(sid)
    assert session.state == "paused" and session.token_hash is None
    clock.advance(3600)
    opened = kiosk.engine.resume_by_code(code)
    assert opened.state == "in_progress"
    view = flow.present(sid)
    assert view.item is not None and view.item["id"] == "shift-teamwork-handover"
    assert view.phase == "thinking" and view.retakes_left == 1  # interruption is no retake
    finished = kiosk.store.all("SELECT item_id FROM answers WHERE session_id = ? AND"
                               " state = 'finished'", (sid,))
    assert [a["item_id"] for a in finished] == ["quality-issue-found"]
    with pytest.raises(InvalidCodeError):
        kiosk.engine.resume_by_code(code)  # a resume code works once


def test_exit_before_consent_resumes_to_the_same_step(kiosk: Kiosk, invite: InviteFn) -> None:
    code = invite().invite_code
    assert code
    sid = kiosk.engine.check_in(code).session_id
    resume = kiosk.engine.exit(sid)
    assert kiosk.engine.resume_by_code(resume).state == "checked_in"


def test_resume_code_expires_after_the_window(
    kiosk: Kiosk, invite: InviteFn, consent_version: str, clock: ManualClock
) -> None:
    sid = start(kiosk, invite, consent_version)
    code = kiosk.engine.exit(sid)
    clock.advance(24 * 3600 + 1)
    with pytest.raises(ExpiredCodeError, match="expired"):
        kiosk.engine.resume_by_code(code)
    assert kiosk.engine.session(sid).state == "expired"


def test_sweep_expires_paused_sessions(
    kiosk: Kiosk, invite: InviteFn, consent_version: str, clock: ManualClock
) -> None:
    sid = start(kiosk, invite, consent_version)
    kiosk.engine.exit(sid)
    clock.advance(23 * 3600)
    assert kiosk.engine.expire_due() == []
    clock.advance(3600)
    assert kiosk.engine.expire_due() == [sid]


def test_a_reboot_with_an_unsynced_clock_does_not_expire_a_pause(
    kiosk: Kiosk, invite: InviteFn, consent_version: str, clock: ManualClock
) -> None:
    sid = start(kiosk, invite, consent_version)
    code = kiosk.engine.exit(sid)
    clock.reboot(wall=dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc), synced=False)
    assert kiosk.engine.expire_due() == []
    assert kiosk.engine.resume_by_code(code).state == "consented"


# -- staff ---------------------------------------------------------------------------------


def test_staff_actions_need_a_reason(kiosk: Kiosk, invite: InviteFn) -> None:
    sid = invite().session_id
    assert sid
    with pytest.raises(SessionRuleError, match="reason is required"):
        kiosk.engine.staff_action(ADMIN, "revoke", [sid], "   ")


def test_staff_pause_and_resume(kiosk: Kiosk, invite: InviteFn, consent_version: str) -> None:
    sid = start(kiosk, invite, consent_version)
    kiosk.interview.present(sid)
    paused = kiosk.engine.staff_action(HR, "pause", [sid], "fire drill")
    assert paused.ok[0]["state"] == "paused" and paused.ok[0]["resume_code"]
    resumed = kiosk.engine.staff_action(HR, "resume", [sid], "drill over")
    assert resumed.ok[0]["state"] == "in_progress"
    assert kiosk.engine.session(sid).state_actor == "site_hr:hr-anna"


def test_illegal_transition_names_state_and_allowed(kiosk: Kiosk, invite: InviteFn) -> None:
    sid = invite().session_id
    assert sid
    result = kiosk.engine.staff_action(ADMIN, "pause", [sid], "oops")
    failure = result.failed[0]
    assert failure["error"] == "illegal-transition"
    assert "invited" in failure["detail"] and "revoke" in failure["detail"]
    with pytest.raises(SessionStateError) as err:
        kiosk.interview.start_answer(sid)
    assert err.value.state == "invited" and "check_in" in err.value.allowed


def test_terminate_is_held_from_central_and_can_be_undone(
    kiosk: Kiosk, invite: InviteFn, consent_version: str, clock: ManualClock
) -> None:
    sid = start(kiosk, invite, consent_version)
    kiosk.interview.present(sid)
    kiosk.engine.staff_action(ADMIN, "terminate", [sid], "wrong candidate")
    held = [m for m in outbox(kiosk, sid) if m["hold_until"]]
    assert {m["kind"] for m in held} == {"session.state", "session.result", "usage"}
    with kiosk.store.read() as db:
        due_ids = {m.message_id for m in pending(db, kiosk.store.now())}
    assert not due_ids & {m["message_id"] for m in held}
    clock.advance(5 * 60)
    undone = kiosk.engine.staff_action(ADMIN, "undo_terminate", [sid], "was the right one")
    assert undone.ok[0]["state"] == "paused" and undone.ok[0]["resume_code"]
    assert not [m for m in outbox(kiosk, sid) if m["hold_until"]]
    opened = kiosk.engine.resume_by_code(undone.ok[0]["resume_code"])
    assert opened.state == "in_progress"


def test_undo_after_the_window_is_refused_and_the_terminate_goes_out(
    kiosk: Kiosk, invite: InviteFn, consent_version: str, clock: ManualClock
) -> None:
    sid = start(kiosk, invite, consent_version)
    kiosk.engine.staff_action(ADMIN, "terminate", [sid], "candidate left the site")
    clock.advance(10 * 60 + 1)
    result = kiosk.engine.staff_action(ADMIN, "undo_terminate", [sid], "too late")
    assert result.failed and "within 10 minutes" in result.failed[0]["detail"]
    held = [m for m in outbox(kiosk, sid) if m["hold_until"]]
    assert held and all(is_due(load_stamp(m["hold_until"]), kiosk.store.now()) for m in held)


def test_revoke_only_before_the_interview_starts(
    kiosk: Kiosk, invite: InviteFn, consent_version: str
) -> None:
    fresh = invite().session_id
    assert fresh
    assert kiosk.engine.staff_action(HR, "revoke", [fresh], "position filled").ok
    sid = start(kiosk, invite, consent_version)
    kiosk.interview.present(sid)
    refused = kiosk.engine.staff_action(HR, "revoke", [sid], "position filled")
    assert refused.failed[0]["error"] == "illegal-transition"


def test_important_sessions_only_terminated_by_admin(
    kiosk: Kiosk, invite: InviteFn, consent_version: str
) -> None:
    sid = start(kiosk, invite, consent_version, important=True)
    refused = kiosk.engine.staff_action(HR, "terminate", [sid], "no show")
    assert refused.failed[0]["error"] == "forbidden"
    assert "only an admin" in refused.failed[0]["detail"]
    assert kiosk.engine.staff_action(ADMIN, "terminate", [sid], "no show").ok


def test_roles_and_scope(kiosk: Kiosk, invite: InviteFn) -> None:
    sid = invite().session_id
    assert sid
    tech = Staff("tech-li", "technician")
    other_hr = Staff("hr-bo", "site_hr", frozenset({"warehouse-picker"}))
    assert kiosk.engine.staff_action(tech, "revoke", [sid], "x").failed[0]["error"] == "forbidden"
    assert kiosk.engine.staff_action(other_hr, "revoke", [sid], "x").failed[0]["error"] == (
        "forbidden")
    assert kiosk.engine.session(sid).state == "invited"


def test_batch_actions_report_each_session(
    kiosk: Kiosk, invite: InviteFn, consent_version: str
) -> None:
    running = [start(kiosk, invite, consent_version) for _ in range(3)]
    not_started = invite().session_id
    assert not_started
    result = kiosk.engine.staff_action(HR, "pause", [*running, not_started, "nope"],
                                       "network down on the line")
    assert sorted(r["session_id"] for r in result.ok) == sorted(running)
    assert {r["session_id"] for r in result.failed} == {not_started, "nope"}


# -- what is announced ---------------------------------------------------------------------


def test_completion_announces_result_and_usage_once(
    kiosk: Kiosk, invite: InviteFn, consent_version: str, clock: ManualClock
) -> None:
    sid = start(kiosk, invite, consent_version)
    flow = kiosk.interview
    view = flow.present(sid)
    while view.item is not None:
        flow.start_answer(sid)
        clock.advance(25)
        flow.finish_answer(sid)
        view = flow.advance(sid)
    messages = outbox(kiosk, sid)
    completed = [m for m in messages if m["payload"]["body"].get("to") == "completed"]
    assert len(completed) == 1
    result = [m for m in messages if m["kind"] == "session.result"]
    assert len(result) == 1 and len(result[0]["payload"]["body"]["items"]) == 3
    usage = next(m for m in messages if m["kind"] == "usage")["payload"]["body"]
    assert usage["cost_centre"] == "CC-4100-ASSEMBLY" and usage["answers"] == 3
    assert usage["answer_s"] == pytest.approx(75) and usage["drill"] is False
    seqs = [m["payload"]["seq"] for m in messages]
    assert seqs == sorted(seqs)
    ids = [m["message_id"] for m in messages]
    assert len(set(ids)) == len(ids) and all(i.startswith("kiosk-dev:") for i in ids)
    stamp = messages[0]["payload"]["recorded_at"]
    assert set(stamp) == {"utc", "mono", "boot", "synced"}


def test_drills_are_flagged_in_every_message(
    kiosk: Kiosk, consent_version: str, clock: ManualClock
) -> None:
    from device.sessions.roster import start_drill

    drill = start_drill(kiosk.engine, JOB, Staff("tech", "technician").actor)
    assert drill.invite_code
    sid = kiosk.engine.check_in(drill.invite_code).session_id
    kiosk.engine.consent(sid, accept=True, consent_version=consent_version)
    kiosk.engine.exit(sid)
    messages = outbox(kiosk, sid)
    assert messages and all(m["payload"]["drill"] is True for m in messages)


def test_every_transition_is_audited_and_the_chain_verifies(
    kiosk: Kiosk, invite: InviteFn, consent_version: str
) -> None:
    sid = start(kiosk, invite, consent_version)
    kiosk.engine.staff_action(HR, "pause", [sid], "candidate unwell")
    entries = kiosk.store.all("SELECT actor_role, actor_name, action, reason FROM audit WHERE"
                              " subject = ? ORDER BY seq", (sid,))
    assert [e["action"] for e in entries] == ["session.check_in", "session.consent",
                                              "session.pause"]
    assert entries[-1] == {"actor_role": "site_hr", "actor_name": "hr-anna",
                           "action": "session.pause", "reason": "candidate unwell"}
    with kiosk.store.read() as db:
        assert verify(db).ok


def test_undo_then_resume_never_skips_consent(kiosk: Kiosk, invite: InviteFn) -> None:
    code = invite().invite_code
    assert code
    sid = kiosk.engine.check_in(code).session_id
    kiosk.engine.staff_action(ADMIN, "terminate", [sid], "wrong person at the kiosk")
    undone = kiosk.engine.staff_action(ADMIN, "undo_terminate", [sid], "it was them after all")
    assert kiosk.engine.resume_by_code(undone.ok[0]["resume_code"]).state == "checked_in"
    with pytest.raises(SessionStateError):
        kiosk.interview.present(sid)
