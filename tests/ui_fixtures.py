"""Browser fixtures for the candidate UI tests: Debian's Chromium, headless, driven by
Playwright's sync API, against a real kiosk behind a live uvicorn server.

``ui_server`` records for real: the file camera replays a CREMA-D clip (a face, in real
time) and the microphone is PortAudio's ``pulse`` device on the test PulseAudio rig.
``ui_servers`` builds servers with other settings (a missing microphone, short resume
windows, a job package with shorter times). ``open_page`` gives a fresh browser context
(its own sessionStorage) on one of them, at a touchscreen's size, and fails the test if the
page throws.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    sync_playwright,
)

from conftest import ADMIN, JOB, LiveServer, make_config
from device.audit import SYSTEM
from device.composition import Kiosk, open_kiosk
from device.jobs.installed import import_package
from device.jobs.package import example_package_path
from device.sessions.roster import Invite, Roster, import_roster
from device.staff import tokens
from device.ui import STATIC_DIR

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SMALL = (800, 480)
LARGE = (1280, 800)
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "ui"
#: The pictures of docs/candidate-flow.md, rewritten from the real page when the tests run
#: with KIOSK_DOCS_SCREENSHOTS=1 (`make docs-screenshots`).
DOC_IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images" / "candidate"
#: How long a screen may take to appear (ms): a poll is 1 s, capture opens devices.
WAIT_MS = 15_000


def strings() -> dict[str, dict[str, str]]:
    """The touchscreen's strings per language, as the page loads them."""
    found: dict[str, dict[str, str]] = json.loads((STATIC_DIR / "i18n.json").read_text("utf-8"))
    return found


def package_variant(**changes: Any) -> bytes:
    """The example job package, next version, with ``changes`` applied to every spoken
    question (``think_time_s``, ``answer_time_s``, ``retakes``)."""
    doc = json.loads(example_package_path().read_bytes())
    doc["package_version"] += 1
    for item in doc["items"]:
        if item["kind"] == "question":
            item.update(changes)
    return json.dumps(doc, ensure_ascii=False).encode()


def tone_wav(path: Path, seconds: float, freq: float = 440.0, rate: int = 16_000) -> Path:
    """A loud sine tone, for the microphone to hear."""
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.4 * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


@dataclass
class UiServer:
    """A kiosk and its live server, with what the tests ask of the store."""

    kiosk: Kiosk
    live: LiveServer
    _count: Iterator[int] = field(default_factory=lambda: iter(range(1, 10_000)))

    @property
    def url(self) -> str:
        return self.live.url

    def invite(self, **fields: Any) -> tuple[str, str]:
        """A new invitation: (invite code, session id)."""
        fields.setdefault("candidate_id", f"ui-{next(self._count)}")
        fields.setdefault("job_id", JOB)
        roster = Roster(format="kiosk-roster/1", invites=[Invite(**fields)])
        invited = import_roster(self.kiosk.engine, roster, "ui-test", SYSTEM)[0]
        assert invited.invite_code and invited.session_id
        return invited.invite_code, invited.session_id

    def session(self, session_id: str) -> dict[str, Any]:
        found = self.kiosk.store.one("SELECT * FROM sessions WHERE id = ?", (session_id,))
        assert found is not None, f"no session {session_id}"
        return found

    def answers(self, session_id: str) -> list[dict[str, Any]]:
        return self.kiosk.store.all(
            "SELECT * FROM answers WHERE session_id = ? ORDER BY position, attempt",
            (session_id,))

    def media(self, answer_id: str) -> list[dict[str, Any]]:
        return self.kiosk.store.all("SELECT * FROM media WHERE answer_id = ? ORDER BY kind",
                                    (answer_id,))

    def staff_headers(self) -> dict[str, str]:
        created = tokens.create(self.kiosk.store, f"ui-admin-{next(self._count)}", "admin", [],
                                SYSTEM)
        return {"Authorization": f"Bearer {created.token}"}

    def staff(self, action: str, session_id: str, reason: str = "ui test") -> None:
        result = self.kiosk.engine.staff_action(ADMIN, action, [session_id], reason)
        assert not result.failed, result.failed


def install_ui(live: LiveServer) -> None:
    """The page's routes, when the app does not add them itself."""
    from device.api import ui

    app: Any = live.server.config.app
    if not any(getattr(route, "path", None) == "/" for route in app.routes):
        ui.install(app)


@pytest.fixture
def ui_servers(tmp_path: Path, crema_clips: dict[str, Path], model_files: Any, pulse: Any
               ) -> Iterator[Callable[..., UiServer]]:
    """make(capture=True, package=None, sweep=True, **env) -> a started UiServer (stopped at
    teardown); ``sweep`` runs the engine's sweeper (overdue answers, expired pauses)."""
    started: list[tuple[Kiosk, LiveServer]] = []

    def make(*, capture: bool = True, package: bytes | None = None, sweep: bool = True,
             **env: str) -> UiServer:
        settings = {"KIOSK_ANALYSIS_ENABLED": "false",
                    "KIOSK_ANALYSIS_MODELS_DIR": str(model_files.store.root)}
        if capture:
            settings.update({
                "KIOSK_CAPTURE_CAMERA": "file",
                "KIOSK_CAPTURE_CAMERA_SOURCE": str(crema_clips["NEU"]),
                "KIOSK_CAPTURE_LOOP": "true", "KIOSK_CAPTURE_MICROPHONE": "pulse",
                "KIOSK_CAPTURE_VIDEO_WIDTH": "480", "KIOSK_CAPTURE_VIDEO_HEIGHT": "270"})
        else:
            settings["KIOSK_CAPTURE_ENABLED"] = "false"
        settings.update(env)
        kiosk = open_kiosk(make_config(tmp_path / f"data{len(started)}", **settings))
        import_package(kiosk.store, example_package_path().read_bytes(), "example", SYSTEM)
        if package is not None:
            import_package(kiosk.store, package, "variant", SYSTEM)
        live = LiveServer(kiosk, capture=capture, sweep=sweep)
        install_ui(live)
        live.__enter__()
        started.append((kiosk, live))
        return UiServer(kiosk, live)

    yield make
    for kiosk, live in reversed(started):
        live.__exit__(None, None, None)
        kiosk.close()


@pytest.fixture
def ui_server(ui_servers: Callable[..., UiServer]) -> UiServer:
    """A kiosk that records through the file camera and the PulseAudio microphone."""
    return ui_servers()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module. Playwright's sync API keeps an event loop running in
    the main thread while it is open, so it is closed with the module: the terminal UI's
    tests, which run their own event loop, may come after."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-packages` (Debian: chromium)",
                    pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class UiPage:
    """One touchscreen: a browser context of its own, pointed at a kiosk."""

    def __init__(self, context: BrowserContext, server: UiServer, shots: Path | None) -> None:
        self.context = context
        self.server = server
        self.page: Page = context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.errors: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.shots = shots
        self._shot = 0
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", self._console)
        self.page.on("request", self._seen)

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or message.type == "assert":
            self.errors.append(message.text)

    def _seen(self, request: Request) -> None:
        path = request.url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
        self.requests.append((request.method, "/" + path))

    def sent(self, method: str, path: str) -> int:
        """How many requests the page made to ``path``."""
        return sum(1 for m, p in self.requests if m == method and p == path)

    def open(self) -> UiPage:
        self.page.goto(self.server.url + "/")
        self.wait_screen("start")
        return self

    def screen(self) -> str | None:
        return self.page.get_attribute("#screen", "data-screen")

    def wait_screen(self, name: str) -> None:
        self.page.wait_for_selector(f"#screen[data-screen='{name}']")

    def wait_phase(self, selector: str) -> None:
        self.page.wait_for_selector(f"#screen[data-screen='item'] {selector}")

    def token(self) -> str | None:
        found: str | None = self.page.evaluate(
            "() => JSON.parse(sessionStorage.getItem('kiosk.token'))")
        return found

    def button(self, text: str) -> Any:
        return self.page.get_by_role("button", name=text, exact=True)

    def tap(self, text: str) -> None:
        self.button(text).click()

    def read_to_end(self) -> None:
        """Scroll the screen (not the page: the action bar stays) to its end."""
        self.page.locator("#screen .screen-body").evaluate("e => e.scrollTo(0, e.scrollHeight)")

    def agree(self, text: str) -> None:
        """Read the consent to its end ("I agree" is off until then), then agree."""
        self.read_to_end()
        self.tap(text)

    def shot(self, name: str) -> None:
        """A screenshot of the screen as it is now, numbered in order of the flow."""
        if self.shots is None:
            return
        self._shot += 1
        self.page.wait_for_timeout(150)  # let the layout settle
        self.page.screenshot(path=str(self.shots / f"{self._shot:02d}-{name}.png"),
                             full_page=True)

    def doc_shot(self, name: str) -> None:
        """The screen as it is now, as docs/images/candidate/<name>.png, when the tests run
        with KIOSK_DOCS_SCREENSHOTS=1 (else nothing)."""
        if os.environ.get("KIOSK_DOCS_SCREENSHOTS") != "1":
            return
        self.page.wait_for_timeout(150)  # let the layout settle
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(DOC_IMAGES / f"{name}.png"), animations="disabled",
                             caret="hide")

    def type_code(self, code: str) -> None:
        """Type a code on the on-screen keypad, as a finger would."""
        for ch in code:
            self.page.click(f".keypad button[data-key='{ch.upper()}']")

    def check_in(self, lang: str, code: str) -> None:
        self.page.click(f"button[data-lang='{lang}']")
        self.wait_screen("checkin")
        self.page.fill("input.code-input", code)
        self.page.click("button[type=submit]")


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., UiPage]]:
    """open_page(server, size=SMALL, shots=None, fake_clock=False) -> a UiPage on the start
    screen; ``shots`` names a directory under test-artifacts/ui/ for its screenshots (emptied
    first); ``fake_clock`` installs Playwright's clock so a test can move the page's time."""
    opened: list[UiPage] = []

    def make(server: UiServer, size: tuple[int, int] = SMALL, shots: str | None = None,
             fake_clock: bool = False) -> UiPage:
        directory = None
        if shots is not None:
            directory = ARTIFACTS / shots
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True)
        context = browser.new_context(viewport={"width": size[0], "height": size[1]},
                                      locale="en-US")
        if fake_clock:  # the page's timers then run at the test's command
            context.clock.install()
        ui = UiPage(context, server, directory)
        opened.append(ui)
        return ui.open()

    yield make
    errors = [e for ui in opened for e in ui.errors]
    for ui in opened:
        ui.context.close()
    assert not errors, f"the page threw or broke its CSP: {errors}"


def wait_until(check: Callable[[], Any], timeout_s: float = 15.0, what: str = "condition"
               ) -> Any:
    """Poll ``check`` until it returns something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
