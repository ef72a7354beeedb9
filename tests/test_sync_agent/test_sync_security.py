"""The sync agent's TLS and authorisation edges, against a real Mosquitto with the ACL.

A box must refuse a broker it cannot verify, a broker must refuse a box it cannot trust,
a box may only write its own topics, and none of these is ever taken for "online".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sync_fixtures import SITE, TENANT, Pki
from sync_harness import (
    Central,
    assert_exactly_once_in_order,
    box_env,
    link_state,
    outbox_rows,
    produce,
    running_agent,
    wait_until,
)

from central.broker import Mosquitto
from device.central_link.outbox import Identity
from device.config import KioskConfig
from device.config_loader import load_config
from device.storage.database import Store
from kiosk import cli
from shared.signing import generate_key, public_pem
from sync_agent.assembly import AgentProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def central(tmp_path: Path, pki: Pki, broker: Mosquitto) -> Iterator[Central]:
    c = Central(tmp_path / "central", pki, broker.port, https=False)
    yield c
    c.close()


class StateWatch:
    """Every link state the agent writes while the watch runs (sampled every 20 ms)."""

    def __init__(self, db_path: Path, transport: str) -> None:
        self.db_path = db_path
        self.transport = transport
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        store = Store(self.db_path)
        try:
            while not self._stop.is_set():
                found = store.one("SELECT state FROM sync_link WHERE transport = ?",
                                  (self.transport,))
                if found is not None:
                    self.seen.add(found["state"])
                time.sleep(0.02)
        finally:
            store.close()

    def __enter__(self) -> StateWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def produce_for(config: KioskConfig, n: int) -> list[str]:
    store = Store(config.db_path)
    try:
        identity = Identity(config.device.id, TENANT, SITE)
        return produce(store, identity, sessions=1, per_session=n, prefix=config.device.id)
    finally:
        store.close()


def assert_refused(config: KioskConfig, service: AgentProcess, central: Central,
                   *words: str) -> str:
    """The agent has failed to connect at least twice, backing off, and never got online."""
    wait_until(lambda: service.agent.backoff.failures >= 2, 20,
               "two refused connection attempts")
    state = link_state(config.db_path, "mqtt")
    assert state is not None
    assert state["state"] == "offline", state
    detail = state["detail"] or ""
    for word in words:
        assert word.lower() in detail.lower(), f"{word!r} not in the link's reason: {detail!r}"
    assert state["reconnects"] == 0 and state["sent"] == 0 and state["acked"] == 0, state
    assert not service.agent.link.connected
    assert all(r["status"] == "pending" for r in outbox_rows(config.db_path))
    assert central.messages(config.device.id) == []
    return detail


def test_a_box_that_trusts_another_ca_refuses_the_broker(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central) -> None:
    env = box_env(tmp_path / "box", pki, "dev-1", broker_port=broker.port,
                  key_file=central.key_file, ca_file=pki.wrong_ca.cert)
    config = load_config(None, env)
    produce_for(config, 3)
    with StateWatch(config.db_path, "mqtt") as watch, running_agent(config) as service:
        detail = assert_refused(config, service, central, "TLS")
    assert "certificate" in detail.lower(), detail
    assert "online" not in watch.seen and "offline" in watch.seen, watch.seen


@pytest.mark.parametrize("credential", ["revoked", "unrelated-ca"])
def test_a_revoked_or_foreign_device_certificate_is_refused_by_the_broker(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central, credential: str) -> None:
    # dev-revoked's certificate is on the broker's CRL; the other one says CN dev-1 but is
    # issued by a CA the broker does not trust.
    device_id, cred = {"revoked": ("dev-revoked", pki.revoked),
                       "unrelated-ca": ("dev-1", pki.wrong_client)}[credential]
    env = box_env(tmp_path / "box", pki, "dev-1", broker_port=broker.port,
                  key_file=central.key_file)
    env.update(KIOSK_DEVICE_ID=device_id, KIOSK_SYNC_CERT_FILE=str(cred.cert),
               KIOSK_SYNC_KEY_FILE=str(cred.key))
    config = load_config(None, env)
    produce_for(config, 3)
    started = time.monotonic()
    with StateWatch(config.db_path, "mqtt") as watch, running_agent(config) as service:
        # The broker closes the connection right after the handshake: that is a refusal,
        # noticed at once and named as one (not a CONNACK timeout 15 s later).
        assert_refused(config, service, central, "refused")
        assert time.monotonic() - started < 10, "the refusal took a CONNACK timeout to notice"
    assert "online" not in watch.seen and "offline" in watch.seen, watch.seen


def test_a_box_may_not_publish_as_another_device(
        tmp_path: Path, pki: Pki, broker: Mosquitto, central: Central,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # dev-2's box holding dev-1's certificate: the broker knows it as dev-1 (the CN), and
    # the ACL lets dev-1 write only below .../dev-1/.
    impostor_env = box_env(tmp_path / "impostor", pki, "dev-2", broker_port=broker.port,
                           key_file=central.key_file, cert_device="dev-1")
    impostor = load_config(None, impostor_env)
    honest = load_config(None, box_env(tmp_path / "honest", pki, "dev-1",
                                       broker_port=broker.port, key_file=central.key_file))
    refused = produce_for(impostor, 3)
    produce_for(honest, 3)
    with running_agent(honest) as good, running_agent(impostor):
        wait_until(good.agent.drained, 20, "the honest box to drain")

        def all_refused() -> bool:
            rows = outbox_rows(impostor.db_path)
            return all("0x87" in (r["last_error"] or "") for r in rows)

        wait_until(all_refused, 20, "the broker's 0x87 for every message of dev-2")
    assert_exactly_once_in_order(honest.db_path, central, "dev-1")
    assert central.messages("dev-2") == []
    rows = outbox_rows(impostor.db_path)
    assert [r["message_id"] for r in rows] == refused
    assert all(r["status"] != "acked" for r in rows)
    assert all(r["last_error"] == "the broker refused it: Not authorized (0x87)" for r in rows)
    # Retried with backoff, never given up and never marked done.
    assert all(r["attempts"] >= 1 for r in rows)

    for key, value in impostor_env.items():
        monkeypatch.setenv(key, value)
    assert cli.main(["sync", "status"]) == 0
    out = capsys.readouterr().out
    assert "waiting for central: 3 (" in out, out
    assert f"oldest: {refused[0]}" in out, out
    assert "last error: the broker refused it: Not authorized (0x87)" in out, out


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """``kiosk sync`` sets up the process's logging; put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("missing", ["ca_file", "signing_key_file"])
@pytest.mark.usefixtures("keep_logging")
def test_kiosk_sync_names_a_missing_ca_or_signing_key_and_exits_2(
        tmp_path: Path, pki: Pki, missing: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    key_file = tmp_path / "central-signing.pub"
    key_file.write_bytes(public_pem(generate_key()))
    absent = tmp_path / "not-provisioned" / f"{missing}.pem"
    env = box_env(tmp_path / "box", pki, "dev-1", key_file=key_file)
    env[f"KIOSK_SYNC_{missing.upper()}"] = str(absent)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    started = time.monotonic()
    code = cli.main(["sync", "--until-drained", "--timeout", "3"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert time.monotonic() - started < 3, "kiosk sync started instead of refusing"
    assert str(absent) in err, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("kiosk: configuration error: "), err
    expected = {"ca_file": "central's CA certificate cannot be loaded",
                "signing_key_file": "central's signing key is not installed"}[missing]
    assert expected in line, line
