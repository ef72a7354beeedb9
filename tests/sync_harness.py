"""A box, central and the wire between them, for the sync agent's integration tests.

``Central`` is the reference receiver (``kiosk hr-receiver``) connected to the test broker
and served over HTTPS with mutual TLS. ``box_config`` makes a box's configuration pointing
at it. ``produce`` writes messages the way the session engine does (one transaction each,
through the real outbox). ``assert_exactly_once_in_order`` is what every fault test ends
with: the receiver holds each of the box's messages once, a session's messages in order,
and the box has nothing left to send.
"""

from __future__ import annotations

import os
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import Popen
from typing import Any

import uvicorn
from sync_fixtures import SITE, TENANT, Pki

from device import outbox
from device.config import KioskConfig, load_config
from device.outbox import Identity
from device.store import Store
from provisioning.broker import free_port
from sync_agent.receiver.core import Receiver
from sync_agent.receiver.messages import list_messages
from sync_agent.receiver.mqtt import MqttSettings
from sync_agent.service import Service, build

KINDS = ("session.state", "session.result", "usage", "session.report")


class Central:
    """The reference receiver: MQTT ingest through the broker, HTTPS API on loopback."""

    def __init__(self, data_dir: Path, pki: Pki, broker_port: int | None, *,
                 https: bool = True) -> None:
        mqtt = None
        if broker_port is not None:
            mqtt = MqttSettings(host="127.0.0.1", port=broker_port, ca=pki.ca.cert,
                                cert=pki.central.cert, key=pki.central.key, keepalive_s=5,
                                reconnect_max_s=2)
        self.receiver = Receiver(data_dir, mqtt)
        self.key_file = data_dir / "central-signing.pub"
        self.key_file.write_text(self.receiver.public_key_pem)
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.server: uvicorn.Server | None = None
        if https:
            config = uvicorn.Config(
                self.receiver.app, host="127.0.0.1", port=self.port, log_level="warning",
                ssl_certfile=str(pki.https.cert), ssl_keyfile=str(pki.https.key),
                ssl_ca_certs=str(pki.ca.cert), ssl_cert_reqs=ssl.CERT_REQUIRED)
            self.server = uvicorn.Server(config)
            self.thread = threading.Thread(target=self.server.run, daemon=True)
            self.thread.start()
            wait_until(lambda: bool(self.server and self.server.started), 15, "uvicorn start")
        if mqtt is not None:
            self.receiver.start_mqtt()

    def messages(self, device_id: str | None = None) -> list[dict[str, Any]]:
        return list_messages(self.receiver.store, device_id=device_id)

    def close(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)
        self.receiver.close()


def box_config(data_dir: Path, pki: Pki, device_id: str, *, broker_port: int | None = None,
               https_url: str | None = None, key_file: Path, **sync: Any) -> KioskConfig:
    return load_config(None, box_env(data_dir, pki, device_id, broker_port=broker_port,
                                     https_url=https_url, key_file=key_file, **sync))


def box_env(data_dir: Path, pki: Pki, device_id: str, *, broker_port: int | None = None,
            https_url: str | None = None, key_file: Path, cert_device: str | None = None,
            **sync: Any) -> dict[str, str]:
    cred = pki.device(cert_device or device_id)
    env = {
        "KIOSK_DATA_DIR": str(data_dir), "KIOSK_DEVICE_ID": device_id,
        "KIOSK_DEVICE_TENANT": TENANT, "KIOSK_DEVICE_SITE": SITE,
        "KIOSK_SYNC_MQTT_HOST": "127.0.0.1",
        "KIOSK_SYNC_MQTT_PORT": str(broker_port or 1),
        "KIOSK_SYNC_CA_FILE": str(pki.ca.cert), "KIOSK_SYNC_CERT_FILE": str(cred.cert),
        "KIOSK_SYNC_KEY_FILE": str(cred.key), "KIOSK_SYNC_SIGNING_KEY_FILE": str(key_file),
        "KIOSK_SYNC_BACKOFF_INITIAL_S": "0.2", "KIOSK_SYNC_BACKOFF_MAX_S": "2",
        "KIOSK_SYNC_KEEPALIVE_S": "5", "KIOSK_LOGGING_FORMAT": "text",
    }
    if https_url:
        env["KIOSK_SYNC_HTTPS_URL"] = https_url
    for key, value in sync.items():
        env[f"KIOSK_SYNC_{key.upper()}"] = str(value).lower() if isinstance(value, bool) \
            else str(value)
    return env


@contextmanager
def running_agent(config: KioskConfig) -> Iterator[Service]:
    """The sync agent on a thread of this process, with its own store connection."""
    store = Store(config.db_path)
    service = build(config, store)
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield service
    finally:
        stop.set()
        thread.join(timeout=15)
        store.close()


def agent_process(env: dict[str, str], log: Path) -> Popen[bytes]:
    """``kiosk sync`` as its own process (for ``kill -9``)."""
    full = {**os.environ, **env}
    with log.open("ab") as out:
        return Popen([sys.executable, "-m", "kiosk", "sync"], env=full, stdout=out,
                     stderr=out)


def produce(store: Store, identity: Identity, sessions: int, per_session: int, *,
            prefix: str = "s", body_bytes: int = 2000) -> list[str]:
    """Messages for ``sessions`` sessions, interleaved as a busy box writes them."""
    ids = []
    filler = "x" * max(body_bytes - 60, 0)
    for n in range(per_session):
        for s in range(sessions):
            with store.transaction() as db:
                ids.append(outbox.enqueue(
                    db, identity, store.now(), KINDS[n % len(KINDS)],  # type: ignore[arg-type]
                    {"n": n, "filler": filler}, session_id=f"{prefix}{s}"))
    return ids


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.05)


def box_rows(db_path: Path) -> list[dict[str, Any]]:
    store = Store(db_path, check_integrity=True)
    try:
        return store.all("SELECT seq, message_id, session_id, session_seq, status FROM outbox"
                         " ORDER BY seq")
    finally:
        store.close()


def assert_exactly_once_in_order(db_path: Path, central: Central, device_id: str) -> None:
    rows = box_rows(db_path)
    assert rows, "the box wrote no messages"
    got = central.messages(device_id)
    ids = [m["message_id"] for m in got]
    assert len(ids) == len(set(ids)), "the receiver stored a message twice"
    missing = {r["message_id"] for r in rows} - set(ids)
    assert not missing, f"{len(missing)} messages never reached central, e.g. {sorted(missing)[:3]}"
    assert all(r["status"] == "acked" for r in rows), "the box still has unacked messages"
    by_session: dict[str, list[dict[str, Any]]] = {}
    for m in got:
        assert m["delivered_order"] is not None, f"{m['message_id']} held back at central"
        if m["session_id"]:
            by_session.setdefault(m["session_id"], []).append(m)
    outbox_order = {r["message_id"]: r["seq"] for r in rows}
    for session, messages in by_session.items():
        delivered = sorted(messages, key=lambda m: m["delivered_order"])
        seqs = [outbox_order[m["message_id"]] for m in delivered]
        assert seqs == sorted(seqs), f"session {session} delivered out of order"
        assert [m["session_seq"] for m in delivered] == list(range(1, len(delivered) + 1))
