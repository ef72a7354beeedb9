"""Widgets every screen shows: the screen bar and the status line."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

#: (mode, key, label) in the order of the screen bar and the number keys.
SCREENS = (
    ("dashboard", "d", "Dashboard"),
    ("sessions", "s", "Sessions"),
    ("sync", "y", "Sync"),
    ("audit", "a", "Audit"),
    ("selftest", "t", "Self-test"),
    ("logs", "l", "Logs"),
    ("reports", "e", "Reports"),
)
#: the bar's layouts, widest first: (gap between screens, the help and quit hint)
LAYOUTS = (("  ", "? Help  q Quit"), (" ", "? Help  q Quit"), (" ", "? Help"), (" ", "?"))


class NavBar(Static):
    """The screens and their keys, the current one highlighted."""

    DEFAULT_CSS = """
    NavBar { height: 1; background: $panel; }
    """

    def __init__(self, current: str) -> None:
        super().__init__(id="nav")
        self.current = current

    def on_mount(self) -> None:
        self.update(self.text(self.size.width or 200))

    def on_resize(self) -> None:
        self.update(self.text(self.size.width))

    def text(self, width: int) -> Text:
        """The widest layout that fits ``width`` (an 80-column terminal gets a tighter one)."""
        for gap, hint in LAYOUTS:
            text = Text(" ")
            for mode, key, label in SCREENS:
                style = "bold reverse" if mode == self.current else ""
                text.append(f"{key}", style=style or "bold underline")
                text.append(f" {label}", style=style)
                text.append(gap)
            text.append(" " * (2 - len(gap)) + hint, style="dim")
            if text.cell_len <= width:
                break
        return text


class StatusLine(Static):
    """Who is signed in where, or why the box cannot be reached."""

    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; color: $text-muted; }
    StatusLine.-down { background: $error; color: $text; text-style: bold; }
    """

    who: reactive[str] = reactive("")
    problem: reactive[str | None] = reactive(None)

    def watch_who(self) -> None:
        self._show()

    def watch_problem(self) -> None:
        self._show()

    def _show(self) -> None:
        self.set_class(self.problem is not None, "-down")
        self.update(self.problem if self.problem is not None else self.who)
