"""First boot: enrol with central, install the models, run the self-test; skippable."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, Footer, Input, Label, ProgressBar, Static

from tui.client import ApiClient, ApiError, MissingEndpoint
from tui.fmt import size, yes_no
from tui.models import Provision
from tui.screens.base import explain
from tui.screens.selftest import disk_text, mic_text, models_text, network_text

STEPS = ("enrol", "models", "selftest")
INSTALL_POLL_S = 0.5


class FirstBootScreen(Screen[None]):
    """Opened by the app when the box says it is not enrolled."""

    CSS_PATH = "firstboot.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "skip_all", "Skip setup"),
    ]

    def __init__(self, client: ApiClient, status: Provision) -> None:
        super().__init__()
        self.client = client
        self.status = status
        self.step = STEPS[0]

    def compose(self) -> ComposeResult:
        yield Label("First boot: set up this kiosk", id="heading")
        yield Static("", id="stepline")
        with ContentSwitcher(initial="enrol", id="steps"):
            with Vertical(id="enrol"):
                yield Static("1. Enrol with central: the URL and the one-time enrolment token"
                             " from central's device page.")
                yield Input(placeholder="central URL, e.g. https://hr.example.com", id="url")
                yield Input(placeholder="enrolment token", id="token", password=True)
                yield Input(placeholder="CA file on the box (optional)", id="ca")
                yield Static("", id="enrol-error")
                with Horizontal(classes="buttons"):
                    yield Button("Enrol", variant="primary", id="do-enrol")
                    yield Button("Skip", id="skip-enrol")
            with Vertical(id="models"):
                yield Static("2. Models for on-device analysis", classes="title")
                yield Static("[dim]loading…[/]", id="installed")
                yield ProgressBar(id="progress", show_eta=False)
                yield Static("", id="install-state")
                with Horizontal(classes="buttons"):
                    yield Button("Install models", variant="primary", id="do-install")
                    yield Button("Next", id="skip-models")
            with Vertical(id="selftest"):
                yield Static("3. Self-test: microphone, camera, models, network, disk",
                             classes="title")
                yield Static("", id="results")
                with Horizontal(classes="buttons"):
                    yield Button("Run self-test", variant="primary", id="do-selftest")
                    yield Button("Finish", id="finish")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.show_step()
        self.query_one("#url", Input).focus()

    def show_step(self) -> None:
        n = STEPS.index(self.step) + 1
        names = " → ".join(f"[b reverse]{s}[/]" if s == self.step else s for s in STEPS)
        self.query_one("#stepline", Static).update(f"Step {n} of {len(STEPS)}: {names}")
        self.query_one(ContentSwitcher).current = self.step

    def go(self, step: str) -> None:
        self.step = step
        self.show_step()
        if step == "models":
            self.query_one("#do-install", Button).focus()
            self.load_models()
        elif step == "selftest":
            self.query_one("#do-selftest", Button).focus()

    def action_skip_all(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        event.stop()
        button = event.button.id
        if button == "do-enrol":
            self.enrol()
        elif button == "skip-enrol":
            self.go("models")
        elif button == "do-install":
            self.install()
        elif button == "skip-models":
            self.go("selftest")
        elif button == "do-selftest":
            self.selftest()
        elif button == "finish":
            self.dismiss(None)

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "ca":
            self.enrol()
        else:
            self.focus_next()

    # --- 1. enrol ---------------------------------------------------------------------------

    @work(exclusive=True, group="enrol")
    async def enrol(self) -> None:
        error = self.query_one("#enrol-error", Static)
        url = self.query_one("#url", Input).value.strip()
        token = self.query_one("#token", Input).value.strip()
        ca = self.query_one("#ca", Input).value.strip() or None
        if not url or not token:
            error.update("[red]Enter central's URL and the enrolment token (or Skip).[/]")
            return
        error.update("enrolling…")
        try:
            self.status = await self.client.enrol(url, token, ca)
        except ApiError as exc:
            error.update(f"[red]{explain(exc)}[/]")
            return
        error.update(f"[green]Enrolled as {self.status.get('device_id')}[/]")
        self.go("models")

    # --- 2. models --------------------------------------------------------------------------

    @work(exclusive=True, group="models")
    async def load_models(self) -> None:
        try:
            models = await self.client.models()
        except ApiError as exc:
            # the install's own state is unknown now: claim nothing about it
            self.query_one("#installed", Static).update(f"[red]{explain(exc)}[/]")
            self.query_one("#install-state", Static).update("")
            self.query_one(ProgressBar).update(total=1, progress=0)
            return
        self.show_models(models["installed"], models["install"])
        if models["install"].get("state") == "running":
            self.set_timer(INSTALL_POLL_S, self.load_models)

    def show_models(self, installed: list[dict[str, Any]], install: dict[str, Any]) -> None:
        lines = [f" {m.get('name')} ({m.get('kind')}, {m.get('language') or 'any'},"
                 f" {size(m.get('size'))})" for m in installed]
        self.query_one("#installed", Static).update(
            "Installed:\n" + "\n".join(lines) if lines else "[yellow]No models installed.[/]")
        state = install.get("state", "idle")
        total = max(1, int(install.get("total_bytes") or 0))
        # an install that had nothing to fetch reports no bytes at all: done is done
        done = total if state == "done" else int(install.get("done_bytes") or 0)
        self.query_one(ProgressBar).update(total=total, progress=done)
        text = {"idle": "", "running": f"installing {install.get('current') or ''}…",
                "done": "[green]installed[/]",
                "failed": f"[red]install failed: {install.get('error')}[/]"}.get(state, state)
        self.query_one("#install-state", Static).update(text)

    @work(exclusive=True, group="install")
    async def install(self) -> None:
        try:
            install = await self.client.install_models()
        except ApiError as exc:
            self.query_one("#install-state", Static).update(f"[red]{explain(exc)}[/]")
            return
        self.query_one("#install-state", Static).update(f"install {install.get('state')}")
        self.load_models()

    # --- 3. self-test -----------------------------------------------------------------------

    @work(exclusive=True, group="selftest")
    async def selftest(self) -> None:
        results = self.query_one("#results", Static)
        parts: list[str] = []
        checks = (("microphone", self.client.microphone, mic_text),
                  ("camera", self.client.camera, _camera_line),
                  ("models", self.client.check_models, models_text),
                  ("network", self.client.check_network, network_text),
                  ("disk", self.client.check_disk, disk_text))
        for name, call, show in checks:
            results.update("\n".join([*parts, f"checking {name}…"]))
            try:
                parts.append(show(await call()))
            except MissingEndpoint as exc:
                parts.append(f"[b]{name}[/] [dim]{exc.detail}[/]")
            except ApiError as exc:
                parts.append(f"[b]{name}[/] [red]{explain(exc)}[/]")
        results.update("\n".join(parts))
        self.query_one("#finish", Button).focus()


def _camera_line(cam: dict[str, Any]) -> str:
    framing = cam.get("framing") or {}
    verdict = f", framing {framing.get('verdict')}" if framing else ""
    detail = f" [dim]{escape(str(cam.get('detail')))}[/]" if cam.get("detail") else ""
    return f"[b]Camera[/] {yes_no(cam.get('ok'))} {cam.get('device') or ''}{verdict}{detail}"
