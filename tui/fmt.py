"""Small formatting helpers shared by the screens."""

from __future__ import annotations

from typing import Any


def size(n: float | None) -> str:
    """Bytes as a short human figure (``1.5 GB``)."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - the loop always returns


def age(seconds: float | None) -> str:
    """A duration as ``42 s``, ``5 min``, ``3 h 20 min`` or ``2 d 4 h``."""
    if seconds is None:
        return "?"
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def when(utc: Any) -> str:
    """An API stamp (``2026-01-05T08:00:00.000000+00:00`` or a stamp object) as
    ``01-05 08:00:00`` (UTC)."""
    if isinstance(utc, dict):
        utc = utc.get("utc")
    if not utc:
        return "-"
    text = str(utc)
    return f"{text[5:10]} {text[11:19]}" if len(text) >= 19 else text


def short_id(session_id: str | None) -> str:
    return (session_id or "-")[:8]


def yes_no(ok: bool | None, good: str = "ok", bad: str = "FAIL") -> str:
    """Rich markup for a check's result; None means unknown."""
    if ok is None:
        return "[dim]unknown[/]"
    return f"[green]{good}[/]" if ok else f"[red]{bad}[/]"
