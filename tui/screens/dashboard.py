"""Dashboard: device health, sync, today's sessions. Widgets are updated in place."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.containers import Grid
from textual.reactive import reactive
from textual.widgets import Footer, Static

from tui.client import ApiError, MissingEndpoint
from tui.fmt import age, day, size, when, yes_no
from tui.models import STATES, Health, Healthz, SyncStatus
from tui.screens.base import KioskScreen


def _row(label: str, value: str) -> str:
    return f"[b]{label:<11}[/]{value}"


class HealthPanel(Static):
    """Camera, microphone, CPU, memory, disk, models, speech languages, analysis, clock."""

    health: reactive[Health | None] = reactive(None, always_update=True, layout=True)

    def watch_health(self, health: Health | None) -> None:
        if health is None:
            self.update("[dim]waiting for kiosk-device…[/]")
            return
        devices = health.get("devices", {})
        system = health.get("system", {})
        lines = [_device("Camera", devices.get("camera")),
                 _device("Microphone", devices.get("microphone"))]
        temp = system.get("cpu_temperature_c")
        cpu = f"{temp:.1f} °C  " if temp is not None else ""
        lines.append(_row("CPU", f"{cpu}load {system.get('load1', 0):.2f}"
                                 f"/{int(system.get('cpus', 1))}"))
        if system.get("memory_total"):
            lines.append(_row("Memory", f"{size(system.get('memory_available'))} free"
                                        f" of {size(system['memory_total'])}"))
        lines.append(_row("Disk", f"{size(system.get('disk_free'))} free"
                                  + (f" of {size(system['disk_total'])}"
                                     if system.get("disk_total") else "")))
        models = health.get("models")
        if models is not None:
            bad = [m["name"] for m in models if not m.get("ok")]
            text = (f"[red]{len(bad)} of {len(models)} failing: {', '.join(bad)}[/]" if bad
                    else f"[green]{len(models)} ok[/]" if models else "[yellow]none installed[/]")
            lines.append(_row("Models", text))
        if "speech" in health:
            lines.append(_row("Speech", _speech(health["speech"])))
        if "analysis" in health:
            lines.append(_analysis(health["analysis"]))
        clock = health.get("clock", {})
        lines.append(_row("Clock", yes_no(clock.get("synchronized"), "synchronised",
                                          "NOT synchronised")))
        self.update("\n".join(lines))


def _speech(speech: dict[str, Any]) -> str:
    """The languages the box can analyse, and those its jobs offer that it cannot."""
    gate = speech.get("gate")
    if gate == "off":
        return "[dim]analysis off[/]"
    if gate == "unset":
        return "[yellow]no model installed[/]"
    if gate == "unreadable":
        return "[red]model index unreadable[/]"
    languages = speech.get("languages") or []
    text = ", ".join(languages) if languages else "[red]none[/]"
    disabled = list(dict.fromkeys(lang for job in speech.get("jobs") or []
                                  for lang in job.get("languages_disabled", [])))
    if disabled:
        text += f"  [yellow]not {', '.join(disabled)}[/]"
    return text


def _analysis(analysis: dict[str, Any]) -> str:
    """Failed analyses (red) with the last error's first words, and the queue."""
    failed = int(analysis.get("failed") or 0)
    queued = int(analysis.get("pending") or 0) + int(analysis.get("running") or 0)
    text = f"[red]{failed} failed[/]" if failed else "[green]none failed[/]"
    if queued:
        text += f", {queued} queued"
    if not analysis.get("enabled", True):
        text = "[dim]off[/]" + (f", {text}" if failed else "")
    last = analysis.get("last_failure")
    if failed and last and last.get("error"):
        first = str(last["error"]).splitlines()[0]
        text += f"\n  [dim]{escape(first[:33] + '…' if len(first) > 34 else first)}[/]"
    return _row("Analysis", text)


def _device(label: str, dev: dict[str, Any] | None) -> str:
    if not dev:
        return _row(label, "[dim]unknown[/]")
    if dev.get("ok") is None:
        state = f"[dim]{dev.get('state') or 'off'}[/]"
    else:
        state = yes_no(dev["ok"], "ok", str(dev.get("state") or "FAIL").upper())
    level = dev.get("level_dbfs")
    extra = f"  {level:.1f} dBFS" if level is not None else ""
    detail = ""
    if dev.get("detail") and not dev.get("ok"):  # its first clause; the self-test has it all
        first = str(dev["detail"]).split(";")[0]
        detail = f"\n  [dim]{escape(first[:33] + '…' if len(first) > 34 else first)}[/]"
    return _row(label, state + extra + detail)


class SyncPanel(Static):
    """Link state, outbox depth by kind, oldest unsent, last success and error."""

    status: reactive[SyncStatus | None] = reactive(None, always_update=True, layout=True)
    #: the site's time zone, set by the screen before each status
    zone: str = "UTC"

    def watch_status(self, status: SyncStatus | None) -> None:
        if status is None:
            self.update("[dim]waiting for kiosk-device…[/]")
            return
        links = status.get("links")
        lines = []
        if links is None:
            lines.append(_row("Link", "[dim]unknown (kiosk-device has no sync status)[/]"))
        elif not links:
            lines.append(_row("Link", "[yellow]sync agent not running[/]"))
        for link in links or []:
            colour = "green" if link.get("state") == "connected" else "yellow"
            lines.append(_row("Link", f"{link.get('transport')} [{colour}]{link.get('state')}"
                                      f"[/] since {when(link.get('since'), self.zone)}"))
        depth = status.get("outbox_depth", {})
        total = sum(depth.values())
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(depth.items()))
        lines.append(_row("Outbox", f"{total} waiting" + (f": {kinds}" if kinds else "")))
        oldest = status.get("oldest_unsent")
        if oldest:
            lines.append(_row("Oldest", f"{age(oldest.get('age_s'))} ({oldest.get('kind')})"))
        if "last_success" in status:
            lines.append(_row("Last ok", when(status.get("last_success"), self.zone)))
            error = status.get("last_error")
            said = (f"[red]{when(error.get('at'), self.zone)}"
                    f" {escape(str(error.get('message')))}[/]") if error else "-"
            lines.append(_row("Last error", said))
        control = status.get("control")
        if control:
            flags = [("[yellow]paused[/]" if control.get("paused") else "sending"),
                     ("metered" if control.get("metered") else "unmetered"),
                     (f"{control.get('bandwidth_kbps')} kbit/s" if control.get("bandwidth_kbps")
                      else "no bandwidth cap")]
            lines.append(_row("Control", ", ".join(flags)))
        self.update("\n".join(lines))


class TodayPanel(Static):
    """Today's sessions by state and open alerts."""

    counts: reactive[dict[str, int] | None] = reactive(None, always_update=True, layout=True)
    day: reactive[str] = reactive("")
    alerts: reactive[list[dict[str, Any]]] = reactive(list, always_update=True)

    def watch_counts(self) -> None:
        self._show()

    def watch_alerts(self) -> None:
        self._show()

    def _show(self) -> None:
        if self.counts is None:
            self.update("[dim]waiting for kiosk-device…[/]")
            return
        total = sum(self.counts.values())
        parts = [f"{state} {self.counts[state]}" for state in STATES if self.counts.get(state)]
        lines = [f"[b]{total}[/] sessions created {self.day}" + (": " if parts else ""),
                 "  " + ", ".join(parts) if parts else ""]
        if self.alerts:
            for alert in self.alerts[:3]:
                what = escape(f"{alert.get('kind')}: {alert.get('detail')}")
                lines.append(f"[red]alert[/] {what}")
        else:
            lines.append("[green]no open alerts[/]")
        self.update("\n".join(line for line in lines if line))


class DashboardScreen(KioskScreen):
    MODE = "dashboard"
    POLL_S = 2.0
    CSS_PATH = "dashboard.tcss"

    loads: int = 0

    def compose(self) -> ComposeResult:
        yield from self.header()
        with Grid(id="panels"):
            yield HealthPanel(id="health")
            yield SyncPanel(id="sync")
            yield TodayPanel(id="today")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(HealthPanel).border_title = "Device"
        self.query_one(SyncPanel).border_title = "Sync"
        self.query_one(TodayPanel).border_title = "Today"
        self.query_one(HealthPanel).health = None
        self.query_one(SyncPanel).status = None
        self.query_one(TodayPanel).counts = None

    def reload(self) -> None:
        self.load()

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        try:
            healthz = await self.client.healthz()
            health = await self._health(healthz)
            status = await self._sync()
            sessions = await self.client.sessions(limit=1000)
            alerts = await self.client.alerts()
        except ApiError as exc:
            self.failed(exc)
            return
        zone = self.kiosk.zone  # "today" is the site's day
        today_is = day(healthz.get("clock", {}).get("utc"), zone)
        self.query_one(HealthPanel).health = health
        sync = self.query_one(SyncPanel)
        sync.zone = zone
        sync.status = status
        today = self.query_one(TodayPanel)
        today.day = today_is
        today.alerts = alerts
        today.counts = dict(Counter(s["state"] for s in sessions
                                    if day(s.get("created"), zone) == today_is))
        self.loads += 1

    async def _health(self, healthz: Healthz) -> Health:
        try:
            return await self.client.health()
        except MissingEndpoint:
            pass
        capture = healthz.get("capture", {})
        storage = healthz.get("storage", {})
        system = dict(healthz.get("system", {}))
        system["disk_free"] = storage.get("disk_free_bytes")
        devices: dict[str, dict[str, Any]] = {}
        for name in ("camera", "microphone"):
            if capture.get("enabled", True) and name in capture:
                dev = capture[name]
                devices[name] = {"ok": dev.get("ok"), "state": dev.get("state"),
                                 "detail": dev.get("detail"),
                                 "level_dbfs": (dev.get("stats") or {}).get("level_dbfs")}
        return {"devices": devices, "system": system,
                "clock": {"synchronized": healthz.get("clock", {}).get("synced")}}

    async def _sync(self) -> SyncStatus:
        try:
            return await self.client.sync_status()
        except MissingEndpoint:
            return {"outbox_depth": await self.client.outbox()}
