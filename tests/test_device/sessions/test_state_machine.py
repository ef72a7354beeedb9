"""Property-based tests of the session engine (Hypothesis stateful testing).

Any sequence of candidate actions, staff actions (any role) and clock moves must keep:
no finished answer is ever lost, no answer exists before consent, the audit chain
verifies, and each completed or terminated session has exactly one outbox message
announcing that state.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from conftest import JOB, make_config
from device.audit import SYSTEM, verify
from device.clock import ManualClock
from device.composition import open_kiosk
from device.errors import KioskError
from device.jobs.installed import import_package
from device.jobs.package import example_package_path, load_package
from device.sessions.roster import Invite, Roster, import_roster
from device.staff.policy import Staff

STAFF = [
    Staff("admin-1", "admin"),
    Staff("hr-1", "site_hr", frozenset({JOB})),
    Staff("hr-other", "site_hr", frozenset({"other-job"})),
    Staff("tech-1", "technician"),
]
ACTIONS = ["pause", "resume", "terminate", "revoke", "undo_terminate"]
CONSENT = load_package(example_package_path()).consent.version


class SessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="kiosk-sm-"))
        self.clock = ManualClock()
        self.kiosk = open_kiosk(make_config(self.dir), self.clock)
        import_package(self.kiosk.store, example_package_path().read_bytes(), "ex", SYSTEM)
        self.sessions: list[str] = []
        self.invite_codes: dict[str, str] = {}
        self.resume_codes: dict[str, str] = {}
        self.finished_seen: dict[str, str] = {}  # answer id -> session id
        self.n = 0

    def teardown(self) -> None:
        self.kiosk.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _try(self, fn: object, *args: object, **kwargs: object) -> object:
        try:
            return fn(*args, **kwargs)  # type: ignore[operator]
        except KioskError:
            return None  # a refusal is a legal outcome; anything else fails the test

    # -- rules -----------------------------------------------------------------------------

    @precondition(lambda self: len(self.sessions) < 4)
    @rule(important=st.booleans(), extra=st.sampled_from([0, 25, 50]))
    def invite(self, important: bool, extra: int) -> None:
        self.n += 1
        roster = Roster(format="kiosk-roster/1", invites=[Invite(
            candidate_id=f"c{self.n}", job_id=JOB, important=important, extra_time_pct=extra)])
        invited = import_roster(self.kiosk.engine, roster, "sm", SYSTEM)[0]
        assert invited.session_id and invited.invite_code
        self.sessions.append(invited.session_id)
        self.invite_codes[invited.session_id] = invited.invite_code

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def check_in(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from(self.sessions))
        self._try(self.kiosk.engine.check_in, self.invite_codes[sid])

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), accept=st.booleans(), expression=st.booleans())
    def consent(self, data: st.DataObject, accept: bool, expression: bool) -> None:
        sid = data.draw(st.sampled_from(self.sessions))
        self._try(self.kiosk.engine.consent, sid, accept=accept, consent_version=CONSENT,
                  expression_analysis=expression)

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), step=st.sampled_from(
        ["present", "start_answer", "finish_answer", "retake", "advance"]))
    def flow(self, data: st.DataObject, step: str) -> None:
        sid = data.draw(st.sampled_from(self.sessions))
        self._try(getattr(self.kiosk.interview, step), sid)

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), steps=st.integers(1, 12))
    def progress(self, data: st.DataObject, steps: int) -> None:
        """Take a session's natural next steps, so runs reach deep states often."""
        sid = data.draw(st.sampled_from(self.sessions))
        engine, flow = self.kiosk.engine, self.kiosk.interview
        for _ in range(steps):
            state = engine.session(sid).state
            if state == "invited":
                self._try(engine.check_in, self.invite_codes[sid])
            elif state == "checked_in":
                self._try(engine.consent, sid, accept=True, consent_version=CONSENT)
            elif state in ("consented", "in_progress"):
                phase = flow.view(sid).phase
                step = {"not_started": flow.present, "thinking": flow.start_answer,
                        "recording": flow.finish_answer, "finished": flow.advance}.get(phase)
                if step is None:
                    return
                self.clock.advance(7)
                self._try(step, sid)
            else:
                return

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def candidate_exit(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from(self.sessions))
        code = self._try(self.kiosk.engine.exit, sid)
        if isinstance(code, str):
            self.resume_codes[sid] = code

    @precondition(lambda self: self.resume_codes)
    @rule(data=st.data())
    def resume(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from(sorted(self.resume_codes)))
        self._try(self.kiosk.engine.resume_by_code, self.resume_codes[sid])

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), action=st.sampled_from(ACTIONS), staff=st.sampled_from(STAFF))
    def staff_action(self, data: st.DataObject, action: str, staff: Staff) -> None:
        ids = data.draw(st.lists(st.sampled_from(self.sessions), min_size=1, max_size=3))
        result = self.kiosk.engine.staff_action(staff, action, ids, "property test")
        for ok in result.ok:
            if ok.get("resume_code"):
                self.resume_codes[ok["session_id"]] = ok["resume_code"]

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), wait=st.sampled_from([0, 60, 9 * 60, 11 * 60]), again=st.booleans())
    def terminate_then_undo(self, data: st.DataObject, wait: int, again: bool) -> None:
        sid = data.draw(st.sampled_from(self.sessions))
        engine = self.kiosk.engine
        engine.staff_action(STAFF[0], "terminate", [sid], "property test: mistake")
        self.clock.advance(wait)
        undone = engine.staff_action(STAFF[0], "undo_terminate", [sid], "property test: undo")
        for ok in undone.ok:
            self.resume_codes[sid] = ok["resume_code"]
        if again:
            engine.staff_action(STAFF[0], "terminate", [sid], "property test: final")

    @rule(seconds=st.sampled_from([1, 15, 45, 130, 9 * 60, 11 * 60, 25 * 3600]))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule()
    def sweep(self) -> None:
        self.kiosk.interview.finish_overdue()
        self.kiosk.engine.expire_due()

    @rule()
    def reboot(self) -> None:
        self.clock.reboot(synced=self.clock.synced)

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def no_finished_answer_is_lost(self) -> None:
        store = self.kiosk.store
        for a in store.all("SELECT id, session_id FROM answers WHERE state = 'finished'"):
            self.finished_seen[a["id"]] = a["session_id"]
        if not self.finished_seen:
            return
        marks = ",".join("?" for _ in self.finished_seen)
        kept = store.all(
            f"SELECT id, state, duration_s, ended FROM answers WHERE id IN ({marks})",
            tuple(self.finished_seen),
        )
        assert len(kept) == len(self.finished_seen)
        for a in kept:
            assert a["state"] in ("finished", "superseded"), a
            assert a["ended"] is not None and a["duration_s"] is not None

    @invariant()
    def one_counting_answer_per_item_and_never_asked_again(self) -> None:
        store = self.kiosk.store
        doubles = store.all("SELECT session_id, position, count(*) AS n FROM answers WHERE"
                            " state = 'finished' GROUP BY session_id, position HAVING n > 1")
        assert doubles == []
        ahead = store.all("SELECT a.id FROM answers a JOIN sessions s ON s.id = a.session_id"
                          " WHERE a.state = 'finished' AND a.position > s.position")
        assert ahead == []

    @invariant()
    def nothing_recorded_before_consent(self) -> None:
        found = self.kiosk.store.all("SELECT a.id FROM answers a JOIN sessions s ON"
                                     " s.id = a.session_id WHERE s.consent_version IS NULL")
        assert found == []

    @invariant()
    def audit_chain_verifies(self) -> None:
        with self.kiosk.store.read() as db:
            result = verify(db)
        assert result.ok, result.problem

    @invariant()
    def final_states_announced_exactly_once(self) -> None:
        store = self.kiosk.store
        for s in store.all("SELECT id, state FROM sessions WHERE state IN"
                           " ('completed', 'terminated')"):
            messages = store.all("SELECT payload FROM outbox WHERE session_id = ? AND"
                                 " kind = 'session.state'", (s["id"],))
            announcing = [m for m in messages
                          if json.loads(m["payload"])["body"]["to"] == s["state"]]
            assert len(announcing) == 1, (s, len(announcing))
            results = store.all("SELECT 1 FROM outbox WHERE session_id = ? AND"
                                " kind = 'session.result'", (s["id"],))
            assert len(results) == 1


SessionMachine.TestCase.settings = settings(
    max_examples=80, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestSessionMachine = SessionMachine.TestCase
