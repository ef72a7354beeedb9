"""A TLS handshake that fails while the clock is plainly wrong says so: "the clock is
<date>; set the time", in the link state (``kiosk sync status``, the TUI's sync screen
through ``GET /api/v1/staff/sync``) and in the log.

Every handshake failure is real, checked by OpenSSL on the real clock: the box trusts a
CA that did not issue central's certificate, or central's certificate starts tomorrow.
Only the clock the agent checks the failure against is a stand-in, handed to the agent.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from api_helpers import staff_headers
from sync_fixtures import Pki
from sync_harness import Central, box_env, link_state, running_agent, wait_until

from central import pki as pki_module
from central.broker import Mosquitto
from conftest import Served
from device.config import KioskConfig
from device.config_loader import load_config
from kiosk import cli
from sync_agent.clock_check import BUILT, ca_valid_from, clock_advice

pytestmark = pytest.mark.integration

UTC = dt.timezone.utc


def stand_in_clock(at: dt.datetime) -> Callable[[], dt.datetime]:
    """A wall clock stuck at ``at``, for the agent's clock check only."""
    return lambda: at


@pytest.fixture
def central(tmp_path: Path, pki: Pki, broker: Mosquitto) -> Iterator[Central]:
    c = Central(tmp_path / "central", pki, broker.port, https=False)
    yield c
    c.close()


@pytest.fixture
def refused_box(tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central
                ) -> tuple[KioskConfig, dict[str, str]]:
    """A box whose TLS handshake with the broker really fails (it trusts another CA)."""
    env = box_env(tmp_path / "box", pki, "dev-1", broker_port=broker.port,
                  key_file=central.key_file, ca_file=pki.wrong_ca.cert)
    return load_config(None, env), env


def offline_detail(config: KioskConfig, transport: str = "mqtt") -> str:
    """The reason the running agent gives for being offline, once it has given one."""
    found: list[str] = []

    def offline() -> bool:
        state = link_state(config.db_path, transport)
        if state is None or state["state"] != "offline":
            return False
        found.append(str(state["detail"]))
        return True

    wait_until(offline, 20, "the link to be offline after a refused handshake")
    return found[-1]


def refused_detail(config: KioskConfig, clock: Callable[[], dt.datetime]) -> str:
    with running_agent(config, wall_clock=clock):
        return offline_detail(config)


@pytest.mark.parametrize("when", ["1970", "a day before the CA"])
def test_a_clock_before_the_certificates_says_to_set_the_time(
    refused_box: tuple[KioskConfig, dict[str, str]], pki: Pki, served: Served,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture, when: str,
) -> None:
    config, env = refused_box
    ca_from = ca_valid_from(pki.wrong_ca.cert)
    assert ca_from is not None
    at = (dt.datetime(1970, 1, 1, tzinfo=UTC) if when == "1970"
          else ca_from - dt.timedelta(days=1))
    shown = f"the clock is {at:%Y-%m-%d %H:%M} UTC; set the time"
    caplog.set_level(logging.WARNING, logger="sync_agent")
    error = refused_detail(config, stand_in_clock(at))
    assert shown in error and "CERTIFICATE_VERIFY_FAILED" in error, error
    assert any(shown in r.getMessage() for r in caplog.records)

    with running_agent(config, wall_clock=stand_in_clock(at)):
        offline_detail(config)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        assert cli.main(["sync", "status"]) == 0
        out = capsys.readouterr().out
        assert f"link mqtt: offline ({shown}" in out, out
        kiosk, http = served(config)
        sync = http.get("/api/v1/staff/sync",
                        headers=staff_headers(kiosk, "technician")).json()
        assert sync["links"][0]["detail"].startswith(shown), sync


@pytest.fixture
def https_central(tmp_path: Path, pki: Pki) -> Iterator[Central]:
    c = Central(tmp_path / "https-central", pki, None)
    yield c
    c.close()


def test_over_https_too(tmp_path: Path, pki: Pki, https_central: Central) -> None:
    env = box_env(tmp_path / "box", pki, "dev-1", https_url=https_central.url,
                  key_file=https_central.key_file, transport="https",
                  ca_file=pki.wrong_ca.cert)
    config = load_config(None, env)
    at = dt.datetime(1970, 1, 1, tzinfo=UTC)
    with running_agent(config, wall_clock=stand_in_clock(at)):
        detail = offline_detail(config, "https")
    assert detail.startswith("the clock is 1970-01-01 00:00 UTC; set the time (TLS handshake"
                             f" with {https_central.url} failed"), detail


def test_a_certificate_not_valid_yet_blames_the_clock(
    tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Central's HTTPS certificate starts tomorrow: OpenSSL, on the real clock, finds it not
    # valid yet, as it finds every certificate on a box whose clock is behind.
    tomorrow = dt.datetime.now(UTC) + dt.timedelta(days=1)
    with monkeypatch.context() as m:
        m.setattr(pki_module, "_now", lambda: tomorrow)
        early = pki.ca.issue_server("early-receiver", tmp_path / "early")
    central = Central(tmp_path / "central", replace(pki, https=early), None)
    try:
        env = box_env(tmp_path / "box", pki, "dev-1", https_url=central.url,
                      key_file=central.key_file, transport="https")
        config = load_config(None, env)
        now = dt.datetime.now(UTC)
        with running_agent(config, wall_clock=stand_in_clock(now)):
            detail = offline_detail(config, "https")
    finally:
        central.close()
    assert detail.startswith(f"the clock is {now:%Y-%m-%d %H:%M} UTC; set the time"), detail
    assert "not yet valid" in detail, detail


def test_a_plausible_clock_is_not_blamed(
    refused_box: tuple[KioskConfig, dict[str, str]], pki: Pki,
) -> None:
    config, _ = refused_box
    ca_from = ca_valid_from(pki.wrong_ca.cert)
    assert ca_from is not None
    error = refused_detail(config, stand_in_clock(ca_from + dt.timedelta(days=1)))
    assert "CERTIFICATE_VERIFY_FAILED" in error and "clock" not in error, error


def test_a_clock_before_this_code_existed_is_wrong_whatever_the_ca(tmp_path: Path) -> None:
    unreadable_ca = tmp_path / "missing-ca.pem"
    before = BUILT - dt.timedelta(days=1)
    assert clock_advice(before, unreadable_ca, None) == (
        f"the clock is {before:%Y-%m-%d %H:%M} UTC; set the time")
    assert clock_advice(BUILT + dt.timedelta(days=1), unreadable_ca, None) is None
