"""A box, central and the wire between them, for the sync agent's integration tests.

``Central`` is the reference receiver (``kiosk central``) connected to the test broker
and served over HTTPS with mutual TLS. ``box_config`` makes a box's configuration pointing
at it. ``produce`` writes messages the way the session engine does (one transaction each,
through the real outbox). ``assert_exactly_once_in_order`` is what every fault test ends
with: the receiver holds each of the box's messages once, a session's messages in order,
and the box has nothing left to send.
"""

from __future__ import annotations

import datetime as dt
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

import httpx
import uvicorn
from sync_fixtures import SITE, TENANT, Pki, enrol_all

from central.broker import free_port
from central.core import Receiver
from central.messages import list_messages
from central.mqtt import MqttSettings
from central.server import ServerThread, TlsSettings, uvicorn_config
from device.central_link import outbox
from device.central_link.outbox import Identity
from device.config import KioskConfig
from device.config_loader import load_config
from device.storage.database import Store
from device.storage.media_crypto import MediaKey
from sync_agent.assembly import AgentProcess, build

KINDS = ("session.state", "session.result", "usage", "session.report")


def client_for(server: ServerThread | Central, pki: Pki, cert: str, token: str | None = None
               ) -> httpx.Client:
    """An HTTPS client presenting ``cert``'s certificate (a box's, or ``central``), with an
    admin token when given."""
    cred = pki.central if cert == "central" else pki.device(cert)
    context = ssl.create_default_context(cafile=str(pki.ca.cert))
    context.load_cert_chain(str(cred.cert), str(cred.key))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, verify=context, timeout=10, headers=headers)


@contextmanager
def mtls_server(receiver: Receiver, pki: Pki) -> Iterator[ServerThread]:
    """Central's app served on loopback with mutual TLS, in a background thread."""
    tls = TlsSettings(pki.https.cert, pki.https.key, client_ca=pki.ca.cert)
    with ServerThread(receiver.app, tls=tls) as running:
        yield running


def https_config(receiver: Receiver, port: int, pki: Pki) -> uvicorn.Config:
    """Central's HTTPS API on loopback, mutual TLS (boxes present their certificates)."""
    tls = TlsSettings(pki.https.cert, pki.https.key, client_ca=pki.ca.cert)
    return uvicorn_config(receiver.app, "127.0.0.1", port, tls, log_level="warning")


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
        enrol_all(self.receiver)
        self.admin_token = self.receiver.create_admin_token("tests")
        self.key_file = data_dir / "central-signing.pub"
        self.key_file.write_text(self.receiver.public_key_pem)
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.server: uvicorn.Server | None = None
        if https:
            self.server = uvicorn.Server(https_config(self.receiver, self.port, pki))
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
def running_agent(config: KioskConfig, media_key: MediaKey | None = None, *,
                  wall_clock: Callable[[], dt.datetime] | None = None
                  ) -> Iterator[AgentProcess]:
    """The sync agent on a thread of this process, with its own store connection (and
    ``media_key`` to read sealed recordings with, when given; ``wall_clock`` stands in
    for the clock the agent checks a failed TLS handshake against)."""
    store = Store(config.db_path)
    service = build(config, store)
    if wall_clock is not None:
        service.agent.wall_clock = wall_clock
    if media_key is not None:
        assert service.agent.uploader is not None
        service.agent.uploader.use_key(media_key)
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


# -- for the security, HTTPS, media and document tests ------------------------------------

def stop_https(central: Central) -> None:
    """Take central's HTTPS server down (the receiver and its data stay).

    The graceful shutdown is cut short: the box's idle TLS keep-alive connection would
    otherwise hold it until the box answers the server's close_notify.
    """
    if central.server is not None:
        central.server.config.timeout_graceful_shutdown = 1
        central.server.should_exit = True
        central.thread.join(timeout=10)
        central.server = None


def start_https(central: Central, pki: Pki) -> None:
    """Serve central's HTTPS API again, on the same port as before."""
    server = uvicorn.Server(https_config(central.receiver, central.port, pki))
    central.server = server
    central.thread = threading.Thread(target=server.run, daemon=True)
    central.thread.start()
    wait_until(lambda: server.started, 15, "uvicorn restart")


def link_state(db_path: Path, transport: str) -> dict[str, Any] | None:
    """The sync link's state as the agent last wrote it (``kiosk sync status`` reads this)."""
    store = Store(db_path)
    try:
        return store.one("SELECT transport, state, detail, reconnects, sent, acked"
                         " FROM sync_link WHERE transport = ?", (transport,))
    finally:
        store.close()


def outbox_rows(db_path: Path, kind: str | None = None) -> list[dict[str, Any]]:
    """The box's outbox rows (all, or of one kind), in outbox order."""
    store = Store(db_path)
    try:
        return store.all("SELECT message_id, kind, status, attempts, last_error, payload"
                         " FROM outbox WHERE ? IS NULL OR kind = ? ORDER BY seq", (kind, kind))
    finally:
        store.close()


def central_bodies(central: Central, device_id: str, kind: str) -> list[dict[str, Any]]:
    """Bodies of the messages of one kind central holds from a box."""
    return [m["envelope"]["body"] for m in central.messages(device_id) if m["kind"] == kind]


# -- for the fault and clock tests ---------------------------------------------------------

def soak_cycles(default: int) -> int:
    """How many fault cycles a test runs: ``default`` (the bounded normal run), raised to
    ``KIOSK_SOAK_CYCLES`` when that is set, or ten times ``default`` under ``KIOSK_SOAK=1``."""
    raw = os.environ.get("KIOSK_SOAK_CYCLES", "").strip()
    if raw:
        return max(default, int(raw))
    return default * 10 if os.environ.get("KIOSK_SOAK") == "1" else default


def outbox_payloads(db_path: Path) -> dict[str, str]:
    """Every outbox row's id and payload, byte for byte as the box wrote it."""
    store = Store(db_path, check_integrity=True)
    try:
        return {r["message_id"]: r["payload"]
                for r in store.all("SELECT message_id, payload FROM outbox ORDER BY seq")}
    finally:
        store.close()


def assert_box_intact(db_path: Path, written: dict[str, str] | None = None) -> None:
    """The box's database passes ``integrity_check``; its message ids are contiguous
    (``seq`` 1…n, nothing reused or skipped); ``written`` rows are still there unchanged."""
    store = Store(db_path, check_integrity=False)
    try:
        check = [r["integrity_check"] for r in store.all("PRAGMA integrity_check")]
        found = store.all("SELECT seq, message_id, payload FROM outbox ORDER BY seq")
        counter = store.all("SELECT value FROM meta WHERE key = 'message_seq'")
    finally:
        store.close()
    assert check == ["ok"], f"the box's database is damaged: {check[:3]}"
    seqs = [r["seq"] for r in found]
    assert seqs == list(range(1, len(seqs) + 1)), "outbox seqs are not 1..n without gaps"
    assert int(counter[0]["value"]) == len(seqs), "meta.message_seq differs from the outbox"
    for r in found:
        assert r["message_id"].endswith(f":{r['seq']:012d}"), f"{r['message_id']}: id != seq"
    if written is not None:
        now = {r["message_id"]: r["payload"] for r in found}
        lost = sorted(set(written) - set(now))
        assert not lost, f"{len(lost)} written messages vanished from the outbox: {lost[:3]}"
        changed = [m for m, payload in written.items() if now[m] != payload]
        assert not changed, f"{len(changed)} outbox payloads changed, e.g. {changed[:3]}"


def assert_central_has_what_the_box_wrote(db_path: Path, central: Central,
                                          device_id: str) -> list[dict[str, Any]]:
    """Central stored each envelope exactly as the box wrote it (``recorded_at`` included):
    the agent only adds the ``session_seq`` it gave. Returns central's messages."""
    import json

    box = {m: json.loads(p) for m, p in outbox_payloads(db_path).items()}
    got = central.messages(device_id)
    for m in got:
        expected = dict(box[m["message_id"]])
        expected["session_seq"] = m["session_seq"]
        assert m["envelope"] == expected, (
            f"central's copy of {m['message_id']} differs from what the box wrote:"
            f" {m['envelope']} != {expected}")
    return got


def unacked(store: Store) -> int:
    found = store.one("SELECT count(*) AS n FROM outbox WHERE status != 'acked'")
    return int(found["n"]) if found else 0


def wait_drained(store: Store, timeout_s: float, stall_s: float = 20.0) -> None:
    """Wait until the outbox has nothing unacked; fail early when nothing is acked for
    ``stall_s`` seconds although messages wait (a stuck agent, not a slow one)."""
    deadline = time.monotonic() + timeout_s
    last, last_change = unacked(store), time.monotonic()
    while last:
        time.sleep(0.1)
        now_left, now = unacked(store), time.monotonic()
        if now_left != last:
            last, last_change = now_left, now
        elif now - last_change > stall_s:
            raise AssertionError(f"delivery stalled: {last} messages unacked and none acked"
                                 f" for {stall_s:g} s")
        if now > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s: {last} messages unacked")


def kiosk_sync(env: dict[str, str], log: Path, *args: str,
               wrapper: tuple[str, ...] = ()) -> Popen[bytes]:
    """``kiosk sync ARGS`` as its own process, optionally under ``wrapper`` (``faketime``).

    The box's settings are ``env`` alone: the runner's own ``KIOSK_*`` variables (such as
    ``KIOSK_SOAK_CYCLES``) are left out, as ``kiosk`` refuses variables that are not settings.
    """
    full = {**{k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}, **env}
    with log.open("ab") as out:
        return Popen([*wrapper, sys.executable, "-m", "kiosk", "sync", *args], env=full,
                     stdout=out, stderr=out)


def set_faults(central: Central, pki: Pki, **faults: Any) -> dict[str, Any]:
    """Switch central's ack faults through its admin API (``POST /v1/admin/faults``)."""
    with client_for(central, pki, "central", central.admin_token) as client:
        response = client.post("/v1/admin/faults", json=faults)
    assert response.status_code == 200, f"setting faults failed: {response.text}"
    body: dict[str, Any] = response.json()
    return body


class Producer:
    """Writes sessions of ``per_session`` messages on its own thread and store connection,
    a new session every ``every_s``, until stopped; ``ids`` are the committed message ids."""

    def __init__(self, db_path: Path, identity: Identity, *, per_session: int = 4,
                 every_s: float = 0.1, body_bytes: int = 2000) -> None:
        self.db_path = db_path
        self.identity = identity
        self.per_session = per_session
        self.every_s = every_s
        self.body_bytes = body_bytes
        self.ids: list[str] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="producer", daemon=True)

    def __enter__(self) -> Producer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join(timeout=30)
        if self.error is not None:
            raise AssertionError(f"the producer failed: {self.error!r}") from self.error
        return self.ids

    def _run(self) -> None:
        store = Store(self.db_path)
        try:
            n = 0
            while not self._stop.is_set():
                self.ids += produce(store, self.identity, 1, self.per_session,
                                    prefix=f"live{n}-", body_bytes=self.body_bytes)
                n += 1
                self._stop.wait(self.every_s)
        except BaseException as exc:
            self.error = exc
        finally:
            store.close()
