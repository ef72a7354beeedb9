"""Central's trust boundary, attacked: with a real enrolled box's certificate, real Mosquitto
and its ACL, and the real receiver, every attempt to act as an admin, as central, as another
box or under another tenant is refused with a reason, and nothing changes."""

from __future__ import annotations

import json
import logging
import queue
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion
from sync_fixtures import SITE, TENANT, Pki, enrol_all
from sync_harness import (
    Central,
    assert_exactly_once_in_order,
    box_config,
    client_for,
    link_state,
    mtls_server,
    outbox_rows,
    produce,
    running_agent,
    wait_until,
)

from central import Receiver, ServerThread
from central.broker import Mosquitto
from central.enrol import EnrolmentSettings, EnrolRequest, TokenRequest, enrol
from central.messages import list_messages
from central.mqtt import Inbound
from central.mqtt_ingest import MqttIngest
from central.pki import PkiError
from central.registry import lookup
from device.audit import Actor
from device.central_link import sync_control as control
from device.central_link.outbox import Identity
from device.storage.database import Store
from shared.contract import ack_topic, message_topic

pytestmark = pytest.mark.integration

OTHER_TENANT, OTHER_SITE = "other-co", "plant-9"


def envelope(device: str, seq: int = 1, *, tenant: str = TENANT,
             site: str = SITE) -> dict[str, Any]:
    return {
        "message_id": f"{device}:{seq:012d}", "schema_version": "kiosk/v1",
        "kind": "session.state", "device_id": device, "tenant": tenant, "site": site,
        "seq": seq, "session_id": "s-1", "drill": False, "session_seq": seq,
        "recorded_at": {"utc": "1970-01-01T00:00:05Z", "mono": 5.0, "boot": "b-1",
                        "synced": False},
        "body": {"state": "active"},
    }


def post(client: httpx.Client, env: dict[str, Any]) -> httpx.Response:
    return client.post("/v1/messages", json=env, headers={"Idempotency-Key": env["message_id"]})


@pytest.fixture
def receiver(tmp_path: Path, pki: Pki) -> Iterator[Receiver]:
    r = Receiver(tmp_path / "central", enrolment=EnrolmentSettings(
        pki.ca.directory, https_url="https://127.0.0.1:1", tenant=TENANT, site=SITE))
    enrol_all(r)
    yield r
    r.close()


@pytest.fixture
def server(receiver: Receiver, pki: Pki) -> Iterator[ServerThread]:
    with mtls_server(receiver, pki) as running:
        yield running


@pytest.fixture
def admin(server: ServerThread, pki: Pki, receiver: Receiver) -> Iterator[httpx.Client]:
    with client_for(server, pki, "central", receiver.create_admin_token("hr-ops")) as client:
        yield client


def snapshot(receiver: Receiver) -> dict[str, Any]:
    """Everything an attack could change."""
    tables = ("messages", "documents", "enrolment_tokens", "registry", "devices")
    counts = {t: receiver.store.one(f"SELECT COUNT(*) AS n FROM {t}")["n"]  # type: ignore[index]
              for t in tables}
    return {**counts, "faults": receiver.faults.current.model_dump(),
            "registry": receiver.store.all("SELECT * FROM registry ORDER BY device_id")}


# -- admin routes: a box's certificate is no admin credential ----------------------------------

ADMIN_CALLS = [
    ("GET", "/v1/admin/messages?device_id=dev-1", None),
    ("GET", "/v1/admin/stats", None),
    ("GET", "/v1/admin/devices", None),
    ("GET", "/v1/admin/media/m1", None),
    ("POST", "/v1/admin/faults", {"drop_acks": 1.0}),
    ("POST", "/v1/admin/documents", {"kind": "config", "scope": "device", "tenant": TENANT,
                                     "device_id": "dev-1",
                                     "body": {"settings": {"sync.upload_media": True}}}),
    ("POST", "/v1/admin/enrolment-tokens", {"device_id": "central"}),
    ("POST", "/v1/admin/devices", {"device_id": "dev-2", "tenant": OTHER_TENANT,
                                   "site": OTHER_SITE, "move": True}),
]


@pytest.mark.parametrize("token", [None, "adm_forged", "enr_notanadmintoken"])
def test_a_box_certificate_is_never_an_admin(server: ServerThread, pki: Pki,
                                             receiver: Receiver, admin: httpx.Client,
                                             token: str | None) -> None:
    post(admin, envelope("dev-1"))  # as central's service: refused, see below
    before = snapshot(receiver)
    with client_for(server, pki, "dev-2", token) as box2:
        for method, path, body in ADMIN_CALLS:
            r = box2.request(method, path, json=body)
            assert r.status_code == 401, (path, r.text)
            assert "admin token" in r.json()["detail"]
            assert "messages" not in r.json()
    assert snapshot(receiver) == before
    # the same routes answer an admin
    assert admin.get("/v1/admin/stats").status_code == 200


def test_a_revoked_admin_token_stops_working(server: ServerThread, pki: Pki,
                                             receiver: Receiver) -> None:
    from central.admin import revoke_token

    token = receiver.create_admin_token("leaver")
    with client_for(server, pki, "central", token) as client:
        assert client.get("/v1/admin/stats").status_code == 200
        assert revoke_token(receiver.store, "leaver") == 1
        assert client.get("/v1/admin/stats").status_code == 401


# -- device and service names never mix ----------------------------------------------------------

@pytest.mark.parametrize("name", ["central", "CENTRAL", "central-ingest-1", "admin", "svc-x"])
def test_no_enrolment_token_is_made_for_a_service_name(admin: httpx.Client,
                                                       receiver: Receiver, name: str) -> None:
    before = snapshot(receiver)
    r = admin.post("/v1/admin/enrolment-tokens", json={"device_id": name})
    assert r.status_code == 422 and "reserved for central's own services" in r.json()["detail"]
    r = admin.post("/v1/admin/devices", json={"device_id": name, "tenant": TENANT,
                                              "site": SITE})
    assert r.status_code == 422 and "reserved" in r.json()["detail"]
    assert snapshot(receiver) == before


def _csr(name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def test_the_ca_never_signs_a_device_request_as_central(pki: Pki, receiver: Receiver) -> None:
    with pytest.raises(PkiError, match="reserved for central's own services"):
        pki.ca.sign_csr(_csr("central").encode(), "central")
    # a token stored before names were checked still cannot enrol a "central"
    made = receiver.store.one("SELECT COUNT(*) AS n FROM registry")
    with receiver.store.transaction() as conn:
        conn.execute("INSERT INTO enrolment_tokens (token_sha256, device_id, tenant, site,"
                     " created, expires) VALUES (?, 'central', ?, ?, '2026-01-01',"
                     " '2999-01-01T00:00:00+00:00')",
                     (__import__("hashlib").sha256(b"enr_old").hexdigest(), TENANT, SITE))
    from central.enrol import BadRequestError

    with pytest.raises(BadRequestError, match="service names"):
        enrol(receiver, EnrolRequest(token="enr_old", csr_pem=_csr("x")))
    assert receiver.store.one("SELECT COUNT(*) AS n FROM registry") == made
    assert lookup(receiver.store, "central") is None
    with pytest.raises(ValueError, match="reserved"):
        TokenRequest(device_id="central")


def test_a_service_certificate_cannot_speak_for_a_box(admin: httpx.Client,
                                                      receiver: Receiver) -> None:
    r = post(admin, envelope("dev-1"))
    assert r.status_code == 403 and "belongs to central's services" in r.json()["detail"]
    assert admin.get("/v1/devices/dev-1/documents").status_code == 403
    assert list_messages(receiver.store) == []


# -- a box speaks only for itself, at its enrolled tenant and site --------------------------

def test_a_box_cannot_send_as_another_box_or_tenant(
        server: ServerThread, pki: Pki, receiver: Receiver,
        caplog: pytest.LogCaptureFixture) -> None:
    before = snapshot(receiver)
    with client_for(server, pki, "dev-2") as box2, caplog.at_level(logging.WARNING):
        r = post(box2, envelope("dev-1"))
        assert r.status_code == 403 and "device_id 'dev-1' (enrolled: 'dev-2')" in r.text
        r = post(box2, envelope("dev-2", tenant=OTHER_TENANT, site=OTHER_SITE))
        assert r.status_code == 403 and f"tenant '{OTHER_TENANT}'" in r.text
    assert snapshot(receiver) == before
    assert "refused message dev-1:000000000001 from dev-2" in caplog.text
    # its honest message is stored, and the registry still has it where it was enrolled
    with client_for(server, pki, "dev-2") as box2:
        assert post(box2, envelope("dev-2")).json()["acked"] == ["dev-2:000000000001"]
    registered = lookup(receiver.store, "dev-2")
    assert registered is not None and (registered.tenant, registered.site) == (TENANT, SITE)
    assert receiver.store.one("SELECT tenant FROM devices WHERE device_id = 'dev-2'") == {
        "tenant": TENANT}


def test_a_box_reads_only_its_own_documents(server: ServerThread, pki: Pki,
                                            receiver: Receiver, admin: httpx.Client) -> None:
    admin.post("/v1/admin/documents", json={
        "kind": "roster", "scope": "week-1", "tenant": TENANT, "device_id": "dev-1",
        "body": {"format": "kiosk-roster/1", "invites": []}}).raise_for_status()
    admin.post("/v1/admin/documents", json={
        "kind": "roster", "scope": "theirs", "tenant": OTHER_TENANT,
        "body": {"format": "kiosk-roster/1", "invites": []}}).raise_for_status()
    with client_for(server, pki, "dev-2") as box2:
        r = box2.get("/v1/devices/dev-1/documents")
        assert r.status_code == 403 and "a box speaks only for itself" in r.json()["detail"]
        theirs = box2.get("/v1/devices/dev-2/documents",
                          params={"tenant": OTHER_TENANT, "site": OTHER_SITE}).json()
    assert theirs["documents"] == []


def test_an_unenrolled_certificate_of_the_ca_is_refused(tmp_path: Path, pki: Pki,
                                                        server: ServerThread,
                                                        receiver: Receiver) -> None:
    stray = pki.ca.issue_client("dev-stray", tmp_path / "certs")
    context = ssl.create_default_context(cafile=str(pki.ca.cert))
    context.load_cert_chain(str(stray.cert), str(stray.key))
    with httpx.Client(base_url=server.url, verify=context, timeout=10) as box:
        r = post(box, envelope("dev-stray"))
    assert r.status_code == 403 and "not enrolled" in r.json()["detail"]
    assert list_messages(receiver.store) == []


# -- MQTT: the broker's ACL and central's own check ------------------------------------------

class Client:
    """A plain MQTT 5 client under one certificate, recording PUBACK reason codes."""

    def __init__(self, pki: Pki, cert: str, port: int, client_id: str | None = None) -> None:
        cred = pki.services[cert] if cert in pki.services else (
            pki.central if cert == "central" else pki.device(cert))
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"attack-{cert}", protocol=mqtt.MQTTv5)
        self.connected: queue.Queue[int] = queue.Queue()
        self.client.on_connect = lambda _c, _u, _f, reason, _p: self.connected.put(reason.value)
        self.client.tls_set(ca_certs=str(pki.ca.cert), certfile=str(cred.cert),
                            keyfile=str(cred.key), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.acks: queue.Queue[int] = queue.Queue()
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.client.on_publish = lambda _c, _u, _mid, reason, _p: self.acks.put(reason.value)
        self.client.on_message = lambda _c, _u, message: self.messages.put(message)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes) -> int:
        """The broker's PUBACK reason code (0 accepted, 0x87 not authorised)."""
        self.client.publish(topic, payload, qos=1)
        return self.acks.get(timeout=10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clients(pki: Pki, broker: Mosquitto) -> Iterator[Any]:
    made: list[Client] = []

    def make(cert: str, client_id: str | None = None) -> Client:
        made.append(Client(pki, cert, broker.port, client_id))
        return made[-1]

    yield make
    for c in made:
        c.close()


def test_the_broker_lets_a_box_publish_only_under_its_own_path(clients: Any) -> None:
    box2 = clients("dev-2")
    payload = json.dumps(envelope("dev-2")).encode()
    # accepted (0x10: accepted, nobody subscribed yet)
    assert box2.publish(message_topic(TENANT, SITE, "dev-2", "session.state"), payload) in (
        0, 0x10)
    for tenant, site, device in ((OTHER_TENANT, OTHER_SITE, "dev-2"), (TENANT, OTHER_SITE,
                                 "dev-2"), (TENANT, SITE, "dev-1")):
        topic = message_topic(tenant, site, device, "session.state")
        assert box2.publish(topic, payload) == 0x87, topic
    # acks come only from central: another box cannot write one
    forged = json.dumps({"device_id": "dev-1", "acked": ["dev-1:000000000001"]}).encode()
    assert box2.publish(ack_topic(TENANT, SITE, "dev-1"), forged) == 0x87
    assert box2.publish(ack_topic(TENANT, SITE, "dev-2"), forged) == 0x87


def test_a_box_reads_only_its_own_ack_and_down_topics(clients: Any) -> None:
    box2 = clients("dev-2")
    granted = []
    box2.client.on_subscribe = lambda _c, _u, _mid, codes, _p: granted.append(
        [c.value for c in codes])
    for topic in (ack_topic(TENANT, SITE, "dev-1"), f"kiosk/v1/{TENANT}/{SITE}/dev-1/down/#",
                  "kiosk/v1/#"):
        box2.client.subscribe(topic, qos=1)
    central = clients("central-observer")
    central.publish(ack_topic(TENANT, SITE, "dev-1"), b"{}")
    central.publish(f"kiosk/v1/{TENANT}/{SITE}/dev-1/down/roster/r", b"{}")
    with pytest.raises(queue.Empty):
        box2.messages.get(timeout=1.0)


def test_central_refuses_a_message_whose_path_is_not_its_enrolled_one(
        receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    """Even if a broker let it through (a misconfigured ACL), central takes a box's tenant
    and site from the registry and stores nothing that claims another."""

    class Link:
        def __init__(self) -> None:
            self.pubacked: list[int] = []
            self.inbound: queue.Queue[Inbound] = queue.Queue()

        def puback(self, message: Inbound) -> None:
            self.pubacked.append(message.mid)

    class Acks:
        def __init__(self) -> None:
            self.sent: list[tuple[str, list[str]]] = []

        def add(self, topic: str, device: str, acked: list[str], rejected: list[Any]) -> None:
            self.sent.append((topic, acked))

        def release(self) -> None:
            pass

    link, acks = Link(), Acks()
    ingest = MqttIngest(receiver.store, link, acks, lambda *a: None)  # type: ignore[arg-type]
    ingest.close()
    before = snapshot(receiver)
    hops = [(OTHER_TENANT, OTHER_SITE, "dev-2"), (TENANT, SITE, "dev-unknown")]
    batch = [Inbound(message_topic(t, s, d, "session.state"),
                     json.dumps(envelope(d, tenant=t, site=s)).encode(), {}, n, 1, False, 0)
             for n, (t, s, d) in enumerate(hops, 1)]
    with caplog.at_level(logging.WARNING):
        ingest.handle(batch)
    assert snapshot(receiver) == before
    assert acks.sent == [] and link.pubacked == [1, 2]  # refused for good, never stored
    assert f"dev-2 is enrolled for {TENANT}/{SITE}" in caplog.text
    assert "device dev-unknown is not enrolled" in caplog.text


# -- the box: an ack counts only for a message it sent and waits for ---------------------------

def test_the_box_ignores_acks_for_messages_it_has_not_sent(
        tmp_path: Path, pki: Pki, broker: Mosquitto, clients: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    central = Central(tmp_path / "central", pki, broker.port, https=False)
    config = box_config(tmp_path / "box", pki, "dev-1", broker_port=broker.port,
                        key_file=central.key_file)
    store = Store(config.db_path)
    control.update(store, Actor("technician", "tess"), "maintenance", paused=True)
    waiting = produce(store, Identity("dev-1", TENANT, SITE), sessions=1, per_session=4)
    try:
        with running_agent(config) as service, caplog.at_level(logging.WARNING):
            wait_until(lambda: (link_state(config.db_path, "mqtt") or {}).get("state")
                       == "online", 20, "the box to be online (paused)")
            # the strongest forger: a well-formed ack on central's own channel (a service
            # certificate of central's), naming messages the box holds but never sent
            forged = json.dumps({"device_id": "dev-1", "acked": waiting[:3], "rejected": [
                {"message_id": waiting[3], "reason": "forged"}]}).encode()
            clients("central-observer").publish(ack_topic(TENANT, SITE, "dev-1"), forged)
            wait_until(lambda: "ignored an ack naming 4 message(s) not in flight"
                       in caplog.text, 10, "the box to ignore the forged ack")
            rows = outbox_rows(config.db_path)
            assert [(r["status"], r["last_error"]) for r in rows] == [("pending", None)] * 4
            control.update(store, Actor("technician", "tess"), "done", paused=False)
            wait_until(service.agent.drained, 20, "the real delivery after resuming")
        assert_exactly_once_in_order(config.db_path, central, "dev-1")
    finally:
        store.close()
        central.close()


def test_a_box_cannot_see_or_touch_another_boxes_upload(server: ServerThread, pki: Pki,
                                                        receiver: Receiver) -> None:
    import hashlib

    data = b"recording of dev-1"
    declared = {"session_id": "s-1", "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(), "content_type": "video/mp4"}
    octets = {"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0",
              "Chunk-Sha256": hashlib.sha256(b"forged").hexdigest()}
    with client_for(server, pki, "dev-1") as box1, client_for(server, pki, "dev-2") as box2:
        assert box1.put("/v1/media/m-1", json=declared).json()["offset"] == 0
        r = box2.get("/v1/media/m-1")
        assert r.status_code == 404 and "has not been declared" in r.json()["detail"]
        r = box2.patch("/v1/media/m-1", content=b"forged", headers=octets)
        assert r.status_code == 404
        r = box2.put("/v1/media/m-1", json=declared)
        assert r.status_code == 409 and "another box" in r.json()["detail"]
        assert box1.get("/v1/media/m-1").json() == {"offset": 0, "bytes": len(data),
                                                     "complete": False}


def test_a_box_cannot_take_over_centrals_session(tmp_path: Path, pki: Pki,
                                                 broker: Mosquitto, clients: Any) -> None:
    """The broker makes the certificate's CN the client id: a box asking for the client id
    ``central`` gets its own, and central stays connected."""
    central = Central(tmp_path / "central", pki, broker.port, https=False)
    try:
        link = central.receiver.link
        assert link is not None and link.wait_connected(10)
        box2 = clients("dev-2", client_id="central")
        assert box2.connected.get(timeout=10) == 0
        assert broker.wait_for_log("as dev-2 (p5", 5), broker.log_tail()
        assert not broker.wait_for_log("closing old connection", 1.0), broker.log_tail()
        assert link.connected
    finally:
        central.close()
