"""The first-boot wizard end to end: enrolment with central's real enrolment listener, the
models step on a model store already in place (never downloading), the self-test, then the
dashboard; SVG snapshots of the enrol step at 80x24 and 120x40."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from model_fixtures import entries, models_copy
from provision_fixtures import Enrolling, audit_actions, enrolling, mode
from sync_fixtures import Pki
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, ProgressBar
from tui_fixtures import SPEED, AppFactory, click, drive, press_text, steady_cursors, until

from conftest import make_config
from device.composition import Kiosk
from device.config import KioskConfig
from device.selftest.install import job_for
from inference.models import installer
from inference.models.manifest import PypiSource, load_manifest
from provisioning import enrol as box_enrol
from tui.app import LINK_CHECK_S, KioskApp
from tui.client import ApiClient
from tui.screens.dashboard import DashboardScreen
from tui.screens.firstboot import FirstBootScreen

pytestmark = pytest.mark.integration

__all__ = ["enrolling", "models_copy"]  # fixtures shared with the API's own tests

SIZES = [(80, 24), (120, 40)]
SECRETS = ("device.key", "device.pem", "central-ca.pem", "central-signing.pub")


@pytest.fixture
def config(tmp_path: Path, models_copy: Path) -> KioskConfig:
    """The kiosk of :func:`conftest.kiosk`, its models in a store of this test's own."""
    return make_config(tmp_path / "data", KIOSK_ANALYSIS_MODELS_DIR=str(models_copy))


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """An install that would fetch a release file fails instead of reaching the network."""

    def refuse(source: PypiSource, where: Path, progress: Any = None) -> Path:
        raise AssertionError(f"the test tried to download {source.package}")

    monkeypatch.setattr(installer, "fetch", refuse)


def shown(wizard: FirstBootScreen, selector: str) -> str:
    return str(wizard.query_one(selector).render())


async def open_wizard(pilot: Pilot[None]) -> FirstBootScreen:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, FirstBootScreen)
                and "Step 1 of 3" in shown(app.screen, "#stepline"), what="the wizard")
    assert isinstance(app.screen, FirstBootScreen)
    return app.screen


async def fill(pilot: Pilot[None], wizard: FirstBootScreen, field: str, text: str, *,
               paste: bool = False) -> None:
    """Clear ``field`` and type ``text`` key by key (or paste it, as a long path would be)."""
    wizard.query_one(field).focus()
    await pilot.press("ctrl+a", "ctrl+k")
    if paste:
        driver = pilot.app._driver
        assert driver is not None
        driver.send_message(events.Paste(text))
        await pilot.pause()
    else:
        await press_text(pilot, text)


async def submit(pilot: Pilot[None], wizard: FirstBootScreen) -> str:
    """Enter in the token field, Enter in the CA field (which submits); the answer shown."""
    wizard.query_one("#token").focus()
    await pilot.press("enter", "enter")
    await until(pilot, lambda: shown(wizard, "#enrol-error") not in ("", "enrolling…"),
                timeout=20, what="the enrolment's answer")
    return shown(wizard, "#enrol-error")


async def skip_to_models(pilot: Pilot[None]) -> FirstBootScreen:
    wizard = await open_wizard(pilot)
    await click(pilot, "#skip-enrol")
    await until(pilot, lambda: wizard.step == "models", what="the models step")
    await until(pilot, lambda: "loading" not in shown(wizard, "#installed"),
                what="the model list")
    return wizard


# --- 1. enrol -----------------------------------------------------------------------------------

def test_a_used_token_is_refused_in_place_then_a_fresh_one_enrols_the_box(
        enrolling: Enrolling, pki: Pki, make_app: AppFactory, kiosk: Kiosk,
        tmp_path: Path) -> None:
    used = enrolling.token("box-6")
    box_enrol.enrol(make_config(tmp_path / "another-box"), enrolling.url, used,
                    ca_file=pki.ca.cert)
    fresh = enrolling.token("box-7")
    data = kiosk.config.data_dir
    app = make_app("technician", first_boot=True)

    async def script(pilot: Pilot[None]) -> None:
        wizard = await open_wizard(pilot)
        await fill(pilot, wizard, "#url", enrolling.url)
        await fill(pilot, wizard, "#ca", str(pki.ca.cert), paste=True)
        await fill(pilot, wizard, "#token", used)
        answer = await submit(pilot, wizard)
        assert "already used" in answer and "(400 enrolment-token-refused)" in answer, answer
        assert wizard.step == "enrol" and isinstance(app.screen, FirstBootScreen)
        assert not (await app.client.provision())["enrolled"]
        assert not (data / "enrolment.toml").exists()

        await fill(pilot, wizard, "#token", fresh)
        assert wizard.query_one("#ca", Input).value == str(pki.ca.cert)
        answer = await submit(pilot, wizard)
        assert answer == "Enrolled as box-7", answer
        await until(pilot, lambda: wizard.step == "models", what="the models step")
        assert "Step 2 of 3" in shown(wizard, "#stepline")
        status = await app.client.provision()
        assert status["enrolled"] and status["device_id"] == "box-7", status
        assert status["missing"] == [] and dict(status)["healthy"] is True, status

    drive(app, script, size=(120, 40))
    assert mode(data / "secrets") == 0o700
    for name in SECRETS:
        assert mode(data / "secrets" / name) == 0o600, name
    # not a secret: addresses and identity, readable by the kiosk's other services
    assert mode(data / "enrolment.toml") == 0o644
    assert 'id = "box-7"' in (data / "enrolment.toml").read_text()
    enrolled = [a for a in audit_actions(data) if a["action"] == "provision.enrol"]
    assert [(a["actor_role"], a["subject"]) for a in enrolled] == [("technician", "box-7")]


def test_the_wizard_opens_when_the_box_answers_slower_than_the_link_check(
        make_app: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a slow box the provisioning answer takes longer than the link check's period; the
    next link check must not cancel the first-boot check."""
    answer = ApiClient.provision

    async def slow(client: ApiClient) -> Any:
        await asyncio.sleep(4 * LINK_CHECK_S * SPEED)
        return await answer(client)

    monkeypatch.setattr(ApiClient, "provision", slow)
    app = make_app("technician", first_boot=True)

    async def script(pilot: Pilot[None]) -> None:
        await until(pilot, lambda: isinstance(app.screen, FirstBootScreen), timeout=20,
                    what="the wizard")

    drive(app, script)


def test_the_enrol_step_names_what_is_missing(make_app: AppFactory) -> None:
    app = make_app("technician", first_boot=True)

    async def script(pilot: Pilot[None]) -> None:
        wizard = await open_wizard(pilot)
        await click(pilot, "#do-enrol")
        await until(pilot, lambda: shown(wizard, "#enrol-error") != "", what="the refusal")
        assert "Enter central's URL and the enrolment token" in shown(wizard, "#enrol-error")
        assert wizard.step == "enrol"

    drive(app, script)


# --- 2. models, 3. self-test --------------------------------------------------------------------

def test_models_install_from_the_store_in_place_then_self_test_then_dashboard(
        make_app: AppFactory, kiosk: Kiosk, models_copy: Path) -> None:
    names = [m.name for m in load_manifest().models if not m.optional]
    app = make_app("technician", first_boot=True)

    async def script(pilot: Pilot[None]) -> None:
        wizard = await skip_to_models(pilot)
        assert all(name in shown(wizard, "#installed") for name in names)
        assert shown(wizard, "#install-state") == ""
        await pilot.press("enter")  # the install button has the focus
        await until(pilot, lambda: shown(wizard, "#install-state") == "installed",
                    timeout=20, what="the install to be done")
        bar = wizard.query_one(ProgressBar)
        assert bar.percentage == 1.0
        listed = shown(wizard, "#installed")
        assert listed.startswith("Installed:")
        assert all(name in listed for name in names), listed

        await click(pilot, "#skip-models")
        await until(pilot, lambda: wizard.step == "selftest", what="the self-test step")
        await pilot.press("enter")  # the self-test button has the focus
        await until(pilot, lambda: "Disk" in shown(wizard, "#results"), timeout=25,
                    what="the self-test")
        results = shown(wizard, "#results")
        for heading in ("Microphone", "Camera", "Models", "Network", "Disk"):
            assert heading in results, results
        assert all(name in results for name in names), results
        await pilot.press("enter")  # Finish has the focus once the self-test is done
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen),
                    what="the dashboard")

    drive(app, script, size=(120, 40))
    assert job_for(models_copy).status()["state"] == "done"
    for action in ("models.install", "selftest.models", "selftest.network", "selftest.disk"):
        assert [e["actor_role"] for e in entries(kiosk, action)] == ["technician"], action


def test_a_damaged_model_store_shows_why_and_claims_no_running_install(
        make_app: AppFactory, models_copy: Path) -> None:
    (models_copy / "index.json").write_text("{not json")
    app = make_app("technician", first_boot=True)

    async def script(pilot: Pilot[None]) -> None:
        wizard = await skip_to_models(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: job_for(models_copy).status()["state"] != "running",
                    timeout=20, what="the install to end")
        await pilot.pause(0.3)
        listed = shown(wizard, "#installed")
        assert "model index" in listed and "cannot be read" in listed, listed
        assert "kiosk models install" in listed and "503 model-store-unreadable" in listed
        assert "running" not in shown(wizard, "#install-state")
        assert wizard.step == "models"

    drive(app, script)
    failed = job_for(models_copy).status()
    assert failed["state"] == "failed" and "cannot be read" in failed["error"]


# --- snapshots ----------------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_enrol_step_snapshot(snap_compare: Any, make_app: AppFactory,
                             size: tuple[int, int]) -> None:
    app = make_app("technician", first_boot=True)

    async def run_before(pilot: Pilot[None]) -> None:
        assert isinstance(pilot.app, KioskApp)
        await open_wizard(pilot)
        steady_cursors(pilot.app)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
