"""Central's MQTT connection: mutual TLS, a persistent session, manual PUBACKs.

Callbacks only queue work. A message is PUBACKed to the broker only after it has been
stored (see :mod:`central.mqtt_ingest`), so the broker redelivers what central
did not store. The client reconnects on its own; a refused connection is reported as an
error, never taken for "connected".
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from central.errors import MqttConnectError, MqttRefusedError
from shared.contract import TOPIC_ROOT

log = logging.getLogger(__name__)

SUBSCRIPTIONS = (f"{TOPIC_ROOT}/+/+/+/msg/#", f"{TOPIC_ROOT}/+/+/+/status")


def subscriptions(share_group: str | None) -> tuple[str, ...]:
    """What central subscribes to: as one client, or as one of a group of ingest workers
    sharing the stream (MQTT 5 shared subscriptions: each message goes to one of them)."""
    if share_group is None:
        return SUBSCRIPTIONS
    if not share_group or any(c in share_group for c in "/+#"):
        raise ValueError(f"share group {share_group!r}: must be non-empty, without / + #")
    return tuple(f"$share/{share_group}/{topic}" for topic in SUBSCRIPTIONS)


@dataclass(frozen=True)
class MqttSettings:
    """Where central's MQTT client connects, and as whom (certificate CN ``central``)."""

    host: str
    port: int = 8883
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    client_id: str = "central"
    #: Subscribe as a member of this shared-subscription group (``kiosk central worker``).
    share_group: str | None = None
    session_expiry_s: int = 24 * 3600
    keepalive_s: int = 30
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30


@dataclass(frozen=True)
class Inbound:
    """One PUBLISH received, as handed from the network thread to the worker."""

    topic: str
    payload: bytes
    user_properties: dict[str, str]
    mid: int
    qos: int
    retain: bool
    generation: int


class MqttLink:
    def __init__(self, settings: MqttSettings) -> None:
        self.settings = settings
        self.inbound: queue.Queue[Inbound] = queue.Queue()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._first_answer = threading.Event()
        self._refusal: str | None = None
        self._generation = 0
        self._lock = threading.Lock()
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                             protocol=paho.MQTTv5, manual_ack=True)
        if settings.ca is not None or settings.cert is not None:
            client.tls_set(ca_certs=str(settings.ca) if settings.ca else None,
                           certfile=str(settings.cert) if settings.cert else None,
                           keyfile=str(settings.key) if settings.key else None,
                           cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self.client = client
        self._started = False

    # -- lifecycle -------------------------------------------------------------------

    def start(self, wait_s: float | None = 10.0) -> None:
        """Connect in the background; with ``wait_s``, wait for the broker's answer and
        raise :class:`MqttConnectError` when it refuses or does not answer in time."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.settings.session_expiry_s
        self.client.connect_async(self.settings.host, self.settings.port,
                                  keepalive=self.settings.keepalive_s, clean_start=False,
                                  properties=props)
        self.client.loop_start()
        self._started = True
        if wait_s is None:
            return
        if not self._first_answer.wait(wait_s):
            raise MqttConnectError(
                f"MQTT broker {self.settings.host}:{self.settings.port} did not accept a"
                f" connection within {wait_s:g} s (still retrying in the background)")
        if self._refusal is not None:
            raise MqttRefusedError(
                f"MQTT broker {self.settings.host}:{self.settings.port} refused central's"
                f" connection: {self._refusal}")

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def wait_subscribed(self, timeout: float) -> bool:
        """Wait until the broker has granted this connection's subscriptions."""
        return self._subscribed.wait(timeout)

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self.client.disconnect()
        self.client.loop_stop()
        self._connected.clear()

    # -- sending -----------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1; while disconnected paho keeps it and sends it on reconnect."""
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ContentType = "application/json"
        info = self.client.publish(topic, payload, qos=1, retain=retain, properties=props)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            log.warning("publishing to %s failed: %s", topic, paho.error_string(info.rc))

    def puback(self, message: Inbound) -> None:
        """Tell the broker a message is handled (only after it is stored)."""
        if message.qos == 0:
            return
        with self._lock:
            same_connection = message.generation == self._generation
        if same_connection and self.connected:
            self.client.ack(message.mid, message.qos)

    # -- callbacks (network thread: record and queue only) -------------------------------

    def _on_connect(self, client: paho.Client, userdata: Any, flags: paho.ConnectFlags,
                    reason: ReasonCode, properties: Properties | None) -> None:
        if reason.is_failure:
            self._refusal = str(reason)
            log.error("MQTT broker refused central's connection: %s", reason)
            self._first_answer.set()
            return
        with self._lock:
            self._generation += 1
        self._refusal = None
        self._subscribed.clear()
        client.subscribe([(topic, 1) for topic in subscriptions(self.settings.share_group)])
        self._connected.set()
        self._first_answer.set()
        log.info("connected to MQTT broker %s:%s (session present: %s)",
                 self.settings.host, self.settings.port, flags.session_present)

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int,
                      reasons: list[ReasonCode], properties: Properties | None) -> None:
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:  # the broker's ACL: central would silently receive nothing
            log.error("MQTT broker refused central's subscription: %s", ", ".join(refused))
            return
        self._subscribed.set()

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: paho.DisconnectFlags,
                       reason: ReasonCode, properties: Properties | None) -> None:
        self._connected.clear()
        self._subscribed.clear()
        if self._started:
            log.warning("MQTT connection lost (%s); reconnecting", reason)

    def _on_message(self, client: paho.Client, userdata: Any,
                    message: paho.MQTTMessage) -> None:
        props = getattr(message, "properties", None)
        user = dict(getattr(props, "UserProperty", None) or [])
        with self._lock:
            generation = self._generation
        self.inbound.put(Inbound(message.topic, bytes(message.payload), user, message.mid,
                                 message.qos, bool(message.retain), generation))
