"""Self-test: live microphone level, a camera snapshot drawn in the terminal with the
framing verdict, model check, reachability of central with TLS details, disk speed."""

from __future__ import annotations

import base64
from typing import Any, ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Static

from tui.client import ApiError
from tui.fmt import size, yes_no
from tui.halfblock import jpeg_to_text
from tui.screens.base import KioskScreen

METER_WIDTH = 18
FLOOR_DBFS = -60.0
CAMERA_COLUMNS, CAMERA_ROWS = 36, 9


def meter(level: float | None, width: int = METER_WIDTH) -> str:
    """A level in dBFS as a bar from -60 to 0 dBFS."""
    if level is None:
        return "[dim]" + "·" * width + "[/]"
    filled = round(max(0.0, min(1.0, (level - FLOOR_DBFS) / -FLOOR_DBFS)) * width)
    colour = "red" if level > -3 else "yellow" if level > -12 else "green"
    return f"[{colour}]{'█' * filled}[/][dim]{'·' * (width - filled)}[/]"


def mic_text(mic: dict[str, Any]) -> str:
    level, peak = mic.get("level_dbfs"), mic.get("peak_dbfs")
    figures = f" {level:6.1f} dBFS" if level is not None else "   -- dBFS"
    if peak is not None:
        figures += f"  peak {peak:.1f}"
    head = f"[b]Microphone[/] {yes_no(mic.get('ok'))} {mic.get('device') or ''}"
    tail = ""
    if mic.get("detail") and not mic.get("ok"):
        tail = f"\n[red]{escape(str(mic['detail']))}[/]"
    return f"{head}\n{meter(level)}{figures}{tail}"


def models_text(found: dict[str, Any]) -> str:
    lines = ["[b]Models[/]"]
    for r in found.get("results", []):
        ms = f" {r['ms']:.0f} ms" if r.get("ms") is not None else ""
        detail = f" [dim]{escape(str(r['detail']))}[/]" if r.get("detail") else ""
        lines.append(f" {yes_no(r.get('ok'))} {r.get('name')} ({r.get('kind')}){ms}{detail}")
    if len(lines) == 1:
        lines.append(" [yellow]no models installed[/]")
    return "\n".join(lines)


def network_text(found: dict[str, Any]) -> str:
    lines = ["[b]Network[/]"]
    for t in found.get("targets", []):
        ms = f" {t['ms']:.0f} ms" if t.get("ms") is not None else ""
        lines.append(f" {yes_no(t.get('ok'))} {t.get('name')} {t.get('host')}:{t.get('port')}{ms}")
        if t.get("detail"):
            lines.append(f"   [dim]{escape(str(t['detail']))}[/]")
        tls = t.get("tls")
        if tls:
            lines.append(f"   TLS {tls.get('version')} {tls.get('cipher')},"
                         f" {'verified' if tls.get('verified') else '[red]NOT verified[/]'}")
            lines.append(f"   peer {tls.get('peer_subject')}; issuer {tls.get('peer_issuer')}")
            lines.append(f"   certificate until {tls.get('not_after')}"
                         f" ({tls.get('days_left')} days left)")
    if len(lines) == 1:
        lines.append(" [yellow]no targets configured[/]")
    return "\n".join(lines)


def disk_text(found: dict[str, Any]) -> str:
    return (f"[b]Disk[/] {yes_no(found.get('ok'))} {found.get('path')}\n"
            f" write {found.get('write_mb_s', 0):.1f} MB/s, fsync {found.get('fsync_ms', 0):.1f}"
            f" ms, {size(found.get('free_bytes'))} free")


class SelfTestScreen(KioskScreen):
    MODE = "selftest"
    POLL_S = 0.25
    CSS_PATH = "selftest.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "camera", "Camera"),
        Binding("m", "models", "Models"),
        Binding("n", "network", "Network"),
        Binding("k", "disk", "Disk"),
    ]

    mic_polls: int = 0

    def compose(self) -> ComposeResult:
        yield from self.header()
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield Static("[b]Microphone[/]\n[dim]…[/]", id="mic")
                yield Static("[b]Camera[/] press c for a snapshot", id="camera")
                yield Static("", id="picture")
            with VerticalScroll(id="right"):
                yield Static("[b]Models[/] press m to check", id="models")
                yield Static("[b]Network[/] press n to check", id="network")
                yield Static("[b]Disk[/] press k to test write speed", id="disk")
        yield Footer(compact=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("models", "network", "disk") and self.refused("selftest"):
            return None
        return True

    def role_changed(self) -> None:
        why = self.refused("selftest")
        if why:
            for name in ("models", "network", "disk"):
                self.query_one(f"#{name}", Static).update(
                    f"[b]{name.capitalize()}[/] [yellow]disabled: {why}[/]")

    def reload(self) -> None:
        self.poll_microphone()

    @work(exclusive=True, group="mic")
    async def poll_microphone(self) -> None:
        try:
            mic = await self.client.microphone()
        except ApiError as exc:
            self.query_one("#mic", Static).update(f"[b]Microphone[/]\n[red]{self.failed(exc)}[/]")
            return
        self.query_one("#mic", Static).update(mic_text(mic))
        self.mic_polls += 1

    def action_camera(self) -> None:
        self.snapshot()

    @work(exclusive=True, group="camera")
    async def snapshot(self) -> None:
        view = self.query_one("#camera", Static)
        view.update("[b]Camera[/] taking a snapshot…")
        self.query_one("#picture", Static).update("")
        try:
            cam = await self.client.camera()
        except ApiError as exc:
            view.update(f"[b]Camera[/] [red]{self.failed(exc)}[/]")
            return
        head = f"[b]Camera[/] {yes_no(cam.get('ok'))} {cam.get('device') or ''}"
        framing = cam.get("framing")
        verdict = (f"\nframing: [b]{framing.get('verdict')}[/] {framing.get('advice')}"
                   if framing else "")
        detail = f"\n[red]{escape(str(cam['detail']))}[/]" if cam.get("detail") else ""
        view.update(head + verdict + detail)
        if cam.get("jpeg_base64"):
            try:
                picture = jpeg_to_text(base64.b64decode(cam["jpeg_base64"]), CAMERA_COLUMNS,
                                       CAMERA_ROWS)
            except ValueError as exc:
                view.update(f"{head}\n[red]{exc}[/]")
                return
            self.query_one("#picture", Static).update(picture)

    def action_models(self) -> None:
        self.run_check("models")

    def action_network(self) -> None:
        self.run_check("network")

    def action_disk(self) -> None:
        self.run_check("disk")

    @work(group="check")
    async def run_check(self, name: str) -> None:
        view = self.query_one(f"#{name}", Static)
        view.update(f"[b]{name.capitalize()}[/] checking…")
        calls = {"models": (self.client.check_models, models_text),
                 "network": (self.client.check_network, network_text),
                 "disk": (self.client.check_disk, disk_text)}
        call, show = calls[name]
        try:
            found = await call()
        except ApiError as exc:
            view.update(f"[b]{name.capitalize()}[/] [red]{self.failed(exc)}[/]")
            return
        view.update(show(found))
