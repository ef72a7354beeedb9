"""The terminal UI shows times in the site's time zone, which the box tells it in whoami."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable
from tui_fixtures import AppFactory, drive, open_screen, until

from conftest import InviteFn, make_config
from device.config import KioskConfig
from tui.fmt import day, site_zone, when
from tui.widgets import StatusLine


@pytest.fixture
def config(tmp_path: Path) -> KioskConfig:
    return make_config(tmp_path / "data", KIOSK_SITE_TIME_ZONE="Asia/Shanghai")


def test_times_are_shown_in_the_site_zone_the_box_names(make_app: AppFactory,
                                                         invite: InviteFn) -> None:
    invite()  # the box's clock reads 2026-01-05 08:00 UTC: 16:00 in Shanghai
    app = make_app("admin")

    async def script(pilot: Any) -> None:
        audit = await open_screen(pilot, "a")
        await until(pilot, lambda: app.zone == "Asia/Shanghai", what="whoami's time zone")
        line = audit.query_one(StatusLine)
        await until(pilot, lambda: "times in Asia/Shanghai" in str(line.render()),
                    what="the status line to name the zone")
        table = audit.query_one(DataTable)
        await until(pilot, lambda: table.row_count > 0 and
                    str(table.get_row_at(0)[1]) == "01-05 16:00:00", what="a local time")
        sessions = await open_screen(pilot, "s")
        rows = sessions.query_one(DataTable)
        await until(pilot, lambda: rows.row_count == 1, what="the session")
        assert str(rows.get_row_at(0)[5]) == "01-05 16:00"

    drive(app, script)


def test_times_shown_before_the_box_named_its_zone_are_shown_again_in_it(
    make_app: AppFactory, invite: InviteFn
) -> None:
    invite()
    app = make_app("admin")
    answer = asyncio.Event()
    real_whoami = app.client.whoami

    async def late_whoami() -> Any:
        await answer.wait()
        return await real_whoami()

    app.client.whoami = late_whoami  # type: ignore[method-assign]

    async def script(pilot: Any) -> None:
        audit = await open_screen(pilot, "a")
        table = audit.query_one(DataTable)
        await until(pilot, lambda: table.row_count > 0, what="the audit entries")
        assert str(table.get_row_at(0)[1]) == "01-05 08:00:00"  # no zone known yet: UTC
        answer.set()
        await until(pilot, lambda: table.row_count > 0 and
                    str(table.get_row_at(0)[1]) == "01-05 16:00:00", what="the site's time")

    drive(app, script)


def test_stamps_are_formatted_in_the_given_zone() -> None:
    stamp = "2026-01-05T20:30:00.000000+00:00"
    assert when(stamp) == "01-05 20:30:00"
    assert when({"utc": stamp}, "Asia/Shanghai") == "01-06 04:30:00"
    assert when("2026-01-05T20:30:00Z", "Asia/Seoul") == "01-06 05:30:00"
    assert (day(stamp), day(stamp, "Asia/Shanghai")) == ("2026-01-05", "2026-01-06")
    assert when(None, "Asia/Shanghai") == "-" and day(None) == ""
    assert site_zone("Asia/Shanghai") == "Asia/Shanghai"
    assert site_zone(None) == site_zone("Mars/Olympus") == "UTC"  # shown as such
