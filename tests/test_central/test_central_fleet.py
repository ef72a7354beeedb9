"""Central for a fleet: ingest workers on one MQTT 5 shared subscription, one PostgreSQL.

Real Mosquitto, real PostgreSQL, the real worker (in this process, and as ``kiosk central
worker`` processes where one must be killed). The boxes here resend what central has not
acked after a timeout, as the sync agent does.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sync_fixtures import SITE, TENANT, MqttProbe, Pki, ProbeError, ProbeFactory, enrol_in

from central.broker import Mosquitto
from central.messages import list_messages, stats
from central.mqtt import Inbound, MqttSettings
from central.store import ReceiverStore, open_store
from central.worker import IngestWorker
from shared.contract import Ack, ack_topic, message_topic

DEVICES = ("dev-1", "dev-2", "dev-3")


def envelope(device: str, session: int, n: int) -> dict[str, Any]:
    return {
        "message_id": f"{device}:s{session}:{n:04d}", "schema_version": "kiosk/v1",
        "kind": "session.state", "device_id": device, "tenant": TENANT, "site": SITE,
        "seq": session * 1000 + n, "session_id": f"{device}-s{session}", "drill": False,
        "session_seq": n,
        "recorded_at": {"utc": "1970-01-01T00:00:05Z", "mono": float(n), "boot": "b-1",
                        "synced": False},
        "body": {"state": "active"},
    }


class ResendingBox:
    """A box's MQTT side: publishes, collects central's acks, resends what was not acked."""

    def __init__(self, probe: MqttProbe, device_id: str, port: int) -> None:
        self.probe, self.device_id = probe, device_id
        probe.connect(port)
        probe.subscribe(ack_topic(TENANT, SITE, device_id))
        self.unacked: dict[str, dict[str, Any]] = {}
        self.published = 0

    def send(self, env: dict[str, Any]) -> None:
        self.unacked[env["message_id"]] = env
        self._publish(env)

    def _publish(self, env: dict[str, Any]) -> None:
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.UserProperty = [("message_id", env["message_id"])]
        self.probe.publish(message_topic(TENANT, SITE, self.device_id, env["kind"]),
                           json.dumps(env), properties=props)
        self.published += 1

    def take_acks(self, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        while self.unacked and time.monotonic() < deadline:
            try:
                message = self.probe.next_message(max(0.01, deadline - time.monotonic()))
            except ProbeError:
                return
            ack = Ack.model_validate_json(message.payload)
            assert ack.rejected == [], ack.rejected
            for message_id in ack.acked:
                self.unacked.pop(message_id, None)

    def resend_unacked(self) -> None:
        for env in list(self.unacked.values()):
            self._publish(env)


def until_all_acked(boxes: list[ResendingBox], *, resend_after_s: float, deadline_s: float,
                    between: Callable[[], None] = lambda: None) -> None:
    deadline = time.monotonic() + deadline_s
    while any(b.unacked for b in boxes):
        assert time.monotonic() < deadline, {b.device_id: len(b.unacked) for b in boxes}
        for box in boxes:
            box.take_acks(resend_after_s / len(boxes))
        between()
        for box in boxes:
            box.resend_unacked()


def wait_for(condition: Callable[[], bool], deadline_s: float, what: str) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def check_stored_once_in_order(store: ReceiverStore, published: int, expected: int, *,
                               redelivered: bool = False) -> None:
    """Every message stored once, every publish counted, every session in order.

    ``redelivered``: a worker died; what it had stored but not yet PUBACKed is delivered
    again by the broker and counted as one more copy.
    """
    def counted() -> bool:
        copies = stats(store)["copies"]
        return bool(copies >= published if redelivered else copies == published)

    wait_for(counted, 30, "every copy to be counted")
    totals = stats(store)
    assert (totals["stored"], totals["held_back"]) == (expected, 0)
    assert sum(d["messages"] for d in totals["devices"].values()) == expected
    sessions: dict[str, list[int]] = {}
    for m in list_messages(store):  # in delivery order
        sessions.setdefault(m["session_id"], []).append(m["session_seq"])
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in sessions.values()), sessions


def settings(pki: Pki, broker: Mosquitto, client_id: str) -> MqttSettings:
    return MqttSettings("127.0.0.1", broker.port, ca=pki.ca.cert, cert=pki.service(client_id).cert,
                        key=pki.service(client_id).key, client_id=client_id, share_group="ingest",
                        keepalive_s=5, reconnect_max_s=2)


@pytest.fixture
def workers(pki: Pki, broker: Mosquitto, pg_url: str) -> Iterator[Callable[[str], IngestWorker]]:
    started: list[IngestWorker] = []
    registry = open_store(pg_url)
    enrol_in(registry)
    registry.close()

    def start(client_id: str) -> IngestWorker:
        worker = IngestWorker(open_store(pg_url), settings(pki, broker, client_id))
        started.append(worker)
        worker.start(wait_s=10)
        assert worker.link.wait_subscribed(10)
        return worker

    yield start
    for worker in started:
        worker.close()


def boxes_for(mqtt_probe: ProbeFactory, pki: Pki, broker: Mosquitto) -> list[ResendingBox]:
    return [ResendingBox(mqtt_probe(d, pki.device(d)), d, broker.port) for d in DEVICES]


@pytest.mark.integration
def test_two_workers_on_one_shared_subscription_store_every_message_once(
        workers: Callable[[str], IngestWorker], pg_url: str, pki: Pki, broker: Mosquitto,
        mqtt_probe: ProbeFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = workers("central-ingest-1"), workers("central-ingest-2")
    handled = {first: 0, second: 0}
    for worker in handled:
        def counted(message: Inbound, worker: IngestWorker = worker,
                    puback: Callable[[Inbound], None] = worker.link.puback) -> None:
            handled[worker] += 1
            puback(message)
        monkeypatch.setattr(worker.link, "puback", counted)
    boxes = boxes_for(mqtt_probe, pki, broker)
    sent = [(box, envelope(box.device_id, s, n)) for box in boxes for s in range(4)
            for n in range(1, 26)]
    random.Random(5).shuffle(sent)  # sessions arrive out of order, split between workers
    for box, env in sent:
        box.send(env)
    until_all_acked(boxes, resend_after_s=10, deadline_s=120)
    check_stored_once_in_order(first.store, sum(b.published for b in boxes), len(sent))
    assert stats(second.store)["devices"]["dev-2"]["messages"] == 100
    assert min(handled.values()) > 0 and sum(handled.values()) >= len(sent), handled


def worker_process(pki: Pki, broker: Mosquitto, pg_url: str, client_id: str,
                   log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "kiosk", "central", "worker", "--database", pg_url,
            "--mqtt-host", "127.0.0.1", "--mqtt-port", str(broker.port), "--mqtt-ca",
            str(pki.ca.cert), "--mqtt-cert", str(pki.service(client_id).cert),
            "--mqtt-key", str(pki.service(client_id).key), "--client-id", client_id]
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=out)
    wait_for(lambda: "ingesting" in log.read_text(errors="replace")
             or proc.poll() is not None, 60, f"{client_id} to start")
    assert proc.poll() is None, log.read_text()
    return proc


@pytest.mark.integration
def test_a_worker_killed_mid_batch_loses_nothing(
        workers: Callable[[str], IngestWorker], pg_url: str, pki: Pki, broker: Mosquitto,
        mqtt_probe: ProbeFactory, tmp_path: Path) -> None:
    log = tmp_path / "worker-1.log"
    doomed = worker_process(pki, broker, pg_url, "central-ingest-1", log)
    survivor = workers("central-ingest-2")
    restarted: list[subprocess.Popen[bytes]] = []
    try:
        boxes = boxes_for(mqtt_probe, pki, broker)
        sent = [(box, envelope(box.device_id, s, n)) for box in boxes for s in range(2)
                for n in range(1, 41)]
        random.Random(9).shuffle(sent)
        for i, (box, env) in enumerate(sent):
            box.send(env)
            if i == len(sent) // 3:  # while both workers are busy storing
                doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)

        def restart_once() -> None:  # the service manager brings it back, same client id
            if not restarted:
                restarted.append(worker_process(pki, broker, pg_url, "central-ingest-1", log))

        until_all_acked(boxes, resend_after_s=3, deadline_s=120, between=restart_once)
        check_stored_once_in_order(survivor.store, sum(b.published for b in boxes), len(sent),
                                   redelivered=True)
    finally:
        for proc in [doomed, *restarted]:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(30)


def test_worker_refuses_bad_arguments(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    from conftest import free_port
    from kiosk.cli import main

    base = ["central", "worker", "--mqtt-host", "127.0.0.1", "--client-id", "central-ingest-1"]
    assert main([*base, "--database", "mysql://db/central"]) == 2
    assert "--database mysql://db/central: give postgresql://" in capsys.readouterr().err
    assert main([*base, "--database", "postgresql://x@127.0.0.1:1/central",
                 "--share-group", "a/b"]) == 2
    assert "--share-group" in capsys.readouterr().err
    unreachable = f"postgresql://central:secret@127.0.0.1:{free_port()}/central"
    assert main([*base, "--database", unreachable]) == 1
    err = capsys.readouterr().err
    assert "cannot connect to PostgreSQL at postgresql://central@127.0.0.1" in err
    assert "secret" not in err
