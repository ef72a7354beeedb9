"""Enrolment fixtures: central's real enrolment listener, one-time tokens, a box enrolled by
hand, file modes and the audit trail of provisioning."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sync_fixtures import SITE, TENANT, Pki
from sync_harness import Central

from central import ServerThread, TlsSettings
from central.broker import Mosquitto
from central.enrol import EnrolmentSettings, TokenRequest, create_token
from device.storage.database import Store


@dataclass
class Enrolling:
    central: Central
    url: str
    pki: Pki

    def token(self, device_id: str = "box-7", **fields: Any) -> str:
        made = create_token(self.central.receiver, TokenRequest(device_id=device_id, **fields))
        return str(made["token"])


@pytest.fixture
def enrolling(tmp_path: Path, pki: Pki, broker: Mosquitto) -> Iterator[Enrolling]:
    central = Central(tmp_path / "central", pki, broker.port)
    central.receiver.enrolment = EnrolmentSettings(
        pki.ca.directory, mqtt=f"127.0.0.1:{broker.port}", https_url=central.url,
        tenant=TENANT, site=SITE)
    central.receiver.registry_listeners.append(broker.update_acl)
    # boxes enrol on a TLS listener that asks no client certificate; the main one requires it
    with ServerThread(central.receiver.enrol_app,
                      tls=TlsSettings(pki.https.cert, pki.https.key)) as server:
        yield Enrolling(central, server.url, pki)
    central.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def audit_actions(data: Path) -> list[dict[str, Any]]:
    store = Store(data / "kiosk.db")
    try:
        return store.all("SELECT actor_role, actor_name, action, subject, reason, details"
                         " FROM audit WHERE action LIKE 'provision.%' ORDER BY seq")
    finally:
        store.close()


def provisioned(data: Path, pki: Pki, device_id: str = "box-1") -> Path:
    """A box enrolled by hand with the test CA: every file in place, as enrolment leaves it."""
    secrets = data / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    secrets.chmod(0o700)
    cred = pki.ca.issue_client(device_id, data / "issued")
    shutil.copy(cred.cert, secrets / "device.pem")
    shutil.copy(cred.key, secrets / "device.key")
    shutil.copy(pki.ca.cert, secrets / "central-ca.pem")
    (secrets / "central-signing.pub").write_bytes(
        Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    for path in secrets.iterdir():
        path.chmod(0o600)
    shutil.rmtree(data / "issued")
    (data / "enrolment.toml").write_text(
        '[enrolment]\nurl = "https://central.example:8444"\n\n'
        f'[device]\nid = "{device_id}"\ntenant = "acme"\nsite = "plant-1"\n\n'
        '[sync]\ntransport = "mqtt"\nmqtt_host = "central.example"\nmqtt_port = 8883\n'
        'https_url = "https://central.example:8443"\n')
    return data
