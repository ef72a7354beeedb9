"""The touchscreen's language picker offers only the languages the box can analyse, and a
check-in it cannot analyse is explained in the candidate's language (real Chromium).

The box and its stand-in speech models come from :mod:`test_language_gate`. This file sorts
after the terminal UI's tests: Playwright's session-wide browser keeps an event loop in the
main thread, which the Textual tests' ``asyncio.run`` cannot share.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from language_fixtures import ZH_ONLY, config, data, install_speech, models, zh_only
from ui_fixtures import UiPage, UiServer, strings

from conftest import ADMIN, InviteFn, LiveServer
from device.composition import Kiosk
from device.jobs.installed import import_package

__all__ = ["config", "models"]  # the Korean-only box of test_language_gate


@pytest.mark.integration
def test_the_language_picker_lists_only_what_the_box_can_analyse(
        open_page: Any, kiosk: Kiosk, live: LiveServer, invite: InviteFn, models: Path,
        tmp_path: Path) -> None:
    import_package(kiosk.store, data(zh_only()), "zh.json", ADMIN.actor)  # before the gate
    code = invite(job_id=ZH_ONLY).invite_code
    assert code
    ui: UiPage = open_page(UiServer(kiosk, live))
    picker = ui.page.locator("button.language")
    assert [b.get_attribute("data-lang") for b in picker.all()] == ["ko"]
    ui.check_in("ko", code)
    ko = strings()["ko"]
    said = ko["languageUnavailable"].replace("{language}", ko["languageName"])
    ui.page.get_by_text(said).wait_for()
    assert ui.page.get_by_text(ko["askStaff"]).is_visible(), "no language left to choose"
    assert ui.screen() == "checkin"
    install_speech(models, tmp_path, "en")
    ui.tap(ko["changeLanguage"])
    ui.page.locator("button.language[data-lang='en']").wait_for()
    assert [b.get_attribute("data-lang") for b in picker.all()] == ["en", "ko"]
