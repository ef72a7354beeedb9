"""Times the command line shows people are on the site's clock, the zone named."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.site_time import shown


def test_shown_converts_utc_to_the_site_zone_and_names_it() -> None:
    assert shown("2026-03-05T08:20:07.123456+00:00", "Asia/Shanghai") == (
        "2026-03-05 16:20:07 Asia/Shanghai")
    assert shown("2026-03-05T08:20:07", "Asia/Seoul") == "2026-03-05 17:20:07 Asia/Seoul"
    assert shown(None, "Asia/Shanghai") is None
    assert shown("not a time", "UTC") == "not a time"


def test_sync_retry_and_status_speak_the_site_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KIOSK_SITE_TIME_ZONE", "Asia/Shanghai")
    assert main(["sync", "retry", "--reason", "link back"]) == 0
    out = capsys.readouterr().out
    assert "retry requested at " in out and " Asia/Shanghai;" in out
    assert main(["sync", "pause", "--reason", "metered day"]) == 0
    capsys.readouterr()
    assert main(["sync", "status"]) == 0
    out = capsys.readouterr().out
    assert "set by technician:console at " in out and "Asia/Shanghai" in out
    assert main(["sync", "status", "--json"]) == 0
    assert "Asia/Shanghai" not in capsys.readouterr().out  # the data stays in UTC
