"""An ingest worker: one of any number of processes storing what boxes publish over MQTT.

Each worker is an MQTT 5 client with its own stable client id and a persistent session,
subscribed to the shared subscription ``$share/<group>/kiosk/v1/+/+/+/msg/#`` (and
``…/status``): the broker hands every message to one member of the group. A worker stores
a batch in one transaction on the shared PostgreSQL database, then PUBACKs it and publishes
central's acks to the boxes; what a worker had not PUBACKed when it died stays in its
session, and is delivered again when the worker comes back under the same client id (and
the box resends whatever central never acked, which may reach another worker). A worker
holds no state of its own: everything is in the database.
"""

from __future__ import annotations

import logging

from central import documents
from central.acks import AckPublisher
from central.faults import FaultSwitch
from central.mqtt import MqttLink, MqttSettings
from central.mqtt_ingest import MqttIngest
from central.store import ReceiverStore
from shared.contract import VERSIONED_KINDS, down_topic

log = logging.getLogger(__name__)


class IngestWorker:
    """MQTT in, database, acks out; no HTTP and no signing key."""

    def __init__(self, store: ReceiverStore, mqtt: MqttSettings) -> None:
        self.store = store
        self.link = MqttLink(mqtt)
        self.faults = FaultSwitch()
        self.acks = AckPublisher(lambda topic, payload: self.link.publish(topic, payload),
                                 self.faults)
        self._ingest: MqttIngest | None = None

    def start(self, wait_s: float | None = 10.0) -> None:
        """Connect and start ingesting (see :meth:`central.mqtt.MqttLink.start`)."""
        if self._ingest is None:
            self._ingest = MqttIngest(self.store, self.link, self.acks, self.device_seen)
        self.link.start(wait_s)

    def device_seen(self, tenant: str, site: str, device_id: str) -> None:
        """A box heard from for the first time gets what was published before it came."""
        for document in documents.catch_up(self.store, device_id, tenant, site):
            self.link.publish(down_topic(tenant, site, device_id, document.kind,
                                         document.scope),
                              document.model_dump_json().encode(),
                              retain=document.kind in VERSIONED_KINDS)

    def close(self) -> None:
        """Stop taking messages, flush pending acks, disconnect, close the database."""
        if self._ingest is not None:
            self._ingest.close()
        self.acks.close()
        self.link.stop()
        self.store.close()
