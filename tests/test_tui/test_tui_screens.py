"""The terminal UI's other screens against the real local API: sync controls, audit
verification (intact and tampered), self-tests, logs, first boot, the link to the box,
and ``kiosk tui``'s token handling."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import RichLog
from tui_fixtures import (
    SPEED,
    AppFactory,
    click,
    drive,
    open_screen,
    press_text,
    screen_text,
    token_for,
    until,
)

from conftest import LiveServer
from device.central_link import sync_control as control
from device.composition import Kiosk
from device.ops import logs
from device.storage import encrypted_db
from kiosk.cli import main
from tui.app import KioskApp
from tui.client import ApiClient, Forbidden, Unreachable
from tui.screens.audit import VerifyBanner
from tui.screens.confirm import ConfirmDialog
from tui.screens.logs import LogsScreen
from tui.screens.selftest import SelfTestScreen


async def answer(pilot: Any, reason: str, value: str | None = None,
                 closes: bool = True) -> None:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
    if value is not None:
        await pilot.press("ctrl+u")
        await press_text(pilot, value)
        await pilot.press("enter")
    await press_text(pilot, reason)
    await pilot.press("enter")
    if closes:
        await until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))


def sync_audit(kiosk: Kiosk) -> list[tuple[str, str]]:
    return [(r["action"], r["reason"]) for r in kiosk.store.all(
        "SELECT action, reason FROM audit WHERE action LIKE 'sync.%' ORDER BY seq")]


def test_sync_pause_resume_retry_metered_and_bandwidth(
    make_app: AppFactory, kiosk: Kiosk
) -> None:
    app = make_app("technician")

    async def script(pilot: Any) -> None:
        screen = await open_screen(pilot, "y")
        await pilot.press("p")
        await answer(pilot, "router swap")
        await until(pilot, lambda: control.describe(kiosk.store, kiosk.config)["paused"])
        await until(pilot, lambda: (screen.status or {}).get("control", {}).get("paused"))
        await pilot.press("p")  # now it offers to resume
        await answer(pilot, "router back")
        await until(pilot, lambda: not control.describe(kiosk.store, kiosk.config)["paused"])
        await pilot.press("m")
        await answer(pilot, "on LTE today")
        await until(pilot, lambda: control.describe(kiosk.store, kiosk.config)["metered"])
        await pilot.press("b")
        await answer(pilot, "share the uplink", "abc", closes=False)
        assert "whole number" in screen_text(app)  # refused in place
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        await pilot.press("b")
        await answer(pilot, "share the uplink", "256")
        await until(pilot, lambda: control.describe(
            kiosk.store, kiosk.config)["bandwidth_kbps"] == 256)
        await pilot.press("r")
        await answer(pilot, "link is back")
        await until(pilot, lambda: "Retry requested" in screen_text(app))

    drive(app, script)
    assert sync_audit(kiosk) == [
        ("sync.control", "router swap"), ("sync.control", "router back"),
        ("sync.control", "on LTE today"), ("sync.control", "share the uplink"),
        ("sync.retry", "link is back")]


def test_sync_controls_are_disabled_for_site_hr_and_the_api_refuses_them(
    make_app: AppFactory, kiosk: Kiosk, live: LiveServer
) -> None:
    app = make_app("site_hr", ["assembly-line-operator"])

    async def script(pilot: Any) -> None:
        screen = await open_screen(pilot, "y")
        await until(pilot, lambda: "Controls disabled" in screen_text(app))
        assert "role site_hr cannot change delivery to central" in screen_text(app)
        assert screen.check_action("pause", ()) is None
        await pilot.press("p")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmDialog)

    drive(app, script)
    client = ApiClient(live.url, token_for(kiosk, "site_hr", ["assembly-line-operator"],
                                           name="hr-direct"))

    async def direct() -> None:
        try:
            await client.sync_control("try", paused=True)
        finally:
            await client.aclose()

    with pytest.raises(Forbidden, match="role site_hr cannot change delivery to central"):
        asyncio.run(direct())
    assert control.describe(kiosk.store, kiosk.config)["paused"] is False


def _tamper(path: Path, sql: str) -> None:
    conn = encrypted_db.connect(path)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute(sql)
    conn.close()


def test_audit_filter_and_verify_pass_then_tampered_fail(
    make_app: AppFactory, kiosk: Kiosk, invite: Any
) -> None:
    invite()
    app = make_app("admin")

    async def script(pilot: Any) -> None:
        screen = await open_screen(pilot, "a")
        assert {e["action"] for e in screen.entries} >= {"job.imported", "roster.imported",
                                                         "token.created"}
        await pilot.press("slash", "tab")
        await press_text(pilot, "token.created")
        await pilot.press("enter")
        await until(pilot, lambda: screen.entries and all(
            e["action"] == "token.created" for e in screen.entries))
        banner = screen.query_one(VerifyBanner)
        await pilot.press("v")
        await until(pilot, lambda: banner.has_class("-pass"))
        assert "Audit chain intact" in str(banner.render())
        _tamper(kiosk.config.db_path, "UPDATE audit SET reason = 'edited' WHERE seq = 2")
        await pilot.press("v")
        await until(pilot, lambda: banner.has_class("-fail"))
        assert "FAILED" in str(banner.render()) and "entry 2" in str(banner.render())

    drive(app, script)


def test_selftest_microphone_polls_and_buttons_run_checks(
    make_app: AppFactory, kiosk: Kiosk
) -> None:
    app = make_app("technician")

    async def script(pilot: Any) -> None:
        await pilot.press("t")
        screen = app.screen
        assert isinstance(screen, SelfTestScreen)
        await until(pilot, lambda: screen.mic_polls >= 2, what="the microphone polls")
        await pilot.press("k")
        await until(pilot, lambda: "MB/s" in screen_text(app), what="the disk test")
        await pilot.press("m")
        await until(pilot, lambda: "checking" not in str(
            screen.query_one("#models").render()), what="the model check")
        await pilot.press("n")
        await until(pilot, lambda: "checking" not in str(
            screen.query_one("#network").render()), what="the network check")
        assert "mqtt" in str(screen.query_one("#network").render()).lower()
        await pilot.press("c")
        await until(pilot, lambda: "taking" not in str(
            screen.query_one("#camera").render()), what="the camera")
        await pilot.press("d")  # leaving the screen stops the meter
        await pilot.pause(0.3)
        polls = screen.mic_polls
        await pilot.pause(0.5)
        assert screen.mic_polls == polls

    drive(app, script)
    done = {r["action"] for r in kiosk.store.all("SELECT action FROM audit")}
    assert {"selftest.disk", "selftest.models", "selftest.network"} <= done


def test_logs_follow_new_lines_pause_and_switch(make_app: AppFactory, kiosk: Kiosk) -> None:
    directory = logs.log_dir(kiosk.config.data_dir)
    handler = logs.file_handler("kiosk-device", directory)
    log = logging.getLogger("kiosk.tui.test")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    app = make_app("technician")
    try:
        log.info("first line before the screen opened")

        async def script(pilot: Any) -> None:
            await pilot.press("l")
            screen = app.screen
            assert isinstance(screen, LogsScreen)
            await until(pilot, lambda: screen.lines_shown >= 1, what="the first line")
            log.warning("camera unplugged")
            await until(pilot, lambda: screen.lines_shown >= 2, what="a new line")
            await pilot.press("p")
            log.info("while paused")
            await pilot.pause(4 * SPEED * 2)
            assert screen.lines_shown == 2
            await pilot.press("p")
            await until(pilot, lambda: screen.lines_shown == 3, what="the paused line")
            text = "\n".join(line.text for line in screen.query_one("#log", RichLog).lines)
            assert "camera unplugged" in text and "while paused" in text
            await pilot.press("v")
            assert screen.service == "kiosk-sync"
            await pilot.pause(0.5)
            assert screen.lines_shown == 0  # the sync agent has not logged here

        drive(app, script)
    finally:
        log.removeHandler(handler)
        handler.close()


def test_unreachable_box_is_shown_and_retried_until_it_answers(kiosk: Kiosk) -> None:
    server = LiveServer(kiosk)
    app = KioskApp(ApiClient(server.url, token_for(kiosk, "technician")), speed=SPEED,
                   first_boot=False)

    async def script(pilot: Any) -> None:
        await until(pilot, lambda: app.problem is not None)
        assert f"kiosk-device not reachable at {server.url}" in screen_text(app)
        await asyncio.get_running_loop().run_in_executor(None, server.__enter__)
        try:
            await until(pilot, lambda: app.problem is None and app.who is not None)
            assert "technician" in screen_text(app)
        finally:
            await asyncio.get_running_loop().run_in_executor(None, server.__exit__)

    drive(app, script)


def _provision_route_exists() -> bool:
    from device.api import provision

    return any(getattr(r, "path", "").endswith("/provision") for r in provision.router.routes)


@pytest.mark.skipif(not _provision_route_exists(),
                    reason="kiosk-device has no GET /api/v1/staff/provision yet")
def test_first_boot_wizard_enrol_error_models_selftest_then_dashboard(
    make_app: AppFactory, kiosk: Kiosk
) -> None:
    from tui.screens.dashboard import DashboardScreen
    from tui.screens.firstboot import FirstBootScreen

    app = make_app("technician", first_boot=True)

    async def script(pilot: Any) -> None:
        await until(pilot, lambda: isinstance(app.screen, FirstBootScreen), what="the wizard")
        await press_text(pilot, "https://127.0.0.1:9")
        await pilot.press("tab")
        await press_text(pilot, "not-a-token")
        await pilot.press("tab", "enter")
        wizard = app.screen
        assert isinstance(wizard, FirstBootScreen)
        await until(pilot, lambda: "enrolling" not in str(
            wizard.query_one("#enrol-error").render()) and str(
            wizard.query_one("#enrol-error").render()), what="the enrol error")
        assert wizard.step == "enrol"  # the error is shown in place
        await click(pilot, "#skip-enrol")
        await until(pilot, lambda: wizard.step == "models")
        await until(pilot, lambda: "loading" not in str(wizard.query_one("#installed").render()))
        await click(pilot, "#skip-models")
        await click(pilot, "#do-selftest")
        await until(pilot, lambda: "Disk" in str(wizard.query_one("#results").render()),
                    timeout=20)
        await click(pilot, "#finish")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))

    drive(app, script, size=(120, 40))


def test_cli_without_a_token_or_with_a_bad_one_exits_2(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("KIOSK_TOKEN", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["tui", "--url", live.url]) == 2
    err = capsys.readouterr().err
    assert "no staff token" in err and "kiosk token create --role technician --name NAME" in err
    assert main(["tui", "--url", live.url, "--token", "made-up"]) == 2
    err = capsys.readouterr().err
    assert "refused the staff token (unknown staff token)" in err
    token_file = tmp_path / ".config" / "kiosk" / "token"
    token_file.parent.mkdir(parents=True)
    token_file.write_text("also-made-up\n")
    assert main(["tui", "--url", live.url]) == 2  # read from the file, refused
    assert "refused the staff token" in capsys.readouterr().err


def test_client_reports_unreachable_with_the_url() -> None:
    client = ApiClient("http://127.0.0.1:9", "token")

    async def call() -> None:
        try:
            await client.whoami()
        finally:
            await client.aclose()

    with pytest.raises(Unreachable, match=r"kiosk-device not reachable at http://127.0.0.1:9"):
        asyncio.run(call())
