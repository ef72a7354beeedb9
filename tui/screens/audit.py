"""Audit log: newest first, filtered by subject or action, and the hash chain verified."""

from __future__ import annotations

import json
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Input, Static

from tui.client import ApiClient, ApiError
from tui.fmt import when
from tui.models import AuditEntry, AuditVerify
from tui.screens.base import KioskScreen

PAGE = 200


class VerifyBanner(Static):
    """Pass or fail of the chain verification, in colour."""

    def show(self, result: AuditVerify) -> None:
        self.set_class(result["ok"], "-pass")
        self.set_class(not result["ok"], "-fail")
        if result["ok"]:
            self.update(f"✔ Audit chain intact: {result['entries']} entries verified")
        else:
            self.update(f"✘ Audit chain FAILED after {result['entries']} good entries:"
                        f" {result['problem']}")


class AuditScreen(KioskScreen):
    MODE = "audit"
    CSS_PATH = "audit.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "verify", "Verify chain"),
        Binding("o", "older", "Older"),
        Binding("g", "reload", "Reload"),
        Binding("slash", "find", "Filter"),
        Binding("escape", "back", "Table", show=False),
    ]

    entries: list[AuditEntry]
    loads: int = 0

    def __init__(self, client: ApiClient) -> None:
        super().__init__(client)
        self.entries = []

    def compose(self) -> ComposeResult:
        yield from self.header()
        with Horizontal(id="filters"):
            yield Input(placeholder="/ subject (session id, token name…)", id="subject")
            yield Input(placeholder="action (e.g. session.pause)", id="action")
        yield VerifyBanner("press v to verify the hash chain", id="banner")
        yield DataTable(id="log", cursor_type="row", zebra_stripes=True)
        yield Static("", id="detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one(DataTable)
        for label in ("Seq", "At (UTC)", "Actor", "Action", "Subject", "Reason"):
            table.add_column(label, key=label)
        table.focus()

    def filters(self) -> tuple[str | None, str | None]:
        subject = self.query_one("#subject", Input).value.strip() or None
        action = self.query_one("#action", Input).value.strip() or None
        return subject, action

    def reload(self) -> None:
        self.load(older=False)

    def action_reload(self) -> None:
        self.load(older=False)

    def action_older(self) -> None:
        self.load(older=True)

    @work(exclusive=True, group="load")
    async def load(self, older: bool) -> None:
        subject, action = self.filters()
        before = self.entries[-1]["seq"] if older and self.entries else None
        try:
            found = await self.client.audit(subject=subject, action=action, limit=PAGE,
                                            before_seq=before)
        except ApiError as exc:
            self.query_one(VerifyBanner).update(f"[red]{self.failed(exc)}[/]")
            return
        table = self.query_one(DataTable)
        if not older:
            self.entries = []
            table.clear()
        self.entries.extend(found)
        zone = self.kiosk.zone
        for e in found:
            actor = f"{e['actor_role']}:{e['actor_name']}"
            table.add_row(e["seq"], when(e["at"], zone), actor[:16], e["action"][:24],
                          (e["subject"] or "")[:12], e["reason"] or "", key=str(e["seq"]))
        table.border_title = f"{len(self.entries)} entries shown"
        self.loads += 1

    @on(DataTable.RowHighlighted)
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        seq = int(str(event.row_key.value))
        entry = next((e for e in self.entries if e["seq"] == seq), None)
        if entry is None:
            return
        text = Text(f"#{seq} {entry['action']} {entry['subject'] or ''}", style="bold")
        text.append(f"  reason: {entry['reason'] or '-'}  ", style="")
        text.append(json.dumps(entry["details"], ensure_ascii=False), style="dim")
        self.query_one("#detail", Static).update(text)

    @on(Input.Submitted)
    def apply_filter(self) -> None:
        self.load(older=False)
        self.query_one(DataTable).focus()

    def action_find(self) -> None:
        self.query_one("#subject", Input).focus()

    def action_back(self) -> None:
        self.query_one(DataTable).focus()

    def action_verify(self) -> None:
        self.verify()

    @work(exclusive=True, group="verify")
    async def verify(self) -> None:
        banner = self.query_one(VerifyBanner)
        banner.update("verifying…")
        try:
            result = await self.client.audit_verify()
        except ApiError as exc:
            banner.update(f"[red]{self.failed(exc)}[/]")
            return
        banner.show(result)
