"""The staff page in real Chromium at 1280×800: site HR log in, find today's session, open
its report, play a piece of evidence from its moment, score the demonstration's checklist
with the keyboard alone and see the report revised; axe-core finds no violation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from analysis_fixtures import DEMO, Q1
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page
from staff_page_fixtures import Reviewed, reviewed_session
from ui_fixtures import LARGE, WAIT_MS, browser, wait_until

from conftest import JOB, InviteFn, LiveServer, make_config
from device import audit
from device.audit import SYSTEM
from device.clock import ManualClock
from device.composition import Kiosk
from device.config import KioskConfig
from device.staff import tokens

pytestmark = pytest.mark.integration
__all__ = ["browser"]  # the module's Chromium, shared by the tests below

ZONE = "Asia/Shanghai"
MAX_TABS = 80


@pytest.fixture
def config(tmp_path: Path) -> KioskConfig:
    return make_config(tmp_path / "data", KIOSK_SITE_TIME_ZONE=ZONE,
                       KIOSK_ANALYSIS_REPORT_LANGUAGE="en")


@pytest.fixture
def reviewed(kiosk: Kiosk, clock: ManualClock, invite: InviteFn, consent_version: str,
             tmp_path: Path) -> Reviewed:
    return reviewed_session(kiosk, clock, invite, consent_version, tmp_path / "wav")


@pytest.fixture
def page(browser: Browser, live: LiveServer) -> Iterator[Page]:
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


def test_site_hr_reviews_a_session_plays_evidence_and_scores_the_checklist_by_keyboard(
    page: Page, live: LiveServer, kiosk: Kiosk, reviewed: Reviewed
) -> None:
    secret = tokens.create(kiosk.store, "hr-floor", "site_hr", [JOB], SYSTEM).token
    sid = reviewed.session_id
    page.goto(live.url + "/staff/")
    assert page.url.endswith("/staff/login")
    assert violations(page) == []
    page.focus("#token")
    page.keyboard.type(secret)
    page.keyboard.press("Enter")
    page.wait_for_url(live.url + "/staff/")
    assert secret not in page.url
    row = page.locator(f"tr[data-session='{sid}']")
    assert "16:00" in row.inner_text() and "To score" in row.inner_text()
    assert f"Times are in {ZONE}" in page.inner_text("main")
    assert violations(page) == []

    row.get_by_role("link").click()
    page.wait_for_url(f"{live.url}/staff/sessions/{sid}")
    frame = page.frame_locator("iframe.report")
    assert "Awaiting staff" in frame.locator("body").inner_text()

    cue = page.locator(f"button.cue[data-player='player-{Q1}']").first
    start = float(cue.get_attribute("data-start") or "nan")
    cue.focus()
    page.keyboard.press("Enter")
    player = f"document.getElementById('player-{Q1}')"
    at = wait_until(lambda: page.evaluate(
        f"() => {player}.readyState >= 1 && {player}.currentTime > 0 && {player}.currentTime"),
        what="the recording to seek")
    assert start - 0.05 <= at < start + 2.0, (start, at)
    assert violations(page) == []

    idle = page.locator(f"button.cue[data-player='player-{DEMO}']").filter(has_text="Idle").first
    assert page.evaluate(f"() => document.getElementById('player-{DEMO}').tagName") == "VIDEO"
    idle.focus()
    page.keyboard.press("Space")
    video = f"document.getElementById('player-{DEMO}')"
    at = wait_until(lambda: page.evaluate(
        f"() => {video}.readyState >= 1 && {video}.currentTime > 0 && {video}.currentTime"),
        what="the demonstration's video to seek")
    assert 100.0 - 0.05 <= at < 102.0, at

    tab_to(page, "el.name === 'point'")
    assert page.evaluate("() => document.activeElement.closest('section').id") \
        == f"checklist-{DEMO}"
    for tick in (True, True, False, True, True):  # the third point not achieved
        if tick:
            page.keyboard.press("Space")
        page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.name") == "reason"
    page.keyboard.type("Checked the bracket on the bench")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live.url}/staff/sessions/{sid}?saved={DEMO}#checklist-{DEMO}")
    assert "Checklist saved; the report is updated." in page.inner_text(f"#checklist-{DEMO}")
    report = page.frame_locator("iframe.report").locator("body").inner_text()
    assert "Awaiting staff" not in report
    ticked = page.eval_on_selector_all(f"#checklist-{DEMO} input[name=point]",
                                       "els => els.map((el) => el.checked)")
    assert ticked == [True, True, False, True, True]
    assert violations(page) == []
    with kiosk.store.read() as db:
        scored = audit.entries(db, action="checklist.score")
        viewed = audit.entries(db, action="media.view")
    assert [e["reason"] for e in scored] == ["Checked the bracket on the bench"]
    assert sorted(e["details"]["media_id"] for e in viewed) \
        == sorted([reviewed.media[Q1], reviewed.media[DEMO]])


def test_the_pages_speak_the_chosen_language(
    page: Page, live: LiveServer, kiosk: Kiosk, reviewed: Reviewed
) -> None:
    secret = tokens.create(kiosk.store, "hr-lang", "site_hr", [JOB], SYSTEM).token
    page.goto(live.url + "/staff/login?lang=zh-CN")
    page.fill("#token", secret)
    page.click("button[type=submit]")
    page.wait_for_url(live.url + "/staff/")
    assert "查看报告" in page.inner_text("main")
    page.get_by_role("link", name="한국어").click()
    assert "보고서 보기" in page.inner_text("main")
    assert page.get_attribute("html", "lang") == "ko"
    page.goto(f"{live.url}/staff/sessions/{reviewed.session_id}")
    assert page.frame_locator("iframe.report").locator("html").get_attribute("lang") == "ko"
    assert violations(page) == []
