"""Small formatting helpers shared by the screens."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


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


def site_zone(name: object) -> str:
    """The zone times are shown in: the box's ``time_zone`` (an IANA name), or UTC when the
    box sends none (an older box) or this machine does not know it. The status line names it."""
    if not isinstance(name, str) or not name:
        return "UTC"
    try:
        return ZoneInfo(name).key
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return "UTC"


def _local(utc: Any, zone: str) -> datetime | None:
    if isinstance(utc, dict):
        utc = utc.get("utc")
    if not utc:
        return None
    try:  # Python 3.10 reads no "Z"
        at = datetime.fromisoformat(str(utc).replace("Z", "+00:00"))
    except ValueError:
        return None
    at = at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)
    return at.astimezone(ZoneInfo(zone))


def when(utc: Any, zone: str = "UTC") -> str:
    """An API stamp (``2026-01-05T08:00:00.000000+00:00`` or a stamp object) as
    ``01-05 16:00:00`` in the site's time zone ``zone`` (from :func:`site_zone`)."""
    at = _local(utc, zone)
    if at is None:
        return str(utc) if utc and not isinstance(utc, dict) else "-"
    return f"{at:%m-%d %H:%M:%S}"


def day(utc: Any, zone: str = "UTC") -> str:
    """The site's date (``2026-01-05``) at an API stamp; empty when there is none."""
    at = _local(utc, zone)
    return "" if at is None else f"{at:%Y-%m-%d}"


def short_id(session_id: str | None) -> str:
    return (session_id or "-")[:8]


def yes_no(ok: bool | None, good: str = "ok", bad: str = "FAIL") -> str:
    """Rich markup for a check's result; None means unknown."""
    if ok is None:
        return "[dim]unknown[/]"
    return f"[green]{good}[/]" if ok else f"[red]{bad}[/]"


def clock(seconds: float | None) -> str:
    """A duration as ``m:ss`` (``h:mm:ss`` from an hour), as the report writes time taken."""
    if seconds is None:
        return "?"
    total = max(int(seconds + 1e-9), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def moment(utc: Any, zone: str = "UTC") -> str:
    """An API stamp as the site's date and time to the minute (``2026-01-05 16:00``)."""
    at = _local(utc, zone)
    return "-" if at is None else f"{at:%Y-%m-%d %H:%M}"
