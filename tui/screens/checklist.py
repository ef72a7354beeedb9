"""The checklist form of one demonstration: a point to tick per line, a reason (the box requires
one to change a checklist already scored), submit sends every point to the box."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, SelectionList, Static

from tui.client import ApiClient, ApiError, Forbidden, Unauthorized, Unreachable
from tui.report_models import ChecklistOutcome
from tui.report_text import Demonstration
from tui.roles import REPORTS_FOR
from tui.screens.base import ApiFailed, explain

RESCORE = "Already scored: give a reason to change it (kept in the audit log)."
FIRST = "Space ticks the highlighted point; a reason is optional the first time."


class ChecklistForm(ModalScreen[ChecklistOutcome | None]):
    """Dismissed with the box's answer once it accepted the checklist, None on cancel."""

    CSS_PATH = "checklist.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Submit"),
    ]

    def __init__(self, client: ApiClient, session_id: str, demo: Demonstration) -> None:
        super().__init__()
        self.client = client
        self.session_id = session_id
        self.demo = demo

    def compose(self) -> ComposeResult:
        demo = self.demo
        ticked = demo.checklist or {}
        with Vertical(id="dialog"):
            yield Label(f"Checklist of task {demo.number}: {escape(demo.title)}", id="title")
            yield Static(RESCORE if demo.checklist is not None else FIRST, id="hint")
            yield SelectionList[str](
                *((Text(demo.point_label(point)), point.get("id", ""),
                   ticked.get(point.get("id", ""), False)) for point in demo.points),
                id="points")
            yield Static(self.point_text(0), id="point")
            yield Input(placeholder="Reason (required to change a scored checklist)",
                        id="reason")
            yield Static("", id="error")
            with Horizontal(id="buttons"):
                yield Button("Submit", variant="warning", id="submit")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        points = self.query_one("#points", SelectionList)
        points.highlighted = 0 if self.demo.points else None
        points.focus()

    def on_selection_list_selection_highlighted(
        self, event: SelectionList.SelectionHighlighted[str]
    ) -> None:
        """The highlighted point in full: a long label does not fit the list's line."""
        self.query_one("#point", Static).update(self.point_text(event.selection_index))

    def point_text(self, index: int) -> str:
        points = self.demo.points
        if not 0 <= index < len(points):
            return ""
        return f"[dim]{index + 1}/{len(points)}[/] {escape(self.demo.point_label(points[index]))}"

    def points(self) -> dict[str, bool]:
        """Every point of the task, ticked or not, as the box wants them."""
        ticked = set(self.query_one("#points", SelectionList).selected)
        return {p.get("id", ""): p.get("id", "") in ticked for p in self.demo.points}

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "submit":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        reason = self.query_one("#reason", Input).value.strip() or None
        self.query_one("#error", Static).update("[dim]sending…[/]")
        self.send(self.points(), reason)

    @work(exclusive=True, group="checklist")
    async def send(self, points: dict[str, bool], reason: str | None) -> None:
        error = self.query_one("#error", Static)
        try:
            outcome = await self.client.score_checklist(self.session_id, self.demo.item_id,
                                                        points, reason)
        except Forbidden:
            error.update(f"[red]{REPORTS_FOR}[/]")
            return
        except ApiError as exc:
            if isinstance(exc, (Unreachable, Unauthorized)):  # the app shows the link
                self.post_message(ApiFailed(exc))
            error.update(f"[red]Refused: {explain(exc)}[/]")
            self.query_one("#reason", Input).focus()
            return
        self.dismiss(outcome)
