"""Sessions: filter, select, and pause / resume / terminate / revoke / undo with a reason;
a session's answers with their analysis."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import DataTable, Footer, Input, Select, Static

from tui.client import ApiClient, ApiError
from tui.fmt import short_id, when
from tui.models import CONSEQUENCES, STATES, SessionDetail, SessionRow
from tui.screens.answers import AnswersView
from tui.screens.base import KioskScreen
from tui.screens.confirm import ConfirmDialog, Confirmed
from tui.screens.results import ActionResults, ReasonsSummary

LABELS = {"pause": "Pause", "resume": "Resume", "terminate": "Terminate", "revoke": "Revoke",
          "undo_terminate": "Undo terminate"}
SUMMARY_DAYS = 7


class ActionsPanel(Static):
    """What can be done to the highlighted session or the selection, and why not."""

    selected: reactive[int] = reactive(0)
    detail: reactive[SessionDetail | None] = reactive(None, always_update=True)
    role_refusal: reactive[str | None] = reactive(None)

    def watch_selected(self) -> None:
        self._show()

    def watch_detail(self) -> None:
        self._show()

    def watch_role_refusal(self) -> None:
        self._show()

    def _show(self) -> None:
        lines = []
        if self.selected:
            lines.append(f"[b]{self.selected} selected[/]: actions apply to all of them"
                         " (space toggles)")
        if self.role_refusal:
            lines.append(f"[red]Session actions disabled: {self.role_refusal}[/]")
        elif self.detail is not None and "actions" in self.detail:
            acts = self.detail["actions"]
            can = [LABELS[a].lower() for a, s in acts.items() if s["available"]]
            lines.append(f"{short_id(self.detail['id'])}: can "
                         + (", ".join(can) if can else "[dim]nothing[/]"))
            for action, state in acts.items():
                if not state["available"] and len(lines) < 4:
                    lines.append(f"  [dim]{LABELS[action].lower()}: {state['why_not']}[/]")
        self.update("\n".join(lines) or "[dim]no session highlighted[/]")


class SessionsScreen(KioskScreen):
    MODE = "sessions"
    POLL_S = 5.0
    CSS_PATH = "sessions.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "mark", "Select"),
        Binding("p", "act('pause')", "Pause"),
        Binding("r", "act('resume')", "Resume"),
        Binding("x", "act('terminate')", "Terminate"),
        Binding("v", "act('revoke')", "Revoke"),
        Binding("u", "act('undo_terminate')", "Undo"),
        Binding("w", "summary", "Why"),
        Binding("i", "answers", "Answers"),
        Binding("slash", "find", "Find", show=False),
        Binding("escape", "back", "Table", show=False),
    ]

    rows: list[SessionRow]
    selected: set[str]
    loads: int = 0

    def __init__(self, client: ApiClient) -> None:
        super().__init__(client)
        self.rows = []
        self.selected = set()
        self.jobs_loaded = False

    def compose(self) -> ComposeResult:
        yield from self.header()
        with Horizontal(id="filters"):
            yield Select([(s, s) for s in STATES], prompt="any state", id="state")
            yield Select([], prompt="any job", id="job")
            yield Input(placeholder="/ find: id, candidate, reason", id="text")
        yield DataTable(id="table", cursor_type="row", zebra_stripes=True)
        yield ActionsPanel(id="actions")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one(DataTable)
        table.add_column(" ", key="sel", width=1)
        for key, label in (("id", "Session"), ("who", "Candidate"), ("job", "Job"),
                           ("state", "State"), ("since", "Since"), ("reason", "Reason")):
            table.add_column(label, key=key)
        table.focus()

    def role_changed(self) -> None:
        self.query_one(ActionsPanel).role_refusal = self.refused("pause")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act" and parameters and self.refused(str(parameters[0])):
            return None  # shown disabled; the panel says why
        if action == "answers" and self.refused("results"):
            return None
        return True

    # --- loading ------------------------------------------------------------------------

    def reload(self) -> None:
        self.load()

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        state = self.query_one("#state", Select).value
        job = self.query_one("#job", Select).value
        try:
            if not self.jobs_loaded:
                jobs = await self.client.jobs()
                self.query_one("#job", Select).set_options([(j["id"], j["id"]) for j in jobs])
                self.jobs_loaded = True
            rows = await self.client.sessions(
                state=state if isinstance(state, str) else None,
                job_id=job if isinstance(job, str) else None)
        except ApiError as exc:
            self.query_one(ActionsPanel).update(f"[red]{self.failed(exc)}[/]")
            return
        self.rows = rows
        self.selected &= {r["id"] for r in rows}
        self.show_rows()
        self.loads += 1

    def shown_rows(self) -> list[SessionRow]:
        text = self.query_one("#text", Input).value.strip().lower()
        if not text:
            return self.rows
        return [r for r in self.rows if text in " ".join(str(r.get(k) or "") for k in (
            "id", "candidate_id", "display_name", "job_id", "state", "state_reason")).lower()]

    def show_rows(self) -> None:
        table = self.query_one(DataTable)
        current = self.current_id()
        table.clear()
        zone = self.kiosk.zone
        for r in self.shown_rows():
            since = when(r.get("state_since"), zone)
            table.add_row(self._mark(r["id"]), short_id(r["id"]),
                          (r.get("display_name") or r.get("candidate_id", ""))[:14],
                          r.get("job_id", "")[:18], r.get("state", ""), since[:11],
                          (r.get("state_reason") or "")[:40],
                          key=r["id"])
        if current is not None and current in table.rows:
            table.move_cursor(row=table.get_row_index(current))
        self.query_one(ActionsPanel).selected = len(self.selected)
        self.describe(self.current_id())

    def _mark(self, session_id: str) -> Text:
        return Text("✓", style="bold green") if session_id in self.selected else Text(" ")

    def current_id(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(key.value) if key.value is not None else None

    @on(DataTable.RowHighlighted)
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.describe(str(event.row_key.value) if event.row_key.value is not None else None)

    @work(exclusive=True, group="detail")
    async def describe(self, session_id: str | None) -> None:
        panel = self.query_one(ActionsPanel)
        if session_id is None or self.refused("pause"):
            panel.detail = None
            return
        try:
            panel.detail = await self.client.session(session_id)
        except ApiError as exc:
            panel.update(f"[red]{self.failed(exc)}[/]")

    @on(DataTable.RowSelected)
    def selected_row(self) -> None:
        self.action_answers()

    @on(Select.Changed)
    def filter_changed(self) -> None:
        self.load()

    @on(Input.Changed, "#text")
    def text_changed(self) -> None:
        self.show_rows()

    @on(Input.Submitted, "#text")
    def text_done(self) -> None:
        self.query_one(DataTable).focus()

    # --- actions ------------------------------------------------------------------------

    def action_find(self) -> None:
        self.query_one("#text", Input).focus()

    def action_back(self) -> None:
        self.query_one(DataTable).focus()

    def action_mark(self) -> None:
        session_id = self.current_id()
        if session_id is None:
            return
        self.selected ^= {session_id}
        table = self.query_one(DataTable)
        table.update_cell(session_id, "sel", self._mark(session_id))
        self.query_one(ActionsPanel).selected = len(self.selected)

    def targets(self) -> list[str]:
        if self.selected:
            return [r["id"] for r in self.rows if r["id"] in self.selected]
        current = self.current_id()
        return [current] if current else []

    def action_act(self, action: str) -> None:
        if self.refused(action):
            return
        targets = self.targets()
        if not targets:
            self.notify("No session to act on: highlight one or select some with space.")
            return
        label = LABELS[action]
        noun = "session" if len(targets) == 1 else f"{len(targets)} sessions"
        dialog = ConfirmDialog(f"{label} {noun}?", CONSEQUENCES[action],
                               [short_id(t) for t in targets], confirm_label=label)

        def done(confirmed: Confirmed | None) -> None:
            if confirmed is not None:
                self.apply(action, targets, confirmed.reason)

        self.app.push_screen(dialog, done)

    @work(group="act")
    async def apply(self, action: str, targets: list[str], reason: str) -> None:
        label = LABELS[action]
        try:
            outcome = await self.client.act(action, targets, reason)
        except ApiError as exc:
            await self.app.push_screen(ActionResults(label, None, self.failed(exc)))
            return
        self.selected.clear()
        await self.app.push_screen(ActionResults(label, outcome))
        self.load()

    def action_summary(self) -> None:
        self.show_summary()

    @work(group="summary")
    async def show_summary(self) -> None:
        try:
            rows = await self.client.reasons(SUMMARY_DAYS)
        except ApiError as exc:
            self.query_one(ActionsPanel).update(f"[red]{self.failed(exc)}[/]")
            return
        await self.app.push_screen(ReasonsSummary(rows, SUMMARY_DAYS))

    def action_answers(self) -> None:
        if (why := self.refused("results")) is not None:
            self.notify(why, severity="warning")
            return
        session_id = self.current_id()
        if session_id is None:
            self.notify("No session highlighted.")
            return
        self.show_answers(session_id)

    @work(exclusive=True, group="answers")
    async def show_answers(self, session_id: str) -> None:
        try:
            answers = await self.client.analysis(session_id)
        except ApiError as exc:
            self.query_one(ActionsPanel).update(f"[red]{self.failed(exc)}[/]")
            return
        await self.app.push_screen(AnswersView(session_id, answers))
