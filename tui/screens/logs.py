"""Logs: follow kiosk-device or kiosk-sync, scrolled to the newest line unless paused."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, RichLog, Static

from tui.client import ApiError
from tui.fmt import when
from tui.screens.base import KioskScreen

SERVICES = ("kiosk-device", "kiosk-sync")
LEVEL_STYLES = {"error": "bold red", "critical": "bold red", "warning": "yellow",
                "debug": "dim"}


class LogsScreen(KioskScreen):
    MODE = "logs"
    POLL_S = 1.0
    CSS_PATH = "logs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "switch", "Service"),
        Binding("p", "pause", "Pause/follow"),
        Binding("c", "clear", "Clear"),
    ]

    service: str = SERVICES[0]
    following: bool = True
    cursor: str | None = None
    lines_shown: int = 0

    def compose(self) -> ComposeResult:
        yield from self.header()
        yield Static("", id="state")
        yield RichLog(id="log", wrap=True, markup=False, auto_scroll=True, max_lines=5000)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.show_state()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("switch", "pause") and self.refused("logs"):
            return None
        return True

    def role_changed(self) -> None:
        why = self.refused("logs")
        if why:
            self.query_one("#state", Static).update(f"[yellow]Logs unavailable: {why}[/]")

    def show_state(self, problem: str | None = None) -> None:
        mode = "[green]following[/]" if self.following else "[yellow]paused[/] (p follows)"
        line = f"[b]{self.service}[/] {mode}   v switches to" \
               f" {SERVICES[1 - SERVICES.index(self.service)]}"
        self.query_one("#state", Static).update(line + (f"\n[red]{problem}[/]" if problem
                                                        else ""))

    def reload(self) -> None:
        if self.following and not self.refused("logs"):
            self.fetch()

    @work(exclusive=True, group="load")
    async def fetch(self) -> None:
        service = self.service
        try:
            page = await self.client.logs(service, after=self.cursor)
        except ApiError as exc:
            self.show_state(self.failed(exc))
            return
        if service != self.service:
            return
        log = self.query_one(RichLog)
        for entry in page["lines"]:
            line = Text(f"{when(entry.get('at'), self.kiosk.zone)} ", style="dim")
            level = str(entry.get("level", "")).lower()
            line.append(f"{level:<7} ", style=LEVEL_STYLES.get(level, ""))
            line.append(f"{entry.get('logger', '')}: ", style="cyan")
            line.append(str(entry.get("message", "")))
            log.write(line, scroll_end=self.following)
            self.lines_shown += 1
        self.cursor = page["next"]
        self.show_state()

    def action_switch(self) -> None:
        self.service = SERVICES[1 - SERVICES.index(self.service)]
        self.cursor = None
        self.lines_shown = 0
        self.query_one(RichLog).clear()
        self.show_state()
        self.reload()

    def action_pause(self) -> None:
        self.following = not self.following
        self.query_one(RichLog).auto_scroll = self.following
        self.show_state()
        self.reload()

    def action_clear(self) -> None:
        self.query_one(RichLog).clear()
