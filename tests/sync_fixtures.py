"""Fixtures for the sync tests: TLS material, a real Mosquitto broker, a fault-injecting proxy.

Loaded from conftest.py as a pytest plugin. :class:`MqttProbe` is a plain paho client with
blocking helpers, standing in for a box or for central in broker-level tests.
"""

from __future__ import annotations

import queue
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from netproxy import TcpProxy
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from central.broker import Mosquitto, free_port
from central.core import Receiver
from central.pki import CertificateAuthority, Credential
from central.registry import Device, register
from central.store import ReceiverStore

TENANT = "acme"
SITE = "plant-1"
DEVICES = ("dev-1", "dev-2", "dev-3")
REVOKED_DEVICE = "dev-revoked"
#: Central's service identities in the broker's ACL: the receiver, ingest workers, and an
#: observer the tests watch and publish with (the broker makes each CN the client id, so
#: two processes never share one).
SERVICES = ("central", "central-ingest-1", "central-ingest-2", "central-observer")


def enrolled_devices() -> list[Device]:
    """The test boxes as central's registry knows them (the revoked one too)."""
    return [Device(d, TENANT, SITE) for d in (*DEVICES, REVOKED_DEVICE)]


def enrol_all(receiver: Receiver) -> None:
    """Register the test boxes with a receiver, as enrolment would."""
    for device in enrolled_devices():
        receiver.register_device(device)


def enrol_in(store: ReceiverStore) -> None:
    """Register the test boxes in central's database (for workers, which have no API)."""
    with store.transaction() as conn:
        for device in enrolled_devices():
            register(conn, device, "tests")


@dataclass(frozen=True)
class Pki:
    """Everything TLS the sync tests need, issued once per test session."""

    ca: CertificateAuthority
    broker: Credential
    """Server certificate of the MQTT broker (localhost, 127.0.0.1)."""
    https: Credential
    """Server certificate of the HTTPS receiver (localhost, 127.0.0.1)."""
    central: Credential
    """Central's own MQTT client (CN ``central``)."""
    services: dict[str, Credential]
    """Central's other service identities: ingest workers and an observer for the tests."""
    devices: dict[str, Credential]
    """Client certificates of dev-1, dev-2, dev-3 (CN = device id)."""
    revoked: Credential
    """Client certificate of ``dev-revoked``, listed in :attr:`crl`."""
    wrong_ca: CertificateAuthority
    """An unrelated CA: what a box must not trust, and what the broker must not accept."""
    wrong_server: Credential
    """A server certificate for localhost issued by :attr:`wrong_ca`."""
    wrong_client: Credential
    """A client certificate with CN ``dev-1`` issued by :attr:`wrong_ca` (an impostor)."""

    @property
    def crl(self) -> Path:
        return self.ca.crl

    def device(self, device_id: str) -> Credential:
        return self.devices[device_id]

    def service(self, name: str) -> Credential:
        return self.services[name]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority.create(root / "ca", "Kiosk Test CA")
    certs = root / "certs"
    revoked = ca.issue_client(REVOKED_DEVICE, certs)
    ca.revoke(revoked.cert)
    wrong = CertificateAuthority.create(root / "wrong-ca", "Unrelated CA")
    return Pki(
        ca=ca,
        broker=ca.issue_server("broker", certs),
        https=ca.issue_server("receiver", certs),
        central=ca.issue_client("central", certs),
        services={name: ca.issue_client(name, certs) for name in SERVICES if name != "central"},
        devices={d: ca.issue_client(d, certs) for d in DEVICES},
        revoked=revoked,
        wrong_ca=wrong,
        wrong_server=wrong.issue_server("broker", root / "wrong-certs"),
        wrong_client=wrong.issue_client("dev-1", root / "wrong-certs"),
    )


@pytest.fixture
def broker(pki: Pki, tmp_path: Path) -> Iterator[Mosquitto]:
    """A running Mosquitto on a free loopback port, with mutual TLS, the ACL and the CRL."""
    with Mosquitto(tmp_path / "broker", free_port(), pki.ca.cert, pki.broker,
                   crl=pki.crl, devices=enrolled_devices(), services=SERVICES) as server:
        yield server


ProxyFactory = Callable[..., TcpProxy]


@pytest.fixture
def proxy_to() -> Iterator[ProxyFactory]:
    """``proxy_to(port, host="127.0.0.1")``: a :class:`TcpProxy` in front of that port."""
    proxies: list[TcpProxy] = []

    def make(port: int, host: str = "127.0.0.1") -> TcpProxy:
        proxy = TcpProxy(port, host)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


# -- a blocking MQTT 5 client for broker-level tests --------------------------------------

class ProbeError(Exception):
    """The probe could not connect, or an operation timed out."""


@dataclass
class Disconnect:
    reason_code: ReasonCode
    from_broker: bool


@dataclass
class MqttProbe:
    """A paho MQTT 5 client over mutual TLS whose callbacks only feed queues."""

    client_id: str
    cred: Credential | None
    ca: Path
    keepalive: int = 60
    timeout_s: float = 5.0
    messages: queue.Queue[mqtt.MQTTMessage] = field(default_factory=queue.Queue)
    disconnects: queue.Queue[Disconnect] = field(default_factory=queue.Queue)
    _connacks: queue.Queue[tuple[ReasonCode, bool] | Disconnect] = field(
        default_factory=queue.Queue)
    _acks: dict[int, queue.Queue[Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        # No automatic reconnection: a lost connection ends the network thread, so tests
        # see every disconnect.
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                  protocol=mqtt.MQTTv5, reconnect_on_failure=False)
        self.client.tls_set(ca_certs=str(self.ca),
                            certfile=str(self.cred.cert) if self.cred else None,
                            keyfile=str(self.cred.key) if self.cred else None,
                            tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe

    def connect(self, port: int, host: str = "127.0.0.1", *, clean_start: bool = True,
                session_expiry_s: int | None = None) -> bool:
        """Connect and wait for a successful CONNACK; returns ``session_present``.

        TLS errors found during the handshake propagate (``ssl.SSLError``); a refusal
        after it (TLS alert, failed CONNACK, closed socket) raises :class:`ProbeError`.
        The probe never reconnects by itself: a lost connection ends its network thread.
        """
        props = None
        if session_expiry_s is not None:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = session_expiry_s
        while not self._connacks.empty():  # events of an earlier connection
            self._connacks.get_nowait()
        self.client.connect(host, port, keepalive=self.keepalive, clean_start=clean_start,
                            properties=props)
        self.client.loop_start()
        try:
            event = self._connacks.get(timeout=self.timeout_s)
        except queue.Empty:
            self.close()
            raise ProbeError(f"{self.client_id}: no CONNACK within {self.timeout_s:g} s"
                             ) from None
        if isinstance(event, Disconnect):
            self.close()
            raise ProbeError(f"{self.client_id}: disconnected before CONNACK:"
                             f" {event.reason_code}")
        reason, present = event
        if reason.is_failure:
            self.close()
            raise ProbeError(f"{self.client_id}: connection refused: {reason}")
        return present

    @property
    def connected(self) -> bool:
        return self.client.is_connected()

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, *,
                retain: bool = False, properties: Properties | None = None) -> ReasonCode:
        """Publish and wait for the broker's PUBACK (QoS 1); returns its reason code."""
        with self._lock:
            info = self.client.publish(topic, payload, qos=qos, retain=retain,
                                       properties=properties)
            box = self._acks.setdefault(info.mid, queue.Queue())
        return self._wait(box, f"PUBACK for {topic}")  # type: ignore[no-any-return]

    def subscribe(self, topic: str, qos: int = 1) -> list[ReasonCode]:
        """Subscribe and wait for the SUBACK; returns its reason codes."""
        with self._lock:
            result, mid = self.client.subscribe(topic, qos=qos)
            if mid is None:
                raise ProbeError(f"{self.client_id}: cannot subscribe to {topic} ({result})")
            box = self._acks.setdefault(mid, queue.Queue())
        return self._wait(box, f"SUBACK for {topic}")  # type: ignore[no-any-return]

    def next_message(self, timeout_s: float | None = None) -> mqtt.MQTTMessage:
        try:
            return self.messages.get(timeout=timeout_s or self.timeout_s)
        except queue.Empty:
            raise ProbeError(f"{self.client_id}: no message within"
                             f" {timeout_s or self.timeout_s:g} s") from None

    def wait_disconnect(self, timeout_s: float | None = None) -> Disconnect:
        try:
            return self.disconnects.get(timeout=timeout_s or self.timeout_s)
        except queue.Empty:
            raise ProbeError(f"{self.client_id}: still connected after"
                             f" {timeout_s or self.timeout_s:g} s") from None

    def close(self) -> None:
        """Send DISCONNECT if connected, then stop the network thread."""
        if self.client.is_connected():
            self.client.disconnect()
        self.client.loop_stop()

    def _wait(self, box: queue.Queue[Any], what: str) -> Any:
        try:
            return box.get(timeout=self.timeout_s)
        except queue.Empty:
            raise ProbeError(f"{self.client_id}: no {what} within {self.timeout_s:g} s"
                             ) from None

    def _box(self, mid: int) -> queue.Queue[Any]:
        with self._lock:
            return self._acks.setdefault(mid, queue.Queue())

    # paho callbacks (network thread): hand results over, nothing else

    def _on_connect(self, _c: mqtt.Client, _u: Any, flags: mqtt.ConnectFlags,
                    reason: ReasonCode, _p: Properties | None) -> None:
        self._connacks.put((reason, flags.session_present))

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, flags: mqtt.DisconnectFlags,
                       reason: ReasonCode, _p: Properties | None) -> None:
        event = Disconnect(reason, flags.is_disconnect_packet_from_server)
        self.disconnects.put(event)
        self._connacks.put(event)

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: ReasonCode,
                    _p: Properties) -> None:
        self._box(mid).put(reason)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, reasons: list[ReasonCode],
                      _p: Properties) -> None:
        self._box(mid).put(reasons)


ProbeFactory = Callable[..., MqttProbe]


@pytest.fixture
def mqtt_probe(pki: Pki) -> Iterator[ProbeFactory]:
    """``mqtt_probe(client_id, cred, ca=None, keepalive=60)``: probes closed after the test."""
    probes: list[MqttProbe] = []

    def make(client_id: str, cred: Credential | None, ca: Path | None = None,
             keepalive: int = 60) -> MqttProbe:
        probe = MqttProbe(client_id, cred, ca or pki.ca.cert, keepalive=keepalive)
        probes.append(probe)
        return probe

    yield make
    for probe in probes:
        probe.close()
