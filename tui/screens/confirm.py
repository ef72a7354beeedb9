"""A confirmation that states the consequence and requires a reason (every staff action)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

NO_REASON = "A reason is required: say why in a few words; it is kept in the audit log."


@dataclass(frozen=True)
class Confirmed:
    reason: str
    value: str = ""


@dataclass(frozen=True)
class ValueField:
    """An extra input asked before the reason (e.g. a bandwidth); ``check`` returns an
    error sentence or None."""

    label: str
    placeholder: str
    check: Callable[[str], str | None]
    initial: str = ""


class ConfirmDialog(ModalScreen[Confirmed | None]):
    """Dismissed with the reason (and value) on confirm, None on cancel."""

    CSS_PATH = "confirm.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, consequence: str, items: list[str] | None = None,
                 *, confirm_label: str = "Confirm", value: ValueField | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.consequence = consequence
        self.items = items or []
        self.confirm_label = confirm_label
        self.value_field = value

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="title")
            yield Static(self.consequence, id="consequence")
            if self.items:
                shown = ", ".join(self.items[:8]) + (
                    f" and {len(self.items) - 8} more" if len(self.items) > 8 else "")
                yield Static(f"[dim]{shown}[/]", id="items")
            if self.value_field is not None:
                yield Label(self.value_field.label)
                yield Input(self.value_field.initial, placeholder=self.value_field.placeholder,
                            id="value")
            yield Input(placeholder="Reason (required; kept in the audit log)", id="reason")
            yield Static("", id="error")
            with Horizontal(id="buttons"):
                yield Button(self.confirm_label, variant="warning", id="confirm")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        first = "#value" if self.value_field is not None else "#reason"
        self.query_one(first, Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "value":
            self.query_one("#reason", Input).focus()
        else:
            self.confirm()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self.confirm()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def confirm(self) -> None:
        error = self.query_one("#error", Static)
        value = ""
        if self.value_field is not None:
            value = self.query_one("#value", Input).value.strip()
            problem = self.value_field.check(value)
            if problem:
                error.update(f"[red]{problem}[/]")
                self.query_one("#value", Input).focus()
                return
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            error.update(f"[red]{NO_REASON}[/]")
            self.query_one("#reason", Input).focus()
            return
        self.dismiss(Confirmed(reason, value))
