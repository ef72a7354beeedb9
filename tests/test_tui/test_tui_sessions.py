"""The terminal UI's sessions screen against the real local API and store: every staff
action through the confirm-and-reason dialog, refusals, batches, filters."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import DataTable
from tui_fixtures import AppFactory, drive, open_screen, press_text, screen_text, until

from conftest import JOB, InviteFn
from device.api.staff import CONSEQUENCES as API_CONSEQUENCES
from device.composition import Kiosk
from tui.models import CONSEQUENCES
from tui.screens.confirm import NO_REASON, ConfirmDialog
from tui.screens.results import ActionResults, ReasonsSummary
from tui.screens.sessions import SessionsScreen


def checked_in(kiosk: Kiosk, invite: InviteFn, **fields: Any) -> str:
    made = invite(**fields)
    assert made.invite_code and made.session_id
    kiosk.engine.check_in(made.invite_code)
    return made.session_id


def state(kiosk: Kiosk, session_id: str) -> str:
    return str(kiosk.engine.session(session_id).state)


def audit_reasons(kiosk: Kiosk, action: str, session_id: str) -> list[str]:
    return [r["reason"] for r in kiosk.store.all(
        "SELECT reason FROM audit WHERE action = ? AND subject = ?", (action, session_id))]


async def confirm(pilot: Any, key: str, reason: str) -> str:
    """Press an action key, give a reason, confirm; return the result dialog's text."""
    app = pilot.app
    await pilot.press(key)
    await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the confirmation")
    await press_text(pilot, reason)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, ActionResults), what="the result")
    text = screen_text(app)
    await pilot.press("escape")
    return text


def test_the_tui_mirrors_the_apis_consequence_texts() -> None:
    assert CONSEQUENCES == API_CONSEQUENCES


@pytest.mark.parametrize(("setup", "key", "action", "after"), [
    ("checked_in", "p", "pause", "paused"),
    ("paused", "r", "resume", "checked_in"),
    ("checked_in", "x", "terminate", "terminated"),
    ("invited", "v", "revoke", "revoked"),
    ("terminated", "u", "undo_terminate", "paused"),
])
def test_each_action_through_confirm_and_reason(
    make_app: AppFactory, kiosk: Kiosk, invite: InviteFn, setup: str, key: str, action: str,
    after: str,
) -> None:
    if setup == "invited":
        sid = invite().session_id
        assert sid
    else:
        sid = checked_in(kiosk, invite)
    if setup == "paused":
        kiosk.engine.exit(sid)
    if setup == "terminated":
        kiosk.engine.staff_action(_admin(), "terminate", [sid], "wrong candidate")
    app = make_app("admin")
    shown: dict[str, str] = {}

    async def script(pilot: Any) -> None:
        await open_screen(pilot, "s")
        await pilot.press(key)
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        shown["dialog"] = screen_text(app)
        await press_text(pilot, f"tui {action} test")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ActionResults))
        shown["result"] = screen_text(app)

    drive(app, script)
    assert CONSEQUENCES[action] in shown["dialog"].replace("\n", " ")
    assert sid[:8] in shown["dialog"]
    assert f"now {after}" in shown["result"]
    assert state(kiosk, sid) == after
    assert audit_reasons(kiosk, f"session.{action}", sid) == [f"tui {action} test"]


def _admin() -> Any:
    from device.staff.policy import Staff

    return Staff("console", "admin")


def test_cancel_changes_nothing_and_an_empty_reason_is_not_accepted(
    make_app: AppFactory, kiosk: Kiosk, invite: InviteFn
) -> None:
    sid = checked_in(kiosk, invite)
    app = make_app("admin")
    seen: dict[str, Any] = {}

    async def script(pilot: Any) -> None:
        await open_screen(pilot, "s")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")  # no reason given
        await pilot.pause(0.2)
        seen["still_open"] = isinstance(app.screen, ConfirmDialog)
        seen["text"] = screen_text(app)
        await press_text(pilot, "   ")
        await pilot.press("enter")  # blanks are no reason either
        await pilot.pause(0.2)
        seen["still_open_blank"] = isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        await pilot.pause(0.3)
        seen["back"] = isinstance(app.screen, SessionsScreen)

    drive(app, script)
    assert seen["still_open"] and seen["still_open_blank"] and seen["back"]
    assert NO_REASON in seen["text"]
    assert state(kiosk, sid) == "checked_in"
    assert audit_reasons(kiosk, "session.pause", sid) == []


def test_a_refused_action_shows_the_apis_explanation_and_changes_nothing(
    make_app: AppFactory, kiosk: Kiosk, invite: InviteFn
) -> None:
    sid = checked_in(kiosk, invite, important=True)
    app = make_app("site_hr", [JOB])

    async def script(pilot: Any) -> None:
        await open_screen(pilot, "s")
        text = await confirm(pilot, "x", "no show")
        assert "0 done, 1 refused" in text
        assert "this session is flagged important: only an admin can terminate it" in text

    drive(app, script)
    assert state(kiosk, sid) == "checked_in"
    assert audit_reasons(kiosk, "session.terminate", sid) == []


def test_a_technician_sees_session_actions_disabled_with_the_reason(
    make_app: AppFactory, kiosk: Kiosk, invite: InviteFn
) -> None:
    sid = checked_in(kiosk, invite)
    app = make_app("technician")

    async def script(pilot: Any) -> None:
        screen = await open_screen(pilot, "s")
        await until(pilot, lambda: "disabled" in screen_text(app))
        assert "role technician cannot pause sessions (needs site_hr or admin)" in \
            screen_text(app)
        assert screen.check_action("act", ("pause",)) is None
        await pilot.press("p")
        await pilot.pause(0.3)
        assert isinstance(app.screen, SessionsScreen)  # no dialog opened

    drive(app, script)
    assert state(kiosk, sid) == "checked_in"


def test_batch_action_over_a_multi_selection(
    make_app: AppFactory, kiosk: Kiosk, invite: InviteFn
) -> None:
    first, second, third = (checked_in(kiosk, invite) for _ in range(3))
    app = make_app("admin")

    async def script(pilot: Any) -> None:
        await open_screen(pilot, "s")
        await pilot.press("space", "down", "down", "space")  # newest and oldest
        assert "2 selected" in screen_text(app)
        text = await confirm(pilot, "p", "fire drill")
        assert "2 done, 0 refused" in text

    drive(app, script)
    assert (state(kiosk, first), state(kiosk, second), state(kiosk, third)) == (
        "paused", "checked_in", "paused")
    assert audit_reasons(kiosk, "session.pause", first) == ["fire drill"]
    assert audit_reasons(kiosk, "session.pause", third) == ["fire drill"]


def test_filters_by_state_and_text_and_the_reasons_summary(
    make_app: AppFactory, kiosk: Kiosk, invite: InviteFn
) -> None:
    paused = checked_in(kiosk, invite, candidate_id="cand-alpha")
    kiosk.engine.staff_action(_admin(), "pause", [paused], "power cut")
    other = checked_in(kiosk, invite, candidate_id="cand-beta")
    app = make_app("admin")

    async def script(pilot: Any) -> None:
        screen = await open_screen(pilot, "s")
        assert {r["id"] for r in screen.shown_rows()} == {paused, other}
        await pilot.press("slash")
        await press_text(pilot, "beta")
        await pilot.press("enter")
        assert [r["id"] for r in screen.shown_rows()] == [other]
        table = screen.query_one("#table")
        assert table.row_count == 1
        await pilot.press("slash", "ctrl+u", "enter")  # clear the text filter
        assert table.row_count == 2
        loads = screen.loads
        screen.query_one("#state").value = "paused"  # the state filter asks the API
        await until(pilot, lambda: screen.loads > loads and table.row_count == 1)
        assert [r["id"] for r in screen.rows] == [paused]
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, ReasonsSummary))
        table = app.screen.query_one("#reasons", DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert ["pause", "power cut", 1] in [list(r) for r in rows]

    drive(app, script)
