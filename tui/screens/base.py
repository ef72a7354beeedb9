"""What every screen shares: the client handed down, the screen bar and status line, the
role and the site's time zone read from the app, polling while the screen is shown, failures
posted up."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.markup import escape
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer

from tui.client import ApiClient, ApiError, Forbidden, MissingEndpoint, Unauthorized, Unreachable
from tui.roles import refusal
from tui.widgets import NavBar, StatusLine

if TYPE_CHECKING:
    from tui.app import KioskApp


class ApiFailed(Message):
    """A request failed in a way the whole app must show (box unreachable, token refused)."""

    def __init__(self, error: ApiError) -> None:
        super().__init__()
        self.error = error


def explain(error: ApiError) -> str:
    """One line for a failed request, in the API's own words where it gave them."""
    if isinstance(error, Forbidden):
        return escape(f"Refused: {error.detail}")
    if isinstance(error, (Unreachable, MissingEndpoint)):
        return escape(error.detail)
    return escape(f"{error.detail} ({error.status} {error.code})")


class KioskScreen(Screen[None]):
    """A top-level screen (one app mode). Subclasses set MODE and implement ``reload``."""

    MODE: ClassVar[str] = ""
    #: seconds between reloads while shown; None: only on entering the screen
    POLL_S: ClassVar[float | None] = None

    def __init__(self, client: ApiClient) -> None:
        super().__init__()
        self.client = client
        self._timer: Timer | None = None
        self._zone = "UTC"  # the time zone of the times on screen

    @property
    def kiosk(self) -> KioskApp:
        return cast("KioskApp", self.app)

    @property
    def role(self) -> str | None:
        who = self.kiosk.who
        return who["role"] if who else None

    def refused(self, action: str) -> str | None:
        return refusal(self.role, action)

    def header(self) -> ComposeResult:
        yield NavBar(self.MODE)
        yield StatusLine()

    def on_mount(self) -> None:
        self.watch(self.app, "who", self._link_changed, init=False)
        self.watch(self.app, "problem", self._link_changed)

    def _link_changed(self) -> None:
        line = self.query_one(StatusLine)
        line.who = self.kiosk.status_text()
        line.problem = self.kiosk.problem
        self.refresh_bindings()
        self.role_changed()
        if self.kiosk.zone != self._zone:  # show the times again, in the site's zone
            self._zone = self.kiosk.zone
            if self.is_current:
                self.reload()

    def role_changed(self) -> None:
        """Called when the signed-in role becomes known or the link state changes."""

    def on_screen_resume(self) -> None:
        self.reload()
        period = self.POLL_S if self.POLL_S is not None else None
        if period is None:
            return
        if self._timer is None:
            self._timer = self.set_interval(period * self.kiosk.speed, self.poll)
        else:
            self._timer.resume()

    def on_screen_suspend(self) -> None:
        if self._timer is not None:
            self._timer.pause()

    def reload(self) -> None:
        """Fetch what the screen shows (start a worker; never block)."""

    def poll(self) -> None:
        """A timer tick: reload unless the last reload is still under way (a slow box is
        not asked again and again)."""
        if not any(w.node is self and w.group in ("load", "mic") and not w.is_finished
                   for w in self.workers):
            self.reload()

    def failed(self, error: ApiError) -> str:
        """Post link-level failures up to the app; return the line to show in place."""
        if isinstance(error, (Unreachable, Unauthorized)):
            self.post_message(ApiFailed(error))
        return explain(error)
