"""The console in real Chromium: HR sign in and walk from jobs to a candidate by keyboard
alone, a hiring manager records a decision by keyboard, the general manager and admin see
their pages; axe-core finds no violation on any of them, in English and Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from console_fixtures import JOB, PASSWORD, seed
from playwright.sync_api import Browser, Page
from ui_fixtures import LARGE, WAIT_MS, browser

from central.console import create_app
from central.server import ServerThread
from central.store import ReceiverStore

pytestmark = pytest.mark.integration
__all__ = ["browser"]
MAX_TABS = 60


@pytest.fixture
def console(tmp_path: Path) -> Iterator[str]:
    store = ReceiverStore(f"sqlite://{tmp_path / 'central.db'}")
    seed(store)
    with ServerThread(create_app(store), name="the console") as server:
        yield server.url
    store.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": LARGE[0], "height": LARGE[1]},
                                  locale="en-US")
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    problems: list[str] = []
    opened.on("pageerror", lambda exc: problems.append(str(exc)))
    opened.on("console", lambda m: problems.append(m.text)
              if "Content Security Policy" in m.text else None)
    yield opened
    context.close()
    assert not problems, f"the page threw or broke its CSP: {problems}"


def violations(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = Axe().run(page).response["violations"]
    return [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]} for v in found]


def tab_to(page: Page, check: str) -> None:
    """Press Tab until ``check`` (a JS expression on ``el``) holds for the focused element."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const el = document.activeElement; return !!({check}); }}"):
            return
    raise AssertionError(f"Tab never reached an element where {check}")


def sign_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/login")
    assert violations(page) == []
    tab_to(page, "el.id === 'username'")
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda u: not u.endswith("/login"))


def test_hr_walks_from_jobs_to_a_candidate_by_keyboard(page: Page, console: str) -> None:
    sign_in(page, console, "hr")
    assert page.url.endswith("/jobs")
    assert violations(page) == []
    tab_to(page, f"el.getAttribute('href') === '/jobs/{JOB}'")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/jobs/{JOB}")
    assert page.locator("td", has_text="not assessed").count() >= 1
    assert violations(page) == []
    tab_to(page, "el.id === 'f-state'")
    page.keyboard.press("ArrowDown")  # the first state: completed
    tab_to(page, "el.type === 'submit' && el.closest('form[role=search]')")
    page.keyboard.press("Enter")
    page.wait_for_url("**state=completed**")
    assert page.get_by_text("Zhang Wei").count() == 0
    tab_to(page, "el.textContent === '王芳'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/candidates/kiosk-sz2-01/s-1")
    page.frame_locator("iframe").locator("h1").wait_for()
    assert "王芳" in page.frame_locator("iframe").locator("h1").inner_text()
    assert violations(page) == []
    page.goto(console + f"/jobs/{JOB}/compare")
    assert violations(page) == []
    page.goto(console + f"/jobs/{JOB}?lang=zh-CN")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_text("未评估").count() >= 1
    assert violations(page) == []


def test_a_hiring_manager_records_a_decision_by_keyboard(page: Page, console: str) -> None:
    sign_in(page, console, "hm")
    page.goto(console + "/candidates/kiosk-wx-01/s-2")
    assert violations(page) == []
    tab_to(page, "el.name === 'decision' && el.value === 'advance'")
    page.keyboard.press("ArrowDown")  # radio group: advance -> reject -> hold
    page.keyboard.press("ArrowDown")
    tab_to(page, "el.id === 'reason'")
    page.keyboard.type("second interview after the night-shift trial")
    tab_to(page, "el.type === 'submit' && el.closest('form[action$=decision]')")
    page.keyboard.press("Enter")
    page.wait_for_url("**saved=1")
    status = page.get_by_role("status")
    assert status.inner_text() == "Decision recorded."
    row = page.locator("section[aria-labelledby=dec-h] tbody tr")
    assert "Hold" in row.inner_text() and "night-shift" in row.inner_text()
    assert violations(page) == []


@pytest.mark.parametrize("who, pages", [("gm", ["/stats"]),
                                        ("admin", ["/stats", "/fleet", "/users", "/audit"])])
def test_aggregate_and_admin_pages_pass_axe(page: Page, console: str, who: str,
                                            pages: list[str]) -> None:
    sign_in(page, console, who)
    for path in pages:
        for lang in ("en", "zh-CN"):
            page.goto(f"{console}{path}?lang={lang}")
            assert violations(page) == [], (path, lang)
