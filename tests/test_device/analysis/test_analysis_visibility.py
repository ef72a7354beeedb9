"""Staff see, per answer, how its analysis stands: the recognition quality of a spoken answer
and why its content was not assessed, over the local API and in the terminal UI's answers
view. Analyses are built as records and stored directly (no models run)."""

from __future__ import annotations

from typing import Any

import httpx
from analysis_fixtures import DEMO, GOOD, LOW, Q1, Q2, analysed_sessions, heard, store
from api_helpers import staff_headers
from tui_fixtures import AppFactory, drive, open_screen, screen_text, until

from conftest import JOB, InviteFn
from device.clock import ManualClock
from device.composition import Kiosk
from inference.speech.quality import NO_SPEECH_REASON, NOT_ASSESSED_REASON
from tui.screens.answers import AnswersView
from tui.screens.sessions import SessionsScreen


def by_item(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["item_id"]: r for r in rows}


def test_the_analysis_endpoint_gives_quality_and_why_not_assessed(
    http: httpx.Client, kiosk: Kiosk, clock: ManualClock, invite: InviteFn,
    consent_version: str,
) -> None:
    first, second = analysed_sessions(kiosk, clock, invite, consent_version)
    headers = staff_headers(kiosk, "site_hr", [JOB])

    def get(sid: str) -> dict[str, dict[str, Any]]:
        r = http.get(f"/api/v1/staff/sessions/{sid}/analysis", headers=headers)
        assert r.status_code == 200, r.text
        return by_item(r.json())

    one = get(first)
    assert list(one) == [Q1, Q2, DEMO]  # interview order
    assert one[Q1] | {"answer_id": "-"} == {
        "answer_id": "-", "item_id": Q1, "kind": "question", "attempt": 1,
        "answer_state": "finished", "status": "done", "attempts": 1, "error": None,
        "cpu_s": 2.5, "recognition_quality": LOW, "not_assessed": NOT_ASSESSED_REASON}
    assert (one[Q2]["recognition_quality"], one[Q2]["not_assessed"]) == (None, NO_SPEECH_REASON)
    assert (one[DEMO]["kind"], one[DEMO]["status"]) == ("demonstration", "done")
    assert (one[DEMO]["recognition_quality"], one[DEMO]["not_assessed"]) == (None, None)

    two = get(second)
    assert (two[Q1]["recognition_quality"], two[Q1]["not_assessed"]) == (GOOD, None)
    assert two[Q2]["status"] == "failed" and two[Q2]["error"].startswith("model whisper-base")
    assert (two[Q2]["recognition_quality"], two[Q2]["not_assessed"]) == (None, None)
    assert two[DEMO]["status"] == "pending" and two[DEMO]["not_assessed"] is None

    # a recogniser that gives no quality figure: assessed, quality unknown
    store(kiosk, kiosk.store.all("SELECT id FROM answers WHERE session_id = ? AND item_id = ?",
                                 (second, Q1))[0]["id"], "done", heard(Q1, None))
    assert (get(second)[Q1]["recognition_quality"], get(second)[Q1]["not_assessed"]) == (
        None, None)

    technician = http.get(f"/api/v1/staff/sessions/{first}/analysis",
                          headers=staff_headers(kiosk, "technician"))
    assert technician.status_code == 403


def test_the_sessions_screen_shows_each_answers_analysis(
    make_app: AppFactory, kiosk: Kiosk, clock: ManualClock, invite: InviteFn,
    consent_version: str,
) -> None:
    first, second = analysed_sessions(kiosk, clock, invite, consent_version)
    app = make_app("admin")
    shown: dict[str, str] = {}

    async def open_answers(pilot: Any, key: str) -> str:
        await pilot.press(key)
        await until(pilot, lambda: isinstance(app.screen, AnswersView), what="the answers")
        view = app.screen
        assert isinstance(view, AnswersView)
        text = " ".join(screen_text(app).split())
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        return f"{view.session_id}: {text}"

    async def script(pilot: Any) -> None:
        screen = await open_screen(pilot, "s")
        assert [r["id"] for r in screen.rows] == [second, first]  # newest first
        shown["second"] = await open_answers(pilot, "i")  # the highlighted row
        await pilot.press("down")
        shown["first"] = await open_answers(pilot, "enter")

    drive(app, script, size=(100, 30))
    one, two = shown["first"], shown["second"]
    assert one.startswith(f"{first}: ") and two.startswith(f"{second}: ")
    assert f"{Q1} take 1 done recognition quality 0.38" \
           f" not assessed: {NOT_ASSESSED_REASON}" in one
    assert f"{Q2} take 1 done no recognition quality not assessed: {NO_SPEECH_REASON}" in one
    assert f"{DEMO} take 1 done demonstration" in one
    assert f"{Q1} take 1 done recognition quality 0.91 {Q2}" in two  # assessed: no reason
    assert f"{Q2} take 1 failed failed: model whisper-base missing {DEMO}" in two
    assert "traceback" not in two
    assert f"{DEMO} take 1 pending demonstration" in two


def test_a_technician_cannot_open_the_answers(
    make_app: AppFactory, kiosk: Kiosk, clock: ManualClock, invite: InviteFn,
    consent_version: str,
) -> None:
    analysed_sessions(kiosk, clock, invite, consent_version)
    app = make_app("technician")
    said: list[str] = []
    real_notify = app.notify

    def notify(message: str, **kw: Any) -> None:
        said.append(message)
        real_notify(message, **kw)

    app.notify = notify  # type: ignore[method-assign]

    async def script(pilot: Any) -> None:
        screen = await open_screen(pilot, "s")
        await until(pilot, lambda: app.who is not None and screen.current_id() is not None)
        assert screen.check_action("answers", ()) is None
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, SessionsScreen)  # no view opened
        assert said == ["role technician cannot see or score a candidate's results"
                        " (needs site_hr or admin)"]

    drive(app, script)
