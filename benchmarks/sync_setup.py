"""A local central for the sync benchmarks: CA, Mosquitto with mutual TLS, the receiver
running as its own process."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from central.broker import Mosquitto, free_port
from central.pki import CertificateAuthority, Credential
from device.config import KioskConfig
from device.config_loader import load_config

TENANT, SITE = "bench", "site-1"


@dataclass
class LocalCentral:
    root: Path
    ca: CertificateAuthority
    https_cred: Credential
    admin: Credential
    broker: Mosquitto
    key_file: Path
    url: str
    admin_token: str

    def device(self, device_id: str) -> Credential:
        """A box's certificate, and the box registered with central (so the broker's ACL
        lets it use its own topics)."""
        with httpx.Client(verify=self.client_context(self.admin), timeout=30) as client:
            client.post(f"{self.url}/v1/admin/devices", headers=self._auth(), json={
                "device_id": device_id, "tenant": TENANT, "site": SITE}).raise_for_status()
        return self.ca.issue_client(device_id, self.root / "devices")

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def box_config(self, data_dir: Path, device_id: str, **sync: str) -> KioskConfig:
        cred = self.device(device_id)
        env = {
            "KIOSK_DATA_DIR": str(data_dir), "KIOSK_DEVICE_ID": device_id,
            "KIOSK_DEVICE_TENANT": TENANT, "KIOSK_DEVICE_SITE": SITE,
            "KIOSK_SYNC_MQTT_HOST": "127.0.0.1", "KIOSK_SYNC_MQTT_PORT": str(self.broker.port),
            "KIOSK_SYNC_CA_FILE": str(self.ca.cert), "KIOSK_SYNC_CERT_FILE": str(cred.cert),
            "KIOSK_SYNC_KEY_FILE": str(cred.key),
            "KIOSK_SYNC_SIGNING_KEY_FILE": str(self.key_file),
            "KIOSK_LOGGING_LEVEL": "WARNING",
        }
        env.update({f"KIOSK_SYNC_{k.upper()}": v for k, v in sync.items()})
        return load_config(None, env)

    def client_context(self, cred: Credential) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca.cert))
        ctx.load_cert_chain(str(cred.cert), str(cred.key))
        return ctx

    def stats(self) -> dict[str, Any]:
        """The receiver's counts (stored, copies, duplicates, ...) from its admin API."""
        with httpx.Client(verify=self.client_context(self.admin), timeout=30) as client:
            response = client.get(f"{self.url}/v1/admin/stats", headers=self._auth())
            response.raise_for_status()
            found: dict[str, Any] = response.json()
            return found


@contextmanager
def local_central(root: Path) -> Iterator[LocalCentral]:
    """CA, Mosquitto and ``kiosk central serve`` as its own process, as on a real site."""
    ca = CertificateAuthority.create(root / "ca", "Bench CA")
    certs = root / "certs"
    broker_cred = ca.issue_server("broker", certs)
    https_cred = ca.issue_server("receiver", certs)
    central_cred = ca.issue_client("central", certs)
    admin = ca.issue_client("admin", certs)
    data = root / "central"
    key_file = root / "central-signing.pub"
    kiosk = [sys.executable, "-m", "kiosk", "central"]
    subprocess.run([*kiosk, "keygen", "--data-dir", str(data), "--public-out", str(key_file)],
                   check=True, capture_output=True)
    admin_token = subprocess.run([*kiosk, "admin-token", "--data-dir", str(data), "--name",
                                  "bench"], check=True, capture_output=True,
                                 text=True).stdout.strip()
    with Mosquitto(root / "broker", free_port(), ca.cert, broker_cred) as broker:
        port = free_port()
        log = (root / "receiver.log").open("ab")
        server = subprocess.Popen(
            [*kiosk, "serve", "--data-dir", str(data), "--port", str(port),
             "--tls-cert", str(https_cred.cert), "--tls-key", str(https_cred.key),
             "--client-ca", str(ca.cert), "--mqtt-host", "127.0.0.1",
             "--mqtt-port", str(broker.port), "--mqtt-ca", str(ca.cert),
             "--mqtt-cert", str(central_cred.cert), "--mqtt-key", str(central_cred.key),
             "--broker-acl", str(broker.files.acl),
             "--broker-reload-command", f"kill -HUP {broker.pid}"],
            stdout=log, stderr=log)
        central = LocalCentral(root, ca, https_cred, admin, broker, key_file,
                               f"https://127.0.0.1:{port}", admin_token)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    central.stats()
                    break
                except httpx.HTTPError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the receiver did not start; see "
                                           f"{root / 'receiver.log'}") from None
                    time.sleep(0.1)
            yield central
        finally:
            server.terminate()
            server.wait(timeout=15)
            log.close()
