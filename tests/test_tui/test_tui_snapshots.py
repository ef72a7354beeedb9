"""SVG snapshots of every screen at 80x24 and 120x40, against the real local API.

Deterministic by construction: the store runs on the ManualClock, session ids and codes
come from counters (``fixed_ids``), log lines carry fixed times. Only figures that belong
to the machine running the tests are pinned, in the client's answers and nowhere else:
CPU load and temperature, memory, disk, uptime, whether the host clock is synchronised,
and what the host's microphone hears.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from analysis_fixtures import analysed_sessions
from report_fixtures import reported
from textual.pilot import Pilot
from textual.widgets import Static
from tui_fixtures import AppFactory, steady_cursors, until

from conftest import InviteFn
from device.clock import ManualClock
from device.composition import Kiosk
from device.ops import logs
from device.staff.policy import Staff
from tui.app import KioskApp
from tui.screens.answers import AnswersView
from tui.screens.checklist import ChecklistForm
from tui.screens.report import ReportView
from tui.screens.reports import ReportsScreen

SIZES = [(80, 24), (120, 40)]
SYSTEM = {"cpu_temperature_c": 48.5, "load1": 0.42, "load5": 0.4, "load15": 0.38, "cpus": 4,
          "memory_total": 4_000_000_000, "memory_available": 2_500_000_000,
          "disk_total": 64_000_000_000, "disk_free": 41_000_000_000}
MICROPHONE = {"ok": True, "device": "USB microphone", "level_dbfs": -31.5, "peak_dbfs": -18.0,
              "detail": None}


def pin_host_figures(app: KioskApp) -> None:
    """Replace the host's own figures in the client's answers (see the module docstring)."""
    client = app.client
    real_health, real_healthz = client.health, client.healthz

    async def health() -> Any:
        found = await real_health()
        data_dir = found["system"].get("data_dir", "")
        found["system"] = {**SYSTEM, "data_dir": data_dir}
        found["clock"] = {"synchronized": True, "detail": "synchronised (pinned in tests)"}
        found["uptime_s"] = 3600.0
        return found

    async def healthz() -> Any:
        found = await real_healthz()
        found["system"] = dict(SYSTEM)
        return found

    async def microphone() -> Any:
        return dict(MICROPHONE)

    client.health = health  # type: ignore[method-assign]
    client.healthz = healthz  # type: ignore[method-assign]
    client.microphone = microphone  # type: ignore[method-assign]


def sample_data(kiosk: Kiosk, invite: InviteFn) -> None:
    admin = Staff("console", "admin")
    made = [invite() for _ in range(4)]
    for m in made[1:]:
        assert m.invite_code
        kiosk.engine.check_in(m.invite_code)
    kiosk.engine.staff_action(admin, "pause", [made[1].session_id or ""], "fire drill")
    kiosk.engine.staff_action(admin, "terminate", [made[2].session_id or ""], "wrong job")
    lines = [("2026-01-05T08:00:01.000+00:00", "info", "device.api", "kiosk-device started"),
             ("2026-01-05T08:00:02.500+00:00", "warning", "device.capture",
              "microphone not found; retrying"),
             ("2026-01-05T08:00:03.000+00:00", "error", "device.analysis",
              "analysis of answer a-1 failed: model missing")]
    directory = logs.log_dir(kiosk.config.data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "kiosk-device.log").open("w") as f:
        for at, level, logger, msg in lines:
            f.write(json.dumps({"at": at, "level": level, "logger": logger, "msg": msg}) + "\n")


def settle(key: str, ready: Callable[[KioskApp], bool]) -> Callable[[Pilot[None]], Any]:
    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, KioskApp)
        await until(pilot, lambda: app.who is not None, what="whoami")
        if key:
            await pilot.press(key)
        await until(pilot, lambda: ready(app), what=f"screen {key!r}")
        steady_cursors(app)
        await pilot.pause(0.3)

    return run_before


def loaded(app: KioskApp) -> bool:
    return getattr(app.screen, "loads", 0) > 0


def logs_shown(app: KioskApp) -> bool:
    return getattr(app.screen, "lines_shown", 0) >= 3


def mic_shown(app: KioskApp) -> bool:
    return getattr(app.screen, "mic_polls", 0) > 0


SCREENS = [("dashboard", "", loaded), ("sessions", "s", loaded), ("sync", "y", loaded),
           ("audit", "a", loaded), ("selftest", "t", mic_shown), ("logs", "l", logs_shown)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(("name", "key", "ready"), SCREENS, ids=[s[0] for s in SCREENS])
def test_screen_snapshot(
    snap_compare: Any, make_app: AppFactory, kiosk: Kiosk, invite: InviteFn, fixed_ids: None,
    name: str, key: str, ready: Callable[[KioskApp], bool], size: tuple[int, int],
) -> None:
    sample_data(kiosk, invite)
    app = make_app("technician" if name in ("selftest", "logs", "sync") else "admin")
    pin_host_figures(app)
    assert snap_compare(app, terminal_size=size, run_before=settle(key, ready))


def answers_shown(app: KioskApp) -> bool:
    return isinstance(app.screen, AnswersView)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_answers_view_snapshot(
    snap_compare: Any, make_app: AppFactory, kiosk: Kiosk, clock: ManualClock,
    invite: InviteFn, consent_version: str, fixed_ids: None, size: tuple[int, int],
) -> None:
    """A session's answers: speech not recognised reliably, no speech, a demonstration."""
    analysed_sessions(kiosk, clock, invite, consent_version)
    app = make_app("admin")
    pin_host_figures(app)

    async def run_before(pilot: Pilot[None]) -> None:
        await settle("s", loaded)(pilot)
        await pilot.press("down", "i")  # the older session: the one not assessed
        await until(pilot, lambda: answers_shown(app), what="the answers view")
        steady_cursors(app)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def report_step(app: KioskApp, step: str) -> bool:
    """The Reports screen loaded, a report opened, or its checklist form opened and laid out."""
    if step == "list":
        return isinstance(app.screen, ReportsScreen) and loaded(app)
    if step == "report":
        return isinstance(app.screen, ReportView) and bool(app.screen.query("#summary Static"))
    return isinstance(app.screen, ChecklistForm) and "1/5" in str(
        app.screen.query_one("#point", Static).render())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("step", ["list", "report", "form"])
def test_reports_snapshot(
    snap_compare: Any, make_app: AppFactory, kiosk: Kiosk, clock: ManualClock,
    invite: InviteFn, consent_version: str, fixed_ids: None, step: str, size: tuple[int, int],
) -> None:
    """Two reports awaiting their checklist: one in the time band, one too fast."""
    reported(kiosk, clock, invite, consent_version)
    reported(kiosk, clock, invite, consent_version, took=90.0)
    app = make_app("admin")
    pin_host_figures(app)

    async def run_before(pilot: Pilot[None]) -> None:
        await settle("e", lambda a: report_step(a, "list"))(pilot)
        steps = {"list": (), "report": (("enter", "report"),),
                 "form": (("enter", "report"), ("c", "form"))}[step]
        for key, then in steps:
            await pilot.press(key)
            await until(pilot, partial(report_step, app, then), what=then)
        steady_cursors(app)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
