"""Sessions with analyses in every state (recognised badly, no speech, failed, queued), for
the analysis API and the TUI's answers screen."""

from __future__ import annotations

from typing import Any

from scoring_fixtures import ALL_TICKED, GOOD_ANSWER, demo, spoken

from conftest import InviteFn
from device.analysis.worker import schedule
from device.clock import ManualClock
from device.composition import Kiosk

Q1, Q2, DEMO = "quality-issue-found", "shift-teamwork-handover", "fan-motor-bracket-assembly"
LOW, GOOD = 0.38, 0.91


def interviewed(kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str
                ) -> tuple[str, dict[str, str]]:
    """A completed session with every item answered (nothing recorded, nothing queued);
    returns its id and item id -> answer id."""
    invited = invite()
    assert invited.invite_code is not None
    sid = kiosk.engine.check_in(invited.invite_code, language="en").session_id
    kiosk.engine.consent(sid, accept=True, consent_version=consent_version)
    flow = kiosk.interview
    while flow.present(sid).item is not None:
        clock.advance(5)
        flow.start_answer(sid)
        clock.advance(30)
        flow.finish_answer(sid)
        if flow.advance(sid).state == "completed":
            break
    found = kiosk.store.all("SELECT id, item_id FROM answers WHERE session_id = ?", (sid,))
    return sid, {r["item_id"]: r["id"] for r in found}


def store(kiosk: Kiosk, answer_id: str, status: str, body: Any = None,
          error: str | None = None) -> None:
    """An analysis row as the worker leaves it."""
    with kiosk.store.transaction() as db:
        schedule(db, answer_id, kiosk.store.now())
        db.execute("UPDATE analyses SET status = ?, body = ?, error = ?, attempts = 1,"
                   " cpu_s = 2.5 WHERE answer_id = ?",
                   (status, None if body is None else body.model_dump_json(), error, answer_id))


def heard(item_id: str, quality: float | None = None, *, silent: bool = False) -> Any:
    return spoken(item_id, GOOD_ANSWER, ("communication",), quality=quality, silent=silent)


def analysed_sessions(kiosk: Kiosk, clock: ManualClock, invite: InviteFn,
                      consent_version: str) -> tuple[str, str]:
    """First: speech recognised badly, no speech, the demonstration done. Second: speech
    recognised well, a failed analysis, the demonstration still queued."""
    first, a = interviewed(kiosk, clock, invite, consent_version)
    store(kiosk, a[Q1], "done", heard(Q1, LOW))
    store(kiosk, a[Q2], "done", heard(Q2, silent=True))
    store(kiosk, a[DEMO], "done", demo(ALL_TICKED))
    second, b = interviewed(kiosk, clock, invite, consent_version)
    store(kiosk, b[Q1], "done", heard(Q1, GOOD))
    store(kiosk, b[Q2], "failed", error="model whisper-base missing\ntraceback")
    store(kiosk, b[DEMO], "pending")
    return first, second
