"""One report's summary: overall, each competency with the box's explanation, each
demonstration's time and checklist; a demonstration's checklist is scored from here and the
summary is read again from the box afterwards."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.client import ApiClient, ApiError, Forbidden, Unauthorized, Unreachable
from tui.fmt import site_zone
from tui.report_models import ChecklistOutcome, ReportEnvelope
from tui.report_text import Demonstration, candidate, demonstrations, summary
from tui.roles import REPORTS_FOR
from tui.screens.base import ApiFailed, explain
from tui.screens.checklist import ChecklistForm


class ReportView(ModalScreen[bool]):
    """Dismissed with True when a checklist was scored (the report list is then stale)."""

    CSS_PATH = "report.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("c", "score", "Score checklist"),
    ]

    def __init__(self, client: ApiClient, session_id: str, envelope: ReportEnvelope,
                 *, name: str | None = None, at: object = None) -> None:
        super().__init__()
        self.candidate = name
        self.at = at
        self.client = client
        self.session_id = session_id
        self.envelope = envelope
        self.changed = False
        self.loads = 0

    @property
    def zone(self) -> str:
        who = getattr(self.app, "who", None)
        return site_zone(who.get("time_zone") if who else None)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("", id="title")
            yield VerticalScroll(id="summary")
            yield OptionList(id="demos")
            yield Static("", id="info")

    def on_mount(self) -> None:
        self.show()
        self.query_one("#summary").focus()

    def demonstrations(self) -> list[Demonstration]:
        return demonstrations(self.envelope["report"])

    def show(self) -> None:
        report = self.envelope["report"]
        self.query_one("#title", Label).update(
            f"Report: {escape(self.candidate or candidate(report))}")
        box = self.query_one("#summary", VerticalScroll)
        box.remove_children()
        box.mount_all(Static(markup, classes=f"indent-{level}") for level, markup in
                      summary(self.envelope, self.zone, name=self.candidate, at=self.at))
        options = self.query_one(OptionList)
        was = options.highlighted
        options.clear_options()
        scorable = [d for d in self.demonstrations() if d.analysed]
        options.add_options([Option(Text(f"Task {d.number}: {d.title}: checklist"
                                         f" {d.checklist_state()}"), id=d.item_id)
                             for d in scorable])
        options.display = bool(scorable)
        if scorable:
            options.highlighted = min(was or 0, len(scorable) - 1)
        hint = ("↑↓ scroll  tab to the tasks  c or enter score the highlighted task's"
                " checklist  escape close" if scorable else "↑↓ scroll  escape close")
        self.query_one("#info", Static).update(f"[dim]{hint}[/]")

    def highlighted(self) -> Demonstration | None:
        options = self.query_one(OptionList)
        if options.highlighted is None or not options.option_count:
            return None
        item_id = options.get_option_at_index(options.highlighted).id
        return next((d for d in self.demonstrations() if d.item_id == item_id), None)

    @on(OptionList.OptionSelected)
    def selected(self) -> None:
        self.action_score()

    def action_score(self) -> None:
        demo = self.highlighted()
        if demo is None:
            self.notify("This report has no demonstration checklist to score.")
            return

        def done(outcome: ChecklistOutcome | None) -> None:
            if outcome is not None:
                self.changed = True
                self.refresh_report()

        self.app.push_screen(ChecklistForm(self.client, self.session_id, demo), done)

    @work(exclusive=True, group="report")
    async def refresh_report(self) -> None:
        """Read the report again: the box rebuilt it with the new checklist."""
        info = self.query_one("#info", Static)
        try:
            self.envelope = await self.client.report(self.session_id)
        except Forbidden:
            info.update(f"[b]{REPORTS_FOR}[/]")
            return
        except ApiError as exc:
            if isinstance(exc, (Unreachable, Unauthorized)):  # the app shows the link
                self.post_message(ApiFailed(exc))
            info.update(f"[red]{explain(exc)}[/]")
            return
        self.show()
        self.loads += 1
        self.notify(f"Checklist scored: report revision {self.envelope['revision']}.")

    def action_close(self) -> None:
        self.dismiss(self.changed)
