"""Times in the command line's text output as the site's clock shows them, the zone named.

The box keeps every time in UTC; people at the site read their own clock. ``--json`` output
keeps UTC, as the data does.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo


def shown(value: str | datetime | None, zone: str) -> str | None:
    """``value`` (a datetime or an ISO 8601 text; no offset means UTC) as
    ``2026-03-05 16:20:07 Asia/Shanghai`` in the IANA zone ``zone``; None stays None and a
    text that is not a time is returned as it is."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        at = value
    at = at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M:%S} {zone}"


__all__ = ["shown"]
