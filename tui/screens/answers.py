"""A session's answers: each one's analysis and, for a spoken answer, how well its speech was
recognised and why its content was not assessed (the box's wording, as in the report)."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui.fmt import short_id
from tui.models import AnswerAnalysis

STATUS_STYLE = {"done": "green", "failed": "red", "pending": "yellow", "running": "yellow"}


def answer_lines(answers: list[AnswerAnalysis]) -> str:
    """Rich markup: a line per answer (item, take, analysis status, recognition quality),
    then why its analysis failed or its content was not assessed, when it was not."""
    if not answers:
        return "No answers recorded yet."
    lines = []
    for a in answers:
        status = a.get("status", "?")
        style = STATUS_STYLE.get(status, "dim")
        head = (f"[b]{escape(a.get('item_id', '?'))}[/] take {a.get('attempt', 1)}"
                f"  [{style}]{escape(status.replace('_', ' '))}[/]")
        if a.get("answer_state", "finished") != "finished":
            head += f" [dim]({escape(str(a.get('answer_state')))})[/]"
        if a.get("kind") == "demonstration":
            head += "  [dim]demonstration[/]"
        elif status == "done":
            quality = a.get("recognition_quality")
            head += (f"  recognition quality {quality:.2f}" if quality is not None
                     else "  [dim]no recognition quality[/]")
        lines.append(head)
        if status == "failed":
            error = str(a.get("error") or "analysis failed").splitlines()[0]
            lines.append(f"  [red]failed: {escape(error)}[/]")
        elif a.get("not_assessed"):
            lines.append(f"  [yellow]not assessed: {escape(str(a['not_assessed']))}[/]")
    return "\n".join(lines)


class AnswersView(ModalScreen[None]):
    """Read-only: the answers of one session as the box last reported them."""

    CSS_PATH = "answers.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"), Binding("enter", "close", "Close", show=False)]

    def __init__(self, session_id: str, answers: list[AnswerAnalysis]) -> None:
        super().__init__()
        self.session_id = session_id
        self.answers = answers

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Answers of session {short_id(self.session_id)}: analysis", id="title")
            with VerticalScroll(id="scroll"):
                yield Static(answer_lines(self.answers), id="answers")
            yield Static("[dim]enter or escape closes[/]")

    def action_close(self) -> None:
        self.dismiss(None)
