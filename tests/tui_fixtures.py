"""Fixtures for the terminal UI's tests: the real local API, staff tokens, the app."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from textual.errors import NoWidget
from textual.pilot import Pilot

from conftest import LiveServer
from device.audit import SYSTEM
from device.composition import Kiosk
from device.staff import tokens
from tui.app import KioskApp
from tui.client import ApiClient

#: polling periods in tests are this fraction of the real ones
SPEED = 0.25
SIZE = (80, 24)

AppFactory = Callable[..., KioskApp]
Script = Callable[[Pilot[None]], Awaitable[None]]


def token_for(kiosk: Kiosk, role: str, jobs: list[str] | None = None,
              name: str | None = None) -> str:
    created = tokens.create(kiosk.store, name or f"{role}-tui", role, jobs or [], SYSTEM)
    return created.token


@pytest.fixture
def make_app(live: LiveServer) -> AppFactory:
    """``make_app(role="admin", jobs=None, first_boot=False)``: the app on a fresh token."""
    names = itertools.count(1)

    def make(role: str = "admin", jobs: list[str] | None = None, *, first_boot: bool = False,
             url: str | None = None, token: str | None = None) -> KioskApp:
        token = token or token_for(live.kiosk, role, jobs, name=f"{role}-{next(names)}")
        return KioskApp(ApiClient(url or live.url, token), speed=SPEED, first_boot=first_boot)

    return make


def drive(app: KioskApp, script: Script, size: tuple[int, int] = SIZE) -> None:
    """Run the app headless in this thread's own event loop and play ``script``."""

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await script(pilot)

    asyncio.run(main())


async def until(pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 8.0,
                what: str = "condition") -> None:
    """Let the app run until ``predicate()`` is true (API calls are real, so they take time)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def click(pilot: Pilot[Any], selector: str) -> None:
    """Click the widget ``selector`` once it is laid out and uppermost at its top-left corner.

    The pilot aims at the widget's region as it is when called; a screen just mounted or a
    step just switched may not be laid out yet, and the click then lands on whatever is there.
    """
    screen = pilot.app.screen
    widget = screen.query_one(selector)

    def on_top() -> bool:
        if not widget.region.area:
            return False
        try:
            under, _ = screen.get_widget_at(*widget.region.offset)
        except NoWidget:
            return False
        return under is widget or widget in under.ancestors
    await until(pilot, on_top, what=f"{selector} to be on screen")
    assert await pilot.click(widget), f"the click on {selector} landed elsewhere"


def steady_cursors(app: KioskApp) -> None:
    """Stop every input's cursor blinking (hidden), so a snapshot does not depend on when,
    within the half-second blink, it is taken: on a busy machine that moment drifts."""
    from textual.widgets import Input

    for field in app.screen.query(Input):
        field.cursor_blink = False


def screen_text(app: KioskApp) -> str:
    """The text of every Static on the current screen (for assertions)."""
    from textual.widgets import Static

    return "\n".join(str(w.render()) for w in app.screen.query(Static))


@pytest.fixture
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Session ids and codes from counters, so snapshots do not change between runs."""
    sessions = itertools.count(1)
    codes = itertools.count(1)
    monkeypatch.setattr("device.sessions.roster.new_session_id",
                        lambda: f"5e55{next(sessions):04d}-0000-4000-8000-000000000000")

    def code(length: int) -> str:
        return f"CODE{next(codes):04d}"[:length].ljust(length, "A")

    monkeypatch.setattr("device.sessions.roster.new_code", code)
    monkeypatch.setattr("device.sessions.engine.new_code", code)
    yield


async def press_text(pilot: Pilot[Any], text: str) -> None:
    """Type ``text`` key by key, as a person would."""
    await pilot.press(*("space" if ch == " " else ch for ch in text))


async def open_screen(pilot: Pilot[Any], key: str, timeout: float = 8.0) -> Any:
    """Switch screens by ``key`` and wait for the screen's first load."""
    await pilot.press(key)
    app = pilot.app
    await until(pilot, lambda: getattr(app.screen, "loads", 0) > 0, timeout,
                f"the screen behind {key!r} to load")
    return app.screen
