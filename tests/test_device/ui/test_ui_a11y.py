"""Accessibility of every screen, in real Chromium: axe-core finds no violation; Tab walks
the controls in the order they are seen and shows a focus ring on each; nothing scrolls
sideways; every touch target is at least 48×48 CSS px; the type is large enough to read
at arm's length; a keyboard alone can check in."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from ui_fixtures import LARGE, SMALL, UiPage, UiServer, strings

pytestmark = pytest.mark.integration

MIN_TARGET_PX = 48
MIN_FONT_PX = 20
ROW_PX = 12  # controls whose tops differ by less than this sit on one row

#: Every control that can take the focus, in the open dialog if there is one. Its "top" is
#: where it is seen: the screen's scrolling part is read down to its end, and the action bar
#: (always in view at the bottom) comes after it.
CONTROLS_JS = """() => {
  const root = document.querySelector('dialog[open]') || document;
  const body = document.querySelector('#screen .screen-body');
  const dock = document.querySelector('#screen .dock');
  const found = [...root.querySelectorAll(
      'button, input, select, textarea, a[href], [tabindex]')]
    .filter((el) => el !== body)  // the scrolling region: a stop for the arrow keys, no control
    .filter((el) => el.tabIndex >= 0 && !el.disabled && el.getClientRects().length > 0
                    && getComputedStyle(el).visibility !== 'hidden');
  return found.map((el, i) => {
    el.dataset.probe = String(i);
    const r = el.getBoundingClientRect();
    let top = r.top + scrollY;
    if (dock && dock.contains(el)) top += 100000;
    else if (body && body.contains(el)) top += body.scrollTop;
    return {probe: String(i), top, left: r.left + scrollX,
            width: r.width, height: r.height,
            label: (el.innerText || el.getAttribute('aria-label') || el.id || el.type).trim()};
  });
}"""

FOCUSED_JS = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {probe: el.dataset ? el.dataset.probe || null : null,
          region: el.classList.contains('screen-body'),
          outline: style.outlineStyle, width: parseFloat(style.outlineWidth) || 0};
}"""


def visual_order(controls: list[dict[str, Any]]) -> list[str]:
    """Probes top to bottom, and left to right within a row."""
    ordered = sorted(controls, key=lambda c: (c["top"], c["left"]))
    rows: list[list[dict[str, Any]]] = []
    for control in ordered:
        if rows and abs(control["top"] - rows[-1][0]["top"]) < ROW_PX:
            rows[-1].append(control)
        else:
            rows.append([control])
    return [c["probe"] for row in rows for c in sorted(row, key=lambda c: c["left"])]


class Auditor:
    """Checks each screen it is shown and keeps every problem, to report them together."""

    def __init__(self, ui: UiPage, size: tuple[int, int]) -> None:
        self.ui = ui
        self.size = size
        self.axe = Axe()
        self.problems: list[str] = []
        self.screens: list[str] = []

    def __call__(self, name: str) -> None:
        page = self.ui.page
        page.wait_for_timeout(200)  # let a screen that just changed settle
        self.screens.append(name)
        found = self.axe.run(page).response["violations"]
        for v in found:
            targets = [", ".join(n["target"]) for n in v["nodes"]][:5]
            self.problems.append(f"{name}: axe {v['id']} ({v['impact']}): {v['help']}"
                                 f" at {targets}")
        scroll = page.evaluate("() => [document.documentElement.scrollWidth,"
                               " document.documentElement.clientWidth]")
        if scroll[0] > scroll[1]:
            self.problems.append(f"{name}: scrolls sideways ({scroll[0]} > {scroll[1]} px)")
        font = page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
        if font < MIN_FONT_PX:
            self.problems.append(f"{name}: base font {font} px < {MIN_FONT_PX} px")
        controls = page.evaluate(CONTROLS_JS)
        for c in controls:
            if c["width"] < MIN_TARGET_PX or c["height"] < MIN_TARGET_PX:
                self.problems.append(f"{name}: target {c['label']!r} is {c['width']:.0f}x"
                                     f"{c['height']:.0f} px")
        self._tab_order(name, controls)

    def _tab_order(self, name: str, controls: list[dict[str, Any]]) -> None:
        page = self.ui.page
        if page.query_selector("dialog[open]"):
            page.focus("dialog[open] h2")
        else:  # from the top of the page: a tap on the empty top-left corner
            page.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, 0); }")
            page.mouse.click(1, 1)
        seen: list[str | None] = []
        for _ in controls:
            page.keyboard.press("Tab")
            focused = page.evaluate(FOCUSED_JS)
            if focused["region"]:  # the screen's scrolling part: it shows focus, then on
                if focused["outline"] == "none" or focused["width"] < 2:
                    self.problems.append(f"{name}: no visible focus ring on the scrolling part")
                page.keyboard.press("Tab")
                focused = page.evaluate(FOCUSED_JS)
            seen.append(focused["probe"])
            if focused["outline"] == "none" or focused["width"] < 2:
                self.problems.append(f"{name}: no visible focus ring on control"
                                     f" {focused['probe']}")
        expected = visual_order(controls)
        if seen != expected:
            labels = {c["probe"]: c["label"] for c in controls}
            self.problems.append(
                f"{name}: Tab order {[labels.get(p, p) for p in seen]} differs from the"
                f" visual order {[labels[p] for p in expected]}")

    def report(self) -> None:
        assert not self.problems, "\n".join(self.problems)


@pytest.mark.parametrize(("lang", "size"), [("zh-CN", SMALL), ("en", LARGE)],
                         ids=["zh-CN-800x480", "en-1280x800"])
def test_every_screen_is_accessible(
    ui_server: UiServer, open_page: Callable[..., UiPage], lang: str, size: tuple[int, int]
) -> None:
    s = strings()[lang]
    code, session_id = ui_server.invite(extra_time_pct=50)
    ui = open_page(ui_server, size)
    page = ui.page
    audit = Auditor(ui, size)
    audit("language")

    # the keyboard alone: Tab to the language, Space picks it; Enter sends the code
    page.focus("#screen h1")
    order = ["zh-CN", "en", "ko"]
    for _ in range(order.index(lang) + 1):
        page.keyboard.press("Tab")
    page.keyboard.press("Space")
    ui.wait_screen("checkin")
    assert page.get_attribute("html", "lang") == lang
    audit("check-in")
    page.focus("input.code-input")
    page.keyboard.type("WRONG234")
    page.keyboard.press("Enter")
    page.wait_for_selector(".error-message")
    audit("check-in, wrong code")
    ui.tap(s["haveResume"])
    ui.wait_screen("resume")
    audit("resume")
    ui.tap(s["haveInvite"])
    ui.wait_screen("checkin")
    page.fill("input.code-input", code)
    page.keyboard.press("Enter")

    ui.wait_screen("consent")
    # read to the end first: "I agree" turning on (and the hint going) mid-walk moves the focus
    ui.read_to_end()
    page.wait_for_selector("#screen .dock button.primary:not([disabled])")
    audit("consent")
    ui.tap(s["disagree"])
    page.wait_for_selector("dialog[open]")
    audit("decline, confirm")
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog", state="detached")
    ui.agree(s["agree"])

    ui.wait_screen("check")
    page.wait_for_selector("#screen button.primary:not([disabled])")
    audit("camera check")
    ui.tap(s["continue"])
    ui.wait_phase(".clock")
    assert page.get_attribute(".clock", "role") == "timer"
    assert page.get_attribute("#announcer", "aria-live") == "polite"
    audit("question, thinking")
    ui.tap(s["startAnswer"])
    ui.wait_phase(".rec")
    audit("question, recording")
    time.sleep(0.5)
    ui.tap(s["finishAnswer"])
    ui.wait_phase(".saved")
    audit("question, finished")

    ui_server.staff("pause", session_id)
    ui.wait_screen("paused")
    audit("paused by staff")
    ui_server.staff("resume", session_id)
    ui.wait_phase(".saved")

    ui.tap(s["next"])
    ui.wait_phase(".clock")
    page.click("button.leave")
    page.wait_for_selector("dialog[open]")
    audit("leave, confirm")
    page.click("dialog button.primary")
    ui.wait_screen("code")
    resume = page.inner_text(".resume-code [aria-hidden]")
    audit("resume code")
    ui.tap(s["done"])

    ui.wait_screen("start")
    page.click(f"button[data-lang='{lang}']")
    ui.tap(s["haveResume"])
    page.fill("input.code-input", resume)
    page.keyboard.press("Enter")
    ui.wait_screen("check")
    page.wait_for_selector("#screen button.primary:not([disabled])")
    ui.tap(s["continue"])
    ui.wait_phase(".clock")
    ui.tap(s["startAnswer"])
    ui.wait_phase(".rec")
    ui.tap(s["finishAnswer"])
    ui.wait_phase(".saved")
    ui.tap(s["next"])
    ui.wait_phase(".instructions")
    audit("task, preparing")
    ui.tap(s["startTask"])
    ui.wait_phase(".timer.big")
    audit("task, running")
    ui.tap(s["finishTask"])
    ui.wait_phase(".saved")
    ui.tap(s["finishInterview"])
    ui.wait_screen("done")
    page.wait_for_selector(".receipt ol.items li")
    audit("receipt")

    # declining ends politely
    other, other_id = ui_server.invite()
    ui.tap(s["done"])
    ui.wait_screen("start")
    ui.check_in(lang, other)
    ui.wait_screen("consent")
    ui.tap(s["disagree"])
    page.click("dialog button.primary")
    ui.wait_screen("declined")
    assert page.inner_text("h1") == s["goodbyeTitle"]
    audit("declined")
    assert ui_server.session(other_id)["state"] == "declined"
    assert not ui_server.answers(other_id), "nothing recorded without consent"
    assert len(audit.screens) == 17
    audit.report()
