"""The technician's terminal UI: screens switched by key, a link to kiosk-device kept alive."""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.reactive import reactive

from tui.client import ApiClient, ApiError, MissingEndpoint, Unauthorized, Unreachable
from tui.fmt import site_zone
from tui.models import Whoami
from tui.screens.audit import AuditScreen
from tui.screens.base import ApiFailed
from tui.screens.dashboard import DashboardScreen
from tui.screens.firstboot import FirstBootScreen
from tui.screens.help import HelpScreen
from tui.screens.logs import LogsScreen
from tui.screens.reports import ReportsScreen
from tui.screens.selftest import SelfTestScreen
from tui.screens.sessions import SessionsScreen
from tui.screens.sync import SyncScreen
from tui.widgets import SCREENS

LINK_CHECK_S = 2.0
TOKEN_HELP = "create one on the box with: kiosk token create --role technician --name NAME"


class KioskApp(App[None]):
    """``kiosk tui``. ``speed`` scales every polling period (tests run it faster)."""

    TITLE = "Interview kiosk"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"go('{mode}')", label, show=False) for mode, key, label in SCREENS),
        *(Binding(str(i), f"go('{mode}')", label, show=False)
          for i, (mode, _, label) in enumerate(SCREENS, 1)),
        Binding("question_mark", "help", "Help", show=False),
        Binding("q", "quit", "Quit", show=False),
    ]

    who: reactive[Whoami | None] = reactive(None)
    problem: reactive[str | None] = reactive(None)

    def __init__(self, client: ApiClient, *, speed: float = 1.0, first_boot: bool = True) -> None:
        super().__init__()
        self.client = client
        self.speed = speed
        self.first_boot = first_boot
        self._provision_checked = False
        for mode, screen in (("dashboard", DashboardScreen), ("sessions", SessionsScreen),
                             ("sync", SyncScreen), ("audit", AuditScreen),
                             ("selftest", SelfTestScreen), ("logs", LogsScreen),
                             ("reports", ReportsScreen)):
            self.add_mode(mode, lambda screen=screen: screen(self.client))  # type: ignore[misc]

    @property
    def zone(self) -> str:
        """The site's time zone, as the box tells it; every time shown is in it."""
        return site_zone(self.who.get("time_zone") if self.who else None)

    def status_text(self) -> str:
        if self.who is None:
            return f"connecting to {self.client.url}"
        return f"signed in as {self.who['name']} ({self.who['role']}), times in {self.zone}"

    async def on_mount(self) -> None:
        await self.switch_mode("dashboard")
        self.check_link()
        self.set_interval(LINK_CHECK_S * self.speed, self.check_link)

    async def on_unmount(self) -> None:
        await self.client.aclose()

    @work(exclusive=True, group="link")
    async def check_link(self) -> None:
        try:
            who = await self.client.whoami()
        except ApiError as exc:
            self.show_failure(exc)
            return
        self.problem = None
        if who != self.who:
            self.who = who
        if not self._provision_checked:
            self._provision_checked = True
            self.first_boot_check(who)

    @work(exclusive=True, group="first-boot")
    async def first_boot_check(self, who: Whoami) -> None:
        """Open the first-boot wizard if the box is not enrolled. A worker of its own: the
        next link check (which cancels the last one if still running, as on a slow box)
        must not cancel it; a failed check is tried again at the next link check."""
        if not self.first_boot or who["role"] not in ("technician", "admin"):
            return
        try:
            status = await self.client.provision()
        except MissingEndpoint:
            return
        except ApiError as exc:
            self._provision_checked = False
            self.show_failure(exc)
            return
        if not status.get("enrolled", True):
            await self.push_screen(FirstBootScreen(self.client, status))

    def show_failure(self, error: ApiError) -> None:
        if isinstance(error, Unreachable):
            self.problem = (f"kiosk-device not reachable at {self.client.url};"
                            f" retrying every {LINK_CHECK_S * self.speed:g} s")
        elif isinstance(error, Unauthorized):
            self.problem = f"staff token refused: {error.detail}; {TOKEN_HELP}"
        else:
            self.problem = f"kiosk-device: {error.detail}"

    def on_api_failed(self, message: ApiFailed) -> None:
        self.show_failure(message.error)

    async def action_go(self, mode: str) -> None:
        if isinstance(self.screen, FirstBootScreen | HelpScreen):
            return
        await self.switch_mode(mode)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.who["role"] if self.who else None))
