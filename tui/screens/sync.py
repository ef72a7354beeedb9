"""Sync: what waits for central, and the technician's controls (each with a reason)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from tui.client import ApiError
from tui.fmt import age, short_id, when
from tui.models import SyncStatus
from tui.screens.base import KioskScreen
from tui.screens.confirm import ConfirmDialog, Confirmed, ValueField
from tui.screens.dashboard import SyncPanel

QUEUE_LIMIT = 50


def check_kbps(value: str) -> str | None:
    if value == "":
        return None
    if not value.isdigit():
        return "Bandwidth must be a whole number of kbit/s (0 = unlimited; empty = default)."
    return None


class SyncScreen(KioskScreen):
    MODE = "sync"
    POLL_S = 2.0
    CSS_PATH = "sync.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "retry", "Retry now"),
        Binding("p", "pause", "Pause/resume"),
        Binding("m", "metered", "Metered"),
        Binding("b", "bandwidth", "Bandwidth"),
    ]

    status: SyncStatus | None = None
    loads: int = 0

    def compose(self) -> ComposeResult:
        yield from self.header()
        yield SyncPanel(id="status")
        yield Static("", id="message")
        yield DataTable(id="queue", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(SyncPanel).border_title = "Sync"
        self.query_one(SyncPanel).status = None
        table = self.query_one(DataTable)
        for label in ("Message", "Kind", "Session", "Status", "Tries", "Age", "Last error"):
            table.add_column(label, key=label)
        table.border_title = "Queue"
        table.focus()

    def role_changed(self) -> None:
        why = self.refused("sync")
        if why:
            self.say(f"[yellow]Controls disabled: {why}[/]")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("retry", "pause", "metered", "bandwidth") and self.refused("sync"):
            return None
        return True

    def say(self, markup: str) -> None:
        self.query_one("#message", Static).update(markup)

    def reload(self) -> None:
        self.load()

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        try:
            status = await self.client.sync_status()
            queue = await self.client.sync_queue(limit=QUEUE_LIMIT)
        except ApiError as exc:
            self.say(f"[red]{self.failed(exc)}[/]")
            return
        self.status = status
        self.query_one(SyncPanel).status = status
        table = self.query_one(DataTable)
        table.border_title = f"Queue: {queue['total']} unacknowledged"
        table.clear()
        for item in queue["items"]:
            table.add_row(str(item.get("message_id", "")).rsplit(":", 1)[-1].lstrip("0") or "0",
                          item.get("kind", ""), short_id(item.get("session_id")),
                          item.get("status", ""), item.get("attempts", 0),
                          age(item.get("age_s")), (item.get("last_error") or "")[:30])
        self.loads += 1

    # --- controls -----------------------------------------------------------------------

    def _control(self) -> dict[str, Any]:
        return dict(self.status.get("control", {})) if self.status else {}

    def ask(self, title: str, consequence: str, changes: dict[str, Any] | None,
            value: ValueField | None = None) -> None:
        def done(confirmed: Confirmed | None) -> None:
            if confirmed is None:
                return
            if value is not None:
                kbps = int(confirmed.value) if confirmed.value else None
                self.send(confirmed.reason, {"bandwidth_kbps": kbps})
            else:
                self.send(confirmed.reason, changes)

        self.app.push_screen(ConfirmDialog(title, consequence, value=value), done)

    def action_retry(self) -> None:
        self.ask("Retry now?", "The sync agent retries deferred messages and reconnects at once.",
                 None)

    def action_pause(self) -> None:
        if self._control().get("paused"):
            self.ask("Resume sending?", "The sync agent sends the outbox to central again.",
                     {"paused": False})
        else:
            self.ask("Pause sending?", "Nothing leaves the box until sending is resumed;"
                     " messages keep queueing safely.", {"paused": True})

    def action_metered(self) -> None:
        metered = bool(self._control().get("metered"))
        if metered:
            self.ask("Treat the link as unmetered?", "Media uploads go out again.",
                     {"metered": False})
        else:
            self.ask("Treat the link as metered?", "Results and reports still go; recordings"
                     " wait until the link is unmetered.", {"metered": True})

    def action_bandwidth(self) -> None:
        current = self._control().get("bandwidth_kbps")
        field = ValueField("Bandwidth cap in kbit/s (0 = unlimited, empty = back to default)",
                           "e.g. 512", check_kbps, str(current) if current else "")
        self.ask("Set the bandwidth cap?", "Sending is limited to this rate.", None, field)

    @work(group="control")
    async def send(self, reason: str, changes: dict[str, Any] | None) -> None:
        try:
            if changes is None:
                done = await self.client.sync_retry(reason)
                at = when(done.get("requested"), self.kiosk.zone)
                self.say(f"[green]Retry requested at {at}[/]")
            else:
                await self.client.sync_control(reason, **changes)
                self.say("[green]Done: " + ", ".join(f"{k} = {v}" for k, v in changes.items())
                         + "[/]")
        except ApiError as exc:
            self.say(f"[red]{self.failed(exc)}[/]")
            return
        self.load()
