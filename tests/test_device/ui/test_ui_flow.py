"""The candidate's touchscreen in real Chromium against a real, recording kiosk: the whole
interview at both screen sizes, every screen in every language, the server's clock ending
an answer; and how the page is served (CSP, no inline code, every string translated)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from ui_fixtures import (
    LARGE,
    SMALL,
    UiPage,
    UiServer,
    install_ui,
    package_variant,
    strings,
    tone_wav,
    wait_until,
)

from conftest import LiveServer
from device.jobs.models import DemonstrationTask, SpokenQuestion
from device.jobs.package import example_package_path, load_package
from device.ui import STATIC_DIR
from inference.findings import Transcript, Word

PACKAGE = load_package(example_package_path())
QUESTIONS = [i for i in PACKAGE.items if isinstance(i, SpokenQuestion)]
TASK = next(i for i in PACKAGE.items if isinstance(i, DemonstrationTask))


def text(localized: Mapping[Any, str], lang: str) -> str:
    """A package text in one language."""
    return localized[lang]


def title(item: SpokenQuestion | DemonstrationTask, lang: str) -> str:
    return text(item.title if isinstance(item, DemonstrationTask) else item.prompt, lang)


def size_id(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def qr_text(ui: UiPage) -> str:
    png = ui.page.locator("img.qr").screenshot()
    picture = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None, "the QR image is a picture"
    found, _, _ = cv2.QRCodeDetector().detectAndDecode(picture)
    return str(found)


def count_preview_frames(server: UiServer) -> list[int]:
    """A live count of the preview pictures the box serves (to see the stream end)."""
    capture = server.kiosk.capture
    assert capture is not None
    served = [0]
    original = capture.preview_jpeg

    def counted() -> tuple[int, bytes] | None:
        served[0] += 1
        return original()

    capture.preview_jpeg = counted  # type: ignore[method-assign]
    return served


def recordings(server: UiServer, answer_id: str) -> list[dict[str, Any]]:
    """The answer's registered recordings, once both files are in (they close after it)."""
    def found() -> list[dict[str, Any]]:
        media = server.media(answer_id)
        return media if len(media) >= 2 else []

    result: list[dict[str, Any]] = wait_until(found, what=f"the recordings of {answer_id}")
    return result


def record(ui: UiPage, start: str, finish: str, seconds: float = 1.2) -> None:
    ui.tap(start)
    ui.wait_phase(".rec")
    time.sleep(seconds)
    ui.tap(finish)
    ui.wait_phase(".saved")


def wait_ready(ui: UiPage, s: dict[str, str], pulse: Any = None, tmp: Path = Path()) -> None:
    """The camera check: the live picture plays, mirrored; advice is shown; Continue works."""
    ui.wait_screen("check")
    ui.page.wait_for_function(
        "() => { const i = document.querySelector('img.preview');"
        " return i && i.complete && i.naturalWidth > 0; }")
    if pulse is not None:  # the level meter follows what the microphone hears
        player = pulse.play(tone_wav(tmp / "tone.wav", 3.0))
        ui.page.wait_for_function("() => document.querySelector('meter')?.value > -30")
        player.wait(10)
    transform = ui.page.eval_on_selector("img.preview", "i => getComputedStyle(i).transform")
    assert transform.startswith("matrix(-1"), f"the preview is a mirror, got {transform}"
    ui.page.wait_for_selector(".advice li")
    ui.page.wait_for_selector("#screen button.primary:not([disabled])")
    advice = ui.page.inner_text(".advice")
    known = [s["adviceChecking"], s["adviceGood"], s["adviceLeft"], s["adviceRight"],
             s["adviceUp"], s["adviceDown"]] + [v for k, v in s.items()
                                                if k.startswith("advice_")]
    assert any(line in advice for line in known), advice


@pytest.mark.integration
@pytest.mark.parametrize(("lang", "size"), [("en", SMALL), ("zh-CN", LARGE)],
                         ids=["en-800x480", "zh-CN-1280x800"])
def test_a_whole_interview_with_a_break(
    ui_server: UiServer, open_page: Callable[..., UiPage], lang: str, size: tuple[int, int],
    pulse: Any, tmp_path: Path
) -> None:
    s = strings()[lang]
    code, session_id = ui_server.invite(extra_time_pct=20)
    frames = count_preview_frames(ui_server)
    ui = open_page(ui_server, size, shots=f"{lang}-{size_id(size)}")
    page = ui.page
    heading = page.inner_text("h1")
    assert all(strings()[other]["chooseLanguage"] in heading for other in strings())
    ui.shot("language")

    # check in: the code as a person might type it (lower case, a dash)
    page.click(f"button[data-lang='{lang}']")
    ui.wait_screen("checkin")
    assert page.get_attribute("html", "lang") == lang
    page.fill("input.code-input", f"{code[:4].lower()}-{code[4:]}")
    ui.shot("check-in")
    page.click("button[type=submit]")

    ui.wait_screen("consent")
    shown = page.inner_text("#screen")
    assert text(PACKAGE.consent.text, lang)[:40] in shown
    assert text(PACKAGE.consent.shared_with_central, lang)[:40] in shown
    assert str(PACKAGE.consent.retention_days) in shown
    assert page.inner_text("#bar").count(s["extraTime"].replace("{pct}", "20")) == 1
    box = page.locator("input[type=checkbox]")
    assert not box.is_checked(), "expression analysis is off unless chosen"
    ui.shot("consent")
    box.check()
    ui.agree(s["agree"])

    wait_ready(ui, s, pulse, tmp_path)
    ui.shot("camera-check")
    ui.tap(s["continue"])

    # question 1: record, take it again, move on
    ui.wait_phase(".clock")
    assert page.query_selector("img.preview") is None
    page.wait_for_timeout(500)
    streamed = frames[0]
    assert page.inner_text("h1") == title(QUESTIONS[0], lang)
    assert s["thinkTime"] in page.inner_text(".stage")
    ui.shot("question-thinking")
    ui.tap(s["startAnswer"])
    ui.wait_phase(".rec")
    assert page.inner_text(".rec") == s["recording"], "recording is said in words too"
    assert page.is_visible(".rec .dot")
    ui.shot("question-recording")
    time.sleep(1.2)
    ui.tap(s["finishAnswer"])
    ui.wait_phase(".saved")
    retake = s["retake"].replace("{n}", "1")
    ui.shot("question-finished")
    ui.tap(retake)
    ui.wait_phase(f"button:has-text('{s['startAnswer']}')")
    record(ui, s["startAnswer"], s["finishAnswer"])
    assert ui.button(retake).count() == 0, "no retakes left"
    ui.tap(s["next"])
    page.wait_for_function(f"() => document.querySelector('h1')?.textContent"
                           f" === {title(QUESTIONS[1], lang)!r}")
    ui.shot("question-2")

    assert frames[0] == streamed, "the live picture stopped streaming with the check"

    # a break: the resume code as text and as a QR code
    page.click("button.leave")
    page.wait_for_selector("dialog[open]")
    ui.shot("leave-confirm")
    page.click("dialog button.primary")
    ui.wait_screen("code")
    shown = page.inner_text(".resume-code [aria-hidden]").replace("-", "")
    assert len(shown) == 8
    assert qr_text(ui).replace("-", "").upper() == shown
    assert s["codeWindow"].split("{hours}")[0] in page.inner_text("#screen")
    ui.shot("resume-code")
    assert ui_server.session(session_id)["state"] == "paused"
    ui.tap(s["done"])
    ui.wait_screen("start")

    # back with the code: the camera check again, then the question that was interrupted
    page.click(f"button[data-lang='{lang}']")
    ui.wait_screen("checkin")
    ui.tap(s["haveResume"])
    ui.wait_screen("resume")
    page.fill("input.code-input", shown)
    ui.shot("resume")
    page.click("button[type=submit]")
    wait_ready(ui, s)
    ui.tap(s["continue"])
    ui.wait_phase(".clock")
    assert page.inner_text("h1") == title(QUESTIONS[1], lang)
    record(ui, s["startAnswer"], s["finishAnswer"])
    ui.tap(s["next"])

    # the demonstration: title, instructions, preparation, a big timer
    ui.wait_phase(".clock")
    assert page.inner_text("h1") == title(TASK, lang)
    assert text(TASK.instructions, lang)[:30] in page.inner_text(".instructions")
    assert s["prepTime"] in page.inner_text(".stage")
    ui.shot("task-preparing")
    ui.tap(s["startTask"])
    ui.wait_phase(".timer.big")
    ui.shot("task-running")
    time.sleep(1.0)
    ui.tap(s["finishTask"])
    ui.wait_phase(".saved")
    ui.tap(s["finishInterview"])

    # the receipt, and what the server holds
    ui.wait_screen("done")
    page.wait_for_selector(".receipt ol.items li")
    assert session_id in page.inner_text(".reference")
    session = ui_server.session(session_id)
    assert session["state"] == "completed" and session["expression_consent"] == 1
    answers = [(a["position"], a["state"]) for a in ui_server.answers(session_id)]
    assert answers == [(0, "superseded"), (0, "finished"), (1, "interrupted"), (1, "finished"),
                       (2, "finished")]
    finished = [a for a in ui_server.answers(session_id) if a["state"] == "finished"]
    for answer in finished:
        media = recordings(ui_server, answer["id"])
        assert {m["kind"] for m in media} == {"audio", "video"}, answer["position"]
    page.wait_for_function(f"() => !document.querySelector('.receipt')?.innerText"
                           f".includes({s['recNothing']!r})")
    items = page.locator(".receipt ol.items li").all_inner_texts()
    assert len(items) == 3
    in_order: list[SpokenQuestion | DemonstrationTask] = [*QUESTIONS, TASK]
    for line, item in zip(items, in_order, strict=True):
        assert title(item, lang)[:20] in line
        assert s["recAudio"] in line and s["recVideo"] in line
    receipt_text = page.inner_text(".receipt")
    assert s["expressionYes"] in receipt_text
    assert text(PACKAGE.consent.deletion_contact, lang)[:30] in receipt_text
    ui.shot("receipt")
    assert ui.sent("POST", "/api/v1/session/answer/start") == 4
    page.reload()  # the receipt survives a reload (the token still shows it for a while)
    ui.wait_screen("done")
    page.wait_for_selector(".receipt ol.items li")
    assert session_id in page.inner_text(".reference")
    ui.tap(s["done"])
    ui.wait_screen("start")
    assert ui.token() is None, "the tab lets go of the session at the end"


SCREENS = [("ko", SMALL), ("ko", LARGE), ("zh-CN", SMALL), ("en", LARGE)]


@pytest.mark.integration
@pytest.mark.parametrize(("lang", "size"), SCREENS,
                         ids=[f"{lang}-{size_id(size)}" for lang, size in SCREENS])
def test_every_screen_speaks_the_chosen_language(
    ui_server: UiServer, open_page: Callable[..., UiPage], lang: str, size: tuple[int, int]
) -> None:
    s = strings()[lang]
    code, session_id = ui_server.invite()
    ui = open_page(ui_server, size, shots=f"{lang}-{size_id(size)}")
    page = ui.page
    ui.shot("language")
    ui.check_in(lang, code)
    ui.wait_screen("consent")
    seen = {"consent": page.inner_text("h1")}
    ui.shot("consent")
    ui.agree(s["agree"])
    wait_ready(ui, s)
    seen["check"] = page.inner_text("h1")
    ui.shot("camera-check")
    ui.tap(s["continue"])
    ui.wait_phase(".clock")
    ui.shot("question-thinking")
    record(ui, s["startAnswer"], s["finishAnswer"], seconds=0.5)
    ui.shot("question-finished")
    page.click("button.leave")
    page.wait_for_selector("dialog[open]")
    seen["leave"] = page.inner_text("dialog h2")
    ui.shot("leave-confirm")
    page.click("dialog button.primary")
    ui.wait_screen("code")
    seen["code"] = page.inner_text("h1")
    ui.shot("resume-code")
    assert seen == {"consent": s["consentTitle"], "check": s["checkTitle"],
                    "leave": s["leaveTitle"], "code": s["pausedTitle"]}
    assert page.get_attribute("html", "lang") == lang
    assert ui_server.session(session_id)["language"] == lang


@pytest.mark.integration
def test_the_server_ends_an_answer_whose_time_is_up(
    ui_servers: Callable[..., UiServer], open_page: Callable[..., UiPage]
) -> None:
    server = ui_servers(capture=False, package=package_variant(think_time_s=0,
                                                               answer_time_s=10))
    s = strings()["en"]
    code, session_id = server.invite()
    ui = open_page(server)
    page = ui.page
    ui.check_in("en", code)
    ui.wait_screen("consent")
    ui.agree(s["agree"])
    ui.wait_screen("check")
    # the screen says "checking…" until the box's answer about its devices arrives
    wait_until(lambda: page.inner_text(".check-state") == s["captureOff"],
               what="the capture-off message")
    ui.tap(s["continue"])
    ui.wait_phase(".hint:not([hidden])")
    assert page.inner_text(".stage .hint:not([hidden])") == s["thinkOver"]
    page.evaluate("""() => {
        window.heard = [];
        new MutationObserver(() => window.heard.push(
            document.getElementById('announcer').textContent)).observe(
            document.getElementById('announcer'), {childList: true, characterData: true,
                                                   subtree: true});
    }""")
    ui.tap(s["startAnswer"])
    ui.wait_phase(".rec")
    # nobody taps Finish: the engine closes the answer at its limit, the page follows
    page.wait_for_selector("#screen .saved", timeout=20_000)
    assert ui.sent("POST", "/api/v1/session/answer/finish") == 0
    answer = server.answers(session_id)[0]
    assert answer["state"] == "finished" and answer["timed_out"] == 1
    heard: list[str] = page.evaluate("() => window.heard")
    spoken = [h for h in heard if h]
    assert spoken[0] == f"{s['recordingStarted']} {s['secondsLeft'].replace('{n}', '10')}"
    assert spoken[-1] == s["answerSaved"]
    assert len(spoken) <= 3, f"announced at marks, not every second: {heard}"


@pytest.mark.integration
def test_polling_keeps_the_focus_on_the_leave_button(
    ui_servers: Callable[..., UiServer], open_page: Callable[..., UiPage]
) -> None:
    server = ui_servers(capture=False)
    s = strings()["en"]
    code, _ = server.invite()
    ui = open_page(server)
    page = ui.page
    ui.check_in("en", code)
    ui.wait_screen("consent")
    ui.agree(s["agree"])
    ui.wait_screen("check")
    ui.tap(s["continue"])
    ui.wait_phase(".clock")
    page.focus("button.leave")
    page.evaluate("() => { window.leaveButton = document.querySelector('button.leave'); }")
    polls = ui.sent("GET", "/api/v1/session")
    for _ in range(100):  # Playwright reports requests while it is being called
        if ui.sent("GET", "/api/v1/session") >= polls + 3:
            break
        page.wait_for_timeout(100)
    assert ui.sent("GET", "/api/v1/session") >= polls + 3, "the screen polled meanwhile"
    assert page.evaluate("() => document.activeElement === window.leaveButton"), \
        "a keyboard user on Leave keeps the focus while the screen polls"
    assert page.evaluate("() => document.querySelector('button.leave') === window.leaveButton")


@pytest.mark.integration
def test_a_follow_up_question_is_offered_to_consider(
    ui_servers: Callable[..., UiServer], open_page: Callable[..., UiPage]
) -> None:
    server = ui_servers(capture=False)
    s = strings()["ko"]
    code, session_id = server.invite()
    ui = open_page(server)
    ui.check_in("ko", code)
    ui.wait_screen("consent")
    ui.agree(s["agree"])
    ui.wait_screen("check")
    ui.tap(s["continue"])
    ui.wait_phase(".clock")
    record(ui, s["startAnswer"], s["finishAnswer"], seconds=0.5)
    assert ui.page.query_selector(".follow-up") is None
    # the box heard the answer and found no result in it
    heard = "그때 라인에서 불량을 발견해서 반장에게 보고했습니다"
    words = tuple(Word(text=w, start=i * 0.5, end=i * 0.5 + 0.4, conf=0.9)
                  for i, w in enumerate(heard.split()))
    answer = server.answers(session_id)[0]["id"]
    chosen = server.kiosk.analysis.follow_up(answer, Transcript(
        language="ko", words=words, text=heard, duration_s=4.0, silent=False))
    assert chosen is not None and chosen.element == "result"
    ui.page.wait_for_selector("#screen .follow-up")
    assert ui.page.inner_text(".follow-up-label") == s["followUp"]
    assert ui.page.inner_text(".follow-up-text") == text(QUESTIONS[0].follow_ups["result"], "ko")
    assert ui.button(s["retake"].replace("{n}", "1")).is_visible(), "it can go into a retake"


@pytest.mark.integration
def test_framing_advice_speaks_to_the_mirror_image(
    ui_servers: Callable[..., UiServer], open_page: Callable[..., UiPage]
) -> None:
    """dx > 0: the face is right of centre in the camera's picture, so left of centre in the
    mirrored preview: the candidate moves to their right."""
    s = strings()["en"]
    ui = open_page(ui_servers(capture=False))
    advice = ui.page.evaluate("""async () => {
        const { framingAdvice } = await import('/ui/screens-check.js');
        const check = (problems, offset) => framingAdvice(
            {checked: true, ok: false, problems, offset});
        return {
            right: check(['off_centre'], [0.2, 0.05]),
            left: check(['off_centre'], [-0.2, 0.05]),
            up: check(['off_centre'], [0.01, 0.3]),
            down: check(['off_centre'], [0.01, -0.3]),
            two: check(['too_dark', 'too_far'], null),
            unknown: check(['not_a_code'], null),
            ok: framingAdvice({checked: true, ok: true, problems: [], offset: null}),
            waiting: framingAdvice({checked: false, ok: false, problems: [], offset: null}),
        };
    }""")
    assert advice == {
        "right": [s["adviceRight"]], "left": [s["adviceLeft"]], "up": [s["adviceUp"]],
        "down": [s["adviceDown"]], "two": [s["advice_too_dark"], s["advice_too_far"]],
        "unknown": [s["adviceChecking"]], "ok": [s["adviceGood"]],
        "waiting": [s["adviceChecking"]]}


# --- how the page is served -------------------------------------------------------------------

@pytest.fixture
def page_client(live: LiveServer) -> Iterator[httpx.Client]:
    """The page's routes on a live kiosk server (added when the app does not have them)."""
    install_ui(live)
    with httpx.Client(base_url=live.url, timeout=10) as client:
        yield client


@pytest.mark.integration
def test_the_page_and_its_files_carry_a_strict_csp(page_client: httpx.Client) -> None:
    for path, kind in (("/", "text/html"), ("/ui/app.js", "text/javascript"),
                       ("/ui/app.css", "text/css"), ("/ui/i18n.json", "application/json")):
        r = page_client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith(kind), (path, r.headers["content-type"])
        csp = r.headers["content-security-policy"]
        assert csp.startswith("default-src 'self'; img-src 'self' data:; style-src 'self';"
                              " script-src 'self'; connect-src 'self'"), csp
        assert "unsafe" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.integration
@pytest.mark.parametrize("name", ["nope.js", "..%2Fapi%2Fui.py", ".hidden.js", "app.py",
                                  "index.html.bak"])
def test_only_the_pages_own_files_are_served(page_client: httpx.Client, name: str) -> None:
    r = page_client.get(f"/ui/{name}")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 404


def test_no_inline_code_and_nothing_from_the_internet() -> None:
    html = (STATIC_DIR / "index.html").read_text("utf-8")
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts == ['<script type="module" src="/ui/app.js">'], scripts
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html), "no inline event handlers"
    for path in STATIC_DIR.iterdir():
        text = path.read_text("utf-8")
        for bad in ("innerHTML", "eval(", "new Function", "document.write", "cdn."):
            assert bad not in text, f"{path.name} uses {bad}"
        urls = set(re.findall(r"https?://[^\s\"')]+", text)) - {"http://www.w3.org/2000/svg"}
        assert not urls, f"{path.name} refers to {urls}"


def test_every_string_is_translated_and_every_key_used_exists() -> None:
    table = strings()
    assert set(table) == {"zh-CN", "en", "ko"}
    keys = set(table["en"])
    for lang, texts in table.items():
        assert set(texts) == keys, f"{lang}: missing {keys - set(texts)}, extra" \
                                   f" {set(texts) - keys}"
        for key, text in texts.items():
            assert text.strip(), f"{lang}.{key} is empty"
            assert set(re.findall(r"\{\w+\}", text)) == set(
                re.findall(r"\{\w+\}", table["en"][key])), f"{lang}.{key}: placeholders differ"
    code = "\n".join(p.read_text("utf-8") for p in STATIC_DIR.glob("*.js"))
    used = set(re.findall(r"\bt\(\"(\w+)\"", code))
    assert used and used <= keys, f"strings used but not defined: {used - keys}"
    problems = ("no_face", "several_faces", "too_dark", "too_bright", "too_far", "too_close")
    assert {f"advice_{p}" for p in problems} <= keys


@pytest.mark.integration
def test_the_kiosk_app_serves_the_touchscreen(http: httpx.Client) -> None:
    r = http.get("/")
    assert r.status_code == 200, "create_app must call device.api.ui.install(app)"
    assert '<script type="module" src="/ui/app.js">' in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
