"""The network self-test against a real Mosquitto (mutual TLS) and the real HTTPS receiver:
what a technician sees when central is reachable, untrusted, closed, silent or refusing."""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import assert_problem, staff_headers
from sync_fixtures import Pki
from sync_harness import Central

from central.broker import Mosquitto
from conftest import Served, free_port, make_config
from device import audit
from device.composition import Kiosk

pytestmark = pytest.mark.integration

PATH = "/api/v1/staff/selftest/network"
Box = Callable[..., tuple[Kiosk, httpx.Client]]


@pytest.fixture
def box(tmp_path: Path, pki: Pki, served: Served) -> Box:
    """``box(**sync)``: a kiosk whose [sync] settings are these (TLS files of dev-1 unless
    given), behind a live server."""
    count = iter(range(1000))

    def make(**sync: str) -> tuple[Kiosk, httpx.Client]:
        cred = pki.device("dev-1")
        env = {"KIOSK_CAPTURE_ENABLED": "false", "KIOSK_ANALYSIS_ENABLED": "false",
               "KIOSK_SYNC_MQTT_HOST": "127.0.0.1", "KIOSK_SYNC_CA_FILE": str(pki.ca.cert),
               "KIOSK_SYNC_CERT_FILE": str(cred.cert), "KIOSK_SYNC_KEY_FILE": str(cred.key)}
        env.update({f"KIOSK_SYNC_{k.upper()}": v for k, v in sync.items()})
        return served(make_config(tmp_path / f"box{next(count)}", **env))

    return make


@pytest.fixture
def central(tmp_path: Path, pki: Pki) -> Iterator[Central]:
    c = Central(tmp_path / "central", pki, None)
    yield c
    c.close()


def run(k: Kiosk, http: httpx.Client) -> dict[str, dict[str, Any]]:
    r = http.post(PATH, headers=staff_headers(k, "technician", name=f"t-{time.monotonic_ns()}"))
    assert r.status_code == 200, r.text
    return {t["name"]: t for t in r.json()["targets"]}


def test_reachable_central_shows_its_tls(box: Box, broker: Mosquitto, central: Central) -> None:
    k, http = box(MQTT_PORT=str(broker.port), HTTPS_URL=central.url)
    found = run(k, http)
    assert set(found) == {"mqtt", "https"}
    for name, target in found.items():
        assert target["ok"] is True and target["detail"] is None, target
        assert target["host"] == "127.0.0.1" and target["ms"] > 0
        tls = target["tls"]
        assert tls["verified"] is True and tls["version"] in ("TLSv1.2", "TLSv1.3")
        assert tls["cipher"]
        assert tls["peer_subject"] == ("CN=broker" if name == "mqtt" else "CN=receiver")
        assert tls["peer_issuer"] == "CN=Kiosk Test CA"
        expires = dt.datetime.fromisoformat(tls["not_after"].replace("Z", "+00:00"))
        left = (expires - dt.datetime.now(dt.timezone.utc)).days
        assert tls["days_left"] in (left - 1, left, left + 1) and tls["days_left"] > 0
    assert found["mqtt"]["port"] == broker.port and found["https"]["port"] == central.port
    with k.store.read() as db:
        logged = audit.entries(db, action="selftest.network")
    assert [(t["name"], t["ok"]) for t in logged[0]["details"]["targets"]] == [
        ("mqtt", True), ("https", True)]


def test_a_ca_that_did_not_issue_central_s_certificate(
        box: Box, pki: Pki, broker: Mosquitto, central: Central) -> None:
    k, http = box(MQTT_PORT=str(broker.port), HTTPS_URL=central.url,
                  CA_FILE=str(pki.wrong_ca.cert))
    for target in run(k, http).values():
        assert target["ok"] is False
        assert target["detail"].startswith(f"127.0.0.1:{target['port']}: TLS handshake failed:"
                                           " certificate verify failed"), target["detail"]
        seen = target["tls"]  # whom the box reached, for the technician
        assert seen["verified"] is False and seen["peer_issuer"] == "CN=Kiosk Test CA"


def test_a_closed_port_is_refused(box: Box) -> None:
    port = free_port()
    k, http = box(MQTT_PORT=str(port))
    target = run(k, http)["mqtt"]
    assert target["ok"] is False and target["tls"] is None
    assert target["detail"].startswith(f"127.0.0.1:{port}: connection refused")


def test_a_port_that_never_answers_times_out(box: Box) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never speaks TLS
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        k, http = box(MQTT_PORT=str(port))
        started = time.monotonic()
        target = run(k, http)["mqtt"]
        took = time.monotonic() - started
    assert target["ok"] is False
    assert target["detail"] == f"127.0.0.1:{port}: TLS handshake failed: no TLS answer in 3 s" \
                               " (is it a TLS port?)"
    assert 2.5 < took < 8


def test_a_device_certificate_the_broker_does_not_trust(
        box: Box, pki: Pki, broker: Mosquitto) -> None:
    k, http = box(MQTT_PORT=str(broker.port), CERT_FILE=str(pki.wrong_client.cert),
                  KEY_FILE=str(pki.wrong_client.key))
    target = run(k, http)["mqtt"]
    assert target["ok"] is False, target
    assert target["detail"].startswith(f"127.0.0.1:{broker.port}: ")
    assert "the server refused the device certificate" in target["detail"]
    assert "UNKNOWN_CA" in target["detail"]


def test_missing_tls_files_are_named(box: Box, broker: Mosquitto, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "central-ca.pem"
    k, http = box(MQTT_PORT=str(broker.port), CA_FILE=str(missing))
    target = run(k, http)["mqtt"]
    assert target["ok"] is False and target["tls"] is None
    assert target["detail"].startswith(
        f"127.0.0.1:{broker.port}: reachable, but central's CA certificate {missing} cannot"
        " be loaded"), target["detail"]


def test_https_transport_without_an_address(box: Box) -> None:
    k, http = box(TRANSPORT="https")
    assert run(k, http) == {"https": {
        "name": "https", "host": "", "port": 0, "ok": False, "ms": 0.0, "tls": None,
        "detail": "[sync] transport is https but [sync] https_url is not set; set it to"
                  " central's HTTPS address"}}


def test_site_hr_cannot_run_it(box: Box) -> None:
    k, http = box()
    hr = staff_headers(k, "site_hr", ["assembly-line-operator"], name="hr")
    body = assert_problem(http.post(PATH, headers=hr), 403, "forbidden")
    assert "technician or admin" in body["detail"]
