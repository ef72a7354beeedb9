"""The receiver as one object: its store, signing key, HTTP app and MQTT link."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from central import admin, documents, registry
from central.acks import AckPublisher
from central.enrol import EnrolmentSettings, create_enrol_app
from central.errors import ReceiverError
from central.faults import FaultSwitch
from central.media import MediaUploads
from central.mqtt import MqttLink, MqttSettings
from central.mqtt_ingest import MqttIngest
from central.store import ReceiverStore
from shared.contract import VERSIONED_KINDS, SignedDocument, down_topic
from shared.signing import key_id

log = logging.getLogger(__name__)

DB_FILE = "receiver.db"


class Receiver:
    """The reference central receiver over one data directory.

    ``app`` is the FastAPI application (serve it with uvicorn); :meth:`start_mqtt`
    connects to the broker when ``mqtt`` settings are given.
    """

    def __init__(self, data_dir: Path, mqtt: MqttSettings | None = None, *,
                 max_message_bytes: int = 1 << 20, max_chunk_bytes: int = 16 << 20,
                 fault_seed: int | None = None,
                 enrolment: EnrolmentSettings | None = None,
                 database: str | None = None) -> None:
        from central.app import create_app

        self.data_dir = data_dir
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReceiverError(f"{data_dir}: cannot use as the data directory:"
                                f" {exc.strerror}") from None
        self.signing_key, _ = documents.load_or_create_key(data_dir)
        #: ``database``: a PostgreSQL URL (several instances share it) or a SQLite path;
        #: by default ``receiver.db`` in the data directory.
        self.store = ReceiverStore(database or data_dir / DB_FILE)
        self.media = MediaUploads(self.store, data_dir / "media")
        self.faults = FaultSwitch(fault_seed)
        self.mqtt_settings = mqtt
        self.link: MqttLink | None = None
        self._acks: AckPublisher | None = None
        self._ingest: MqttIngest | None = None
        self.max_message_bytes = max_message_bytes
        self.max_chunk_bytes = max_chunk_bytes
        #: Enrolling boxes (``POST /v1/enrol``); None: this receiver enrols none.
        self.enrolment = enrolment
        #: Called with every enrolled box whenever the registry changes (the broker's ACL).
        self.registry_listeners: list[Callable[[list[registry.Device]], None]] = []
        self.app: FastAPI = create_app(self)
        #: Only ``/v1/enrol``: for a listener that asks no client certificate.
        self.enrol_app: FastAPI = create_enrol_app(self)

    @property
    def public_key_pem(self) -> str:
        """The PEM public key a box pins to check central's documents."""
        return documents.public_key_pem(self.signing_key)

    @property
    def key_id(self) -> str:
        return key_id(self.signing_key.public_key())

    # -- MQTT ----------------------------------------------------------------------------

    def start_mqtt(self, wait_s: float | None = 10.0) -> None:
        """Connect to the broker, subscribe and start storing and acking messages.

        With ``wait_s`` it waits for the broker's answer and raises
        :class:`~central.errors.MqttConnectError` on refusal or timeout (the
        client keeps retrying in the background after a timeout).
        """
        if self.mqtt_settings is None:
            raise ValueError("this receiver has no MQTT settings")
        if self.link is not None:
            return
        link = MqttLink(self.mqtt_settings)
        self.link = link
        self._acks = AckPublisher(lambda topic, payload: link.publish(topic, payload),
                                  self.faults)
        self._ingest = MqttIngest(self.store, link, self._acks, self.device_seen)
        link.start(wait_s)

    @property
    def mqtt_connected(self) -> bool:
        return self.link is not None and self.link.connected

    # -- the device registry ---------------------------------------------------------

    def register_device(self, device: registry.Device, move: bool = False) -> bool:
        """Enrol a box whose certificate was issued by hand; True when new (or moved)."""
        with self.store.transaction() as conn:
            changed = registry.register(conn, device, "admin", move=move)
        if changed:
            self.registry_changed()
        return changed

    def registry_changed(self) -> None:
        """Tell the broker's ACL (and anyone else listening) the registry changed."""
        enrolled = registry.devices(self.store)
        for listener in list(self.registry_listeners):
            try:
                listener(enrolled)
            except Exception:  # the registry holds; the listener is told again next time
                log.exception("a registry listener failed")

    def device_seen(self, tenant: str, site: str, device_id: str) -> None:
        """A box heard from for the first time gets, over MQTT, what was published for it
        before it came (polling over HTTPS finds it anyway)."""
        for document in documents.catch_up(self.store, device_id, tenant, site):
            self._send(document, [(tenant, site, device_id)])

    def _send(self, document: SignedDocument, to: list[tuple[str, str, str]]) -> int:
        if self.link is None:
            return 0
        payload = document.model_dump_json().encode()
        for tenant, site, device_id in to:
            self.link.publish(down_topic(tenant, site, device_id, document.kind, document.scope),
                              payload, retain=document.kind in VERSIONED_KINDS)
        return len(to)

    # -- documents -----------------------------------------------------------------------

    def publish_document(self, request: documents.DocumentRequest) -> SignedDocument:
        """Sign and store a document, and publish it to its boxes when MQTT is running."""
        document = documents.store_document(self.store, self.signing_key, request)
        sent = self._send(document, documents.targets(self.store, document))
        log.info("published %s %s v%d (%s) to %d box(es) over MQTT", document.kind,
                 document.scope, document.version, document.document_id, sent)
        return document

    def close(self) -> None:
        """Stop MQTT (flushing pending acks) and close the database."""
        if self.link is not None:
            if self._ingest is not None:
                self._ingest.close()
            if self._acks is not None:
                self._acks.close()
            self.link.stop()
            self.link = None
        self.store.close()

    def create_admin_token(self, name: str) -> str:
        """A new admin token (shown once): what ``kiosk central admin-token`` prints."""
        return admin.create_token(self.store, name)
