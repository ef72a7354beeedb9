"""Help: every key, and what the signed-in role may do."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.roles import RULES, refusal

KEYS = """[b]Screens[/]  d/1 dashboard  s/2 sessions  y/3 sync  a/4 audit  t/5 self-test  l/6 logs
           e/7 reports  ? this help  q quit
[b]Sessions[/] space select  p pause  r resume  x terminate  v revoke  u undo terminate
           w why paused/ended this week  i or enter the answers and their analysis
           / find  escape back to the table
[b]Sync[/]     r retry now  p pause/resume sending  m metered  b bandwidth cap
[b]Audit[/]    v verify the chain  o older entries  g reload  / filter
[b]Self-test[/] c camera snapshot  m models  n network  k disk speed
[b]Logs[/]     v switch service  p pause/follow  c clear
[b]Reports[/]  o or enter open  p pending checklists only  g reload
           in a report: c or enter score the highlighted task's checklist
           (space ticks, tab moves, enter in the reason or ctrl+s submits)
Every action asks for a reason, kept in the audit log; escape cancels."""


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"), Binding("question_mark", "close", "Close"),
        Binding("q", "close", "Close", show=False)]

    def __init__(self, role: str | None) -> None:
        super().__init__()
        self.role = role

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Static(KEYS, id="keys")
            yield Static(self.role_text(), id="role")

    def role_text(self) -> str:
        if self.role is None:
            return "[dim]Role not known yet (kiosk-device not reached).[/]"
        lines = [f"[b]As {self.role}[/]"]
        for action in RULES:
            why = refusal(self.role, action)
            lines.append(f"  [red]✘[/] {why}" if why else
                         f"  [green]✔[/] may {RULES[action][1]}")
        return "\n".join(lines)

    def action_close(self) -> None:
        self.dismiss(None)
