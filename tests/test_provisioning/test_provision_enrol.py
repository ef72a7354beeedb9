"""Enrolment end to end: the real receiver over HTTPS, then delivery over mutual TLS with only
what enrolment wrote; every refusal named."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from provision_fixtures import Enrolling, audit_actions, enrolling, mode  # noqa: F401 - fixture
from sync_fixtures import SITE, TENANT, Pki
from sync_harness import produce, running_agent, wait_until

from central.broker import free_port
from device.central_link.outbox import Identity
from device.config_loader import load_config
from device.storage.database import Store
from kiosk.cli import main
from provisioning import central as box_central
from provisioning import enrol as box_enrol
from provisioning.central import CentralUnreachableError

pytestmark = pytest.mark.integration


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "box"
    monkeypatch.setenv("KIOSK_DATA_DIR", str(data))
    return data


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def enroll(capsys: pytest.CaptureFixture[str], url: str, token: str, ca: Path,
           *more: str) -> tuple[int, str, str]:
    return run(capsys, "provision", "enroll", "--url", url, "--token", token, "--ca", str(ca),
               *more)


def test_an_enrolled_box_delivers_over_mutual_tls_with_only_what_enrolment_wrote(
        enrolling: Enrolling, box: Path, pki: Pki, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(capsys, "central", "enrolment-token", "--url",
                         enrolling.central.url, "--ca", str(pki.ca.cert), "--cert",
                         str(pki.central.cert), "--key", str(pki.central.key),
                         "--token", enrolling.central.admin_token,
                         "--device-id", "box-7", "--ttl-h", "2")
    assert code == 0, err
    token = out.strip()
    assert token.startswith("enr_") and "box-7" in err

    code, out, err = enroll(capsys, enrolling.url, token, pki.ca.cert)
    assert code == 0, err
    assert "enrolled as box-7" in out
    secrets = box / "secrets"
    assert mode(secrets) == 0o700
    for name in ("device.key", "device.pem", "central-ca.pem", "central-signing.pub"):
        assert mode(secrets / name) == 0o600, name
    assert not (secrets / "device.key.pending").exists()
    cert = x509.load_pem_x509_certificate((secrets / "device.pem").read_bytes())
    assert cert.subject.rfc4514_string() == "CN=box-7"
    assert (secrets / "central-signing.pub").read_text() == \
        enrolling.central.receiver.public_key_pem

    # the layering: the enrolment sets identity and addresses; nothing else is configured
    env = {"KIOSK_DATA_DIR": str(box), "KIOSK_SYNC_BACKOFF_INITIAL_S": "0.2",
           "KIOSK_SYNC_BACKOFF_MAX_S": "2", "KIOSK_SYNC_KEEPALIVE_S": "5"}
    config = load_config(None, env)
    assert (config.device.id, config.device.tenant, config.device.site) == \
        ("box-7", TENANT, SITE)
    assert config.sync.transport == "mqtt"
    assert config.sync.https_url == enrolling.central.url
    store = Store(config.db_path)
    identity = Identity("box-7", TENANT, SITE)
    produce(store, identity, sessions=2, per_session=3, prefix="m")
    with running_agent(config) as service:
        wait_until(service.agent.drained, 30, "the outbox to drain over MQTT")
    # and over HTTPS (mutual TLS with the enrolled certificate), env overriding enrolment
    produce(store, identity, sessions=1, per_session=2, prefix="h")
    https = load_config(None, {**env, "KIOSK_SYNC_TRANSPORT": "https"})
    with running_agent(https) as service:
        wait_until(service.agent.drained, 30, "the outbox to drain over HTTPS")
    store.close()
    got = enrolling.central.messages("box-7")
    assert len(got) == 8
    assert {m["transport"] for m in got} == {"mqtt", "https"}
    assert audit_actions(box)[0]["action"] == "provision.enrol"


def test_a_used_expired_or_unknown_token_is_refused_by_name(
        enrolling: Enrolling, box: Path, pki: Pki, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    token = enrolling.token("box-1")
    assert enroll(capsys, enrolling.url, token, pki.ca.cert)[0] == 0

    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "other"))
    code, _, err = enroll(capsys, enrolling.url, token, pki.ca.cert)
    assert code == 1 and "already used" in err
    code, _, err = enroll(capsys, enrolling.url, "enr_nosuchtoken", pki.ca.cert)
    assert code == 1 and "unknown" in err
    expired = enrolling.token("box-2")
    with enrolling.central.receiver.store.transaction() as conn:
        conn.execute("UPDATE enrolment_tokens SET expires = '2020-01-01T00:00:00+00:00'"
                     " WHERE device_id = 'box-2'")
    code, _, err = enroll(capsys, enrolling.url, expired, pki.ca.cert)
    assert code == 1 and "expired" in err
    assert not (tmp_path / "other" / "enrolment.toml").exists()


def test_central_refuses_a_request_whose_signature_does_not_verify(
        enrolling: Enrolling, pki: Pki) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(
        key, hashes.SHA256())
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x55  # inside the signature
    forged = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    token = enrolling.token("box-3")
    with httpx.Client(verify=ssl.create_default_context(cafile=str(pki.ca.cert))) as client:
        bad = client.post(enrolling.url + "/v1/enrol",
                          json={"token": token, "csr_pem": forged.decode()})
        garbage = client.post(enrolling.url + "/v1/enrol",
                              json={"token": token, "csr_pem": "not a csr"})
    assert bad.status_code == 400 and "signature" in bad.json()["detail"]
    assert garbage.status_code == 400
    # the token was not spent by the refused requests
    row = enrolling.central.receiver.store.one(
        "SELECT used FROM enrolment_tokens WHERE device_id = 'box-3'")
    assert row is not None and row["used"] is None


def test_wrong_url_unreachable_central_and_tls_failure_are_named(
        enrolling: Enrolling, box: Path, pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    token = enrolling.token()
    code, _, err = enroll(capsys, enrolling.url + "/somewhere-else", token, pki.ca.cert)
    assert code == 1 and "not central's enrolment endpoint" in err and "404" in err
    code, _, err = enroll(capsys, f"https://127.0.0.1:{free_port()}", token, pki.ca.cert)
    assert code == 1 and "refused the connection" in err and "127.0.0.1" in err
    code, _, err = enroll(capsys, "https://no-such-host.invalid", token, pki.ca.cert)
    assert code == 1 and "no-such-host.invalid cannot be resolved" in err
    code, _, err = enroll(capsys, enrolling.url, token, pki.wrong_ca.cert)
    assert code == 1 and "TLS certificate at 127.0.0.1 failed verification" in err
    assert "unable to get local issuer certificate" in err
    assert not (box / "enrolment.toml").exists()
    # the token is still good: nothing reached central
    assert enroll(capsys, enrolling.url, token, pki.ca.cert)[0] == 0


def test_a_central_that_does_not_answer_times_out_with_a_clear_error(
        box: Path, pki: Pki) -> None:
    with socket.socket() as listener:  # accepts connections, never says a word
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        config = load_config(None, {"KIOSK_DATA_DIR": str(box)})
        with pytest.raises(CentralUnreachableError, match=r"did not answer within 0\.5 s"):
            box_enrol.enrol(config, f"https://127.0.0.1:{port}", "enr_x", ca_file=pki.ca.cert,
                            timeout_s=0.5)


def test_re_enrolment_is_idempotent_refused_elsewhere_and_audited_with_force(
        enrolling: Enrolling, box: Path, pki: Pki, capsys: pytest.CaptureFixture[str]) -> None:
    assert enroll(capsys, enrolling.url, enrolling.token("box-1"), pki.ca.cert)[0] == 0
    before = {p.name: p.read_bytes() for p in (box / "secrets").iterdir()}
    toml = (box / "enrolment.toml").read_bytes()

    code, out, _ = enroll(capsys, enrolling.url + "/", enrolling.token("box-9"), pki.ca.cert)
    assert code == 0 and "nothing changed" in out
    assert {p.name: p.read_bytes() for p in (box / "secrets").iterdir()} == before
    assert (box / "enrolment.toml").read_bytes() == toml

    elsewhere = enrolling.url.replace("127.0.0.1", "localhost")
    token = enrolling.token("box-2")
    code, _, err = enroll(capsys, elsewhere, token, pki.ca.cert)
    assert code == 1 and "--force" in err and "already enrolled" in err
    assert (box / "enrolment.toml").read_bytes() == toml

    code, out, err = enroll(capsys, elsewhere, token, pki.ca.cert, "--force")
    assert code == 0, err
    assert "box-2" in out
    assert load_config(None, {"KIOSK_DATA_DIR": str(box)}).device.id == "box-2"
    assert (box / "secrets" / "device.key").read_bytes() != before["device.key"]
    forced = [a for a in audit_actions(box) if a["action"] == "provision.re-enrol"]
    assert len(forced) == 1
    entry = forced[0]
    assert (entry["actor_role"], entry["actor_name"]) == ("technician", "console")
    assert entry["subject"] == "box-2" and "--force" in entry["reason"]
    details = json.loads(entry["details"])
    assert details["previous_device_id"] == "box-1" and details["url"] == elsewhere


def test_an_enrolment_cut_short_is_completed_on_re_run_with_the_same_key(
        enrolling: Enrolling, box: Path, pki: Pki, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    token = enrolling.token("box-5")
    # 1. central unreachable: the key is written, no certificate
    real_request = box_central.request_certificate

    def down(*args: Any, **kwargs: Any) -> Any:
        raise CentralUnreachableError("central at 127.0.0.1 refused the connection")

    monkeypatch.setattr(box_enrol, "request_certificate", down)
    assert enroll(capsys, enrolling.url, token, pki.ca.cert)[0] == 1
    pending = box / "secrets" / "device.key.pending"
    key_pem = pending.read_bytes()
    assert mode(pending) == 0o600 and not (box / "secrets" / "device.pem").exists()

    # 2. central answers, and the box loses power before storing anything
    def answered_then_cut(*args: Any, **kwargs: Any) -> Any:
        real_request(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(box_enrol, "request_certificate", answered_then_cut)
    with pytest.raises(KeyboardInterrupt):
        box_enrol.enrol(load_config(None, {"KIOSK_DATA_DIR": str(box)}), enrolling.url, token,
                        ca_file=pki.ca.cert)
    assert not (box / "enrolment.toml").exists()

    # 3. the re-run reuses the key; central hands the same key its certificate again
    monkeypatch.setattr(box_enrol, "request_certificate", real_request)
    code, _, err = enroll(capsys, enrolling.url, token, pki.ca.cert)
    assert code == 0, err
    assert (box / "secrets" / "device.key").read_bytes() == key_pem
    assert not pending.exists()
    cert = x509.load_pem_x509_certificate((box / "secrets" / "device.pem").read_bytes())
    key = serialization.load_pem_private_key(key_pem, None)
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    assert cert.public_key().public_bytes(serialization.Encoding.DER, fmt) == \
        key.public_key().public_bytes(serialization.Encoding.DER, fmt)


def test_concurrent_use_of_one_token_enrols_exactly_one_box(
        enrolling: Enrolling, pki: Pki, tmp_path: Path) -> None:
    token = enrolling.token("box-6")
    results: list[str] = []

    def attempt(n: int) -> None:
        config = load_config(None, {"KIOSK_DATA_DIR": str(tmp_path / f"race-{n}")})
        try:
            box_enrol.enrol(config, enrolling.url, token, ca_file=pki.ca.cert)
            results.append("ok")
        except Exception as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1
    assert all("already used" in r for r in results if r != "ok")
