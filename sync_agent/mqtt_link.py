"""The MQTT 5 link to central's broker (paho-mqtt 2.x).

paho's own queue lives in memory and dies with the process, and on reconnect paho
resends everything it had in flight, ignoring ``max_inflight``. So this link never
reuses a paho client: every connection gets a fresh one, and the outbox is the only
queue that counts. The broker keeps the box's MQTT session (``clean_start=False`` and a
session expiry), so acks and documents published while the box was away still arrive.

A PUBACK only means the broker has the message (Mosquitto loses acked messages on
``kill -9``); the outbox row is finished by central's own ack on the ``…/ack`` topic.
"""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError

from device.central_link.outbox import Identity, Outgoing
from shared.contract import (
    SCHEMA_VERSION,
    Ack,
    Status,
    ack_topic,
    device_topic,
    message_topic,
    status_topic,
)
from sync_agent.errors import LinkError, TlsHandshakeError
from sync_agent.events import AckReceived, Disconnected, DocumentReceived, Event, Published

log = logging.getLogger(__name__)


class MqttLink:
    """One box's connection to the broker; events go to ``events``."""

    name = "mqtt"

    def __init__(self, identity: Identity, host: str, port: int, tls: ssl.SSLContext, *,
                 keepalive_s: int, session_expiry_s: int, events: queue.Queue[Event],
                 connect_timeout_s: float = 15.0) -> None:
        self.identity = identity
        self.host = host
        self.port = port
        self.tls = tls
        self.keepalive_s = keepalive_s
        self.session_expiry_s = session_expiry_s
        self.events = events
        self.connect_timeout_s = connect_timeout_s
        self.epoch = 0
        self._client: mqtt.Client | None = None
        self._connack = threading.Event()
        self._connack_failure: str | None = None
        self._last_error: str | None = None
        self._reported_epoch = 0
        self._root = device_topic(identity.tenant, identity.site, identity.device_id)

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected()

    # -- connection ---------------------------------------------------------------------

    def connect(self) -> None:
        """Connect, or raise :class:`LinkError` naming the reason (never "connected")."""
        self.close()
        self.epoch += 1
        epoch = self.epoch
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.identity.device_id,
                             protocol=MQTTProtocolVersion.MQTTv5, reconnect_on_failure=False)
        client.tls_set_context(self.tls)
        client.max_inflight_messages_set(65535)  # the agent keeps its own window
        client.max_queued_messages_set(0)
        offline = Status(device_id=self.identity.device_id, state="offline")
        topic = status_topic(self.identity.tenant, self.identity.site, self.identity.device_id)
        client.will_set(topic, offline.model_dump_json(), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = lambda c, u, f, rc, p: self._on_disconnect(epoch, rc)
        client.on_publish = lambda c, u, mid, rc, p: self._on_publish(epoch, mid, rc)
        client.on_message = self._on_message
        client.on_log = self._on_log
        self._last_error = None
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.session_expiry_s
        self._connack.clear()
        self._connack_failure = None
        try:
            client.connect(self.host, self.port, keepalive=self.keepalive_s, clean_start=False,
                           properties=props)
        except ssl.SSLError as exc:
            raise TlsHandshakeError(f"TLS handshake with {self.host}:{self.port} failed:"
                                    f" {exc.reason or exc}",
                                    getattr(exc, "verify_code", None)) from None
        except socket.gaierror as exc:
            raise LinkError(f"cannot resolve {self.host}: {exc.strerror}") from None
        except OSError as exc:
            raise LinkError(f"cannot reach {self.host}:{self.port}: {exc.strerror or exc}"
                            ) from None
        client.loop_start()
        if not self._connack.wait(self.connect_timeout_s):
            self._stop(client)
            raise LinkError(f"{self.host}:{self.port} did not answer the MQTT CONNECT within"
                            f" {self.connect_timeout_s:g} s")
        refused = self._refusal()
        if refused is not None:
            self._stop(client)
            raise LinkError(f"the broker refused the connection: {refused}")
        self._client = client
        client.subscribe([(ack_topic(self.identity.tenant, self.identity.site,
                                     self.identity.device_id), 1),
                          (f"{self._root}/down/#", 1)])

    def _refusal(self) -> str | None:
        return self._connack_failure  # set by the network thread before the CONNACK event

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any,
                    reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            self._connack_failure = f"{reason_code.getName()} (0x{reason_code.value:02x})"
        self._connack.set()

    def _on_log(self, client: mqtt.Client, userdata: Any, level: int, text: str) -> None:
        if level == mqtt.MQTT_LOG_ERR:
            self._last_error = text  # e.g. "failed to receive on socket: [SSL: ...] ..."

    def _on_disconnect(self, epoch: int, reason_code: Any) -> None:
        name = reason_code.getName() if hasattr(reason_code, "getName") else str(reason_code)
        if not self._connack.is_set():
            # Closed before the CONNACK: the broker refused the TLS client (revoked
            # certificate, or one from another CA) right after the handshake.
            self._connack_failure = (
                f"the connection was closed before the broker answered"
                f" ({self._last_error or name}); is the device certificate revoked or from"
                " another CA?")
            self._connack.set()
            return
        if epoch == self._reported_epoch:  # paho reports a keepalive timeout twice
            return
        self._reported_epoch = epoch
        self.events.put(Disconnected(epoch, name))

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            self._stop(client)

    @staticmethod
    def _stop(client: mqtt.Client) -> None:
        try:
            client.disconnect()
        finally:
            client.loop_stop()

    # -- traffic ------------------------------------------------------------------------

    def publish(self, out: Outgoing) -> int:
        """Send one message (QoS 1); returns the MQTT packet id the PUBACK will name."""
        client = self._require()
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.UserProperty = [("message_id", out.message_id), ("schema_version", SCHEMA_VERSION),
                              ("kind", out.kind)]
        props.ContentType = "application/json"
        topic = message_topic(self.identity.tenant, self.identity.site,
                              self.identity.device_id, out.kind)
        info = client.publish(topic, out.payload, qos=1, properties=props)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise LinkError(f"publish of {out.message_id} failed: {mqtt.error_string(info.rc)}")
        return info.mid

    def publish_status(self, depth: int) -> None:
        client = self._require()
        status = Status(device_id=self.identity.device_id, state="online", outbox_depth=depth)
        topic = status_topic(self.identity.tenant, self.identity.site, self.identity.device_id)
        client.publish(topic, status.model_dump_json(), qos=1, retain=True)

    def _require(self) -> mqtt.Client:
        if self._client is None:
            raise LinkError("not connected to the broker")
        return self._client

    def _on_publish(self, epoch: int, mid: int, reason_code: Any) -> None:
        failure = None
        if reason_code.is_failure:
            failure = f"{reason_code.getName()} (0x{reason_code.value:02x})"
        self.events.put(Published(epoch, mid, failure))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        topic = message.topic
        if topic.endswith("/ack"):
            try:
                ack = Ack.model_validate_json(message.payload)
            except ValidationError as exc:
                log.warning("ignoring a malformed ack on %s: %s", topic,
                            str(exc).splitlines()[0])
                return
            if ack.device_id == self.identity.device_id:
                self.events.put(AckReceived(ack))
        elif topic.startswith(f"{self._root}/down/") and message.payload:
            # (an empty retained message only clears a topic)
            self.events.put(DocumentReceived(bytes(message.payload), "mqtt"))
