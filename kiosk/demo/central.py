"""The demo's central: the reference receiver in this process, on loopback.

A CA of its own signs the receiver's and the broker's server certificates, central's MQTT
client certificate and, at enrolment, the box's. The receiver serves its HTTPS API with
mutual TLS and its enrolment endpoint on a second listener (TLS, no client certificate:
a box has none before it enrols). With Mosquitto installed the broker runs too and boxes
are told to deliver over MQTT; without it they deliver over HTTPS.
"""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from central import MqttSettings, Receiver, ServerThread, TlsSettings
from central.broker import Mosquitto, free_port
from central.documents import DocumentRequest
from central.enrol import EnrolmentSettings, TokenRequest, create_token
from central.messages import list_messages
from central.pki import CertificateAuthority
from shared.contract import DocumentKind

HOST = "127.0.0.1"
TENANT = "demo-tenant"
SITE = "demo-site"


@dataclass
class DemoCentral:
    ca: CertificateAuthority
    receiver: Receiver
    https: ServerThread
    enrolment: ServerThread
    broker: Mosquitto | None

    @classmethod
    def start(cls, root: Path) -> DemoCentral:
        """CA, broker (when installed), receiver and its two listeners, all on loopback."""
        ca = CertificateAuthority.create(root / "ca", "Kiosk demo CA")
        certs = root / "certs"
        server = ca.issue_server("receiver", certs)  # the broker uses it too
        with ExitStack() as undo:  # a failure part-way stops what was started
            broker = mqtt = None
            if shutil.which("mosquitto"):
                broker = Mosquitto(root / "broker", free_port(), ca.cert, server, host=HOST)
                broker.start()
                undo.callback(broker.stop)
                own = ca.issue_client("central", certs)
                mqtt = MqttSettings(HOST, broker.port, ca=ca.cert, cert=own.cert, key=own.key)
            https_port = free_port()
            settings = EnrolmentSettings(
                root / "ca", mqtt=f"{HOST}:{broker.port}" if broker else None,
                https_url=f"https://{HOST}:{https_port}", tenant=TENANT, site=SITE)
            receiver = Receiver(root / "receiver", mqtt, enrolment=settings)
            undo.callback(receiver.close)
            if broker is not None:  # a box enrolled here may use its own topics at once
                receiver.registry_listeners.append(broker.update_acl)
            if mqtt is not None:
                receiver.start_mqtt(wait_s=10.0)
            https = ServerThread(receiver.app, HOST, https_port,
                                 TlsSettings(server.cert, server.key, client_ca=ca.cert),
                                 name="the receiver's HTTPS API").start()
            undo.callback(https.stop)
            enrolment = ServerThread(receiver.enrol_app, HOST, 0,
                                     TlsSettings(server.cert, server.key),
                                     name="the receiver's enrolment listener").start()
            undo.pop_all()
        return cls(ca, receiver, https, enrolment, broker)

    @property
    def transport(self) -> str:
        """How boxes enrolled here deliver: ``mqtt`` with the broker, else ``https``."""
        return "mqtt" if self.broker is not None else "https"

    @property
    def enrol_url(self) -> str:
        return self.enrolment.url

    def enrolment_token(self, device_id: str) -> str:
        """A one-time token, as ``kiosk central enrolment-token`` makes it."""
        made = create_token(self.receiver, TokenRequest(device_id=device_id, tenant=TENANT,
                                                        site=SITE, ttl_h=1))
        return str(made["token"])

    def publish(self, kind: DocumentKind, scope: str, body: dict[str, Any],
                device_id: str) -> str:
        """Sign a document for one box and send it (MQTT) or keep it for its poll (HTTPS)."""
        document = self.receiver.publish_document(DocumentRequest(
            kind=kind, scope=scope, tenant=TENANT, site=SITE, device_id=device_id, body=body))
        return document.document_id

    def messages(self, device_id: str) -> list[dict[str, Any]]:
        """What central stored from the box, in delivery order."""
        return list_messages(self.receiver.store, device_id=device_id)

    def media(self) -> list[dict[str, Any]]:
        """Recordings uploaded to central (complete ones)."""
        return self.receiver.store.all(
            "SELECT id, session_id, bytes, content_type FROM media WHERE complete = 1"
            " ORDER BY created")

    def close(self) -> None:
        self.enrolment.stop()
        self.https.stop()
        self.receiver.close()
        if self.broker is not None:
            self.broker.stop()
