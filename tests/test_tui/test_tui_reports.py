"""The terminal UI's Reports screen against the real local API and store: the list of reported
sessions, a report's summary, scoring a demonstration checklist, refusals and roles.

Analyses are built as records and stored directly (no models run; see report_fixtures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from analysis_fixtures import DEMO
from api_helpers import staff_headers
from report_fixtures import reported, terminated_at_check_in
from textual.widgets import DataTable, SelectionList
from tui_fixtures import AppFactory, click, drive, open_screen, screen_text, until

from conftest import JOB, InviteFn, make_config
from device.clock import ManualClock
from device.composition import Kiosk
from device.config import KioskConfig
from tui.app import KioskApp
from tui.fmt import when
from tui.report_models import TimeBand
from tui.report_text import Demonstration, overall
from tui.roles import REPORTS_FOR
from tui.screens.checklist import ChecklistForm
from tui.screens.report import ReportView
from tui.screens.reports import ReportsScreen

ZONE = "Asia/Shanghai"
POINTS = ("screws-torqued", "correct-orientation", "no-leftover-parts", "esd-strap-worn",
          "workstation-clean")
SECOND_POINT = ("2/5 Motor the right way round: lead exit facing the wire-clip side the arrow"
                " on the bracket points to")
ALREADY_SCORED = "this checklist was already scored; give a reason to change it"


@pytest.fixture
def config(tmp_path: Path) -> KioskConfig:
    return make_config(tmp_path / "data", KIOSK_SITE_TIME_ZONE=ZONE)


def report_of(http: httpx.Client, headers: dict[str, str], sid: str) -> dict[str, Any]:
    r = http.get(f"/api/v1/staff/sessions/{sid}/report", headers=headers)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def score(http: httpx.Client, headers: dict[str, str], sid: str, ticked: set[str],
          reason: str | None = None) -> None:
    body = {"points": {p: p in ticked for p in POINTS}, "reason": reason}
    r = http.put(f"/api/v1/staff/sessions/{sid}/checklist/{DEMO}", json=body, headers=headers)
    assert r.status_code == 200, r.text


def checklist_audits(kiosk: Kiosk, sid: str) -> int:
    return len(kiosk.store.all("SELECT seq FROM audit WHERE action = 'checklist.score'"
                               " AND subject = ?", (sid,)))


def text_of(app: KioskApp) -> str:
    return " ".join(screen_text(app).split())


async def open_report(pilot: Any, row: int = 0) -> ReportView:
    app = pilot.app
    screen = await open_screen(pilot, "e")
    await until(pilot, lambda: screen.query_one(DataTable).row_count > row, what="the reports")
    screen.query_one(DataTable).move_cursor(row=row)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, ReportView), what="the report")
    view = app.screen
    assert isinstance(view, ReportView)
    return view


def test_the_list_shows_reported_sessions_newest_first_and_filters_pending_checklists(
    make_app: AppFactory, http: httpx.Client, kiosk: Kiosk, clock: ManualClock,
    invite: InviteFn, consent_version: str,
) -> None:
    pending = reported(kiosk, clock, invite, consent_version)
    unreported = terminated_at_check_in(kiosk, invite)
    scored = reported(kiosk, clock, invite, consent_version)
    headers = staff_headers(kiosk, "admin")
    score(http, headers, scored, set(POINTS))
    r = http.get(f"/api/v1/staff/sessions/{scored}", headers=headers)
    ended = r.json()["state_since"]  # the box writes no interview time: when it ended
    app = make_app("site_hr", [JOB])
    seen: dict[str, Any] = {}

    def rows(table: DataTable[Any]) -> list[list[str]]:
        return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]

    async def script(pilot: Any) -> None:
        screen = await open_screen(pilot, "e")
        assert isinstance(screen, ReportsScreen)
        table = screen.query_one(DataTable)
        await until(pilot, lambda: app.zone == ZONE and table.row_count == 2
                    and str(table.get_row_at(0)[2]) != when(ended)[:11],
                    what="the reports in the site's time")
        seen["ids"] = [r.session_id for r in screen.shown_rows()]
        seen["all"] = rows(table)
        await pilot.press("p")
        seen["pending"] = [r.session_id for r in screen.shown_rows()]
        seen["pending_rows"] = rows(table)
        seen["showing"] = text_of(app)

    drive(app, script)
    assert seen["ids"] == [scored, pending]  # newest first, the unreported one left out
    assert unreported not in seen["ids"]
    newest, oldest = seen["all"]
    assert newest[2] == when(ended, ZONE)[:11]
    assert newest[4] == "scored" and "provisional" not in newest[3]
    assert float(newest[3]) > 0
    assert oldest[3].endswith("provisional") and oldest[4] == "1 pending"
    assert seen["pending"] == [pending] and len(seen["pending_rows"]) == 1
    assert "pending (1 of 2)" in seen["showing"]


def test_opening_a_report_shows_each_competency_with_its_explanation_and_the_task(
    make_app: AppFactory, http: httpx.Client, kiosk: Kiosk, clock: ManualClock,
    invite: InviteFn, consent_version: str,
) -> None:
    sid = reported(kiosk, clock, invite, consent_version)
    card = report_of(http, staff_headers(kiosk, "admin"), sid)["report"]["scorecard"]
    app = make_app("admin")
    shown: dict[str, str] = {}

    async def script(pilot: Any) -> None:
        view = await open_report(pilot)
        shown["text"] = text_of(app)
        assert view.session_id == sid

    drive(app, script, size=(100, 60))
    text = shown["text"]
    for comp in card["competencies"]:
        assert " ".join(comp["explanation"].split()) in text, comp["id"]
    assert "Communication" in text and "Operation Proficiency" in text
    assert "Operation Proficiency awaiting staff checklist" in text
    assert "provisional" in text
    assert "Task 1: Fan motor bracket assembly" in text
    assert "time taken 7:00 of 10:00: within the expected band" in text
    assert "time band 4:00–8:00 expected; under 2:00 too fast to be credible" in text
    assert "checklist: pending" in text


def test_a_demonstration_finished_too_fast_is_flagged_with_the_boxs_words(
    make_app: AppFactory, http: httpx.Client, kiosk: Kiosk, clock: ManualClock,
    invite: InviteFn, consent_version: str,
) -> None:
    sid = reported(kiosk, clock, invite, consent_version, took=90.0)
    items = report_of(http, staff_headers(kiosk, "admin"), sid)["report"]["scorecard"]["items"]
    why = next(i["not_assessed"] for i in items if i["item_id"] == DEMO)
    app = make_app("admin")
    shown: dict[str, str] = {}

    async def script(pilot: Any) -> None:
        await open_report(pilot)
        shown["text"] = text_of(app)

    drive(app, script, size=(100, 60))
    assert "time taken 1:30 of 10:00: too fast to be credible" in shown["text"]
    assert why and why[:1].upper() + why[1:] in shown["text"]


def test_ticking_the_checklist_and_submitting_updates_the_report(
    make_app: AppFactory, http: httpx.Client, kiosk: Kiosk, clock: ManualClock,
    invite: InviteFn, consent_version: str,
) -> None:
    sid = reported(kiosk, clock, invite, consent_version)
    headers = staff_headers(kiosk, "admin")
    before = report_of(http, headers, sid)
    app = make_app("site_hr", [JOB])
    seen: dict[str, Any] = {}

    async def script(pilot: Any) -> None:
        view = await open_report(pilot)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ChecklistForm), what="the form")
        form = app.screen
        await until(pilot, lambda: form.query_one("#points", SelectionList).has_focus)
        await pilot.press("space", "down")
        await until(pilot, lambda: SECOND_POINT in text_of(app), what="the point in full")
        await pilot.press("space", "down", "down", "space")  # 1st, 2nd, 4th
        await pilot.press("tab")  # to the reason: optional the first time
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is view and view.loads > 0,
                    what="the report read again")
        seen["view"] = text_of(app)
        await pilot.press("escape")
        screen = app.screen
        assert isinstance(screen, ReportsScreen)
        table = screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 1
                    and str(table.get_row_at(0)[4]) == "scored", what="the list reloaded")

    drive(app, script, size=(100, 60))
    after = report_of(http, headers, sid)
    assert after["revision"] == before["revision"] + 1
    demo_item = next(i for i in after["report"]["items"] if i["spec"]["id"] == DEMO)
    assert demo_item["analysis"]["checklist"] == {
        "screws-torqued": True, "correct-orientation": True, "no-leftover-parts": False,
        "esd-strap-worn": True, "workstation-clean": False}
    assert after["report"]["scorecard"]["pending"] == []
    text = seen["view"]
    assert f"report revision {after['revision']}" in text
    assert "checklist: scored: 3 of 5 points achieved" in text
    assert "provisional" not in text and "awaiting staff checklist" not in text
    assert checklist_audits(kiosk, sid) == 1


def test_rescoring_without_a_reason_shows_the_refusal_and_changes_nothing(
    make_app: AppFactory, http: httpx.Client, kiosk: Kiosk, clock: ManualClock,
    invite: InviteFn, consent_version: str,
) -> None:
    sid = reported(kiosk, clock, invite, consent_version)
    headers = staff_headers(kiosk, "admin")
    score(http, headers, sid, {"screws-torqued"})
    before = report_of(http, headers, sid)
    app = make_app("admin")
    seen: dict[str, Any] = {}

    async def script(pilot: Any) -> None:
        view = await open_report(pilot)
        await pilot.press("tab", "enter")  # the highlighted task
        await until(pilot, lambda: isinstance(app.screen, ChecklistForm), what="the form")
        form = app.screen
        points = form.query_one("#points", SelectionList)
        seen["ticked"] = sorted(points.selected)
        await pilot.press("down", "space")  # tick the second point too
        seen["now"] = sorted(points.selected)
        await click(pilot, "#submit")
        await until(pilot, lambda: ALREADY_SCORED in text_of(app), what="the refusal")
        seen["form"] = text_of(app)
        seen["still_open"] = app.screen is form
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is view)
        seen["changed"] = view.changed

    drive(app, script, size=(100, 60))
    assert seen["ticked"] == ["screws-torqued"]  # the checklist as scored
    assert seen["now"] == ["correct-orientation", "screws-torqued"]
    assert seen["still_open"] and "Refused:" in seen["form"]
    assert "Already scored: give a reason" in seen["form"]
    assert seen["changed"] is False
    assert report_of(http, headers, sid) == before
    assert checklist_audits(kiosk, sid) == 1  # only the first scoring


def test_a_technician_is_told_reports_are_for_site_hr_and_admins(
    make_app: AppFactory, kiosk: Kiosk, clock: ManualClock, invite: InviteFn,
    consent_version: str,
) -> None:
    reported(kiosk, clock, invite, consent_version)
    app = make_app("technician")
    seen: dict[str, Any] = {}

    async def script(pilot: Any) -> None:
        screen = await open_screen(pilot, "e")
        await until(pilot, lambda: REPORTS_FOR in text_of(app), what="the message")
        seen["text"] = text_of(app)
        seen["rows"] = screen.query_one(DataTable).row_count
        await pilot.press("o")
        await pilot.pause(0.3)
        seen["screen"] = app.screen

    drive(app, script)
    assert seen["rows"] == 0 and isinstance(seen["screen"], ReportsScreen)
    assert "403" not in seen["text"] and "Refused" not in seen["text"]


def test_the_overall_line_and_the_time_verdicts() -> None:
    assert overall({"overall": 7.4, "pending": []}) == "7.4"
    assert overall({"overall": 6.0, "pending": ["operation_proficiency"]}) == "6.0 provisional"
    assert overall({"overall": None, "pending": ["operation_proficiency"]}) == "provisional"
    assert overall({"overall": None, "pending": []}) == "not assessed"
    band: TimeBand = {"expected_min_s": 240, "expected_max_s": 480, "credible_min_s": 120}

    def verdict(took: float, *, within: bool = True, fast: str | None = None,
                with_band: bool = True) -> str:
        return Demonstration(
            item_id=DEMO, number=1, title="t", points=(), checklist=None, analysed=True,
            duration_s=took, time_limit_s=600, within_limit=within,
            band=band if with_band else None, too_fast=fast, missing=None).band_verdict()

    assert verdict(300) == "within the expected band"
    assert verdict(200) == "faster than expected"
    assert verdict(500) == "slower than expected"
    assert verdict(650, within=False) == "over the limit"
    assert verdict(90, fast="not assessed: finished in 1:30") == "too fast to be credible"
    assert verdict(300, with_band=False) == "within the limit"
