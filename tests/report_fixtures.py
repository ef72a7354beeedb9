"""Reported sessions for the Reports screen's tests: analyses built as records and stored
directly (no models run), then the box scores the ended session and writes its report as it
does when the last analysis finishes."""

from __future__ import annotations

from analysis_fixtures import DEMO, GOOD, Q1, Q2, heard, interviewed, store
from scoring_fixtures import demo

from conftest import InviteFn
from device.clock import ManualClock
from device.composition import Kiosk
from device.sessions import session_rows
from device.staff.policy import Staff


def reported(kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
             *, took: float = 420.0) -> str:
    """A completed session whose answers are analysed, the demonstration's checklist not yet
    scored, and its report written."""
    sid, answers = interviewed(kiosk, clock, invite, consent_version)
    store(kiosk, answers[Q1], "done", heard(Q1, GOOD))
    store(kiosk, answers[Q2], "done", heard(Q2, GOOD))
    store(kiosk, answers[DEMO], "done", demo(None, duration=took))
    with kiosk.store.transaction() as db:
        session = session_rows.get(db, sid)
        assert session is not None
        kiosk.analysis.on_final(db, session, kiosk.store.now())
    return sid


def terminated_at_check_in(kiosk: Kiosk, invite: InviteFn) -> str:
    """An ended session without a report: nothing is recorded before consent."""
    made = invite()
    assert made.invite_code and made.session_id
    kiosk.engine.check_in(made.invite_code)
    kiosk.engine.staff_action(Staff("console", "admin"), "terminate", [made.session_id],
                              "wrong candidate")
    return made.session_id
