"""Read-only dialogs: the result of a staff action per session, and the reasons summary."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from tui.fmt import short_id
from tui.models import ActionOutcome, ReasonCount


class _Dialog(ModalScreen[None]):
    CSS_PATH = "results.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"), Binding("enter", "close", "Close", show=False)]

    def action_close(self) -> None:
        self.dismiss(None)


class ActionResults(_Dialog):
    """What happened to each session of a (batch) action."""

    def __init__(self, label: str, outcome: ActionOutcome | None, error: str | None = None
                 ) -> None:
        super().__init__()
        self.label = label
        self.outcome = outcome
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            if self.outcome is None:
                yield Label(f"{self.label}: refused", id="title")
                yield Static(f"[red]{self.error}[/]", id="body")
            else:
                ok, failed = self.outcome["ok"], self.outcome["failed"]
                yield Label(f"{self.label}: {len(ok)} done, {len(failed)} refused", id="title")
                lines = []
                for item in ok:
                    code = f" (resume code {item['resume_code']})" if item.get("resume_code") \
                        else ""
                    lines.append(f"[green]✔[/] {short_id(item['session_id'])} now"
                                 f" {item.get('state')}{code}")
                for item in failed:
                    why = escape(str(item["detail"]))
                    lines.append(f"[red]✘[/] {short_id(item['session_id'])}: {why}")
                yield Static("\n".join(lines), id="body")
            yield Static("[dim]enter or escape closes[/]")


class ReasonsSummary(_Dialog):
    """Why sessions were paused or ended in the last days."""

    def __init__(self, rows: list[ReasonCount], days: int) -> None:
        super().__init__()
        self.rows = rows
        self.days = days

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Why sessions were paused or ended (last {self.days} days)", id="title")
            if not self.rows:
                yield Static("Nothing was paused or ended.", id="body")
            else:
                yield DataTable(id="reasons", cursor_type="row")
            yield Static("[dim]enter or escape closes[/]")

    def on_mount(self) -> None:
        if self.rows:
            table = self.query_one(DataTable)
            table.add_columns("Action", "Reason", "Count")
            for r in self.rows:
                table.add_row(r["action"], r["reason"] or "-", r["count"])
