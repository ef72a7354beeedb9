"""``kiosk provision status`` and the staff API's provisioning endpoints."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from provision_fixtures import Enrolling, enrolling, provisioned  # noqa: F401 - fixture
from sync_fixtures import Pki

from central.broker import free_port
from conftest import JOB, LiveServer
from device.audit import SYSTEM
from device.composition import Kiosk
from device.staff import tokens
from kiosk.cli import main

pytestmark = pytest.mark.integration


def headers(kiosk: Kiosk, role: str) -> dict[str, str]:
    jobs = [JOB] if role == "site_hr" else []
    made = tokens.create(kiosk.store, f"{role}-1", role, jobs, SYSTEM)
    return {"Authorization": f"Bearer {made.token}"}


def status(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["provision", "status", "--json"])
    return code, json.loads(capsys.readouterr().out)


def entry(found: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in found["files"] if e["name"] == name)


def test_status_of_a_box_never_enrolled(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "data"))
    code, found = status(capsys)
    assert code == 1
    assert found["enrolled"] is False and found["certificate"] is None
    assert set(found["missing"]) == {"secrets", "device.key", "device.pem", "central-ca.pem",
                                     "central-signing.pub", "enrolment.toml"}


def test_status_names_missing_files_loose_permissions_and_an_expired_certificate(
        tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = provisioned(tmp_path / "data", pki)
    monkeypatch.setenv("KIOSK_DATA_DIR", str(data))
    code, found = status(capsys)
    assert code == 0, found
    assert found["enrolled"] and found["device_id"] == "box-1" and found["tenant"] == "acme"
    assert found["mqtt"] == "central.example:8883"
    assert found["central_url"] == "https://central.example:8444"
    cert = found["certificate"]
    assert cert["subject"] == "CN=box-1" and cert["issuer"] == "CN=Kiosk Test CA"
    assert cert["expired"] is False and cert["days_left"] >= 800
    assert found["missing"] == [] and all(e["ok"] for e in found["files"])

    (data / "secrets" / "device.key").chmod(0o644)
    (data / "secrets" / "central-signing.pub").unlink()
    code, found = status(capsys)
    assert code == 1
    assert entry(found, "device.key")["detail"].startswith("permissions 0644, should be 0600")
    assert found["missing"] == ["central-signing.pub"]
    code = main(["provision", "status"])
    out = capsys.readouterr().out
    assert code == 1 and "PROBLEM device.key" in out and "NOT healthy" in out

    # an expired certificate for the same key
    key = serialization.load_pem_private_key((data / "secrets" / "device.key").read_bytes(),
                                             None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    ca_key = serialization.load_pem_private_key(pki.ca.key.read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    now = dt.datetime.now(dt.timezone.utc)
    expired = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "box-1")]))
               .issuer_name(x509.load_pem_x509_certificate(pki.ca.cert.read_bytes()).subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=30))
               .not_valid_after(now - dt.timedelta(days=2))
               .sign(ca_key, hashes.SHA256()))
    (data / "secrets" / "device.pem").write_bytes(expired.public_bytes(
        serialization.Encoding.PEM))
    code, found = status(capsys)
    assert code == 1
    assert found["certificate"]["expired"] is True
    assert found["certificate"]["days_left"] <= -2
    assert "expired" in entry(found, "device.pem")["detail"]


def test_a_bad_enrolment_file_is_a_configuration_error_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("KIOSK_DATA_DIR", str(data))
    (data / "enrolment.toml").write_text("[device]\nid = \n")
    assert main(["config", "check"]) == 2
    err = capsys.readouterr().err
    assert f"{data / 'enrolment.toml'}: the enrolment file is not valid TOML" in err
    (data / "enrolment.toml").write_text('[api]\nport = 1\n')
    assert main(["config", "check"]) == 2
    assert "unexpected [api]" in capsys.readouterr().err
    (data / "enrolment.toml").write_text('[device]\nid = "bad id!"\n')
    assert main(["config", "check"]) == 2
    assert f"{data / 'enrolment.toml'}: [device] id" in capsys.readouterr().err
    # the environment overrides the enrolment (tests, emergencies)
    (data / "enrolment.toml").write_text('[device]\nid = "box-3"\n')
    monkeypatch.setenv("KIOSK_DEVICE_ID", "box-env")
    assert main(["config", "check"]) == 0
    assert json.loads(capsys.readouterr().out)["device"]["id"] == "box-env"


def test_the_status_endpoint_answers_any_role(kiosk: Kiosk, live: LiveServer,
                                              pki: Pki) -> None:
    provisioned(kiosk.config.data_dir, pki, "box-4")
    found = httpx.get(f"{live.url}/api/v1/staff/provision",
                      headers=headers(kiosk, "site_hr")).json()
    assert found["enrolled"] is True and found["device_id"] == "box-4"
    assert found["certificate"]["subject"] == "CN=box-4" and found["wipe_pending"] is False
    assert httpx.get(f"{live.url}/api/v1/staff/provision").status_code == 401


def test_enrolment_through_the_api_is_role_checked_audited_and_mapped(
        kiosk: Kiosk, live: LiveServer, pki: Pki, enrolling: Enrolling) -> None:
    url = f"{live.url}/api/v1/staff/provision/enrol"
    body = {"url": enrolling.url, "token": enrolling.token("box-8"),
            "ca_file": str(pki.ca.cert)}
    refused = httpx.post(url, json=body, headers=headers(kiosk, "site_hr"))
    assert refused.status_code == 403
    assert "technician or admin" in refused.json()["detail"]
    assert not (kiosk.config.data_dir / "enrolment.toml").exists()

    tech = headers(kiosk, "technician")
    unknown = httpx.post(url, json={**body, "token": "enr_nope"}, headers=tech, timeout=30)
    assert unknown.status_code == 400 and "unknown" in unknown.json()["detail"]
    unreachable = httpx.post(url, json={**body, "url": f"https://127.0.0.1:{free_port()}"},
                             headers=tech, timeout=30)
    assert unreachable.status_code == 502
    assert "127.0.0.1" in unreachable.json()["detail"]
    tls = httpx.post(url, json={**body, "ca_file": str(pki.wrong_ca.cert)}, headers=tech,
                     timeout=30)
    assert tls.status_code == 502 and "failed verification" in tls.json()["detail"]

    done = httpx.post(url, json=body, headers=tech, timeout=30)
    assert done.status_code == 200, done.text
    found = done.json()
    assert found["changed"] is True and found["enrolled"] and found["device_id"] == "box-8"
    again = httpx.post(url, json=body, headers=tech, timeout=30).json()
    assert again["changed"] is False
    elsewhere = {**body, "url": enrolling.url.replace("127.0.0.1", "localhost"),
                 "token": enrolling.token("box-9")}
    conflict = httpx.post(url, json=elsewhere, headers=tech, timeout=30)
    assert conflict.status_code == 409 and "--force" in conflict.json()["detail"]
    forced = httpx.post(url, json={**elsewhere, "force": True}, headers=headers(kiosk, "admin"),
                        timeout=30)
    assert forced.status_code == 200 and forced.json()["device_id"] == "box-9"
    audited = kiosk.store.all("SELECT actor_role, actor_name, action, subject FROM audit"
                              " WHERE action LIKE 'provision.%' ORDER BY seq")
    assert audited == [
        {"actor_role": "technician", "actor_name": "technician-1",
         "action": "provision.enrol", "subject": "box-8"},
        {"actor_role": "admin", "actor_name": "admin-1", "action": "provision.re-enrol",
         "subject": "box-9"},
    ]


def test_an_app_built_without_enrolment_says_so_on_its_routes(kiosk: Kiosk) -> None:
    from fastapi.testclient import TestClient

    from device.api.app import create_app

    with TestClient(create_app(kiosk, sweep=False, analyse=False)) as client:
        auth = headers(kiosk, "admin")
        got = client.get("/api/v1/staff/provision", headers=auth)
        posted = client.post("/api/v1/staff/provision/enrol", headers=auth,
                             json={"url": "https://central.example", "token": "t"})
    for answer in (got, posted):
        assert answer.status_code == 503, answer.text
        problem = answer.json()
        assert problem["type"].endswith("provisioning-unavailable")
        assert "kiosk provision" in problem["detail"]
    assert not (kiosk.config.data_dir / "enrolment.toml").exists()
