"""The touchscreen at its two sizes (800×480, the Pi's; 1280×800) in every language, in real
Chromium: every screen shows its primary action without scrolling and the page itself never
scrolls (only the middle of a screen does: the header with "Take a break" and the action
bar stay); codes are typed on the on-screen keypad; "I agree" waits until the consent was
read to its end; a resume always checks the camera again.

With KIOSK_DOCS_SCREENSHOTS=1 the English 800×480 walk (and the Korean thinking screen)
rewrites the pictures of docs/candidate-flow.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from ui_fixtures import LARGE, SMALL, UiPage, UiServer, strings

from device.jobs.package import example_package_path

pytestmark = pytest.mark.integration

#: Where an element is, whether its middle is really it (not covered or clipped), and
#: whether the page (not a screen's scrolling part) scrolls.
PLACE_JS = """(el) => {
  const r = el.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  const root = document.documentElement;
  return {top: r.top, left: r.left, bottom: r.bottom, right: r.right,
          width: innerWidth, height: innerHeight, visible: r.width > 0 && r.height > 0,
          hit: !!hit && (hit === el || el.contains(hit)),
          pageScrolls: root.scrollHeight > root.clientHeight || scrollY !== 0};
}"""

#: The "scroll to read all" hint is gone, or the text is not at its end yet (so it stays).
SETTLED_JS = """() => {
  const hint = document.querySelector('#screen .read-on');
  const body = document.querySelector('#screen .screen-body');
  return !hint || hint.hidden || body.scrollTop + body.clientHeight < body.scrollHeight - 2;
}"""
#: Tap the hint if it is still there (checked and tapped at once); true when it is gone.
READ_ON_JS = """() => {
  const hint = document.querySelector('#screen .read-on');
  if (!hint || hint.hidden) return true;
  hint.click();
  return false;
}"""

SIZES = [("zh-CN", SMALL), ("en", SMALL), ("ko", SMALL), ("zh-CN", LARGE), ("en", LARGE),
         ("ko", LARGE)]


class Walk:
    """Checks, on each screen it is shown, that the named controls are in view."""

    def __init__(self, ui: UiPage, size: tuple[int, int], docs: bool) -> None:
        self.ui = ui
        self.size = size
        self.docs = docs
        self.problems: list[str] = []
        self.seen: list[str] = []

    def __call__(self, name: str, primary: str, *also: str, doc: str | None = None) -> None:
        page = self.ui.page
        self.seen.append(name)
        for selector in (primary, *also):
            found = page.locator(selector)
            if found.count() == 0:
                self.problems.append(f"{name}: no {selector}")
                continue
            place: dict[str, Any] = found.last.evaluate(PLACE_JS)
            inside = (place["visible"] and place["top"] >= 0 and place["left"] >= 0
                      and place["bottom"] <= place["height"] and place["right"] <= place["width"])
            if not inside or not place["hit"]:
                self.problems.append(f"{name}: {selector} is not in view: {place}")
            if place["pageScrolls"]:
                self.problems.append(f"{name}: the page scrolls")
        self.ui.shot(name)
        if doc and self.docs:
            self.ui.doc_shot(doc)

    def report(self) -> None:
        assert not self.problems, "\n".join(self.problems)


DOCK = "#screen .dock button.primary"
LEAVE = "#bar button.leave"


@pytest.mark.parametrize(("lang", "size"), SIZES,
                         ids=[f"{lang}-{w}x{h}" for lang, (w, h) in SIZES])
def test_every_touchscreen_screen_shows_its_primary_action_without_scrolling(
    ui_server: UiServer, open_page: Callable[..., UiPage], lang: str, size: tuple[int, int]
) -> None:
    s = strings()[lang]
    code, session_id = ui_server.invite(extra_time_pct=20)
    ui = open_page(ui_server, size, shots=f"touch-{lang}-{size[0]}x{size[1]}")
    page = ui.page
    walk = Walk(ui, size, docs=lang == "en" and size == SMALL)
    walk("language", f"button.language[data-lang='{lang}']")

    page.click(f"button[data-lang='{lang}']")
    ui.wait_screen("checkin")
    assert page.get_attribute("input.code-input", "inputmode") == "none", \
        "no system keyboard: the keypad types"
    ui.type_code(code[:3] + "X")
    page.click(".keypad button[data-key='delete']")
    ui.type_code(code[3:])
    assert page.input_value("input.code-input") == code
    walk("check-in", DOCK, ".keypad button[data-key='clear']", doc="check-in")

    page.click(DOCK)
    ui.wait_screen("consent")
    agree = ui.button(s["agree"])
    assert agree.is_disabled(), "I agree waits until the consent was read to its end"
    walk("consent, unread", DOCK, LEAVE, "#screen .dock button.read-on", doc="consent")
    page.click("#screen .dock button.read-on")  # a tap on the hint scrolls on a screen
    for _ in range(30):
        page.wait_for_function(SETTLED_JS)
        if page.evaluate(READ_ON_JS):
            break
    assert agree.is_enabled(), "reading to the end turns I agree on"
    assert not page.is_visible("#screen .dock button.read-on"), "the hint goes when read"
    walk("consent, read", DOCK, LEAVE)
    agree.click()

    ui.wait_screen("check")
    page.wait_for_selector("#screen button.primary:not([disabled])")
    page.wait_for_selector(".advice li")
    walk("camera check", DOCK, LEAVE, doc="camera-check")
    ui.tap(s["continue"])

    ui.wait_phase(".clock")
    walk("question, thinking", DOCK, LEAVE)
    if lang == "ko" and size == SMALL:
        ui.doc_shot("question-thinking-ko")
    ui.tap(s["startAnswer"])
    ui.wait_phase(".rec")
    walk("question, recording", DOCK, LEAVE, "#screen .clock", doc="question-recording")
    time.sleep(0.5)
    ui.tap(s["finishAnswer"])
    ui.wait_phase(".saved")
    walk("question, saved", DOCK, LEAVE, doc="answer-saved")

    page.click(LEAVE)
    page.wait_for_selector("dialog[open]")
    walk("leave, confirm", "dialog[open] button.primary")
    page.click("dialog[open] button.primary")
    ui.wait_screen("code")
    resume = page.inner_text(".resume-code [aria-hidden]").replace("-", "")
    walk("resume code", DOCK, doc="resume-code")
    ui.tap(s["done"])

    ui.wait_screen("start")
    page.click(f"button[data-lang='{lang}']")
    ui.tap(s["haveResume"])
    ui.wait_screen("resume")
    ui.type_code(resume)
    walk("resume", DOCK)
    page.click(DOCK)
    # the break came after a saved answer: the camera is still checked again first
    ui.wait_screen("check")
    page.wait_for_selector("#screen button.primary:not([disabled])")
    walk("camera check again", DOCK, LEAVE)
    ui.tap(s["continue"])
    ui.wait_phase(".saved")
    ui.tap(s["next"])

    ui.wait_phase(".clock")
    ui.tap(s["startAnswer"])
    ui.wait_phase(".rec")
    ui.tap(s["finishAnswer"])
    ui.wait_phase(".saved")
    ui.tap(s["next"])
    ui.wait_phase(".instructions")
    walk("task, preparing", DOCK, LEAVE, "#screen .clock")
    # the task's text says the time the timer allows: 10 minutes and 20 % extra
    instructions = page.inner_text(".instructions")
    assert s["minutes"].replace("{m}", "12") in instructions, instructions
    assert "{answer_time}" not in instructions and "10" not in instructions
    ui.tap(s["startTask"])
    ui.wait_phase(".timer.big")
    walk("task, recording", DOCK, LEAVE, "#screen .clock", doc="demonstration-recording")
    # reading the instructions to their end keeps the header and the action bar
    ui.read_to_end()
    walk("task, recording, read", DOCK, LEAVE)
    ui.tap(s["finishTask"])
    ui.wait_phase(".saved")
    ui.tap(s["finishInterview"])

    ui.wait_screen("done")
    page.wait_for_selector(".receipt ol.items li")
    page.wait_for_function(f"() => !document.querySelector('.receipt')?.innerText"
                           f".includes({s['recNothing']!r})")
    walk("receipt", DOCK, doc="receipt")
    assert ui_server.session(session_id)["state"] == "completed"
    walk.report()


#: The problems a candidate can meet at the touchscreen; each has words in every language.
CANDIDATE_PROBLEMS = ("invalid-code", "code-expired", "rate-limited", "illegal-transition",
                      "rule-violation", "unauthenticated", "forbidden", "capture-unavailable",
                      "recording-failed", "storage-full", "disk-full", "language-unavailable",
                      "invalid-request", "not-found", "internal-error", "store-unavailable",
                      "database-locked")


def test_every_problem_a_candidate_can_meet_has_words_in_every_language() -> None:
    for lang, table in strings().items():
        for code in CANDIDATE_PROBLEMS:
            key = "problem_" + code.replace("-", "_")
            assert table.get(key, "").strip(), f"{lang}: no words for {code}"
        assert "{code}" in table["problemOther"], "an unknown problem shows its code for staff"


@pytest.mark.parametrize("lang", ["zh-CN", "ko"])
def test_problem_details_are_in_the_candidates_language(
    ui_servers: Callable[..., UiServer], open_page: Callable[..., UiPage], lang: str
) -> None:
    s = strings()[lang]
    ui = open_page(ui_servers(capture=False))
    ui.page.click(f"button[data-lang='{lang}']")
    ui.wait_screen("checkin")
    ui.type_code("WRNG2345")
    ui.page.click(DOCK)
    ui.page.wait_for_selector(".error-detail")
    shown = ui.page.inner_text("#screen .error")
    assert s["inviteUnknown"] in shown
    assert s["details"].replace("{detail}", s["problem_invalid_code"]) in shown
    assert "not known" not in shown and "code" not in shown.lower(), \
        f"the box's English words reached the candidate: {shown}"


def test_the_chinese_addresses_candidates_as_nin() -> None:
    """zh-CN speaks to a candidate with the polite 您, on the screen and in the example job."""
    informal = {k: v for k, v in strings()["zh-CN"].items() if "你" in v}
    assert not informal, informal
    package = example_package_path().read_text("utf-8")
    assert "你" not in package
    assert "您" in package


def test_a_lost_tab_takes_the_interview_up_again_with_the_invite_code(
    ui_server: UiServer, open_page: Callable[..., UiPage]
) -> None:
    s = strings()["zh-CN"]
    code, session_id = ui_server.invite()
    lost = open_page(ui_server)
    lost.check_in("zh-CN", code)
    lost.wait_screen("consent")
    lost.agree(s["agree"])
    lost.wait_screen("check")
    lost.context.close()  # the tab (and its sessionStorage) is gone

    ui = open_page(ui_server)
    ui.page.click("button[data-lang='zh-CN']")
    ui.wait_screen("checkin")
    ui.type_code(code)
    ui.page.click(DOCK)
    ui.wait_screen("check")  # where it stood, the camera checked first
    ui.page.wait_for_selector("#screen button.primary:not([disabled])")
    ui.tap(s["continue"])
    ui.wait_phase(".clock")
    assert ui_server.session(session_id)["state"] == "in_progress"
