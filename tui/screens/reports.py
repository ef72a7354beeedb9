"""Reports: the sessions that have a report, newest first, with the overall score and whether
a demonstration checklist awaits staff; open one to read its summary and score checklists."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from tui.client import ApiClient, ApiError, Forbidden, MissingEndpoint
from tui.fmt import when
from tui.models import SessionRow
from tui.report_models import ReportEnvelope
from tui.report_text import candidate, demonstrations, job, overall
from tui.roles import REPORTS_FOR
from tui.screens.base import KioskScreen
from tui.screens.report import ReportView

#: a report exists only for sessions that ended in one of these states
REPORTED_STATES = ("completed", "terminated")
#: reports asked for at once (each is a request to the box)
FETCH_AT_ONCE = 4
SESSION_LIMIT = 500


@dataclass(frozen=True)
class ReportRow:
    """A reported session: its row in the sessions list and its report."""

    session: SessionRow
    envelope: ReportEnvelope

    @property
    def session_id(self) -> str:
        return self.session["id"]

    @property
    def name(self) -> str:
        """The candidate as site HR knows them: the report's name, the roster's, or the id."""
        report = self.envelope["report"]
        return report.get("candidate_name") or self.session.get("display_name") \
            or candidate(report)

    @property
    def at(self) -> object:
        """When the interview began, as the report says; else when the session ended."""
        return self.envelope["report"].get("interviewed_at") or self.session.get("state_since")

    @property
    def pending(self) -> int:
        """How many demonstration checklists await staff."""
        return sum(1 for d in demonstrations(self.envelope["report"]) if d.pending)

    @property
    def has_checklists(self) -> bool:
        return any(d.analysed for d in demonstrations(self.envelope["report"]))


class ReportsScreen(KioskScreen):
    MODE = "reports"
    CSS_PATH = "reports.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "open", "Open"),
        Binding("p", "pending", "Pending only"),
        Binding("g", "reload", "Reload"),
    ]

    rows: list[ReportRow]
    loads: int = 0

    def __init__(self, client: ApiClient) -> None:
        super().__init__(client)
        self.rows = []
        self.pending_only = False

    def compose(self) -> ComposeResult:
        yield from self.header()
        yield Static("", id="showing")
        yield DataTable(id="table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="info")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one(DataTable)
        for key, label, width in (("who", "Candidate", 16), ("job", "Job", 18),
                                  ("at", "Date", 11), ("overall", "Overall", 16),
                                  ("pending", "Checklists", 10)):
            table.add_column(label, key=key, width=width)
        table.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("open", "pending") and self.refused("results"):
            return None
        return True

    def role_changed(self) -> None:
        if self.refused("results") and self.is_current:
            self.reload()

    # --- loading ------------------------------------------------------------------------

    def reload(self) -> None:
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        info = self.query_one("#info", Static)
        if self.refused("results"):
            self.rows = []
            self.show_rows()
            info.update(f"[b]{REPORTS_FOR}[/]")
            self.loads += 1
            return
        try:
            sessions = await self.client.sessions(limit=SESSION_LIMIT)
            ended = [s for s in sessions if s.get("state") in REPORTED_STATES]
            rows = await self.fetch(ended)
        except Forbidden:
            info.update(f"[b]{REPORTS_FOR}[/]")
            self.loads += 1
            return
        except ApiError as exc:
            info.update(f"[red]{self.failed(exc)}[/]")
            return
        self.rows = rows  # newest first, as the box lists sessions
        info.update("")
        self.show_rows()
        self.loads += 1

    async def fetch(self, sessions: list[SessionRow]) -> list[ReportRow]:
        """The reports of these sessions, in their order; a session without one is left out."""
        gate = asyncio.Semaphore(FETCH_AT_ONCE)

        async def one(session: SessionRow) -> ReportRow | None:
            async with gate:
                try:
                    return ReportRow(session, await self.client.report(session["id"]))
                except ApiError as exc:
                    if exc.status == 404 and not isinstance(exc, MissingEndpoint):
                        return None  # no report yet (or the session is gone)
                    raise

        found = await asyncio.gather(*(one(s) for s in sessions))
        return [r for r in found if r is not None]

    def shown_rows(self) -> list[ReportRow]:
        return [r for r in self.rows if r.pending] if self.pending_only else self.rows

    def show_rows(self) -> None:
        table = self.query_one(DataTable)
        current = self.current_id()
        table.clear()
        zone = self.kiosk.zone
        shown = self.shown_rows()
        for r in shown:
            report = r.envelope["report"]
            table.add_row(r.name[:16], job(report)[:18], when(r.at, zone)[:11],
                          overall(report.get("scorecard", {})), self._checklists(r),
                          key=r.session_id)
        if current is not None and current in table.rows:
            table.move_cursor(row=table.get_row_index(current))
        what = "with a demonstration checklist pending" if self.pending_only else "all"
        self.query_one("#showing", Static).update(
            f"Reports: {what} ({len(shown)} of {len(self.rows)})"
            f"  [dim]p: {'show all' if self.pending_only else 'pending only'}[/]")

    @staticmethod
    def _checklists(row: ReportRow) -> Text:
        if row.pending:
            return Text(f"{row.pending} pending", style="bold yellow")
        return Text("scored" if row.has_checklists else "-")

    def current_id(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(key.value) if key.value is not None else None

    # --- actions ------------------------------------------------------------------------

    def action_pending(self) -> None:
        self.pending_only = not self.pending_only
        self.show_rows()

    @on(DataTable.RowSelected)
    def selected_row(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        if self.refused("results"):
            self.notify(REPORTS_FOR, severity="warning")
            return
        session_id = self.current_id()
        row = next((r for r in self.rows if r.session_id == session_id), None)
        if row is None:
            self.notify("No report highlighted.")
            return

        def closed(changed: bool | None) -> None:
            if changed:
                self.load()

        self.app.push_screen(ReportView(self.client, row.session_id, row.envelope,
                                          name=row.name, at=row.at), closed)
